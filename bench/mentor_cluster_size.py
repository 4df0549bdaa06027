"""Size of the mentor-clustered tests in the moderation and dose analyses under the null.

Seventeen mentors (as the default study) with two to five mentees each and a mentor effect
on the outcome (intra-mentor correlation about 0.3), a pool of comparison persons, and two
null interactions: a mentee-level score (varies within mentors) and a mentor trait that only
4 of the 17 mentors have (varies between mentors only, the hard case). For each test the
share of replications that reject at 5 %: HC3 with normal critical values (the old
moderation), CR1 with normal critical values (the old dose analyses), and CR2 with
Bell-McCaffrey t critical values capped at G - 1 (now,
:func:`evaluation.bottomup.moderation.modified_att`).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/mentor_cluster_size.py --reps 2000

Measured (2 000 replications, seed 20170601; Monte Carlo SE of a 5 % rate 0.5 points):
rejection at 5 % of the null mentee-level score: HC3-normal 5.3 %, CR1-normal 9.8 %,
CR2-BM-t 4.4 % (mean BM dof 9.7); of the null trait of 4 of 17 mentors: HC3-normal 13.7 %,
CR1-normal 12.0 %, CR2-BM-t 3.5 % (mean BM dof 4.7).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from evaluation.bottomup.moderation import modified_att


def one(rng: np.random.Generator, n_mentors: int, n_control: int) -> dict[str, float]:
    sizes = rng.integers(2, 6, n_mentors)
    mentor = np.repeat(np.arange(n_mentors), sizes)
    n_t = len(mentor)
    trait_m = np.zeros(n_mentors)
    trait_m[rng.choice(n_mentors, 4, replace=False)] = 1.0
    score = rng.normal(size=n_t)
    x = rng.normal(size=n_t + n_control)
    d = np.r_[np.ones(n_t), np.zeros(n_control)]
    u = np.r_[rng.normal(scale=0.65, size=n_mentors)[mentor], np.zeros(n_control)]
    y = 0.5 * x + 0.3 * d + u + rng.normal(size=n_t + n_control)
    trait = np.r_[trait_m[mentor] - trait_m[mentor].mean(), np.zeros(n_control)]
    sc = np.r_[score - score.mean(), np.zeros(n_control)]
    m = np.column_stack([np.ones(n_t + n_control), sc, trait])
    cluster = np.r_[mentor.astype(str), [f"c{i}" for i in range(n_control)]]
    out = {}
    cr2 = modified_att(y, d, x[:, None], m, names=["att", "score", "trait"], cluster=cluster)
    design = np.column_stack([np.ones(len(y)), x, d[:, None] * m])
    hc3 = sm.OLS(y, design).fit(cov_type="HC3")
    cr1 = sm.OLS(y, design).fit(cov_type="cluster",
                                cov_kwds={"groups": pd.factorize(cluster)[0]})  # fmt: skip
    z = stats.norm.ppf(0.975)
    for name, j in (("score", 3), ("trait", 4)):
        out[f"{name}_hc3_normal"] = float(abs(hc3.params[j] / hc3.bse[j]) > z)
        out[f"{name}_cr1_normal"] = float(abs(cr1.params[j] / cr1.bse[j]) > z)
        out[f"{name}_cr2_bm_t"] = float(cr2.terms.loc[name, "p_value"] < 0.05)
        out[f"{name}_df"] = float(cr2.terms.loc[name, "df"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--reps", type=int, default=2000, help="replications (default 2000)")
    ap.add_argument("--mentors", type=int, default=17, help="mentors (default 17)")
    ap.add_argument("--controls", type=int, default=300, help="comparison persons (default 300)")
    ap.add_argument("--seed", type=int, default=20170601)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    res = pd.DataFrame([one(rng, args.mentors, args.controls) for _ in range(args.reps)]).mean()
    print(f"{args.reps} replications, {args.mentors} mentors, {args.controls} comparison persons, "
          f"null interactions; Monte Carlo SE of a 5 % rate: {np.sqrt(0.0475 / args.reps):.4f}")  # fmt: skip
    print(res.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
