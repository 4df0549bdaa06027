"""A notebook executed as a reviewer's JupyterLab would, against its time in the runner.

Runs the study once (``evaluation run``, no report) into a fresh output folder, prepares the
run's lab copy (``evaluation lab --no-start``) and executes one of its notebooks there in a
new kernel started *without* the runner's environment (no thread limits, random string
hashing: a JupyterLab that was not started by ``evaluation lab``), in the lab notebook's own
folder. Prints the notebook's time in the runner (from the run's provenance), its time in
the lab kernel, their ratio, and whether the lab run's headline estimate equals the run's.

    .venv/bin/python bench/lab_kernel.py [--params params/default.yaml] [--notebook 03_effects]

Goal (issue 17): the lab kernel within 1.5x the runner.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    parser.add_argument("--notebook", default="03_effects")
    parser.add_argument("--run", type=Path, default=None,
                        help="a finished run to use instead of running the study")  # fmt: skip
    args = parser.parse_args()
    import papermill

    from evaluation.pipeline.lab import RUNNER_ENVIRONMENT, prepare_lab

    run = args.run
    if run is None:
        out = Path(tempfile.mkdtemp(prefix="lab-bench-"))
        print(f"[1/3] evaluation run --force --no-report into {out} ...", flush=True)
        subprocess.run([sys.executable, "-m", "evaluation.cli", "run", "--params",
                        str(args.params), "--out", str(out), "--no-report", "--force"],
                       check=True)  # fmt: skip
        run = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink()
                   and (p / "results.json").is_file())  # fmt: skip
    print("[2/3] evaluation lab --no-start ...", flush=True)
    lab = prepare_lab(run)
    results = json.loads((run / "results.json").read_text("utf-8"))
    in_runner = results["provenance"]["notebooks"][args.notebook]["seconds"]
    for key in RUNNER_ENVIRONMENT:  # the kernel inherits this process's environment
        os.environ.pop(key, None)
    print(f"[3/3] {args.notebook} in a plain kernel (no thread limits, random hashing) ...",
          flush=True)  # fmt: skip
    nb = lab.notebooks / f"{args.notebook}.ipynb"
    started = time.perf_counter()
    papermill.execute_notebook(str(nb), str(nb), kernel_name="python3", progress_bar=False,
                               cwd=str(lab.notebooks))  # fmt: skip
    in_lab = time.perf_counter() - started
    lab_results = json.loads((lab.run_dir / "results" / f"{args.notebook}.json").read_text())
    same = "n/a"
    if args.notebook == "03_effects":  # the headline, among the notebook's effects
        h = results["headline"]
        published = h["estimate"]
        mine = next(e["estimate"] for e in lab_results["effects"]
                    if (e["outcome"], e["estimator"], e.get("subgroup", "all"))
                    == (h["outcome"], h["estimator"], h.get("subgroup", "all")))  # fmt: skip
        same = f"{mine == published} ({mine!r} vs published {published!r})"
    print(f"runner {in_runner:.1f} s | lab kernel {in_lab:.1f} s | ratio {in_lab / in_runner:.2f}")
    print(f"headline estimate equal: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
