"""A verified cache: every file of an entry is checked against the SHA-256 recorded when it was
stored; a damaged entry is removed and its notebook executed again, never published, never a
crash.

First on fake notebooks (no kernels), then end to end on the real ones: a cached
``results/02_design.json`` whose matched count was edited, and an entry missing a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from test_graph_cache import FAKE, _fake_execute, _stage

from evaluation.cli import main
from evaluation.pipeline import cache, execute
from evaluation.pipeline.execute import run_notebooks
from evaluation.pipeline.provenance import file_sha256


@pytest.fixture()
def stored(tmp_path, monkeypatch):
    """The fake graph executed once (its entries in ``tmp_path/cache``); its log of executions."""
    log: list[tuple[str, float, float]] = []
    monkeypatch.setattr(execute, "execute_notebook", _fake_execute(log, threading.Lock()))
    run_notebooks(FAKE, _stage(tmp_path, "first"))
    log.clear()
    return log


def _entry(tmp_path: Path, name: str) -> Path:
    return cache.entry(tmp_path / "cache", f"key-{name}")


def test_store_records_the_sha256_of_every_file(tmp_path, stored):
    meta = json.loads((_entry(tmp_path, "b") / "meta.json").read_text())
    assert set(meta["sha256"]) == {"run/results/b.json", "run/tables/b.csv",
                                   "run/notebooks/b.ipynb", "scratch/b.parquet"}  # fmt: skip
    for rel, sha in meta["sha256"].items():
        assert sha == file_sha256(_entry(tmp_path, "b") / rel), rel


@pytest.mark.parametrize(
    "damage,what",
    [
        (
            lambda e: (e / "run" / "results" / "b.json").write_text('{"exhibits": [], "n": 45}'),
            "results/b.json changed",
        ),
        (lambda e: (e / "run" / "tables" / "b.csv").unlink(), "tables/b.csv missing"),
        (lambda e: (e / "scratch" / "b.parquet").write_text("edited"), "scratch/b.parquet changed"),
        (lambda e: (e / "meta.json").write_text("{"), "meta.json unreadable"),
    ],
    ids=["edited", "deleted", "edited-scratch", "meta"],
)
def test_a_damaged_entry_is_rebuilt_and_never_restored(tmp_path, stored, damage, what):
    damage(_entry(tmp_path, "b"))
    again = run_notebooks(FAKE, stage := _stage(tmp_path, "second"))
    assert [name for name, _, _ in stored] == ["b"], "only the damaged notebook runs again"
    assert again["b"]["executed"] and again["b"]["cache_damaged"] == what
    assert not any(again[n]["executed"] for n in "acd")
    # the run has the freshly computed files, not the damaged ones
    assert json.loads((stage.run_dir / "results" / "b.json").read_text()).get("n") is None
    assert (stage.run_dir / "tables" / "b.csv").read_text() == "x\n1\n"
    assert (stage.scratch_dir / "b.parquet").read_text() == "b wrote b.parquet"
    # ... and the entry was stored anew, whole and verified
    meta = json.loads((_entry(tmp_path, "b") / "meta.json").read_text())
    assert meta["run"] == "second"
    third = run_notebooks(FAKE, _stage(tmp_path, "third"))
    assert not any(info["executed"] for info in third.values())


def test_a_damaged_entry_leaves_nothing_of_itself_in_the_run(tmp_path, stored, monkeypatch):
    (_entry(tmp_path, "b") / "scratch" / "b.parquet").write_text("edited")
    stage = _stage(tmp_path, "second")
    with pytest.raises(cache.CacheDamaged, match="scratch/b.parquet changed"):
        cache.restore(_entry(tmp_path, "b"), stage.run_dir, stage.scratch_dir)
    left = [p for p in (*stage.run_dir.rglob("*"), *stage.scratch_dir.rglob("*")) if p.is_file()]
    assert left == [], "files of a damaged entry were left in the run"


def test_an_entry_without_checksums_is_not_trusted(tmp_path, stored):
    meta_path = _entry(tmp_path, "c") / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["sha256"]  # as an earlier version stored it
    meta_path.write_text(json.dumps(meta))
    again = run_notebooks(FAKE, _stage(tmp_path, "second"))
    assert again["c"]["cache_damaged"] == "no checksums recorded"


# --- end to end: the real notebooks -------------------------------------------------------


@pytest.fixture(scope="module")
def damaged_rerun(finished_run, tmp_path_factory):
    """``evaluation run`` over a copy of the finished run's cache with two damaged entries.

    The cached ``results/02_design.json`` has its matched count raised by one; a table of
    the effects notebook's entry is deleted. Returns what the command printed, its exit
    code, the rerun's results, the original's, and the edited count.
    """
    result, params = finished_run
    folder = tmp_path_factory.mktemp("damaged")
    work = folder / "work"
    shutil.copytree(result.work_dir / "cache", work / "cache")
    original = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    prov = original["provenance"]["notebooks"]
    design = work / "cache" / prov["02_design"]["cache_key"] / "run" / "results" / "02_design.json"
    part = json.loads(design.read_text("utf-8"))
    key = (
        "n_matched"
        if isinstance(part["numbers"].get("n_matched"), int)
        else next(
            k for k, v in part["numbers"].items() if isinstance(v, int) and not isinstance(v, bool)
        )
    )
    edited = part["numbers"][key] + 1
    part["numbers"][key] = edited
    design.write_text(json.dumps(part, indent=2, ensure_ascii=False) + "\n", "utf-8")
    effects = work / "cache" / prov["03_effects"]["cache_key"] / "run" / "tables"
    gone = sorted(effects.glob("*.csv"))[0]
    gone.unlink()
    out, err = io.StringIO(), io.StringIO()
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run", "--params", str(params), "--out", str(folder / "outputs"),
                         "--work-dir", str(work), "--no-report"])  # fmt: skip
    finally:
        os.umask(umask)  # the command sets the process's umask; other tests keep theirs
    rerun = json.loads((folder / "outputs" / "study-latest" / "results.json").read_text("utf-8"))
    log = (folder / "outputs" / "study-latest" / "run.log").read_text("utf-8")
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "log": log,
            "rerun": rerun, "original": original, "key": key, "edited": edited,
            "gone": f"tables/{gone.name}"}  # fmt: skip


@pytest.mark.slow
def test_an_edited_cached_result_is_rebuilt_not_published(damaged_rerun):
    d = damaged_rerun
    assert d["code"] == 0, d["err"]
    line = "cache entry for 02_design was damaged (results/02_design.json changed); rebuilt"
    assert line in d["out"].splitlines()
    assert line in d["log"]
    key = d["key"]
    assert d["rerun"]["numbers"][key] == d["original"]["numbers"][key] != d["edited"]
    nbs = d["rerun"]["provenance"]["notebooks"]
    assert nbs["02_design"]["executed"]
    assert nbs["02_design"]["cache_damaged"] == "results/02_design.json changed"


@pytest.mark.slow
def test_a_cached_file_deleted_is_rebuilt_and_the_run_succeeds(damaged_rerun):
    d = damaged_rerun
    assert d["code"] == 0 and "internal error" not in d["err"] and "Traceback" not in d["err"]
    line = f"cache entry for 03_effects was damaged ({d['gone']} missing); rebuilt"
    assert line in d["out"].splitlines()
    nbs = d["rerun"]["provenance"]["notebooks"]
    assert {n for n, info in nbs.items() if info["executed"]} == {"02_design", "03_effects"}
    from evaluation.pipeline.verify import compare_results

    assert compare_results(d["original"], d["rerun"])[0] == []
