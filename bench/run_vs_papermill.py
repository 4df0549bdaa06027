"""The runner against a plain papermill loop, and an unchanged rerun (the cache).

Side by side, on the same parameter file and notebooks:

(a) a plain loop calling ``papermill.execute_notebook`` on the notebooks one after another
    (the same injected parameters, no validation, no report), against ``evaluation run
    --force --no-report`` (validation, the dependency graph with two workers, results.json,
    the privacy scan), as a ratio;
(b) ``evaluation run`` (with the report) twice into a fresh output folder: the first fills
    the cache, the second is an unchanged rerun that should execute nothing.

    .venv/bin/python bench/run_vs_papermill.py [--params params/default.yaml] [--reps 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]


def papermill_loop(params_file: Path, out: Path) -> float:
    """Execute the study's notebooks one by one with papermill; the wall time."""
    import papermill

    from evaluation.config import load_params
    from evaluation.pipeline.notebooks import PIPELINES, injected_parameters, read_notebook

    t0 = time.perf_counter()
    params = load_params(params_file)
    sections = params.notebook_parameters()
    run_dir, scratch = out / "run", out / "scratch"
    scratch.mkdir(parents=True)
    for spec in PIPELINES[params.kind]:
        nb = read_notebook(spec)
        injected = {**injected_parameters(spec, sections, nb=nb), "run_dir": str(run_dir),
                    "scratch_dir": str(scratch)}  # fmt: skip
        (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
        papermill.execute_notebook(
            nb, str(run_dir / "notebooks" / f"{spec.stem}.ipynb"), parameters=injected,
            kernel_name="python3", cwd=str(spec.path.parent), progress_bar=False,
            log_output=False, extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )  # fmt: skip
    return time.perf_counter() - t0


def runner(params_file: Path, out: Path, **kw) -> tuple[float, dict]:
    """``run_study``; its wall time and per-notebook provenance."""
    from evaluation.pipeline.run import run_study

    t0 = time.perf_counter()
    res = run_study(params_file, out, echo=lambda *a, **k: None, **kw)
    seconds = time.perf_counter() - t0
    prov = json.loads((res.run_dir / "results.json").read_text())["provenance"]["notebooks"]
    return seconds, prov


def main() -> None:
    """Run (a) and (b); print and save the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    ap.add_argument("--reps", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    rows: dict[str, list[float]] = {"papermill loop": [], "evaluation run --force": [],
                                    "first run (report)": [], "cached rerun (report)": []}  # fmt: skip
    try:
        for r in range(args.reps):
            rows["papermill loop"].append(papermill_loop(args.params, work / f"pm{r}"))
            # each its own work folder (cache), so that the first run starts cold
            s, _ = runner(args.params, work / f"force{r}", force=True, render=False,
                          work_dir=work / f"force{r}-work")  # fmt: skip
            rows["evaluation run --force"].append(s)
            s, _ = runner(args.params, work / f"cache{r}", work_dir=work / f"cache{r}-work")
            rows["first run (report)"].append(s)
            s, prov = runner(args.params, work / f"cache{r}", work_dir=work / f"cache{r}-work")
            rows["cached rerun (report)"].append(s)
            assert not any(i["executed"] for i in prov.values()), prov
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    for k, v in med.items():
        print(f"{k:<26} {v:7.1f} s")
    ratio = med["evaluation run --force"] / med["papermill loop"]
    print(f"ratio evaluation run --force / papermill loop: {ratio:.2f}")
    out = ROOT / "bench" / "results" / "run_vs_papermill.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seconds": rows, "median": med, "ratio": ratio}, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
