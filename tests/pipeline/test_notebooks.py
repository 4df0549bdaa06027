"""Each notebook's parameters cell matches the parameter model and the default study.

papermill only warns about a parameter the notebook does not declare; this test makes the
mismatch an error. A notebook opened in JupyterLab and run as it is reproduces the default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.config import Params, load_params
from evaluation.pipeline.notebooks import (
    NOTEBOOK_DIR,
    NOTEBOOKS,
    RUNNER_PARAMETERS,
    parameter_names,
    read_notebook,
)

ROOT = Path(__file__).resolve().parents[2]


def _relative_default() -> dict:
    """The default parameters with data paths relative to notebooks/ (as in the cells)."""
    p = load_params(ROOT / "params" / "default.yaml", check_files=False).notebook_parameters()
    p["data"] = {
        k: (None if v is None else str(Path("..") / Path(v).relative_to(ROOT)))
        for k, v in p["data"].items()
    }
    return p


@pytest.mark.parametrize("spec", NOTEBOOKS, ids=lambda s: s.name)
def test_parameters_cell_names_are_model_sections(spec):
    names = parameter_names(read_notebook(spec))
    sections = set(Params.model_fields)
    unknown = set(names) - sections - set(RUNNER_PARAMETERS)
    assert not unknown, f"{spec.name} declares parameters the model does not know: {unknown}"
    assert set(RUNNER_PARAMETERS) <= set(names), f"{spec.name} lacks {RUNNER_PARAMETERS}"


@pytest.mark.parametrize("spec", NOTEBOOKS, ids=lambda s: s.name)
def test_parameters_cell_defaults_match_default_study(spec):
    names = parameter_names(read_notebook(spec))
    default = _relative_default()
    for name, value in names.items():
        if name in RUNNER_PARAMETERS:
            continue
        want = default[name]
        if isinstance(value, dict):
            # a cell may list only the keys of a section it uses, with the default values
            for key, v in value.items():
                assert key in want, f"{spec.name}: {name}.{key} is not in the model"
                assert v == want[key], f"{spec.name}: {name}.{key} = {v!r}, default {want[key]!r}"
        else:
            assert value == want, f"{spec.name}: {name} = {value!r}, default {want!r}"


def test_every_notebook_file_is_registered():
    files = {p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py")}
    assert files == {s.name for s in NOTEBOOKS}


@pytest.mark.parametrize("spec", NOTEBOOKS, ids=lambda s: s.name)
def test_inline_figures_survive_agg(spec):
    """Figures vanish under MPLBACKEND=Agg unless %matplotlib inline is in a code cell."""
    nb = read_notebook(spec)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("%matplotlib inline" in c for c in code[:2])
