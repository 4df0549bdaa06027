"""Execute the notebooks as a dependency graph: independent ones in parallel, unchanged ones reused.

Each :class:`~evaluation.pipeline.notebooks.NotebookSpec` declares the scratch artefacts it
reads and writes; a notebook depends on the notebooks that write what it reads (every
notebook also writes ``results/<name>.json``, which a later one may read). Up to ``workers``
notebooks run at once, each in its own papermill execution (a thread here, a kernel process
each); a notebook whose cache key is in the cache is restored from it instead of executed.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import RunError
from evaluation.pipeline import cache, provenance
from evaluation.pipeline.notebooks import NotebookSpec, PreparedNotebook

#: Notebooks executed at once (two kernels; the study's machines have a few cores).
WORKERS = 2

#: Seconds a notebook's kernel may take to answer after it is launched (papermill's default
#: is 60; a kernel normally answers in about 1 s, a loaded machine can take much longer).
KERNEL_START_SECONDS = 120

#: How many times a kernel is launched before the notebook is said to have failed. A launch
#: can fail for reasons outside the study: two kernels of different processes given the same
#: free TCP port between choosing and binding it (jupyter_client issue 487), or a machine too
#: busy to answer in time. Nothing of the notebook has run then, so a new kernel (with new
#: ports) is safe to try.
KERNEL_START_ATTEMPTS = 3

#: Arguments of every kernel: ipykernel 7.4 warns on every start that loopback TCP is
#: unencrypted, which is harmless here.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)

log = logging.getLogger("evaluation.run")

# what nbclient's wait_for_ready raises when a kernel does not come up
_NOT_STARTED = ("Kernel didn't respond", "Kernel died before replying")


def _kernel_did_not_start(exc: BaseException) -> bool:
    """Whether papermill failed while waiting for a new kernel, before any cell ran."""
    return isinstance(exc, RuntimeError) and str(exc).startswith(_NOT_STARTED)


def _is_artefact(name: str) -> bool:
    """A file name (``design.parquet``, ``results/03_effects.json``), not a source like ``inputs``."""
    return "." in name or "/" in name


def upstream(specs: Sequence[NotebookSpec]) -> dict[str, tuple[str, ...]]:
    """For each notebook, the notebooks that write what it reads (in ``specs`` order).

    Raises
    ------
    RunError
        If an artefact has two writers, is read before it is written, or is never written.
    """
    writer: dict[str, str] = {}
    out: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        deps = []
        for name in spec.reads:
            if not _is_artefact(name):
                continue  # an outside source: the input tables, a package's data
            if name not in writer:
                later = [s.name for s in specs if name in s.writes]
                where = f"{later[0]} writes it later" if later else "no notebook writes it"
                raise RunError(f"notebook {spec.name} reads {name}, but {where}.")
            if writer[name] not in deps:
                deps.append(writer[name])
        out[spec.name] = tuple(deps)
        for name in (*spec.writes, f"results/{spec.stem}.json"):
            if name in writer:
                raise RunError(f"{name} is written by both {writer[name]} and {spec.name}.")
            writer[name] = spec.name
    return out


def execute_notebook(prepared: PreparedNotebook, run_dir: Path, scratch_dir: Path) -> Path:
    """Execute one notebook with papermill (its own kernel); return the executed notebook.

    ``prepared`` was read and parsed before the worker threads started
    (:func:`~evaluation.pipeline.notebooks.prepare`): nothing here parses Python source.
    """
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    spec, nb = prepared.spec, prepared.nb
    injected = dict(prepared.parameters)
    injected["run_dir"] = str(run_dir)
    injected["scratch_dir"] = str(scratch_dir)
    out = run_dir / "notebooks" / f"{spec.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            _papermill(papermill, nb, out, injected, spec)
            break
        except PapermillExecutionError as exc:
            raise RunError(
                f"notebook {spec.name} failed in cell {exc.cell_index} (execution count "
                f"{exc.exec_count}): {exc.ename}: {exc.evalue}\n"
                f"The partial executed notebook is kept at {out} (open it to see the cell and "
                "the traceback)."
            ) from None
        except DeadKernelError:
            raise RunError(
                f"notebook {spec.name}: its kernel died while running (most often the machine "
                "ran out of memory; see the system log, e.g. `dmesg`). The partial executed "
                f"notebook is kept at {out}."
            ) from None
        except RuntimeError as exc:
            if not _kernel_did_not_start(exc):
                raise
            note = (f"notebook {spec.name}: its kernel did not start (attempt {attempt} of "
                    f"{KERNEL_START_ATTEMPTS}): {exc}")  # fmt: skip
            log.warning(note)
            print(note, file=sys.stderr, flush=True)  # kernels.log of the run
            if attempt == KERNEL_START_ATTEMPTS:
                raise RunError(
                    f"notebook {spec.name}: its Python kernel did not start, "
                    f"{KERNEL_START_ATTEMPTS} times ({exc}). Nothing of the notebook ran. "
                    "Check that the machine is not out of memory or processes and that "
                    "`.venv/bin/python -m ipykernel_launcher --help` works, then run again; "
                    "kernels.log in the failed run folder has what the kernels printed."
                ) from None
    return out


def _papermill(papermill: Any, nb: Any, out: Path, injected: dict[str, Any],
               spec: NotebookSpec) -> None:  # fmt: skip
    """One papermill execution of ``nb`` into ``out`` in a new kernel."""
    papermill.execute_notebook(
        nb,
        str(out),
        parameters=injected,
        kernel_name="python3",
        # the kernel starts in the notebook's folder (its relative paths, e.g.
        # ../params/specifications.yaml). Not papermill's cwd=: that chdir()s the whole
        # runner process, and with two notebooks executing at once in two threads one
        # thread's chdir back could start the other's kernel in the wrong folder (a rare
        # 'specification grid file not found' in the concurrent-runs test). nbclient
        # takes the kernel's folder from resources instead, per notebook.
        resources={"metadata": {"path": str(spec.path.parent)}},
        progress_bar=False,
        log_output=False,
        extra_arguments=list(KERNEL_ARGUMENTS),
        start_timeout=KERNEL_START_SECONDS,
    )


@dataclass(frozen=True)
class Stage:
    """What the notebook stage needs to know about the run.

    ``notebooks``: every notebook of the run, read and parsed in the main thread
    (:func:`~evaluation.pipeline.notebooks.prepare`); ``cache_dir``: the notebook cache.
    """

    notebooks: Mapping[str, PreparedNotebook]
    run_dir: Path
    scratch_dir: Path
    cache_dir: Path
    run_name: str
    keys: Mapping[str, str]
    force: bool = False
    workers: int = WORKERS


def _one(spec: NotebookSpec, stage: Stage) -> dict[str, Any]:
    """Restore one notebook from the cache, or execute it and store it; its provenance entry.

    A damaged cache entry (a file missing or changed since it was stored) is removed and the
    notebook executed instead; the entry says so in ``cache_damaged`` (which file, how).
    """
    t0 = time.time()
    key = stage.keys[spec.name]
    hit = None if stage.force else cache.lookup(stage.cache_dir, key)
    damaged = None
    if hit is not None:
        try:
            meta = cache.restore(hit, stage.run_dir, stage.scratch_dir)
        except cache.CacheDamaged as exc:  # said once, by the runner, when it is rebuilt
            damaged = exc.what
            cache.remove(hit)
        else:
            return {"seconds": round(time.time() - t0, 2), "executed": False, "cache_key": key,
                    "cached_from_run": meta["run"], "executed_at": meta.get("executed_at"),
                    "executed_until": meta.get("executed_until")}  # fmt: skip
    began = provenance.utc_now()
    execute_notebook(stage.notebooks[spec.name], stage.run_dir, stage.scratch_dir)
    seconds = round(time.time() - t0, 2)
    times = {"executed_at": began, "executed_until": provenance.utc_now()}
    cache.store(stage.cache_dir, key, spec, stage.run_dir, stage.scratch_dir, stage.run_name,
                times=times)  # fmt: skip
    info = {"seconds": seconds, "executed": True, "cache_key": key, **times}
    return info if damaged is None else {**info, "cache_damaged": damaged}


def run_notebooks(
    specs: Sequence[NotebookSpec],
    stage: Stage,
    *,
    on_done: Callable[[NotebookSpec, dict[str, Any]], None] = lambda s, i: None,
) -> dict[str, dict[str, Any]]:
    """Run every notebook once its upstream notebooks are done, ``stage.workers`` at a time.

    Workers are daemon threads, so an interrupted run does not wait for running notebooks
    (their kernels stop when this process ends). The first failure stops new starts; the
    notebooks still running are waited for, then the failure is raised.

    Returns
    -------
    dict
        Per notebook: ``seconds``, ``executed`` (``False`` if reused), ``cache_key``.
    """
    deps = upstream(specs)
    pending = list(specs)
    done: dict[str, dict[str, Any]] = {}
    results: queue.Queue[tuple[NotebookSpec, dict[str, Any] | None, BaseException | None]]
    results = queue.Queue()
    running = 0
    failure: BaseException | None = None

    def work(spec: NotebookSpec) -> None:
        try:
            results.put((spec, _one(spec, stage), None))
        except BaseException as exc:  # handed to the main thread
            results.put((spec, None, exc))

    while pending or running:
        for spec in list(pending):
            if failure is not None or running >= max(1, stage.workers):
                break
            if all(d in done for d in deps[spec.name]):
                pending.remove(spec)
                threading.Thread(target=work, args=(spec,), daemon=True).start()
                running += 1
        if not running:
            break
        spec, info, exc = results.get()
        running -= 1
        if exc is not None:
            failure = failure or exc
            continue
        assert info is not None
        done[spec.name] = info
        on_done(spec, info)
    if failure is not None:
        raise failure
    return {s.name: done[s.name] for s in specs}
