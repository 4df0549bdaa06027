"""Each notebook's parameters cell matches the parameter model and the default study.

papermill only warns about a parameter the notebook does not declare; this test makes the
mismatch an error. A notebook opened in JupyterLab and run as it is reproduces the default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.config import LalondeParams, Params, PoolingParams, load_params
from evaluation.pipeline.notebooks import (
    NOTEBOOK_DIR,
    PIPELINES,
    RUNNER_PARAMETERS,
    parameter_names,
    read_notebook,
)
from evaluation.resources import SPECIFICATION_GRID

ROOT = Path(__file__).resolve().parents[2]
#: Each kind of run: its parameter model and its default parameter file.
KINDS = {
    "study": (Params, ROOT / "params" / "default.yaml"),
    "lalonde": (LalondeParams, ROOT / "params" / "benchmarks" / "lalonde.yaml"),
    "pooling": (PoolingParams, ROOT / "params" / "benchmarks" / "pooling.yaml"),
}
ALL = [(kind, spec) for kind, specs in PIPELINES.items() for spec in specs]


def _relative_default(kind: str) -> dict:
    """The default parameters with data paths relative to notebooks/ (as in the cells)."""
    p = load_params(KINDS[kind][1], check_files=False).notebook_parameters()
    if "data" in p:
        p["data"] = {
            k: (None if v is None else str(Path("..") / Path(v).relative_to(ROOT)))
            for k, v in p["data"].items()
        }
    if "sites" in p:  # pooling: bundle and truth paths, relative to notebooks/benchmarks/
        p["sites"] = [
            {k: (str(Path("../..") / Path(v).relative_to(ROOT)) if k in ("bundle", "truth") and v
                 else v) for k, v in site.items()}
            for site in p["sites"]
        ]  # fmt: skip
    if p.get("robustness", {}).get("specifications") == str(SPECIFICATION_GRID):
        p["robustness"]["specifications"] = None  # the cell's None: the built-in grid
    return p


@pytest.mark.parametrize("kind,spec", ALL, ids=lambda x: getattr(x, "name", x))
def test_parameters_cell_names_are_model_sections(kind, spec):
    names = parameter_names(read_notebook(spec))
    sections = set(KINDS[kind][0].model_fields)
    unknown = set(names) - sections - set(RUNNER_PARAMETERS)
    assert not unknown, f"{spec.name} declares parameters the model does not know: {unknown}"
    assert set(RUNNER_PARAMETERS) <= set(names), f"{spec.name} lacks {RUNNER_PARAMETERS}"


@pytest.mark.parametrize("kind,spec", ALL, ids=lambda x: getattr(x, "name", x))
def test_parameters_cell_defaults_match_default_study(kind, spec):
    names = parameter_names(read_notebook(spec))
    default = _relative_default(kind)
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
    files = {
        p.relative_to(NOTEBOOK_DIR).with_suffix("").as_posix() for p in NOTEBOOK_DIR.rglob("*.py")
    }
    assert files == {s.name for _, s in ALL}


@pytest.mark.parametrize("kind,spec", ALL, ids=lambda x: getattr(x, "name", x))
def test_inline_figures_survive_agg(kind, spec):
    """Figures vanish under MPLBACKEND=Agg unless %matplotlib inline is in a code cell."""
    nb = read_notebook(spec)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert any("%matplotlib inline" in c for c in code[:2])
