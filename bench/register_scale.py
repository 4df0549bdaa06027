"""Register scale: wall time and peak memory of each stage on a pool of 500 000 comparison persons.

Generates (once) the synthetic study with a large comparison pool as Parquet (~30 M
person-months), then times, in one process, the stages a run goes through, with the same
functions the notebooks call: hashing the inputs (provenance and cache keys), loading and
validating the tables, building outcomes and covariates, the propensity model (category
support, fit, trimming, refit), matching, the balance tables and the event study on the
matched sample. Peak memory per stage is the process's resident high-water mark, reset
before each stage (Linux ``/proc/self/clear_refs``), so it includes what earlier stages
still hold. With ``--full-run`` it also runs ``evaluation run`` on that data (every
notebook) and samples the resident memory of the runner and all its kernels (and their
worker processes) together, every quarter second.

Goals: the whole run at register scale within 5 minutes and 8 GiB.

    .venv/bin/python bench/register_scale.py                  # stages only
    .venv/bin/python bench/register_scale.py --full-run       # and the whole study
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
#: Goals of the issue: the whole run at register scale.
GOAL_SECONDS, GOAL_BYTES = 300, 8 * GIB


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def stage(rows: list[dict[str, Any]], name: str, fn: Callable[[], Any]) -> Any:
    """Run one stage; record its wall time and the peak resident memory during it."""
    _reset_peak()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    rows.append({"stage": name, "seconds": round(seconds, 1),
                 "peak_gib": round(_status("VmHWM") / GIB, 2)})  # fmt: skip
    print(f"{name:<34} {seconds:8.1f} s   peak {_status('VmHWM') / GIB:6.2f} GiB", flush=True)
    return out


def make_data(folder: Path, n_comparison: int, seed: int) -> dict[str, Path]:
    """The synthetic study with a large pool, as Parquet (generated once, then reused)."""
    tables = {t: folder / f"{t}.parquet" for t in ("participants", "monthly", "survey",
                                                  "sessions", "mentors")}  # fmt: skip
    if not all(p.is_file() for p in tables.values()):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evaluation.cli", "synth", "--seed", str(seed),
                        "--n-comparison", str(n_comparison), "--format", "parquet",
                        "--out", str(folder)], check=True)  # fmt: skip
        print(f"generated in {time.perf_counter() - t0:.0f} s (not part of a run)")
    return tables


def stages(tables: dict[str, Path], params_file: Path) -> list[dict[str, Any]]:
    """Time the run's stages on the data with the study's default parameters."""
    from evaluation.calendar import month_index
    from evaluation.config import load_params
    from evaluation.data.contract import load_study
    from evaluation.data.outcomes import panel_relative
    from evaluation.design import study_design
    from evaluation.design.sample import build_analysis
    from evaluation.estimate import dynamics as dy
    from evaluation.pipeline import provenance
    from evaluation.rng import stream

    p = load_params(params_file)
    rows: list[dict[str, Any]] = []
    stage(rows, "hash inputs (SHA-256)", lambda: provenance.input_hashes(dict(tables)))
    study = stage(rows, "load + validate (contract)", lambda: load_study(dict(tables)))
    analysis = stage(rows, "outcomes + covariates", lambda: build_analysis(
        study.participants, study.monthly, horizons=p.outcomes.horizons,
        pre_months=p.outcomes.pre_months, min_pre_months=p.outcomes.min_pre_months,
        rng=stream(p.seed, "pseudo_starts")))  # fmt: skip
    frame = analysis.frame
    dsg = stage(rows, "propensity + trimming + matching + balance", lambda: study_design(
        frame, covariates=p.design.covariates, design=p.design.model_dump(),
        matching=p.estimation.matching.model_dump()))  # fmt: skip
    hand = dsg.hand_over()
    matched = hand.loc[hand["match_weight"] > 0, ["person_id", "match_weight"]]
    persons = frame.merge(matched, on="person_id")[["person_id", "group", "start_month",
                                                     "match_weight"]]  # fmt: skip

    def event_study() -> Any:
        panel = panel_relative(persons[["person_id", "group", "start_month"]], study.monthly)
        panel["month"] = month_index(panel["month"]).to_numpy()
        panel = panel.merge(persons[["person_id", "match_weight"]], on="person_id")
        return dy.event_study(panel, outcome="employed", weight="match_weight",
                              leads=12, lags=24, level=0.95)  # fmt: skip

    stage(rows, f"event study, matched ({len(persons)} persons)", event_study)
    return rows


def time_design_parts(frame: Any, p: Any) -> None:
    """Split the design stage: the propensity fit and the matching on their own."""
    from evaluation.design.matching import match_nearest
    from evaluation.design.propensity import fit_propensity
    from evaluation.design.study import category_support, matching_options

    rows: list[dict[str, Any]] = []
    frame = frame.loc[category_support(frame, p.design.covariates).keep.to_numpy()]
    fit = stage(rows, "  propensity fit (all)", lambda: fit_propensity(
        frame, "treated", p.design.covariates))  # fmt: skip
    stage(rows, "  matching (k=4, caliper, exact)", lambda: match_nearest(
        frame, "treated", distance=fit.linear_predictor,
        **matching_options(p.estimation.matching.model_dump(), p.design.exact)))  # fmt: skip


def _watch_memory(proc: subprocess.Popen, limit: float, every: float = 0.25) -> dict[str, Any]:
    """Sample the resident memory of a run and all its processes every ``every`` seconds.

    Returns the peak of all processes together, the peak of the largest one, and per
    process: its first and last time seen (seconds since the start) and its peak. After
    ``limit`` seconds the run is stopped with SIGTERM (it marks itself failed).
    """
    import psutil

    root = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    per_pid: dict[int, dict[str, Any]] = {}
    t0 = time.perf_counter()
    stopped = False
    while proc.poll() is None:
        now = time.perf_counter() - t0
        if not stopped and now > limit:
            proc.terminate()
            stopped = True
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        total = 0
        for p in procs:
            try:
                rss, cmd = p.memory_info().rss, " ".join(p.cmdline())
            except psutil.Error:
                continue
            total += rss
            peak_one = max(peak_one, rss)
            rec = per_pid.setdefault(p.pid, {"first": now, "peak": 0, "cmd": cmd})
            rec["last"], rec["peak"] = now, max(rec["peak"], rss)
        peak_tree = max(peak_tree, total)
        time.sleep(every)
    return {"peak_tree": peak_tree, "peak_one": peak_one, "stopped": stopped, "per_pid": per_pid}


def _per_notebook(log: str, t_start: float, per_pid: dict[int, dict[str, Any]]) -> list[dict]:
    """Wall time of each notebook (run.log) and the peak memory of its kernel.

    A kernel is the process (``ipykernel_launcher``) first seen closest to the notebook's
    start (its end time in the log minus its duration); its peak counts worker processes it
    started (the specification curve's) separately, as the sampling sees them.
    """
    import datetime as dt

    rows = []
    kernels = {pid: r for pid, r in per_pid.items() if "ipykernel" in r["cmd"]}
    used: set[int] = set()
    for stamp, name, secs in re.findall(
        r"^(\S+ \S+),\d+ INFO notebook (\S+) (?:executed )?([\d.]+) s", log, re.M
    ):
        end = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() - t_start
        begin = end - float(secs)
        pick = min((pid for pid in kernels if pid not in used),
                   key=lambda pid: abs(kernels[pid]["first"] - begin), default=None)  # fmt: skip
        if pick is not None:
            used.add(pick)
        rows.append({"notebook": name, "seconds": float(secs),
                     "kernel_peak_gib": round(kernels[pick]["peak"] / GIB, 2) if pick else None})  # fmt: skip
    return rows


def full_run(tables: dict[str, Path], work: Path, limit: float) -> dict[str, Any]:
    """``evaluation run`` on the register-scale data: wall time, peak memory per notebook."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc.pop("synthetic", None)
    doc["study"]["synthetic"] = False
    doc["data"] = {k: str(v) for k, v in tables.items()}
    params = work / "register.yaml"
    params.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    t_wall = time.time()
    t0 = time.perf_counter()
    with (work / "run.out").open("w+") as fout, (work / "run.err").open("w+") as ferr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.cli", "run", "--params", str(params),
             "--out", str(work / "outputs"), "--force"],
            stdout=fout, stderr=ferr, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )  # fmt: skip
        mem = _watch_memory(proc, limit)
        proc.wait()
        seconds = time.perf_counter() - t0
        stdout, stderr = (work / "run.out").read_text(), (work / "run.err").read_text()
    print(stdout)
    logs = sorted((work / "outputs").glob("*/run.log"), key=lambda p: p.stat().st_mtime)
    logs += sorted((work / "outputs").glob(".incomplete/*/run.log"))
    log = logs[-1].read_text() if logs else ""
    render = re.search(r"\[report\] rendering \.\.\. ([\d.]+) s", stdout)
    out = {"seconds": round(seconds, 1), "returncode": proc.returncode,
           "stopped_after_limit": mem["stopped"],
           "notebooks": _per_notebook(log, t_wall, mem["per_pid"]),
           "report_seconds": float(render.group(1)) if render else None,
           "peak_gib_all_processes": round(mem["peak_tree"] / GIB, 2),
           "peak_gib_largest_process": round(mem["peak_one"] / GIB, 2),
           "load_average_1min_at_end": os.getloadavg()[0]}  # fmt: skip
    if proc.returncode != 0:
        out["error"] = stderr[-3000:]
    return out


def main() -> None:
    """Run the benchmark and print (and save) the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-comparison", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=20170601)
    ap.add_argument("--work", type=Path, default=Path("/tmp/evaluation-register-scale"))
    ap.add_argument("--full-run", action="store_true", help="also run the whole study")
    ap.add_argument("--limit", type=float, default=1800, help="stop the whole run after (s)")
    ap.add_argument("--parts", action="store_true", help="also time propensity and matching alone")
    ap.add_argument(
        "--skip-stages",
        action="store_true",
        help="only the whole run (with --full-run), not the in-process stages",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tables = make_data(args.work / "data", args.n_comparison, args.seed)
    result: dict[str, Any] = {"n_comparison": args.n_comparison}
    if not args.skip_stages:
        rows = stages(tables, ROOT / "params" / "default.yaml")
        total = sum(r["seconds"] for r in rows)
        peak = max(r["peak_gib"] for r in rows)
        print(f"{'stages together':<34} {total:8.1f} s   peak {peak:6.2f} GiB "
              f"(goals {GOAL_SECONDS} s, {GOAL_BYTES / GIB:.0f} GiB)")  # fmt: skip
        result["stages"] = rows
    if args.parts:
        from evaluation.config import load_params
        from evaluation.data.contract import load_study
        from evaluation.design.sample import build_analysis
        from evaluation.rng import stream

        p = load_params(ROOT / "params" / "default.yaml")
        study = load_study(dict(tables))
        frame = build_analysis(study.participants, study.monthly, horizons=p.outcomes.horizons,
                               pre_months=p.outcomes.pre_months,
                               min_pre_months=p.outcomes.min_pre_months,
                               rng=stream(p.seed, "pseudo_starts")).frame  # fmt: skip
        del study
        time_design_parts(frame, p)
    if args.full_run:
        result["full_run"] = full_run(tables, args.work, args.limit)
        run = result["full_run"]
        for r in run["notebooks"]:
            print(
                f"{r['notebook']:<16} {r['seconds']:8.1f} s   kernel peak "
                f"{r['kernel_peak_gib']} GiB"
            )
        print(
            f"{'whole run':<16} {run['seconds']:8.1f} s   all processes peak "
            f"{run['peak_gib_all_processes']} GiB (goals {GOAL_SECONDS} s, "
            f"{GOAL_BYTES / GIB:.0f} GiB); exit {run['returncode']}"
        )
    out = ROOT / "bench" / "results" / f"register_scale_n{args.n_comparison}.json"
    out.parent.mkdir(exist_ok=True)
    if args.skip_stages and out.is_file():  # keep the stages measured before
        result = {**{k: v for k, v in json.loads(out.read_text("utf-8")).items()
                     if k == "stages"}, **result}  # fmt: skip
    out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
