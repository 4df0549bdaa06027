"""What the design stage's comparison subsample costs: whole pool vs a subsample, per replication.

For register-sized pools the design stage draws once, blind to outcomes, every mentored
person and a simple random sample of at most ``design.subsample_comparison`` comparison
persons (``evaluation.design.study.comparison_subsample``, notebook 02); the repeated
analyses run on it. This benchmark measures, on the same generated studies, what running an
estimator on that subsample instead of on the whole pool does to bias, precision and CI
coverage, and whether the headline's permutation test keeps its level on it.

Each replication r generates, with seed ``stream(seed, "subsample_precision/rep{r}")``:

* the default-effect study (``EffectSpec()``) and runs the notebooks' chain on it
  (``build_analysis``, the outcome-blind ``study_design``, its hand-over with the subsample
  columns exactly as notebook 02 writes them, ``analysis_sample``); on employed_m12 it
  estimates, on the whole trimmed pool and on the subsample at each cap (drawn with
  ``stream(seed, "comparison_subsample")`` as notebook 02 does):

  - ``ipw``, ``aipw``, ``matching``: ``estimate_att`` on the frame (whole pool or subsample
    rows), exactly as the notebooks' repeated analyses call it. On a subsample this refits
    the logit there; with every mentored and a fraction f of the comparison persons the
    refitted odds are the pool's odds divided by f (case-control sampling shifts only the
    logit's intercept, by -log f), so the odds weights carry the Horvitz-Thompson factor
    1/f by themselves; and the Hajek-normalised weights of IPW/AIPW make any common factor
    cancel. Matching on the logit is unaffected by the shift (the caliper is in SDs of the
    logit). SEs: the estimators' own (sandwich; Abadie-Imbens).
  - ``ipw_ht``, ``aipw_ht``: the design stage's propensity score (fitted on the whole
    trimmed pool, as notebook 04 uses it) with odds weights ``e/(1-e) * subsample_weight``
    (1/f on sampled comparison persons, 0 on the others; notebook 04's weighting), the
    weighted difference computed directly: ``mean_mentored(r) - sum w r / sum w`` with
    ``r = y`` (IPW) or ``r = y - mu0(x)`` (AIPW; ``mu0`` OLS on the sampled comparison
    persons, on the design matrix ``estimate_att`` uses). SE: linearisation with the weights
    and ``mu0`` held fixed (ignores the estimation of both models). On the whole pool the
    same formula with f = 1.

  Truth: the generator's exact sample ATT over all mentored persons; ``bias_used`` is
  against the ATT over the mentored the estimator used (matching's caliper drops some).

* the null study (``EffectSpec(null=True)``: same selection, same draws, no effect) with
  the same chain, and the headline's permutation test
  (``evaluation.estimate.effects.randomisation_headline``, matching, assignments redrawn from the propensity score within start
  quarters, ``stream(seed, "permutation")``) on the whole trimmed pool and on each
  subsample, as notebook 03 runs it. The rejection rate of ``p <= alpha`` is reported.
  With ``--draws`` B such that ``alpha * (B + 1)`` is a whole number, the p-value
  ``(1 + b)/(B + 1)`` has rejection probability exactly alpha if the labels were
  exchangeable, for any B; so B = 19 tests the level at 10 % and 5 % as validly as 199
  (it only has less power), at a tenth of the cost.

Reported per estimator and sample: bias (MC SE), SD of estimate - truth across replications,
SD ratio subsample / whole pool for the same estimator on the same replications (with a
95 % percentile interval from resampling the replications), RMSE, 95 % CI coverage (MC SE),
mean SE, mentored used and bias against their ATT. Paired differences subsample - whole
pool are tested (mean and its MC SE) so that a bias from subsampling is told apart from the
estimator's own bias.

Run (one process, OPENBLAS_NUM_THREADS=1; 200 replications took 668 s on the shared
2-core machine with a CI run going, so the default 100 take about 6 min):

    .venv/bin/python bench/subsample_precision.py --reps 200
    .venv/bin/python bench/subsample_precision.py --reps 200 --perm-reps 0 --seed 1

Results of the first command (2026-11-29; 50 mentored, pool 20 000 generated, of which on
average 13 850 comparison persons in the trimmed analysis sample; the caps apply to the
pool before trimming, so the subsamples hold on average 3 460 and 1 385 comparison persons
of the trimmed sample, fractions 0.25 and 0.10). Bias against the exact sample ATT of all
mentored (mean over replications 0.103, a share), MC SE in brackets; "paired" is
the mean of subsample minus whole-pool estimate on the same replication:

    estimator  sample   bias (MC SE)       SD      SD ratio (95 %)     cover.  paired (MC SE)
    ipw        whole    -0.0009 (0.0040)   0.0571  1                   0.970
    ipw        sub5000  -0.0014 (0.0040)   0.0569  0.997 (0.96-1.03)   0.980   -0.0005 (0.0009)
    ipw        sub2000  -0.0025 (0.0043)   0.0605  1.059 (0.99-1.13)   0.965   -0.0016 (0.0018)
    aipw       whole    -0.0008 (0.0040)   0.0571  1                   0.970
    aipw       sub5000  -0.0014 (0.0040)   0.0567  0.993 (0.96-1.03)   0.980   -0.0005 (0.0009)
    aipw       sub2000  -0.0029 (0.0042)   0.0598  1.048 (0.98-1.12)   0.970   -0.0021 (0.0017)
    matching   whole    -0.0048 (0.0044)   0.0628  1                   0.975
    matching   sub5000  +0.0023 (0.0048)   0.0680  1.083 (0.99-1.20)   0.965   +0.0071 (0.0031)
    matching   sub2000  +0.0019 (0.0050)   0.0701  1.117 (1.03-1.23)   0.975   +0.0067 (0.0035)
    ipw_ht     sub5000  -0.0018 (0.0041)   0.0574  1.005 (0.97-1.05)   0.985   -0.0009 (0.0011)
    ipw_ht     sub2000  -0.0035 (0.0044)   0.0616  1.078 (1.01-1.15)   0.985   -0.0027 (0.0019)
    aipw_ht    sub5000  -0.0014 (0.0040)   0.0569  0.996 (0.96-1.03)   0.980   -0.0005 (0.0009)
    aipw_ht    sub2000  -0.0033 (0.0043)   0.0602  1.055 (0.99-1.13)   0.965   -0.0025 (0.0017)

(coverage MC SE about 0.012; matching used 49.7, 48.8 and 46.8 mentored on average.)
Permutation test of the headline on the null study (19 draws): rejection rate at 10 %
whole 0.077, sub5000 0.112, sub2000 0.128 (MC SE 0.021; at 5 %: 0.041, 0.050, 0.065);
4 of 600 tests aborted (3 whole, 1 sub2000) because a permuted draw left no mentored person
with pre_employed_m1 = 1 and the propensity logit raised PerfectSeparationError.

The second command (200 further replications, effects only) does not repeat the matching
shift of the first: paired +0.0004 (0.0035) at 5 000 and -0.0021 (0.0038) at 2 000. Both
runs together (400 replications): paired subsample - whole pool, MC SE in brackets, SD ratio
with its 95 % interval:

    ipw       sub5000  +0.0006 (0.0006)  1.012 (0.99-1.04)   sub2000  +0.0003 (0.0012)  1.075 (1.03-1.12)
    aipw      sub5000  +0.0005 (0.0006)  1.010 (0.99-1.03)   sub2000  -0.0002 (0.0012)  1.069 (1.03-1.11)
    matching  sub5000  +0.0038 (0.0023)  1.073 (1.01-1.15)   sub2000  +0.0023 (0.0026)  1.105 (1.04-1.18)
    ipw_ht    sub5000  +0.0005 (0.0007)  1.019 (0.99-1.05)   sub2000  -0.0002 (0.0013)  1.098 (1.05-1.15)
    aipw_ht   sub5000  +0.0003 (0.0006)  1.012 (0.99-1.04)   sub2000  -0.0002 (0.0012)  1.071 (1.03-1.11)

Coverage of every estimator on every sample 0.96-0.98 (whole pool 0.965-0.98).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only cost

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation.config import load_params  # noqa: E402
from evaluation.design import study_design  # noqa: E402
from evaluation.design.propensity import design_matrix  # noqa: E402
from evaluation.design.sample import build_analysis  # noqa: E402
from evaluation.design.study import TREATMENT, comparison_subsample  # noqa: E402
from evaluation.errors import EvaluationError  # noqa: E402
from evaluation.estimate.att import estimate_att  # noqa: E402
from evaluation.estimate.effects import (  # noqa: E402
    EffectsSpec,
    analysis_sample,
    randomisation_headline,
    supported,
)
from evaluation.estimate.montecarlo import mentored_used, split_frame, unit_effects  # noqa: E402
from evaluation.rng import stream  # noqa: E402
from evaluation.synth import EffectSpec, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUTCOME = "employed_m12"
#: estimate_att methods run on each sample.
METHODS = ("ipw", "aipw", "matching")
Z95 = 1.959963984540054


def _chain(seed: int, effect: EffectSpec, args, params) -> tuple:
    """Generate a study, run notebooks 01-02: (covariates, outcomes, design, study)."""
    out_p, design, estimation = params["outcomes"], params["design"], params["estimation"]
    horizons, pre = list(out_p["horizons"]), int(out_p["pre_months"])
    study = generate(seed, n_mentored=args.n_mentored, n_comparison=args.pool, effect=effect,
                     horizons=tuple(horizons), pre_months=pre)  # fmt: skip
    analysis = build_analysis(study.participants, study.monthly, horizons=horizons,
                              pre_months=pre, min_pre_months=int(out_p["min_pre_months"]),
                              rng=stream(seed, "pseudo_starts"))  # fmt: skip
    covs, outs = split_frame(analysis.frame, horizons)
    dsg = study_design(covs, covariates=design["covariates"], design=design,
                       matching=estimation["matching"])  # fmt: skip
    return covs, outs, dsg, study


def _samples(seed: int, covs, outs, dsg, caps) -> dict[str, pd.DataFrame]:
    """The analysis sample (notebook 03) with the subsample columns of notebook 02, per cap."""
    out = {}
    for cap in caps:
        hand = dsg.hand_over()
        treated = covs.loc[hand.index, TREATMENT].to_numpy()
        sub = comparison_subsample(treated, cap, stream(seed, "comparison_subsample"))
        hand["in_subsample"] = sub.mask
        hand["subsample_weight"] = sub.weights(treated)
        out[cap] = (analysis_sample(covs, outs, hand), sub.fraction)
    return out


def _weighted_att(frame: pd.DataFrame, covariates, augmented: bool) -> tuple[float, float]:
    """IPW / AIPW with the design's pscore and odds weights times subsample_weight (HT)."""
    y = frame[OUTCOME].to_numpy(float)
    d = frame[TREATMENT].to_numpy() == 1
    e = frame["pscore"].to_numpy(float)
    w = np.where(d, 1.0, e / (1.0 - e) * frame["subsample_weight"].to_numpy(float))
    r = y
    if augmented:
        x = design_matrix(frame, covariates).frame.to_numpy(float)
        x = np.column_stack([np.ones(len(x)), x])
        gamma = np.linalg.lstsq(x[~d], y[~d], rcond=None)[0]  # weights 1/f are constant
        r = y - x @ gamma
    m1 = r[d].mean()
    wc, rc = w[~d], r[~d]
    m0 = np.sum(wc * rc) / wc.sum()
    var = r[d].var(ddof=1) / d.sum() + np.sum(wc**2 * (rc - m0) ** 2) / wc.sum() ** 2
    return float(m1 - m0), float(np.sqrt(var))


def _estimates(data: pd.DataFrame, spec: EffectsSpec, truth: pd.Series) -> list[dict]:
    """Every estimator on one sample (whole pool or one subsample)."""
    sample = supported(data.loc[data[OUTCOME].notna()], spec.covariates)
    rows = []
    for method in METHODS:
        opts = spec.matching if method == "matching" else {}
        r = estimate_att(sample, treatment=TREATMENT, outcome=OUTCOME,
                         covariates=list(spec.covariates), method=method, level=0.95, **opts)  # fmt: skip
        used = mentored_used(sample, OUTCOME, spec, method)
        rows.append({"estimator": method, "estimate": r.estimate, "se": r.se,
                     "ci_low": r.ci_low, "ci_high": r.ci_high, "n_used": len(used),
                     "truth_used": float(truth.loc[used].mean())})  # fmt: skip
    all_mentored = sample.loc[sample[TREATMENT] == 1, "person_id"].to_numpy()
    for name, aug in (("ipw_ht", False), ("aipw_ht", True)):
        est, se = _weighted_att(sample, list(spec.covariates), aug)
        rows.append({"estimator": name, "estimate": est, "se": se, "ci_low": est - Z95 * se,
                     "ci_high": est + Z95 * se, "n_used": len(all_mentored),
                     "truth_used": float(truth.loc[all_mentored].mean())})  # fmt: skip
    return rows


def replicate(rep: int, args, params, spec: EffectsSpec) -> tuple[list[dict], list[dict]]:
    """One replication: estimates on the effect study, permutation p-values on the null."""
    seed = int(stream(args.seed, f"subsample_precision/rep{rep}").integers(0, 2**31 - 1))
    caps = args.caps
    est_rows: list[dict] = []
    covs, outs, dsg, study = _chain(seed, EffectSpec(), args, params)
    truth = unit_effects(study, params["outcomes"]["horizons"],
                         int(params["outcomes"]["pre_months"]))[OUTCOME]  # fmt: skip
    t_all = float(truth.mean())
    samples = _samples(seed, covs, outs, dsg, caps)
    whole = samples[caps[0]][0].assign(subsample_weight=1.0)
    labelled = [("whole", whole, 1.0)]
    labelled += [(f"sub{cap}", d.loc[d["in_subsample"]], f) for cap, (d, f) in samples.items()]
    for label, frame, frac in labelled:
        for row in _estimates(frame, spec, truth):
            est_rows.append({"rep": rep, "seed": seed, "sample": label, "fraction": frac,
                             "n_control": int((frame[TREATMENT] == 0).sum()),
                             "truth": t_all, **row})  # fmt: skip

    perm_rows: list[dict] = []
    if rep < args.perm_reps:
        covs, outs, dsg, _ = _chain(seed, EffectSpec(null=True), args, params)
        samples = _samples(seed, covs, outs, dsg, caps)
        whole = samples[caps[0]][0]
        labelled = [("whole", whole)]
        labelled += [(f"sub{cap}", d.loc[d["in_subsample"]]) for cap, (d, _) in samples.items()]
        for label, frame in labelled:
            row = {"rep": rep, "seed": seed, "sample": label, "n_persons": int(len(frame))}
            try:
                perm = randomisation_headline(
                    frame, spec, n_draws=args.draws, rng=stream(seed, "permutation")
                )
            except EvaluationError as exc:  # a permuted draw the estimator cannot fit
                perm_rows.append({**row, "observed": np.nan, "p_value": np.nan,
                                  "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
                continue
            perm_rows.append({**row, "observed": perm.observed, "p_value": perm.p_value,
                              "error": ""})  # fmt: skip
    return est_rows, perm_rows


def summarise(est: pd.DataFrame, rng: np.random.Generator, n_boot: int = 2000) -> pd.DataFrame:
    """Bias, SD, SD ratio (with a resampling interval), coverage per estimator and sample."""
    est = est.assign(error=est["estimate"] - est["truth"],
                     error_used=est["estimate"] - est["truth_used"],
                     covered=(est["ci_low"] <= est["truth"]) & (est["truth"] <= est["ci_high"]))  # fmt: skip
    reps = np.sort(est["rep"].unique())
    boot = rng.integers(0, len(reps), size=(n_boot, len(reps)))
    rows = []
    for estimator in est["estimator"].unique():
        e = est.loc[est["estimator"] == estimator]
        base = e.loc[e["sample"] == "whole"].set_index("rep").loc[reps]
        for sample in e["sample"].unique():
            s = e.loc[e["sample"] == sample].set_index("rep").loc[reps]
            n = len(s)
            sd = s["error"].std(ddof=1)
            cov = s["covered"].mean()
            diff = s["estimate"] - base["estimate"]
            a, b = s["error"].to_numpy(), base["error"].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):  # whole vs whole: 0/0
                ratios = a[boot].std(axis=1, ddof=1) / b[boot].std(axis=1, ddof=1)
            rows.append({
                "estimator": estimator, "sample": sample, "reps": n,
                "mean_fraction": s["fraction"].mean(), "mean_n_control": s["n_control"].mean(),
                "mean_truth": s["truth"].mean(), "bias": s["error"].mean(),
                "mc_se_bias": sd / np.sqrt(n), "sd": sd,
                "sd_ratio": sd / base["error"].std(ddof=1),
                "sd_ratio_lo": np.quantile(ratios, 0.025), "sd_ratio_hi": np.quantile(ratios, 0.975),
                "rmse": float(np.sqrt(np.mean(s["error"] ** 2))),
                "coverage": cov, "mc_se_coverage": np.sqrt(cov * (1 - cov) / n),
                "mean_se": s["se"].mean(), "mean_n_used": s["n_used"].mean(),
                "bias_used": s["error_used"].mean(),
                "coverage_used": ((s["ci_low"] <= s["truth_used"])
                                  & (s["truth_used"] <= s["ci_high"])).mean(),
                "diff_vs_whole": diff.mean(), "mc_se_diff": diff.std(ddof=1) / np.sqrt(n),
            })  # fmt: skip
    return pd.DataFrame(rows)


def summarise_perm(perm: pd.DataFrame) -> pd.DataFrame:
    """Failures and rejection rates of the permutation test at 10 % and 5 %, per sample.

    A test fails when a permuted draw cannot be estimated (``permutation_pvalue`` then
    raises and gives no p-value); rejection rates are among the tests that completed.
    """
    rows = []
    whole = perm.loc[perm["sample"] == "whole"].set_index("rep")
    for sample in perm["sample"].unique():
        s = perm.loc[perm["sample"] == sample].set_index("rep")
        ok = s.loc[s["p_value"].notna()]
        n = len(ok)
        row = {"sample": sample, "reps": len(s), "failed": int(len(s) - n),
               "mean_p": ok["p_value"].mean(), "sd_observed": ok["observed"].std(ddof=1)}  # fmt: skip
        for alpha in (0.10, 0.05):
            rej = (ok["p_value"] <= alpha + 1e-12).mean()
            row[f"reject_{int(alpha * 100)}"] = rej
            row[f"mc_se_{int(alpha * 100)}"] = np.sqrt(alpha * (1 - alpha) / max(n, 1))
        both = ok.index.intersection(whole.index[whole["p_value"].notna()])
        agree = (ok.loc[both, "p_value"] <= 0.1 + 1e-12) == (
            whole.loc[both, "p_value"] <= 0.1 + 1e-12
        )
        row["agree_10_with_whole"] = agree.mean()
        rows.append(row)
    return pd.DataFrame(rows)


def _table(frame: pd.DataFrame, cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.4g}" if isinstance(v, float | np.floating) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--reps", type=int, default=100, help="replications (default 100)")
    ap.add_argument("--perm-reps", type=int, default=None,
                    help="replications that also run the null study's permutation tests "
                    "(default: all)")  # fmt: skip
    ap.add_argument("--draws", type=int, default=19,
                    help="permutation draws per test (default 19: exact 10 %% and 5 %% levels "
                    "under exchangeability; 199 costs ten times as much)")  # fmt: skip
    ap.add_argument(
        "--pool",
        type=int,
        default=20000,
        help="comparison persons generated per study (default 20000)",
    )
    ap.add_argument("--n-mentored", type=int, default=50, help="mentored per study (default 50)")
    ap.add_argument(
        "--caps",
        type=int,
        nargs="+",
        default=[5000, 2000],
        help="subsample caps, design.subsample_comparison (default 5000 2000)",
    )
    ap.add_argument(
        "--seed", type=int, default=None, help="base seed (default: the parameter file's seed)"
    )
    ap.add_argument(
        "--params",
        type=Path,
        default=ROOT / "params" / "default.yaml",
        help="parameter file (default params/default.yaml)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results",
        help="folder for the CSV files (default bench/results)",
    )
    args = ap.parse_args(argv)
    if args.reps < 2 or args.draws < 1 or min(args.caps) < 1:
        ap.error("--reps must be at least 2, --draws and every cap at least 1")
    args.perm_reps = args.reps if args.perm_reps is None else min(args.perm_reps, args.reps)

    params = load_params(args.params, check_files=False).notebook_parameters()
    if args.seed is None:
        args.seed = int(params["seed"])
    spec = EffectsSpec.from_params(params["design"], params["estimation"])

    t0 = time.perf_counter()
    est_rows, perm_rows = [], []
    step = max(1, args.reps // 20)
    print(f"subsample precision: {args.reps} reps ({args.perm_reps} with permutation tests, "
          f"{args.draws} draws), {args.n_mentored} mentored, pool {args.pool}, caps {args.caps}",
          file=sys.stderr, flush=True)  # fmt: skip
    for rep in range(args.reps):
        e, p = replicate(rep, args, params, spec)
        est_rows += e
        perm_rows += p
        done = rep + 1
        if done % step == 0 or done == args.reps or done <= 2:
            el = time.perf_counter() - t0
            print(f"  {done}/{args.reps} replications, {el:.0f} s "
                  f"(about {el / done * (args.reps - done):.0f} s left)",
                  file=sys.stderr, flush=True)  # fmt: skip
    wall = time.perf_counter() - t0

    est = pd.DataFrame(est_rows)
    perm = pd.DataFrame(perm_rows)
    summary = summarise(est, stream(args.seed, "subsample_precision/bootstrap"))
    label = f"reps{args.reps}_pool{args.pool}_seed{args.seed}"
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [args.out / f"subsample_precision_{label}{s}.csv"
             for s in ("", "_reps", "_perm", "_perm_reps")]  # fmt: skip
    summary.to_csv(paths[0], index=False)
    est.to_csv(paths[1], index=False)

    print(f"Subsample precision on {OUTCOME}: {args.reps} replications, {args.n_mentored} "
          f"mentored, pool {args.pool} generated, caps {args.caps}, base seed {args.seed}, "
          f"wall time {wall:.0f} s\n")  # fmt: skip
    print(_table(summary, ["estimator", "sample", "mean_n_control", "bias", "mc_se_bias",
                           "sd", "sd_ratio", "sd_ratio_lo", "sd_ratio_hi", "rmse", "coverage",
                           "mc_se_coverage", "mean_se", "mean_n_used", "bias_used",
                           "diff_vs_whole", "mc_se_diff"]))  # fmt: skip
    if len(perm):
        psum = summarise_perm(perm)
        psum.to_csv(paths[2], index=False)
        perm.to_csv(paths[3], index=False)
        print(f"\nPermutation test of the headline (matching, {args.draws} draws) on the null "
              f"study, {args.perm_reps} replications:\n")  # fmt: skip
        print(_table(psum, ["sample", "reps", "failed", "reject_10", "mc_se_10", "reject_5", "mc_se_5",
                            "mean_p", "sd_observed", "agree_10_with_whole"]))  # fmt: skip
    print(f"\nWritten: {', '.join(str(p) for p in paths if p.exists())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
