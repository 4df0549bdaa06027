"""A finished run's notebooks, ready to execute again in JupyterLab (``evaluation lab RUN``).

A reviewer checks a number back to its source by opening the notebook that made it and
running it. The notebooks of a run folder cannot simply be run again: their parameters point
at the run folder (a run would overwrite published files) and at a scratch folder of
person-level data that the run removed when it finished. :func:`prepare_lab` makes a private
copy instead, in the run's work folder (``<work>/lab/<run name>/``, mode 0700, beside the data,
never under the outputs):

* ``scratch/``: the person-level files the run's notebooks handed each other, restored from
  the notebook cache entries the run recorded (``provenance.notebooks.*.cache_key``), each
  file checked against the SHA-256 stored with it;
* ``run/``: the results those entries hold, and where a notebook executed in the lab writes;
* ``notebooks/``: the run's executed notebooks, their parameters cell rewritten by papermill
  to point at the two folders above; every other parameter is the run's own.

What a notebook shows after it is executed in the lab has not passed the run's disclosure
audit: it stays in this private folder. The notebooks limit their math libraries to one
thread themselves (:func:`evaluation.threads.limit_threads`); ``evaluation lab`` also starts
JupyterLab with the runner's environment (one thread, ``PYTHONHASHSEED=0``), so a kernel
computes what the runner's kernel computed.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from evaluation.config import parse_params
from evaluation.errors import RunError
from evaluation.pipeline import cache, workdir
from evaluation.pipeline.verify import recorded_params
from evaluation.results.runfolder import finished_run_folder
from evaluation.threads import SINGLE_THREADED_BLAS

#: Sub-folder of the work folder that holds the lab copies, one per run.
LAB = "lab"
#: What the runner's kernels have in their environment and a plain JupyterLab kernel lacks.
RUNNER_ENVIRONMENT = {**SINGLE_THREADED_BLAS, "PYTHONHASHSEED": "0"}
#: The tag papermill gives the cell holding the values a run injected.
INJECTED = "injected-parameters"


@dataclass(frozen=True)
class LabFolder:
    """Where :func:`prepare_lab` put a run's notebooks and their data."""

    folder: Path
    notebooks: Path
    run_dir: Path
    scratch_dir: Path
    names: tuple[str, ...]


def injected_parameters(nb: Any) -> dict[str, Any]:
    """The values a run injected into an executed notebook (its ``injected-parameters`` cell).

    The cell holds one ``name = literal`` line per parameter (papermill writes it so); it is
    read with :func:`ast.literal_eval`, never executed.
    """
    for cell in nb.cells:
        if INJECTED in cell.get("metadata", {}).get("tags", []):
            values = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name):
                        values[target.id] = ast.literal_eval(node.value)
            return values
    raise RunError(f"{nb.metadata.get('title', 'a notebook')}: no {INJECTED} cell")


def lab_environment() -> dict[str, str]:
    """The environment of the runner's kernels: one thread per math library, fixed hashing."""
    return {**os.environ, **RUNNER_ENVIRONMENT}


def prepare_lab(run: Path, work_dir: Path | str | None = None) -> LabFolder:
    """Copy a finished run's notebooks and their person-level inputs into a private lab folder.

    ``work_dir``: the run's work folder; by default the one its notebooks' scratch folder was
    in (so a run made with ``--work-dir`` is found without it). Every cache entry is checked
    before anything is written; the copy is built beside the old one and replaces it only
    when complete, so a failure leaves an earlier lab copy (and a reviewer's edits in it) as
    it was. Everything is created owner-only (umask 077), whoever calls this.

    Raises
    ------
    RunError
        Not a finished run folder; a notebook's cache entry is gone (the cache keeps the last
        few per notebook) or damaged: then rerun the study and open the new run.
    """
    run = finished_run_folder(Path(run).resolve())
    text, params_file, base = recorded_params(run)
    params = parse_params(text, source=params_file, base=base)
    recorded = json.loads((run / "results.json").read_text("utf-8"))["provenance"]["notebooks"]
    executed = {name: nbformat.read(run / "notebooks" / f"{Path(name).name}.ipynb", as_version=4)
                for name in recorded}  # fmt: skip
    if work_dir is None:  # where the run's scratch folder was: <work>/scratch/<run>
        first = injected_parameters(next(iter(executed.values())))
        work_dir = Path(first["scratch_dir"]).parents[1]
    work = workdir.resolve_work_dir(params, base, run.parent, work_dir)
    again = f"Run the study again (`evaluation run --params {params_file}`) and open the new run."
    stored = {}
    for name, info in recorded.items():
        stored[name] = cache.lookup(work / workdir.CACHE, str(info.get("cache_key")))
        if stored[name] is None:
            raise RunError(
                f"{run.name}: the person-level files of notebook {name} are no longer in the "
                f"work folder {work} (its cache keeps the last runs of each notebook; if the "
                f"run used another work folder, give it with --work-dir). {again}"
            )
    final = work / LAB / run.name
    lab = LabFolder(folder=final, notebooks=final / "notebooks", run_dir=final / "run",
                    scratch_dir=final / "scratch", names=tuple(recorded))  # fmt: skip
    mask = os.umask(0o077)
    try:
        building = workdir.private_dir(work / LAB / f".building-{run.name}-{os.getpid()}")
        try:
            _fill(building, lab, recorded, stored, executed, again)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        if final.exists():  # the old copy goes only now that the new one is complete
            old = work / LAB / f".old-{run.name}-{os.getpid()}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(building, final)
    finally:
        os.umask(mask)
    return lab


def _fill(building: Path, lab: LabFolder, recorded, stored, executed, again):
    """Write the lab copy into ``building``; its notebooks point at ``lab``'s final folders."""
    from papermill.parameterize import parameterize_notebook

    run_dir, scratch_dir = building / "run", building / "scratch"
    notebooks = workdir.private_dir(building / "notebooks")
    for name in recorded:
        try:
            cache.restore(stored[name], run_dir, scratch_dir)
        except cache.CacheDamaged as exc:
            raise RunError(f"notebook {name}: {exc}. {again}") from None
        values = injected_parameters(executed[name])
        values.update(run_dir=str(lab.run_dir), scratch_dir=str(lab.scratch_dir))
        nb = parameterize_notebook(executed[name], values, kernel_name="python3", language="python")
        nbformat.write(nb, notebooks / f"{Path(name).name}.ipynb")


def lab_command(lab: LabFolder) -> list[str]:
    """The command that opens JupyterLab on a lab folder's notebooks."""
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={lab.notebooks}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def open_lab(lab: LabFolder) -> int:
    """Start JupyterLab on a lab folder with the runner's environment; its exit code."""
    return subprocess.call(lab_command(lab), env=lab_environment())
