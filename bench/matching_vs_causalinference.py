"""Our matching against the ``causalinference`` package: time and agreement, growing pools.

Same data for both: 50 treated, a comparison pool of growing size, three covariates;
nearest-neighbour matching with replacement on the covariates with inverse-variance weights
(``match_nearest(metric="ivar", ties=True)`` + ``matching_att``; ``CausalModel
.est_via_matching(weights="inv")``), M = 1 and 4 matches, without and with bias adjustment.
Only point estimates are compared (causalinference's standard error is not the
Abadie-Imbens one; see tests/estimate/causalinference_reference.py).

``causalinference`` is not a dependency of the project: it runs in a separate environment,

    python3 -m venv /tmp/ci_venv && /tmp/ci_venv/bin/pip install causalinference
    .venv/bin/python bench/matching_vs_causalinference.py --ci-python /tmp/ci_venv/bin/python
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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
N_TREATED = 50
POOLS = (3_000, 30_000, 300_000)
SPECS = ((1, False), (1, True), (4, False), (4, True))

#: Run inside the causalinference environment: read the arrays, time each specification.
CI_SCRIPT = """
import json, sys, time
import numpy as np
from causalinference import CausalModel
data = np.load(sys.argv[1])
out = []
for m, bias in json.loads(sys.argv[2]):
    t0 = time.perf_counter()
    cm = CausalModel(data["y"], data["d"], data["x"])
    cm.est_via_matching(weights="inv", matches=m, bias_adj=bias)
    out.append({"att": float(cm.estimates["matching"]["att"]),
                "seconds": time.perf_counter() - t0})
print(json.dumps(out))
"""


def simulate(n_control: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome, treatment and three continuous covariates; treated shifted in x."""
    rng = np.random.default_rng([seed, n_control])
    x = np.vstack([rng.normal(0.5, 1.0, (N_TREATED, 3)), rng.normal(0.0, 1.2, (n_control, 3))])
    d = np.r_[np.ones(N_TREATED), np.zeros(n_control)]
    y = 1 + x @ np.array([1.5, -1.0, 0.5]) + 0.5 * x[:, 0] ** 2 + 2 * d + rng.normal(size=len(d))
    return y, d, x


def ours(y: np.ndarray, d: np.ndarray, x: np.ndarray) -> list[dict[str, float]]:
    """Our estimates and times for each specification."""
    from evaluation.design.matching import match_nearest
    from evaluation.estimate.matching import matching_att

    df = pd.DataFrame({"d": d, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    out = []
    for m, bias in SPECS:
        t0 = time.perf_counter()
        match = match_nearest(df, "d", distance=["x1", "x2", "x3"], metric="ivar", k=m)
        r = matching_att(match, y, bias_adjust=bias)
        out.append({"att": r.estimate, "seconds": time.perf_counter() - t0})
    return out


def theirs(ci_python: str, y, d, x) -> list[dict[str, float]]:
    """causalinference's estimates and times, in its own environment."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, y=y, d=d, x=x)
        res = subprocess.run([ci_python, "-c", CI_SCRIPT, str(path), json.dumps(SPECS)],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print and save the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ci-python", default="/tmp/ci_venv/bin/python")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--pools", type=int, nargs="+", default=list(POOLS))
    args = ap.parse_args()
    if not Path(args.ci_python).is_file():
        sys.exit(f"{args.ci_python} not found: make the causalinference environment first")
    rows = []
    print(f"{'pool':>8} {'M':>2} {'bias':>5} {'ours':>12} {'causalinf.':>12} {'|diff|':>9} "
          f"{'ours s':>8} {'theirs s':>9}")  # fmt: skip
    for n in args.pools:
        y, d, x = simulate(n, args.seed)
        a, b = ours(y, d, x), theirs(args.ci_python, y, d, x)
        for (m, bias), o, t in zip(SPECS, a, b, strict=True):
            row = {"pool": n, "matches": m, "bias_adj": bias, "ours": o["att"],
                   "causalinference": t["att"], "abs_diff": abs(o["att"] - t["att"]),
                   "ours_seconds": o["seconds"], "causalinference_seconds": t["seconds"]}  # fmt: skip
            rows.append(row)
            print(
                f"{n:>8} {m:>2} {bias!s:>5} {o['att']:12.6f} {t['att']:12.6f} "
                f"{row['abs_diff']:9.1e} {o['seconds']:8.2f} {t['seconds']:9.2f}",
                flush=True,
            )
    out = ROOT / "bench" / "results" / "matching_vs_causalinference.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
