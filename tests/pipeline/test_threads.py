"""No random failures from threads: Python source is parsed once, in the main thread, under a lock.

CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state: two
threads parsing at once can fail with ``SystemError: AST constructor recursion depth
mismatch`` (python/cpython gh-106905). A study run once failed so (exit 70), from
``parameter_names`` called by two notebook workers at the same moment.

The stress test below provokes the race as hard as it can (many threads, each at a
different stack depth, garbage with finalisers so that threads switch inside the parser,
the shortest switch interval). Against the code before the fix (``parameter_names`` without
a lock: ``notebooks.PARSE_LOCK`` replaced by ``contextlib.nullcontext()``) it failed within
three seconds in each of three tries (4, 7 and 7 ``SystemError``s of 1 600 parses); it must
never fail now. The second test holds the design: the runner's worker threads parse nothing
at all (before the fix, each worker read and parsed its notebook).
"""

from __future__ import annotations

import ast
import gc
import json
import sys
import threading
from pathlib import Path

import pytest

from evaluation.config import load_params
from evaluation.pipeline import execute
from evaluation.pipeline.execute import Stage, run_notebooks
from evaluation.pipeline.notebooks import NOTEBOOKS, parameter_names, prepare, read_notebook

ROOT = Path(__file__).resolve().parents[2]
#: Threads parsing at once, and parses per thread.
THREADS, PARSES = 8, 200
#: Stack depths the threads parse at (the constructor's state starts from the caller's depth).
DEPTHS = 60
#: Rounds of the whole notebook graph with fake kernels, and notebooks executed at once.
ROUNDS, WORKERS = 10, 6


class _Finaliser:
    """Garbage whose finaliser runs Python code: a thread switch can happen inside the parser."""

    def __del__(self) -> None:
        sum(range(50))


def _garbage() -> None:
    for _ in range(20):
        a, b = _Finaliser(), _Finaliser()
        a.other, b.other = b, a  # a cycle: freed by the collector, at any allocation


def _at_depth(n: int, f):
    return _at_depth(n - 1, f) if n else f()


@pytest.fixture()
def racy_interpreter():
    """The shortest thread switch interval and a busy cyclic garbage collector."""
    interval, threshold = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 5, 5)
    yield
    sys.setswitchinterval(interval)
    gc.set_threshold(*threshold)


def test_parsing_parameters_from_many_threads_at_once_never_fails(racy_interpreter):
    notebooks = [read_notebook(spec) for spec in NOTEBOOKS]
    expected = [parameter_names(nb) for nb in notebooks]
    errors: list[str] = []
    wrong: list[str] = []

    def parse_many(k: int) -> None:
        for i in range(PARSES):
            j = (k + i) % len(notebooks)
            try:
                got = _at_depth((7 * k + i) % DEPTHS, lambda j=j: parameter_names(notebooks[j]))
            except SystemError as exc:
                errors.append(str(exc))
                return
            if got != expected[j]:
                wrong.append(NOTEBOOKS[j].name)
            _garbage()

    threads = [threading.Thread(target=parse_many, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], f"{len(errors)} parses failed, e.g. {errors[0]}"
    assert wrong == []


def _fake_papermill(nb, out, *, parameters, **kwargs):
    """What a kernel would leave: the executed notebook, the results file, scratch files."""
    run_dir, scratch = Path(parameters["run_dir"]), Path(parameters["scratch_dir"])
    stem = Path(out).stem
    spec = next(s for s in NOTEBOOKS if s.stem == stem)
    for name in spec.writes:
        (scratch / name).write_text(f"{stem} wrote {name}")
    (run_dir / "results").mkdir(exist_ok=True)
    (run_dir / "results" / f"{stem}.json").write_text(json.dumps({"exhibits": []}))
    Path(out).write_text(json.dumps({"cells": [], "parameters": sorted(parameters)}))


def test_the_notebook_graph_parses_nothing_in_its_worker_threads(monkeypatch, tmp_path):
    """Every notebook is read and parsed before the workers start; they only execute."""
    import papermill

    main = threading.current_thread()
    parsed_in: list[str] = []
    real_parse = ast.parse

    def spy(*args, **kwargs):
        thread = threading.current_thread()
        parsed_in.append("main" if thread is main else thread.name)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", spy)  # ast.literal_eval (jupytext) goes through it too
    monkeypatch.setattr(papermill, "execute_notebook", _fake_papermill)
    params = load_params(ROOT / "params" / "default.yaml", check_files=False)
    for r in range(ROUNDS):
        prepared = prepare(NOTEBOOKS, params.notebook_parameters())
        run_dir, scratch = tmp_path / f"r{r}" / "run", tmp_path / f"r{r}" / "scratch"
        run_dir.mkdir(parents=True)
        scratch.mkdir()
        keys = {s.name: f"{r}-{s.name}" for s in NOTEBOOKS}
        stage = Stage(prepared, run_dir, scratch, tmp_path / "cache", f"r{r}", keys,
                      force=True, workers=WORKERS)  # fmt: skip
        done = run_notebooks(NOTEBOOKS, stage)
        assert all(info["executed"] for info in done.values())
        executed = json.loads((run_dir / "notebooks" / "03_effects.ipynb").read_text())
        assert {"run_dir", "scratch_dir", "estimation"} <= set(executed["parameters"])
    assert parsed_in, "the spy saw no parse at all"
    assert set(parsed_in) == {"main"}, f"parsed in worker threads: {set(parsed_in) - {'main'}}"


def test_executing_a_prepared_notebook_reads_no_source(monkeypatch, tmp_path):
    """The worker's own function gets the notebook and its parameters handed down."""
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", _fake_papermill)
    params = load_params(ROOT / "params" / "default.yaml", check_files=False)
    prepared = prepare(NOTEBOOKS[:1], params.notebook_parameters())[NOTEBOOKS[0].name]

    def refuse(*args, **kwargs):
        raise AssertionError("a worker read or parsed a notebook")

    monkeypatch.setattr("evaluation.pipeline.notebooks.read_notebook", refuse)
    monkeypatch.setattr("evaluation.pipeline.notebooks.parameter_names", refuse)
    monkeypatch.setattr(ast, "parse", refuse)
    (tmp_path / "scratch").mkdir()
    out = execute.execute_notebook(prepared, tmp_path / "run", tmp_path / "scratch")
    assert out.is_file()
