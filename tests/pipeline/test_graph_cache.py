"""The notebook graph, the parallel scheduler and the cache, on fake notebooks (no kernels).

The end-to-end behaviour on the real notebooks (cached rerun, a changed parameter) is in
``test_cache_e2e.py``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from evaluation.errors import RunError
from evaluation.pipeline import cache, execute
from evaluation.pipeline.execute import Stage, run_notebooks, upstream
from evaluation.pipeline.notebooks import (
    PIPELINES,
    NotebookSpec,
    PreparedNotebook,
    prepare,
    read_notebook,
)

#: A fake notebook's run time: long enough that two overlapping ones are told apart.
SLEEP = 0.4
#: Two notebooks that overlap finish within this fraction of running one after the other.
OVERLAP_FRACTION = 0.8

A = NotebookSpec("a", "first", reads=("inputs",), writes=("a.parquet",))
B = NotebookSpec("b", "reads a", reads=("a.parquet",), writes=("b.parquet",))
C = NotebookSpec("c", "reads a", reads=("a.parquet",))
D = NotebookSpec("d", "reads b and c's results", reads=("b.parquet", "results/c.json"))
FAKE = (A, B, C, D)


def test_upstream_follows_reads_and_writes():
    assert upstream(FAKE) == {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}


def test_upstream_of_the_study():
    deps = upstream(PIPELINES["study"])
    assert deps["01_data"] == ()
    assert deps["02_design"] == ("01_data",)
    assert set(deps["03_effects"]) == {"01_data", "02_design"}


@pytest.mark.parametrize(
    "specs,message",
    [
        ((B, A), "a.parquet, but a writes it later"),
        ((NotebookSpec("x", "", reads=("nowhere.parquet",)),), "no notebook writes it"),
        ((A, NotebookSpec("y", "", writes=("a.parquet",))), "written by both a and y"),
    ],
)
def test_upstream_refuses_a_broken_graph(specs, message):
    with pytest.raises(RunError, match=re.escape(message)):
        upstream(specs)


SCRATCH_NAME = re.compile(r"""scratch(?:_dir)?\)?\s*/\s*["']([^"']+)["']""")
WRITE_CALL = re.compile(r"""\.(?:to_parquet|to_csv|to_pickle|write_text|write_bytes)\(\s*scratch""")


@pytest.mark.parametrize("spec", PIPELINES["study"], ids=lambda s: s.name)
def test_declared_scratch_matches_the_source(spec):
    """A notebook that reads an undeclared artefact could start before its writer finished."""
    source = spec.path.read_text("utf-8")
    named = set(SCRATCH_NAME.findall(source))
    assert named <= set(spec.reads) | set(spec.writes), (
        f"{spec.name} uses scratch files {sorted(named - set(spec.reads) - set(spec.writes))} "
        "that its NotebookSpec does not declare"
    )
    for line in source.splitlines():
        if WRITE_CALL.search(line):
            written = SCRATCH_NAME.findall(line)
            assert set(written) <= set(spec.writes), f"{spec.name}: {line.strip()}"
    others = [s.stem for s in PIPELINES["study"] if s.name != spec.name]
    for other in others:
        if f'"{other}.json"' in source or f"results/{other}" in source:
            assert f"results/{other}.json" in spec.reads, f"{spec.name} reads {other}'s results"


def _fake_execute(log: list[tuple[str, float, float]], lock: threading.Lock):
    def fake(prepared, run_dir, scratch_dir):
        spec = prepared.spec
        t0 = time.perf_counter()
        for name in spec.reads:
            if name.endswith(".parquet"):
                assert (scratch_dir / name).is_file(), f"{spec.name} started before {name}"
        time.sleep(SLEEP)
        for name in spec.writes:
            (scratch_dir / name).write_text(f"{spec.name} wrote {name}")
        (run_dir / "tables").mkdir(exist_ok=True)
        (run_dir / "tables" / f"{spec.name}.csv").write_text("x\n1\n")
        exhibit = {"key": spec.name, "files": [f"tables/{spec.name}.csv"]}
        (run_dir / "results").mkdir(exist_ok=True)
        (run_dir / "results" / f"{spec.stem}.json").write_text(json.dumps({"exhibits": [exhibit]}))
        (run_dir / "notebooks").mkdir(exist_ok=True)
        (run_dir / "notebooks" / f"{spec.stem}.ipynb").write_text("{}")
        with lock:
            log.append((spec.name, t0, time.perf_counter()))

    return fake


def _stage(tmp: Path, name: str, specs=FAKE, **kw) -> Stage:
    run_dir, scratch = tmp / name / "run", tmp / name / "scratch"
    run_dir.mkdir(parents=True)
    scratch.mkdir(parents=True)
    keys = {s.name: f"key-{s.name}" for s in specs}
    prepared = {s.name: PreparedNotebook(s, None, {}) for s in specs}  # type: ignore[arg-type]
    return Stage(prepared, run_dir, scratch, tmp / "cache", name, keys, **kw)


def test_independent_notebooks_run_in_parallel_and_are_then_reused(tmp_path, monkeypatch):
    log: list[tuple[str, float, float]] = []
    monkeypatch.setattr(execute, "execute_notebook", _fake_execute(log, threading.Lock()))
    t0 = time.perf_counter()
    first = run_notebooks(FAKE, _stage(tmp_path, "r1", workers=2))
    wall = time.perf_counter() - t0
    spans = {name: (a, b) for name, a, b in log}
    assert spans["b"][0] >= spans["a"][1] and spans["c"][0] >= spans["a"][1]
    assert spans["d"][0] >= max(spans["b"][1], spans["c"][1])
    assert spans["b"][0] < spans["c"][1] and spans["c"][0] < spans["b"][1], "b and c overlap"
    assert wall < OVERLAP_FRACTION * 4 * SLEEP + 1.0
    assert all(info["executed"] for info in first.values())

    log.clear()
    second = run_notebooks(FAKE, stage := _stage(tmp_path, "r2"))
    assert log == [], "a cached notebook was executed"
    assert [info["executed"] for info in second.values()] == [False] * 4
    assert second["d"]["cached_from_run"] == "r1"
    assert (stage.scratch_dir / "b.parquet").read_text() == "b wrote b.parquet"
    assert (stage.run_dir / "tables" / "d.csv").is_file()
    assert (stage.run_dir / "results" / "c.json").is_file()

    run_notebooks(FAKE, _stage(tmp_path, "r3", force=True))
    assert sorted(n for n, _, _ in log) == ["a", "b", "c", "d"], "--force re-executes all"


def test_a_failure_stops_new_starts_and_is_raised(tmp_path, monkeypatch):
    log: list[tuple[str, float, float]] = []
    ok = _fake_execute(log, threading.Lock())

    def fails_on_b(prepared, *args):
        if prepared.spec.name == "b":
            raise RunError("notebook b failed in cell 3")
        ok(prepared, *args)

    monkeypatch.setattr(execute, "execute_notebook", fails_on_b)
    with pytest.raises(RunError, match="notebook b failed"):
        run_notebooks(FAKE, _stage(tmp_path, "r1", workers=2))
    assert "d" not in {n for n, _, _ in log}
    assert cache.lookup(tmp_path / "cache", "key-b") is None, "a failed notebook is not cached"


def _keys(monkeypatch, sections: dict, tmp_path: Path) -> dict[str, str]:
    specs = PIPELINES["study"]
    inputs = {"participants": {"sha256": "p"}, "monthly": {"sha256": "m"}}
    parameters = {n: p.parameters for n, p in prepare(specs, sections).items()}
    return cache.notebook_keys(specs, upstream(specs), parameters, inputs, {"numpy": "2"})


def test_keys_change_only_for_the_notebooks_that_use_a_parameter(monkeypatch, tmp_path):
    from evaluation.config import load_params

    root = Path(__file__).resolve().parents[2]
    sections = load_params(root / "params" / "default.yaml", check_files=False)
    base = sections.notebook_parameters()
    changed = json.loads(json.dumps(base))
    changed["estimation"]["permutation_draws"] += 1
    before, after = _keys(monkeypatch, base, tmp_path), _keys(monkeypatch, changed, tmp_path)
    deps = upstream(PIPELINES["study"])
    from evaluation.pipeline.notebooks import parameter_names

    def uses(spec) -> bool:
        cell = parameter_names(read_notebook(spec)).get("estimation")
        return isinstance(cell, dict) and "permutation_draws" in cell

    expect = set()
    for spec in PIPELINES["study"]:  # users and everything downstream of them
        if uses(spec) or expect & set(deps[spec.name]):
            expect.add(spec.name)
    moved = {name for name in before if before[name] != after[name]}
    assert "03_effects" in moved and "01_data" not in moved and "02_design" not in moved
    assert moved == expect


def test_key_covers_a_file_named_by_a_parameter(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("a: 1\n")
    first = cache._with_file_hashes({"specifications": str(grid), "n": 3}, tmp_path)
    grid.write_text("a: 2\n")
    second = cache._with_file_hashes({"specifications": str(grid), "n": 3}, tmp_path)
    assert first["specifications"]["sha256"] != second["specifications"]["sha256"]
    assert first["n"] == 3


def test_code_hash_covers_every_python_file(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "m.py").write_text("x = 1\n")
    (pkg / "text.yaml").write_text("a: b\n")
    h1 = cache.code_hash(pkg)
    (pkg / "text.yaml").write_text("a: c\n")
    assert cache.code_hash(pkg) == h1, "texts used only by the report do not invalidate"
    (pkg / "sub" / "m.py").write_text("x = 2\n")
    assert cache.code_hash(pkg) != h1


def test_executing_a_notebook_never_changes_the_runners_working_directory(monkeypatch, tmp_path):
    """Two notebooks execute at once in two threads of one process: a process-wide chdir
    (papermill's cwd=) by one thread can start the other's kernel in the wrong folder."""
    import os

    import papermill

    from evaluation.config import load_params
    from evaluation.pipeline import execute
    from evaluation.pipeline.notebooks import NOTEBOOKS, prepare

    seen = {}

    def fake_execute(nb, out, **kw):
        seen.update(kw, cwd_during=os.getcwd())

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    before = os.getcwd()
    root = NOTEBOOKS[0].path.parents[1]
    params = load_params(root / "params" / "default.yaml")
    prepared = prepare(NOTEBOOKS[:1], params.notebook_parameters())[NOTEBOOKS[0].name]
    execute.execute_notebook(prepared, tmp_path / "run", tmp_path / "scratch")
    assert "cwd" not in seen and seen["cwd_during"] == before == os.getcwd()
    assert seen["resources"] == {"metadata": {"path": str(NOTEBOOKS[0].path.parent)}}
