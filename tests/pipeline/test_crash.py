"""Crash safety and concurrency: reservations, a SIGKILLed run, two runs at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from evaluation.pipeline import locks
from evaluation.pipeline.run import run_study
from evaluation.pipeline.verify import compare_results

#: Processes that reserve the same run name at the same moment.
N_RACERS = 8
#: How long the killed run may take to reach its second notebook.
KILL_WAIT_SECONDS = 300
#: How long spawned processes may take to start (they import the runner: on a busy 2-core
#: machine that took over 60 s for eight at once).
START_WAIT_SECONDS = 300


def _reserve_and_hold(out_root: str, base: str, queue) -> None:
    lock = locks.reserve(Path(out_root), base)
    (Path(out_root) / locks.INCOMPLETE / lock.name).mkdir(parents=True)
    queue.put(lock.name)
    time.sleep(0.5)


@pytest.mark.slow  # eight spawned processes, each importing the runner
def test_same_name_at_once_gives_distinct_reservations(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_reserve_and_hold, args=(str(tmp_path), "study-x", queue))
             for _ in range(N_RACERS)]  # fmt: skip
    for p in procs:
        p.start()
    # each racer imports this module (and the runner) first: slow on a loaded machine
    names = [queue.get(timeout=START_WAIT_SECONDS) for _ in procs]
    for p in procs:
        p.join(timeout=START_WAIT_SECONDS)
    assert len(set(names)) == N_RACERS, names
    assert set(names) == {"study-x", *(f"study-x-{i}" for i in range(2, N_RACERS + 1))}


def test_stale_folders_of_a_dead_run_are_tidied_live_ones_kept(tmp_path):
    code = (
        "import sys, time, pathlib; from evaluation.pipeline import locks;"
        "lock = locks.reserve(pathlib.Path(sys.argv[1]), sys.argv[2]);"
        "[(pathlib.Path(sys.argv[1]) / d / lock.name).mkdir(parents=True)"
        " for d in (locks.INCOMPLETE, locks.OLD_SCRATCH)];"
        "print(lock.name, flush=True); time.sleep(600)"
    )
    dead = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), "dead"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    alive = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), "alive"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert dead.stdout.readline().strip() == "dead"
        assert alive.stdout.readline().strip() == "alive"
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=30)
        (tmp_path / locks.OLD_SCRATCH / "old-version-run").mkdir()  # no lock file at all
        done = locks.clean_stale(tmp_path)
        assert len(done) == 3, done
        assert not (tmp_path / locks.INCOMPLETE / "dead").exists()
        assert not (tmp_path / locks.OLD_SCRATCH / "dead").exists()
        assert not (tmp_path / locks.OLD_SCRATCH / "old-version-run").exists()
        status = json.loads((tmp_path / "dead-failed" / "status.json").read_text())
        assert status["stage"] == "interrupted"
        assert (tmp_path / locks.INCOMPLETE / "alive").is_dir(), "a live run was touched"
        assert (tmp_path / locks.OLD_SCRATCH / "alive").is_dir()
        assert locks.clean_stale(tmp_path) == []
    finally:
        alive.kill()
        alive.wait(timeout=30)
        dead.kill()


def test_a_killed_verify_or_run_leaves_nothing_private_behind_the_next_one(tmp_path):
    """What a killed run (its scratch) or verify (its re-executed run) left in the work folder
    is deleted by the next run or verify; the folders of those still going are kept."""
    code = (
        "import sys, time, pathlib; from evaluation.pipeline import locks, workdir;"
        "work = workdir.ensure(pathlib.Path(sys.argv[1]));"
        "lock = locks.reserve_private(work, sys.argv[2]);"
        "sub = 'verify' if sys.argv[2].startswith('verify') else 'scratch';"
        "p = work / sub / lock.name / 'outputs'; p.mkdir(parents=True);"
        "(p / 'design_data.parquet').write_bytes(b'PAR1');"
        "print(lock.name, flush=True); time.sleep(600)"
    )
    names = ("verify-dead", "run-dead", "verify-alive", "run-alive")
    procs = {name: subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name],
                                    stdout=subprocess.PIPE, text=True) for name in names}  # fmt: skip
    try:
        for name, proc in procs.items():
            assert proc.stdout.readline().strip() == name
        for name in ("verify-dead", "run-dead"):
            procs[name].send_signal(signal.SIGKILL)
            procs[name].wait(timeout=30)
        done = locks.clean_private(tmp_path)
        assert sorted(done) == [
            f"a dead run's person-level scratch folder run-dead deleted (from {tmp_path})",
            f"a killed verify's re-executed run verify-dead deleted (from {tmp_path})",
        ]
        assert not (tmp_path / "verify" / "verify-dead").exists()
        assert not (tmp_path / "scratch" / "run-dead").exists()
        assert (tmp_path / "verify" / "verify-alive" / "outputs").is_dir(), "a live verify"
        assert (tmp_path / "scratch" / "run-alive" / "outputs").is_dir(), "a live run"
        assert locks.clean_private(tmp_path) == []
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=30)


def _copy_last_good(finished_run, out_root: Path, work: Path) -> tuple[Path, bytes]:
    """An output folder holding a copy of the finished run as ``study-latest``, and a work
    folder holding a copy of its cache."""
    result, _ = finished_run
    out_root.mkdir(parents=True)
    good = out_root / result.run_dir.name
    shutil.copytree(result.run_dir, good, symlinks=True)
    (out_root / "study-latest").symlink_to(good.name)
    shutil.copytree(result.work_dir / "cache", work / "cache")
    report = good / result.report.relative_to(result.run_dir)
    return good, report.read_bytes()


@pytest.mark.slow
def test_sigkilled_run_leaves_last_good_report_and_next_run_works(finished_run, tmp_path):
    result, params = finished_run
    out_root, work = tmp_path / "outputs", tmp_path / "work"
    good, report_bytes = _copy_last_good(finished_run, out_root, work)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaluation.cli", "run", "--params", str(params),
         "--out", str(out_root), "--work-dir", str(work), "--force", "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + KILL_WAIT_SECONDS
        # mid-notebook: the data notebook has finished, the design notebook is running
        while not list((out_root / locks.INCOMPLETE).glob("*/results/01_data.json")):
            assert proc.poll() is None and time.time() < deadline, "run ended before the kill"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = [p.name for p in (out_root / locks.INCOMPLETE).iterdir()]
    assert len(killed) == 1 and (work / "scratch" / killed[0]).is_dir()
    assert (out_root / "study-latest").resolve() == good.resolve()
    assert (good / result.report.relative_to(result.run_dir)).read_bytes() == report_bytes

    lines: list[str] = []
    again = run_study(params, out_root, work_dir=work, render=False,
                      echo=lambda *a, **k: lines.append(a[0]))  # fmt: skip
    tidy = [line for line in lines if line.startswith("[tidy]") and killed[0] in line]
    assert any("partial folder" in line for line in tidy), lines
    assert any("person-level scratch folder" in line for line in tidy), lines
    assert (out_root / "study-latest").resolve() == again.run_dir
    assert not any((out_root / locks.INCOMPLETE).iterdir())
    assert not any((work / "scratch").iterdir()), "person-level scratch left behind"
    status = json.loads((out_root / f"{killed[0]}-failed" / "status.json").read_text())
    assert status["stage"] == "interrupted"
    prov = json.loads((again.run_dir / "results.json").read_text())["provenance"]
    assert prov["tidied"]
    old = json.loads((result.run_dir / "results.json").read_text())
    new = json.loads((again.run_dir / "results.json").read_text())
    assert compare_results(old, new)[0] == []


@pytest.mark.slow
def test_two_concurrent_runs_with_different_parameters_are_both_intact(finished_run, tmp_path):
    _, params = finished_run
    out_root, work = tmp_path / "outputs", tmp_path / "work"
    _copy_last_good(finished_run, out_root, work)
    doc = yaml.safe_load(params.read_text("utf-8"))
    doc["data"] = {k: (v if v is None else str(params.parent / v)) for k, v in doc["data"].items()}
    files = {}
    for stem, (section, key, value) in {
        "fewer_draws": ("estimation", "permutation_draws", 49),  # the effects notebook
        "larger_cells": ("disclosure", "min_cell", 6),  # every notebook
    }.items():
        changed = json.loads(json.dumps(doc))
        changed[section][key] = value
        files[stem] = tmp_path / f"{stem}.yaml"
        files[stem].write_text(yaml.safe_dump(changed, allow_unicode=True), "utf-8")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    procs = {
        stem: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evaluation.cli",
                "run",
                "--params",
                str(path),
                "--out",
                str(out_root),
                "--work-dir",
                str(work),
                "--no-report",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for stem, path in files.items()
    }
    for stem, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{stem}: {out}\n{err}"
    runs = {stem: (out_root / f"{stem}-latest").resolve() for stem in procs}
    assert runs["fewer_draws"] != runs["larger_cells"]
    for stem, run_dir in runs.items():
        assert json.loads((run_dir / "status.json").read_text())["status"] == "succeeded"
        assert (run_dir / "params.yaml").read_text("utf-8") == files[stem].read_text("utf-8")
        res = json.loads((run_dir / "results.json").read_text())
        assert res["effects"] and res["headline"]["estimate"] is not None
        produced = {p.name for p in (run_dir / "results").glob("*.json")}
        assert produced == {f"{n}.json" for n in res["provenance"]["notebooks"]}
    executed = {stem: {n for n, i in json.loads((d / "results.json").read_text())
                       ["provenance"]["notebooks"].items() if i["executed"]}
                for stem, d in runs.items()}  # fmt: skip
    assert "03_effects" in executed["fewer_draws"] and "01_data" not in executed["fewer_draws"]
    assert "01_data" in executed["larger_cells"]
    assert not any((out_root / locks.INCOMPLETE).iterdir())
    assert not any((work / "scratch").iterdir())
