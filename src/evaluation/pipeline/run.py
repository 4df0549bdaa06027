"""Run the whole study: parameters → data → notebooks → results.json → report.

The run is built in ``<out>/.incomplete/<run_id>`` and moved to ``<out>/<run_id>`` only when
every stage succeeded; ``<out>/<params stem>-latest`` then points to it. A failing run is moved to
``<out>/<run_id>-failed`` with ``status.json`` saying where it failed, and the ``-latest`` link keeps
pointing at the last good run. Person-level intermediate data live in a scratch folder
outside the run folder and are removed at the end, so that the run folder holds aggregates
only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.config import (
    AnyParams,
    Params,
    check_input_files,
    params_hash,
    parse_params,
    read_params_text,
)
from evaluation.errors import EvaluationError, RunError
from evaluation.pipeline import provenance
from evaluation.pipeline.notebooks import (
    PIPELINES,
    RUNNER_PARAMETERS,
    NotebookSpec,
    parameter_names,
    read_notebook,
)

log = logging.getLogger("evaluation.run")

#: The study's matrices are small (thousands of rows, tens of columns): multithreaded BLAS
#: only adds contention there (measured: the effects notebook 3x slower with 2 threads than 1).
#: Kernels inherit these; parallelism is across processes instead.
SINGLE_THREADED_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class RunResult:
    """Where a finished run is and how long it took."""

    run_dir: Path
    report: Path | None
    seconds: float


def make_run_id(params_path: Path, text: str, started: float) -> str:
    """``<params stem>-<UTC time>-<params hash[:8]>``; unique per second and parameter file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    return f"{params_path.stem}-{stamp}-{params_hash(text)[:8]}"


def _unique_dir(parent: Path, name: str) -> Path:
    candidate = parent / name
    i = 1
    while candidate.exists() or (parent / ".incomplete" / candidate.name).exists():
        i += 1
        candidate = parent / f"{name}-{i}"
    return candidate


def _setup_logging(run_dir: Path, verbose: bool) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for noisy in ("papermill", "traitlets", "nbclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Kernel is running over TCP.*")
    return handler


def ensure_synthetic(params: AnyParams) -> list[str]:
    """Generate the synthetic study into the data paths if asked and missing."""
    if not isinstance(params, Params):
        return []
    syn = params.synthetic
    if syn is None or not syn.generate_if_missing:
        return []
    missing = [p for p in params.data.tables().values() if p is not None and not Path(p).exists()]
    if not missing:
        return []
    from evaluation.data import synth

    target = Path(params.data.participants).parent
    study = synth.generate(params.seed, n_mentored=syn.n_mentored, n_comparison=syn.n_comparison)
    written = synth.write(study, target, fmt=syn.format)
    expected = {k: Path(v) for k, v in params.data.tables().items() if v is not None}
    for table, path in expected.items():
        if Path(written[table]) != path:
            raise RunError(
                f"The synthetic study was written to {written[table]}, but data.{table} names "
                f"{path}. Point data.{table} at the generated file."
            )
    return [str(p) for p in written.values()]


def validate_inputs(params: AnyParams) -> Any:
    """Check the input tables against the contract before any notebook runs."""
    if not isinstance(params, Params):
        return None
    from evaluation.data.contract import load_study

    return load_study(params.data.tables())


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's file descriptor 2 (inherited by the kernels) to a file.

    Kernels write their own chatter to stderr (start-up warnings, an interrupt message at
    shut-down); it belongs in the run folder's log, not on the user's terminal.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute_notebook(
    spec: NotebookSpec, params: AnyParams, run_dir: Path, scratch_dir: Path
) -> Path:
    """Execute one notebook with papermill in this process; return the executed notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb = read_notebook(spec)
    wanted = parameter_names(nb)
    sections = params.notebook_parameters()
    unknown = [n for n in wanted if n not in sections and n not in RUNNER_PARAMETERS]
    if unknown:
        raise RunError(
            f"notebook {spec.name}: parameters cell names {unknown}, which are neither sections "
            "of the parameter model nor runner parameters"
        )
    injected = {n: sections[n] for n in wanted if n in sections}
    injected["run_dir"] = str(run_dir)
    injected["scratch_dir"] = str(scratch_dir)
    out = run_dir / "notebooks" / f"{spec.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _stderr_to(run_dir / "kernels.log"):
            papermill.execute_notebook(
                nb,
                str(out),
                parameters=injected,
                kernel_name="python3",
                cwd=str(spec.path.parent),
                progress_bar=False,
                log_output=False,
                # ipykernel 7.4 warns on every start that loopback TCP is unencrypted: harmless
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
    except PapermillExecutionError as exc:
        raise RunError(
            f"notebook {spec.name} failed in cell {exc.cell_index} (execution count "
            f"{exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"The partial executed notebook is kept at {out} (open it to see the cell and the "
            "traceback)."
        ) from None
    return out


def merge_results(run_dir: Path, params: AnyParams, prov: dict[str, Any]) -> dict[str, Any]:
    """Merge the notebooks' results files into ``results.json``."""
    merged: dict[str, Any] = {
        "kind": params.kind,
        "study": params.study.model_dump(mode="json"),
        "effects": [],
        "headline": None,
        "numbers": {},
        "tables": {},
        "skipped": {},
        "exhibits": [],
    }
    for spec in PIPELINES[params.kind]:
        path = run_dir / "results" / f"{spec.stem}.json"
        if not path.exists():
            raise RunError(f"notebook {spec.name} ran but wrote no results file ({path}).")
        part = json.loads(path.read_text("utf-8"))
        for key in ("numbers", "tables", "skipped"):
            clash = set(merged[key]) & set(part[key])
            if clash:
                raise RunError(f"{spec.name} registers {key} already registered: {sorted(clash)}")
            merged[key].update(part[key])
        merged["effects"].extend(part["effects"])
        merged["exhibits"].extend(part["exhibits"])
    for key, value, title in (
        ("budget_sek", params.report.budget_sek, "Programme budget (SEK)"),
        ("planned_participants", params.report.planned_participants, "Planned participants"),
    ):
        merged["numbers"][key] = value
        merged["exhibits"].append(
            {"key": key, "kind": "number", "title": title, "notebook": "(parameters)",
             "made_by": f"params: report.{key}", "files": ["params.yaml"], "alt": "", "note": ""}
        )
    merged["headline"] = pick_headline(merged["effects"], params)
    merged["provenance"] = prov
    return merged


def pick_headline(effects: list[dict[str, Any]], params: AnyParams) -> dict[str, Any]:
    """The effect named in the parameters' headline (``estimation.headline`` for a study)."""
    want = params.estimation.headline if isinstance(params, Params) else params.headline
    hits = [
        e
        for e in effects
        if e["estimator"] == want.estimator
        and e["outcome"] == want.outcome
        and e.get("subgroup", "all") == want.subgroup
    ]
    if len(hits) != 1:
        available = sorted({e["estimator"] for e in effects})
        raise RunError(
            f"the headline ({want.estimator} on {want.outcome}) is not among the estimates "
            f"({len(hits)} found; estimators with results: {available})."
        )
    return hits[0]


def _write_status(run_dir: Path, status: str, **extra: Any) -> None:
    payload = {"status": status, **extra}
    (run_dir / "status.json").write_text(json.dumps(payload, indent=2) + "\n", "utf-8")


def latest_link(out_root: Path, params_path: Path) -> Path:
    """``<out>/<params stem>-latest``: the last good run of this parameter file."""
    return out_root / f"{params_path.stem}-latest"


def _point_latest(link: Path, run_dir: Path) -> None:
    out_root = link.parent
    tmp = out_root / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


def run_study(
    params_path: Path | str,
    out_root: Path | str = "outputs",
    *,
    render: bool = True,
    verbose: bool = False,
    echo: Any = print,
) -> RunResult:
    """Run the study described by a parameter file; return the finished run folder.

    Raises
    ------
    EvaluationError
        With a message for the user; the run folder (if created) is marked failed.
    """
    started = time.time()
    for key, value in SINGLE_THREADED_BLAS.items():
        os.environ.setdefault(key, value)
    params_path = Path(params_path)
    text = read_params_text(params_path)
    params = parse_params(text, source=params_path)
    generated = ensure_synthetic(params)
    check_input_files(params, source=params_path)
    study = validate_inputs(params)

    out_root = Path(out_root).resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    final_dir = _unique_dir(out_root, make_run_id(params_path, text, started))
    work_dir = out_root / ".incomplete" / final_dir.name
    scratch_dir = out_root / ".scratch" / final_dir.name
    work_dir.mkdir(parents=True)
    scratch_dir.mkdir(parents=True)
    handler = _setup_logging(work_dir, verbose)
    (work_dir / "params.yaml").write_text(text, "utf-8")
    prov: dict[str, Any] = {
        "params_file": str(params_path),
        "params_sha256": params_hash(text),
        "params": text,
        "inputs": (
            provenance.input_hashes(params.data.tables())
            if isinstance(params, Params)
            else provenance.package_data_inputs()
        ),
        "packages": provenance.package_versions(),
        "project": provenance.git_commit(),
        "started": provenance.utc_now(),
        "generated_synthetic": [Path(p).name for p in generated],
        "notebooks": {},
    }
    log.info("run %s: params %s (sha256 %s)", final_dir.name, params_path, prov["params_sha256"])
    stage = "notebooks"
    try:
        notebooks = PIPELINES[params.kind]
        for i, spec in enumerate(notebooks, start=1):
            t0 = time.time()
            echo(f"[{i}/{len(notebooks)}] {spec.name}: {spec.title} ...", end="", flush=True)
            execute_notebook(spec, params, work_dir, scratch_dir)
            dt = time.time() - t0
            prov["notebooks"][spec.name] = {"seconds": round(dt, 2), "executed": True}
            echo(f" {dt:.1f} s")
            log.info("notebook %s executed in %.1f s", spec.name, dt)
        stage = "results"
        prov["finished"] = provenance.utc_now()
        results = merge_results(work_dir, params, prov)
        (work_dir / "results.json").write_text(
            json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8"
        )
        report_path = None
        if render:
            stage = "report"
            from evaluation.report.render import render_all

            t0 = time.time()
            echo("[report] rendering ...", end="", flush=True)
            report_path = render_all(work_dir, results, params)
            echo(f" {time.time() - t0:.1f} s")
        stage = "privacy scan"
        from evaluation.report.privacy import scan_run_folder

        if study is not None:
            scan_run_folder(work_dir, study.participants, mentor_ids=_mentor_ids(study))
        else:
            scan_run_folder(work_dir, None)
        _write_status(work_dir, "succeeded", finished=provenance.utc_now())
    except EvaluationError as exc:
        log.error("run failed at %s: %s", stage, exc)
        failed = _fail(work_dir, final_dir, stage, str(exc), handler)
        shutil.rmtree(scratch_dir, ignore_errors=True)
        message = str(exc).replace(str(work_dir), str(failed))
        raise RunError(
            f"{message}\nThe run folder is kept, marked failed: {failed}\n"
            f"The last good run is untouched: {latest_link(out_root, params_path)}"
        ) from None
    except BaseException as exc:
        log.exception("run failed at %s", stage)
        _fail(work_dir, final_dir, stage, f"{type(exc).__name__}: {exc}", handler)  # noqa
        shutil.rmtree(scratch_dir, ignore_errors=True)
        raise
    log.info("run succeeded in %.1f s", time.time() - started)
    log.removeHandler(handler)
    handler.close()
    shutil.rmtree(scratch_dir, ignore_errors=True)
    os.replace(work_dir, final_dir)
    _point_latest(latest_link(out_root, params_path), final_dir)
    report = final_dir / report_path.relative_to(work_dir) if report_path else None
    return RunResult(run_dir=final_dir, report=report, seconds=time.time() - started)


def _mentor_ids(study: Any) -> list[str]:
    ids: list[str] = []
    if "mentor_id" in study.participants:
        ids += study.participants["mentor_id"].dropna().astype(str).tolist()
    if study.mentors is not None:
        ids += study.mentors["mentor_id"].dropna().astype(str).tolist()
    return sorted(set(ids))


def _fail(
    work_dir: Path, final_dir: Path, stage: str, message: str, handler: logging.Handler
) -> Path:
    _write_status(work_dir, "failed", stage=stage, message=message, finished=provenance.utc_now())
    log.removeHandler(handler)
    handler.close()
    failed = final_dir.with_name(final_dir.name + "-failed")
    os.replace(work_dir, failed)
    return failed
