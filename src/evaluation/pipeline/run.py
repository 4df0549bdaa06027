"""Run the whole study: parameters → data → notebooks → results.json → report.

The run is built in ``<out>/.incomplete/<run_id>`` and moved to ``<out>/<run_id>`` only when
every stage succeeded; ``<out>/<params stem>-latest`` then points to it. A failing run is moved to
``<out>/<run_id>-failed`` with ``status.json`` saying where it failed, and the ``-latest`` link keeps
pointing at the last good run. Person-level data (the notebooks' scratch files, the notebook
cache) live in the private work folder beside the input data, never under ``<out>``
(:mod:`evaluation.pipeline.workdir`); the scratch folder is removed at the end, so that the
output folder holds aggregates only.

Crash safety: the run's name is reserved by a lock file held for the run's lifetime
(:mod:`evaluation.pipeline.locks`); a run killed at any point (SIGKILL included) leaves the
last good run untouched; the next run into the same output folder marks its partial
folder failed, and the next one with the same work folder deletes its scratch. Notebooks
run as a dependency graph, two at a time, and a notebook whose inputs are unchanged is
reused from the work folder's cache, checked file by file
(:mod:`evaluation.pipeline.execute`, :mod:`evaluation.pipeline.cache`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.config import (
    AnyParams,
    Params,
    PoolingParams,
    check_input_files,
    params_hash,
    read_params_text,
)
from evaluation.data.identifiers import identifiers
from evaluation.disclosure.differencing import HIDDEN, protect_results
from evaluation.disclosure.privacy import scan_run_folder
from evaluation.errors import EvaluationError, FreezeError, ParamsError, RunError
from evaluation.pipeline import cache, freeze, locks, provenance, workdir
from evaluation.pipeline.execute import WORKERS, Stage, run_notebooks, upstream
from evaluation.pipeline.execute import execute_notebook as execute_notebook  # re-exported
from evaluation.pipeline.inputs import (
    ensure_synthetic,
    release_memory,
    validate_inputs,
    validation_settings,
)
from evaluation.pipeline.notebooks import PIPELINES, NotebookSpec, PreparedNotebook, prepare
from evaluation.pipeline.overrides import parse_with_overrides
from evaluation.pooling.pool import load_sites
from evaluation.report.render import render_all
from evaluation.results.publish import audit_run, redraw_figures, retag_notebooks
from evaluation.results.runfolder import finished_run_folder  # noqa: F401  (re-exported)
from evaluation.results.schema import check_results
from evaluation.threads import SINGLE_THREADED_BLAS

log = logging.getLogger("evaluation.run")


@dataclass(frozen=True)
class RunResult:
    """Where a finished run is, how long it took, and its private work folder."""

    run_dir: Path
    report: Path | None
    seconds: float
    work_dir: Path | None = None


def make_run_id(params_path: Path, text: str, started: float) -> str:
    """``<params stem>-<UTC time>-<params hash[:8]>``; unique per second and parameter file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    return f"{params_path.stem}-{stamp}-{params_hash(text)[:8]}"


def _setup_logging(run_dir: Path, verbose: bool) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for noisy in ("papermill", "traitlets", "nbclient"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    warnings.filterwarnings("ignore", message=".*Kernel is running over TCP.*")
    return handler


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


#: Printed when differencing control hid sample sizes of a run.
SIZES_HIDDEN_NOTE = (
    "note: some sample sizes are shown as '..' so that a count below disclosure.min_cell "
    "cannot be worked out by subtraction (src/evaluation/disclosure/). Shares and "
    "estimates whose denominator is such a size can still narrow it: before publishing this "
    "run, have its outputs checked by the data owner's output-checking routine."
)


def merge_results(
    run_dir: Path, params: AnyParams, prov: dict[str, Any], private_dir: Path | None = None
) -> dict[str, Any]:
    """Merge the notebooks' results files into ``results.json``.

    What the notebooks measured on the machine (``measured``: wall times, processes seen) goes
    into ``provenance.measured``: everything outside ``provenance`` is the same on every run
    of the same parameters and data.
    """
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
    parts = []
    measured: dict[str, Any] = {}
    for spec in PIPELINES[params.kind]:
        path = run_dir / "results" / f"{spec.stem}.json"
        if not path.exists():
            raise RunError(f"notebook {spec.name} ran but wrote no results file ({path}).")
        part = json.loads(path.read_text("utf-8"))
        parts.append((path, part))
        for key in ("numbers", "tables", "skipped"):
            clash = set(merged[key]) & set(part[key])
            if clash:
                raise RunError(f"{spec.name} registers {key} already registered: {sorted(clash)}")
            merged[key].update(part[key])
        merged["effects"].extend(part["effects"])
        merged["exhibits"].extend(part["exhibits"])
        # values that measure the machine (wall times): the run's record, not its results
        clash = set(measured) & set(part.get("measured", {}))
        if clash:
            raise RunError(f"{spec.name} registers measured values already registered: "
                           f"{sorted(clash)}")  # fmt: skip
        measured.update(part.get("measured", {}))
    from_params = []
    if isinstance(params, Params):
        merged["programme"] = params.programme.report_texts()
        merged["labels"] = params.report.labels
        from_params += [
            ("programme_budget", params.programme.budget,
             f"Programme budget ({params.study.currency})", "programme.budget"),
            ("planned_participants", params.programme.participants_planned,
             "Planned participants", "programme.participants_planned"),
            ("disclosure_min_cell", params.disclosure.min_cell,
             "Disclosure threshold (smallest count of persons shown)", "disclosure.min_cell"),
            ("balance_threshold", params.design.balance_threshold,
             "Balance target (largest absolute standardised difference)",
             "design.balance_threshold"),
        ]  # fmt: skip
    for key, value, title, name in from_params:
        merged["numbers"][key] = value
        merged["exhibits"].append(
            {
                "key": key,
                "kind": "number",
                "title": title,
                "notebook": "(parameters)",
                "made_by": f"params: {name}",
                "files": ["params.yaml"],
                "alt": "",
                "note": "",
            }
        )
    if isinstance(params, Params):
        hidden = protect_results(merged, params.disclosure.min_cell)
        # how many values (never which): the runner tells the evaluator to have it checked
        prov["sizes_hidden"] = len(hidden)
        if hidden:
            _rewrite_protected(run_dir, merged, parts, min_cell=params.disclosure.min_cell,
                               language=params.study.language)  # fmt: skip
        if private_dir is not None:  # every published value together, from the ledgers
            audit = audit_run(run_dir, merged, private_dir, min_cell=params.disclosure.min_cell,
                              language=params.study.language)  # fmt: skip
            prov["disclosure_audit"] = audit.to_record()
    merged["headline"] = pick_headline(merged["effects"], params)
    prov["measured"] = measured
    merged["provenance"] = prov
    check_results(merged)
    return merged


def _rewrite_protected(run_dir: Path, merged: dict[str, Any],
                       parts: list[tuple[Path, dict[str, Any]]], *, min_cell: int,
                       language: str) -> None:  # fmt: skip
    """Put what differencing control hid into the notebooks' results files and table CSVs.

    A part's effects and table rows are the merged ones (the same objects), its numbers are
    taken from the merged numbers; each is written back, and each changed table's CSV gets
    ``..`` in the same cells (rows and columns of the CSV are those of the registered table).
    The figures drawn from a changed table are drawn again, and the executed notebooks'
    outputs that show a changed table, figure or number are redone, so that no notebook
    shows a size the report hides.
    """
    changed = {key for key, rows in merged["tables"].items()
               if any(HIDDEN in row.values() for row in rows)}  # fmt: skip
    numbers = {key for key, value in merged["numbers"].items()
               if f'"{HIDDEN}"' in json.dumps(value, default=str)}  # fmt: skip
    for path, part in parts:
        part["numbers"] = {key: merged["numbers"][key] for key in part["numbers"]}
        path.write_text(json.dumps(part, indent=2, ensure_ascii=False) + "\n", "utf-8")
    for key, rows in merged["tables"].items():
        csv_path = run_dir / "tables" / f"{key}.csv"
        if not csv_path.is_file() or not any(HIDDEN in row.values() for row in rows):
            continue
        with csv_path.open(newline="", encoding="utf-8") as fh:
            table = list(csv.reader(fh))
        header = [name or "index" for name in table[0]] if table else []
        if header == list(rows[0]) and len(table) == len(rows) + 1:
            for i, row in enumerate(rows):  # the same cells, the rest of the file as written
                for j, value in enumerate(row.values()):
                    if value == HIDDEN:
                        table[i + 1][j] = HIDDEN
        else:  # not laid out as the rows (several header lines): written from the rows
            table = [list(rows[0])] + [["" if v is None else v for v in row.values()]
                                       for row in rows]  # fmt: skip
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(table)
    redrawn = redraw_figures(run_dir, merged, changed, min_cell=min_cell, language=language)
    retag_notebooks(run_dir, merged, changed | redrawn | numbers)


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
    force: bool = False,
    workers: int = WORKERS,
    base_dir: Path | str | None = None,
    work_dir: Path | str | None = None,
    overrides: Sequence[str] = (),
    language: str | None = None,
    design: Path | str | None = None,
) -> RunResult:
    """Run the study described by a parameter file; return the finished run folder.

    Parameters
    ----------
    params_path
        The parameter file (YAML).
    out_root
        The folder that receives the run folder (aggregates only).
    render
        Render the report (HTML, PDF) and the reviewers' notebooks.
    verbose
        Show papermill's own log.
    echo
        Where progress lines go (``print``-like).
    force
        Execute every notebook even if the cache holds it.
    workers
        Notebooks executed at once.
    base_dir
        The folder relative data paths are relative to (default: the parameter file's).
    work_dir
        The private work folder for the cache and the person-level scratch (default:
        ``.evaluation-work`` beside the participants table; see
        :mod:`evaluation.pipeline.workdir`). Never inside ``out_root``.
    overrides
        ``key=value`` overrides of the parameter file (``--set``, see
        :mod:`evaluation.pipeline.overrides`); the run records the parameters with them
        applied, so that ``verify`` re-executes the variant.
    language
        The report's language (``--language``), overriding ``study.language``.
    design
        A design freeze (``evaluation design``): the run refuses (exit 7) before any notebook
        if the design parameters or the design's inputs differ from the frozen ones, and
        fails (exit 7) if its notebooks' design is not the frozen one
        (:mod:`evaluation.pipeline.freeze`). Every notebook is executed (as with ``force``),
        so that no result computed before the freeze is reused.

    Raises
    ------
    EvaluationError
        With a message for the user; the run folder (if created) is marked failed.
    """
    started = time.time()
    # Kernels inherit the hash seed: string-set order (and with it, e.g., the factor analysis
    # of notebook 05, measured) would otherwise change from one run to the next.
    os.environ["PYTHONHASHSEED"] = "0"
    for key, value in SINGLE_THREADED_BLAS.items():
        os.environ.setdefault(key, value)
    params_path = Path(params_path)
    base = Path(base_dir).resolve() if base_dir is not None else params_path.resolve().parent
    text, params = parse_with_overrides(
        read_params_text(params_path), overrides, language=language, source=params_path, base=base
    )
    if isinstance(params, Params):
        params.require_programme(params_path)
    out_root = Path(out_root).resolve()
    private = workdir.resolve_work_dir(params, base, out_root, work_dir)
    generated = ensure_synthetic(params)
    check_input_files(params, source=params_path)
    frozen = None
    if design is not None:  # before anything is written: a refused run leaves nothing behind
        if not isinstance(params, Params):
            raise ParamsError(f"{params_path}: --design is for study runs; kind {params.kind} "
                              "has no design stage.")  # fmt: skip
        frozen = (Path(design).resolve(), freeze.load_freeze(design))
        echo(f"[design] checking the data and parameters against the freeze "
             f"{frozen[1]['fingerprint'][:16]}… ...", flush=True)  # fmt: skip
        freeze.check_before_run(frozen[1], params, frozen[0])
        force = True  # every notebook executed now, after the freeze: none reused from before it
    if isinstance(params, PoolingParams):  # the sites' bundles: checked before any notebook
        load_sites(params)
    inputs = (
        provenance.input_hashes(params.data.tables())
        if isinstance(params, Params)
        else provenance.input_hashes(params.input_files())
        if isinstance(params, PoolingParams)
        else provenance.package_data_inputs()
    )
    specs = PIPELINES[params.kind]
    versions = provenance.package_versions()
    # every notebook is read and parsed here, in this thread, before any worker starts
    prepared = prepare(specs, params.notebook_parameters())
    keys = cache.notebook_keys(
        specs, upstream(specs), {n: p.parameters for n, p in prepared.items()}, inputs, versions
    )
    cache_dir = private / workdir.CACHE
    # the validation depends on parameters too (sheet, survey items, min_mentored)
    settings = validation_settings(params)
    validation_key = cache.validation_key({**inputs, "settings": settings}, versions)
    # the same inputs were validated by the same code before: validating again adds nothing
    validated_before = not force and cache.was_validated(cache_dir, validation_key)
    study = None if validated_before else validate_inputs(params)
    # keep only the identifiers for the privacy scan, not the (register-sized) tables
    scan_ids = identifiers(params, study)
    del study
    release_memory()
    workdir.ensure(private)  # after validation: inputs refused leave nothing behind
    if not validated_before and isinstance(params, Params):
        cache.mark_validated(cache_dir, validation_key)

    out_root.mkdir(parents=True, exist_ok=True)
    tidied = [*locks.clean_stale(out_root), *locks.clean_private(private),
              *_remove_old_cache(out_root, cache_dir)]  # fmt: skip
    for line in tidied:
        echo(f"[tidy] {line}")
    lock = locks.reserve(out_root, make_run_id(params_path, text, started))
    try:
        scratch_lock = locks.reserve_private(private, lock.name)
        try:
            scratch_dir = workdir.private_dir(private / workdir.SCRATCH / scratch_lock.name)
            return _run_reserved(
                lock, params_path, text, params, scan_ids, inputs, keys, prepared,
                scratch_dir=scratch_dir, cache_dir=cache_dir,
                generated=generated, validated_before=validated_before, tidied=tidied,
                versions=versions, base=base, started=started,
                render=render, verbose=verbose, echo=echo, force=force, workers=workers,
                frozen=frozen,
            )  # fmt: skip
        finally:
            shutil.rmtree(private / workdir.SCRATCH / scratch_lock.name, ignore_errors=True)
            scratch_lock.release()
    finally:
        lock.release()


def _remove_old_cache(out_root: Path, cache_dir: Path) -> list[str]:
    """Delete what earlier versions kept under the output folder: the cache (person-level)."""
    done = []
    old = out_root / ".cache"
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
        done.append(f"the notebook cache of an earlier version under {old} (person-level data) "
                    f"deleted; the cache now lives in {cache_dir}")  # fmt: skip
    with contextlib.suppress(OSError):  # empty once its dead runs' folders are gone
        (out_root / locks.OLD_SCRATCH).rmdir()
    return done


def _run_reserved(
    lock: locks.RunLock,
    params_path: Path,
    text: str,
    params: AnyParams,
    scan_ids: tuple[Any, list[str]],
    inputs: dict[str, Any],
    keys: dict[str, str],
    prepared: dict[str, PreparedNotebook],
    *,
    scratch_dir: Path,
    cache_dir: Path,
    generated: list[str],
    validated_before: bool,
    tidied: list[str],
    versions: dict[str, str],
    base: Path,
    started: float,
    render: bool,
    verbose: bool,
    echo: Any,
    force: bool,
    workers: int,
    frozen: tuple[Path, dict[str, Any]] | None = None,
) -> RunResult:
    out_root = lock.out_root
    final_dir = out_root / lock.name
    work_dir = out_root / locks.INCOMPLETE / lock.name
    # notebook pages and clean scans memoised by content (pipeline/memo.py); --force: none
    memo_dir = None if force else cache_dir
    work_dir.mkdir(parents=True)
    handler = _setup_logging(work_dir, verbose)
    (work_dir / "params.yaml").write_text(text, "utf-8")
    prov: dict[str, Any] = {
        "params_file": str(params_path.resolve()),
        "params_dir": str(base),
        "params_sha256": params_hash(text),
        "params": text,
        "inputs": inputs,
        "packages": versions,
        "project": provenance.git_commit(),
        "started": provenance.utc_now(),
        "generated_synthetic": [Path(p).name for p in generated],
        "validation": "reused: the same inputs were validated by the same code before"
        if validated_before
        else "executed",  # fmt: skip
        "force": force,
        "tidied": tidied,
        "notebooks": {},
    }
    log.info("run %s: params %s (sha256 %s)", final_dir.name, params_path, prov["params_sha256"])
    for line in tidied:
        log.info("tidied: %s", line)
    stage = "notebooks"
    try:
        specs = PIPELINES[params.kind]
        count = iter(range(1, len(specs) + 1))

        def done(spec: NotebookSpec, info: dict[str, Any]) -> None:
            if info.get("cache_damaged"):
                note = (f"cache entry for {spec.name} was damaged ({info['cache_damaged']}); "
                        "rebuilt")  # fmt: skip
                echo(note)
                log.warning(note)
            how = (f"{info['seconds']:.1f} s" if info["executed"]
                   else f"reused from the cache ({info['seconds']:.1f} s)")  # fmt: skip
            echo(f"[{next(count)}/{len(specs)}] {spec.name}: {spec.title} ... {how}")
            log.info("notebook %s %s", spec.name, how)

        run_stage = Stage(prepared, work_dir, scratch_dir, cache_dir, final_dir.name, keys,
                          force=force, workers=workers)  # fmt: skip
        with _stderr_to(work_dir / "kernels.log"):
            prov["notebooks"] = run_notebooks(specs, run_stage, on_done=done)
        stage = "results"
        if isinstance(params, Params):  # the design the notebooks used, for verify --design
            prov["design"] = freeze.design_record(scratch_dir, params)
            if frozen is not None:
                stage = "design freeze"
                prov["design_freeze"] = freeze.freeze_provenance(
                    frozen[1], frozen[0], prov["design"], params
                )
                stage = "results"
        prov["finished"] = provenance.utc_now()
        # when the numbers were computed: the notebooks' own executions, reused ones included
        # (the report shows this, so a rerun from the cache renders the same report)
        began = [n.get("executed_at") for n in prov["notebooks"].values()]
        ended = [n.get("executed_until") for n in prov["notebooks"].values()]
        prov["computed"] = ({"from": min(began), "until": max(ended)}
                            if began and None not in began and None not in ended
                            else {"from": prov["started"], "until": prov["finished"]})  # fmt: skip
        results = merge_results(work_dir, params, prov, scratch_dir)
        if prov.get("sizes_hidden") or any(
            prov.get("disclosure_audit", {}).get("hidden", {}).values()
        ):
            echo(SIZES_HIDDEN_NOTE)
        (work_dir / "results.json").write_text(
            json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8"
        )
        report_path = None
        if render:
            stage = "report"

            t0 = time.time()
            echo("[report] rendering ...", end="", flush=True)
            report_path = render_all(work_dir, results, params, memo_dir=memo_dir)
            echo(f" {time.time() - t0:.1f} s")
        stage = "privacy scan"

        scan_run_folder(work_dir, scan_ids[0], mentor_ids=scan_ids[1], memo_dir=memo_dir)
        _write_status(work_dir, "succeeded", finished=provenance.utc_now())
    except EvaluationError as exc:
        log.error("run failed at %s: %s", stage, exc)
        failed = _fail(work_dir, final_dir, stage, str(exc), handler)
        shutil.rmtree(scratch_dir, ignore_errors=True)
        message = str(exc).replace(str(work_dir), str(failed))
        latest = latest_link(out_root, params_path)
        before = (f"The last good run is untouched: {latest} -> {latest.resolve().name}"
                  if latest.exists() else
                  f"There is no earlier good run of {params_path.name} in {out_root}.")  # fmt: skip
        kind = FreezeError if isinstance(exc, FreezeError) else RunError
        raise kind(
            f"{message}\nThe run folder is kept, marked failed: {failed}\n{before}"
        ) from None
    except BaseException as exc:
        log.exception("run failed at %s", stage)
        _fail(work_dir, final_dir, stage, f"{type(exc).__name__}: {exc}", handler)  # noqa
        shutil.rmtree(scratch_dir, ignore_errors=True)
        raise
    for removed in cache.prune(cache_dir):
        log.info("cache entry %s removed (older than the %d kept per notebook)", removed,
                 cache.KEEP_PER_NOTEBOOK)  # fmt: skip
    log.info("run succeeded in %.1f s", time.time() - started)
    log.removeHandler(handler)
    handler.close()
    shutil.rmtree(scratch_dir, ignore_errors=True)
    os.replace(work_dir, final_dir)
    _point_latest(latest_link(out_root, params_path), final_dir)
    report = final_dir / report_path.relative_to(work_dir) if report_path else None
    return RunResult(
        run_dir=final_dir, report=report, seconds=time.time() - started, work_dir=cache_dir.parent
    )


def _fail(
    work_dir: Path, final_dir: Path, stage: str, message: str, handler: logging.Handler
) -> Path:
    failed = final_dir.with_name(final_dir.name + "-failed")
    # paths inside the folder as they will be once it is moved (the message names files)
    message = message.replace(str(work_dir), str(failed))
    _write_status(work_dir, "failed", stage=stage, message=message, finished=provenance.utc_now())
    log.removeHandler(handler)
    handler.close()
    os.replace(work_dir, failed)
    return failed
