"""Does the headline's inference hold at fifty mentored? Coverage and size by simulation.

Four data-generating processes (DGPs), each replicated many times at 50 mentored:

* ``default``: the project's own generator (``evaluation.synth.generate``, 3 000
  comparison persons) run through the notebooks' chain (analysis data, outcome-blind design
  with trimming, the effects notebook's estimators), as ``bench/montecarlo_study.py`` does;
* ``strong``: a cross-section shaped like the analysis frame (the study's covariates and
  start quarters) where a logit on the covariates selects the mentored strongly (the naive
  difference is biased by several of its standard errors);
* ``overlap``: the same with a much stronger selection, so that the mentored crowd into a
  corner of the covariate space with few comparison persons (trimming and the caliper bite);
* ``confounded``: the ``strong`` selection plus an unrecorded trait (motivation) that
  raises both the chance of being mentored and of being employed: every estimator is
  expected to be biased, and the sensitivity analyses should say that a confounder of the
  true strength could explain the result away.

Each replication draws an *effect* study (coverage of the 95 % confidence intervals of the
true ATT) and, with the same covariates and selection, a *null* study (no effect for anyone:
the rejection rate of the headline's randomisation test at 5 %). The cross-sectional DGPs
fix the number mentored at 50 by conditional Poisson sampling from their own logit, which is
the mechanism the randomisation test assumes (with the coefficients estimated).

Reported per DGP and estimator: bias, SD of the estimates, mean SE, coverage of the true ATT
over all mentored and over the mentored the estimator used (matching's caliper drops some),
for matching with the Abadie-Imbens (2016) SE and with the (2006) SE, AIPW, IPW, RA, entropy
balancing and overlap weights (held to the overlap population's effect, ATO, in the
cross-sectional DGPs, which know every person's two outcomes; the default DGP's generator has
them for the mentored only, so there it is held to the ATT and says so); the
randomisation test's rejection rate under the null; for ``confounded`` how often the E-value
and the Rosenbaum bounds flag the hidden confounder. Monte Carlo SEs in brackets.

    nice -n 15 .venv/bin/python bench/inference_study.py --reps 500 --draws 199
    nice -n 15 .venv/bin/python bench/inference_study.py --reps 20 --dgps strong  # a try

Replication r of a DGP uses the seed SeedSequence([seed, r, dgp number]); rows are kept in
replication order, so the numbers do not depend on --jobs. Written: a CSV of every
replication and a Markdown table (``bench/results/inference_study_*.md``) for the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only cost

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import brentq  # noqa: E402
from scipy.special import expit  # noqa: E402
from scipy.stats import norm  # noqa: E402

from evaluation.config import load_params  # noqa: E402
from evaluation.design import study_design  # noqa: E402
from evaluation.design.sample import build_analysis  # noqa: E402
from evaluation.design.study import TREATMENT  # noqa: E402
from evaluation.estimate import effects as fx  # noqa: E402
from evaluation.estimate.att import estimate_all  # noqa: E402
from evaluation.estimate.inference import conditional_poisson_assignments  # noqa: E402
from evaluation.estimate.montecarlo import mentored_used, split_frame, unit_effects  # noqa: E402
from evaluation.rng import stream  # noqa: E402
from evaluation.robustness import sensitivity as sens  # noqa: E402
from evaluation.synth import EffectSpec, generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DGPS = ("default", "strong", "overlap", "confounded")
ESTIMATORS = ("naive", "ra", "ipw", "aipw", "ebal", "overlap", "matching")
OUTCOME = "employed_m12"
N_MENTORED, N_COMPARISON = 50, 3000
#: Comparison pool of the cross-sectional DGPs: about the size of the default study's sample
#: after trimming (some 1 600 persons), which is what the estimators see.
N_POOL_CROSS_SECTION = 2000
ALPHA = 0.05

#: Selection strength of the cross-sectional DGPs (multiplies the selection index) and the
#: confounder's log-odds on selection and on employment.
SELECTION = {"strong": 1.0, "overlap": 2.2, "confounded": 1.0}
CONFOUNDER = {"selection": 1.2, "outcome": 1.2}
#: The effect on the employment probability in the effect studies (heterogeneous: larger
#: for those with less Swedish), in probability units.
EFFECT = 0.10


# --- the cross-sectional DGPs -------------------------------------------------------------


def cross_section(seed: int, dgp: str, *, null: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """One study: the analysis frame (design and outcome columns) and each mentored's effect.

    The covariates have the names and types of the study's analysis frame, so that the
    study's design and estimators run on it unchanged. Selection is a logit that is linear in
    the study's propensity-model terms, so the design's model is right (the outcome model is
    not: it has ``|age - 32|``); in ``confounded`` an unrecorded trait enters both.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, DGPS.index(dgp), 7]))
    n = N_MENTORED + N_POOL_CROSS_SECTION
    age = 20 + np.floor(41 * rng.beta(2.0, 3.2, n))
    female = rng.random(n) < 0.5
    edu = rng.choice(4, n, p=[0.35, 0.3, 0.25, 0.1])
    swe = rng.choice(4, n, p=[0.2, 0.4, 0.28, 0.12])
    years = rng.integers(0, 7, n).astype(float)
    origin = rng.choice(8, n, p=[0.3, 0.15, 0.12, 0.1, 0.1, 0.09, 0.08, 0.06])
    motivation = rng.normal(size=n)
    hidden = motivation if dgp == "confounded" else np.zeros(n)
    base = -1.6 + 0.35 * (edu == 2) - 0.3 * (edu == 0) + 0.4 * (swe - 1.5) + 0.15 * years
    pre_p = expit(base - 0.5 * female + 0.5 * hidden + rng.normal(0, 0.8, n))
    pre_months = rng.binomial(12, pre_p)
    pre_earn = np.where(pre_months > 0, pre_months * 17_000 * rng.lognormal(0, 0.3, n), 0.0)
    pre_m1 = (rng.random(n) < np.clip(pre_months / 12 * 1.1, 0, 1)).astype(int)
    quarter = rng.integers(0, 8, n)
    index = (
        0.9 * (edu == 2) - 0.4 * (edu == 0) + 0.6 * (swe >= 2) + 0.5 * (swe == 3)
        + 0.35 * female - 0.12 * years - 0.015 * (age - 30) + 0.06 * pre_months
        + 0.25 * (origin == 1)
    )  # fmt: skip
    lp = SELECTION[dgp] * index + CONFOUNDER["selection"] * hidden
    d = np.zeros(n, bool)
    d[:N_MENTORED] = True  # only the count is used
    treated = conditional_poisson_assignments(lp, d, None, n_draws=1, rng=rng)[0]
    eta0 = (
        -0.9 + 0.5 * (edu == 2) - 0.3 * (edu == 0) + 0.45 * (swe - 1.5) + 0.18 * pre_months
        - 0.02 * np.abs(age - 32) - 0.4 * female + 0.05 * years + 0.1 * (quarter - 3.5)
        + CONFOUNDER["outcome"] * hidden
    )  # fmt: skip
    p0 = expit(eta0)
    tau = np.zeros(n) if null else EFFECT * (1.5 - 0.3 * swe)
    p1 = np.clip(p0 + tau, 0, 1)
    u = rng.random(n)
    y0, y1 = (u < p0).astype(float), (u < p1).astype(float)
    frame = pd.DataFrame(
        {
            "person_id": [f"P{i:05d}" for i in range(n)],
            TREATMENT: treated.astype(int),
            "age": age,
            "sex": np.where(female, "female", "male"),
            "education": np.array(["primary_or_less", "secondary", "post_secondary", "unknown"])[edu],
            "swedish_level": np.array(["none", "sfi_started", "sfi_completed", "fluent"])[swe],
            "years_in_sweden": years,
            "origin_region": np.array([f"region_{k}" for k in range(8)])[origin],
            "pre_months_employed_12": pre_months.astype(float),
            "pre_earnings_12": pre_earn,
            "pre_employed_m1": pre_m1,
            "start_quarter": np.array([f"2018Q{k % 4 + 1}-{k // 4}" for k in range(8)])[quarter],
            OUTCOME: np.where(treated, y1, y0),
        }
    )  # fmt: skip
    effects = pd.Series((y1 - y0)[treated], index=frame.loc[treated, "person_id"].to_numpy())
    strength = {
        "truth_ato": overlap_truth(lp, y1 - y0),
        "gamma_true": float(np.exp(CONFOUNDER["selection"])),  # odds ratio per SD of the trait
        "rr_ud": float(_risk_ratio(treated, hidden)),
        "rr_uy": float(_risk_ratio(y0 > 0, hidden)),
    }
    return frame, effects, strength


def overlap_truth(lp: np.ndarray, effect: np.ndarray) -> float:
    """The overlap population's effect in one study: ``sum h (y1 - y0) / sum h``.

    ``h = pi (1 - pi)`` with ``pi`` each person's chance of being among the mentored. The
    conditional Poisson design with index ``lp`` and 50 mentored gives ``pi`` close to
    ``expit(lp + c)`` with ``c`` such that the chances add up to 50 (Hajek 1964), which is
    what is used. The estimand of the overlap weights (Li, Morgan and Zaslavsky 2018) with the
    true propensity score; over every person, mentored or not, with both potential outcomes.
    """
    c = brentq(lambda c: expit(lp + c).sum() - N_MENTORED, -50.0, 50.0)
    pi = expit(lp + c)
    h = pi * (1.0 - pi)
    return float(np.sum(h * effect) / h.sum())


def _risk_ratio(event: np.ndarray, trait: np.ndarray) -> float:
    """Risk ratio of ``event`` between the top and the bottom half of ``trait``."""
    if np.ptp(trait) == 0:
        return 1.0
    high = trait > np.median(trait)
    return float(event[high].mean() / max(event[~high].mean(), 1e-9))


# --- one replication ----------------------------------------------------------------------


def _analysis(frame: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, fx.EffectsSpec]:
    """The design stage and the analysis sample, as notebooks 02 and 03 build them."""
    design, estimation = params["design"], params["estimation"]
    covs = frame.drop(columns=[OUTCOME])
    dsg = study_design(covs, covariates=design["covariates"], design=design,
                       matching=estimation["matching"])  # fmt: skip
    outs = frame[["person_id", OUTCOME]]
    data = fx.analysis_sample(covs, outs, dsg.hand_over())
    return data, fx.EffectsSpec.from_params(design, estimation)


def _default_study(seed: int, params: dict, *, null: bool):
    o = params["outcomes"]
    study = generate(seed, n_mentored=N_MENTORED, n_comparison=N_COMPARISON,
                     effect=EffectSpec(null=null), horizons=tuple(o["horizons"]),
                     pre_months=o["pre_months"])  # fmt: skip
    truth = unit_effects(study, o["horizons"], o["pre_months"])[OUTCOME]
    analysis = build_analysis(study.participants, study.monthly, horizons=o["horizons"],
                              pre_months=o["pre_months"], min_pre_months=o["min_pre_months"],
                              rng=stream(seed, "pseudo_starts"))  # fmt: skip
    covs, outs = split_frame(analysis.frame, o["horizons"])
    frame = covs.merge(outs[["person_id", OUTCOME]], on="person_id")
    frame = frame.loc[frame[OUTCOME].notna()].reset_index(drop=True)
    return frame, truth, {}


def _study(seed: int, dgp: str, params: dict, *, null: bool):
    if dgp == "default":
        return _default_study(seed, params, null=null)
    return cross_section(seed, dgp, null=null)


def replication(rep: int, *, dgp: str, base_seed: int, params: dict, draws: int) -> list[dict]:
    """Rows of one replication: estimates on the effect study, the test on the null study."""
    seed = int(np.random.SeedSequence([base_seed, rep, DGPS.index(dgp)]).generate_state(1)[0])
    rows = []
    for null in (False, True) if draws > 0 else (False,):
        frame, truth, strength = _study(seed, dgp, params, null=null)
        data, spec = _analysis(frame, params)
        if null:
            test = fx.randomisation_headline(data, spec, n_draws=draws,
                                             rng=stream(seed, "permutation"))  # fmt: skip
            rows.append({"rep": rep, "dgp": dgp, "null": True, "estimator": "randomisation_test",
                         "p_value": test.p_value, "n_failed": test.n_failed})  # fmt: skip
            if dgp != "confounded":
                continue
        sample = fx.supported(data.loc[data[OUTCOME].notna()], spec.covariates)
        methods = ("matching",) if null else ESTIMATORS
        options = spec.options()  # both matching SEs: the 2016 path also reports the 2006 one
        options["matching"] = {**options["matching"], "se": "ai2016"}
        results = estimate_all(sample, TREATMENT, [OUTCOME], list(spec.covariates), methods,
                               options=options, level=spec.level)  # fmt: skip
        for r in results:
            used = mentored_used(data, OUTCOME, spec, r.estimator)
            t_used = float(truth.reindex(used).mean())
            t_all = float(truth.mean())
            if r.estimand == "ATO":  # the overlap population's effect, where the DGP knows it
                t_all = t_used = strength.get("truth_ato", t_all)
            ses = [("", r.se)]
            if r.estimator == "matching":  # the 2016 SE itself, NaN where its variance is < 0
                ses = [("_ai2016", r.spec["se_ai2016"]), ("_ai2006", r.spec["se_ai2006"])]
            q = float(norm.ppf(0.5 + spec.level / 2))  # every interval here is normal
            for suffix, se in ses:
                lo, hi = r.estimate - q * se, r.estimate + q * se  # NaN SE: not covered
                if r.estimator != "matching":
                    lo, hi = r.ci_low, r.ci_high  # (the naive difference's is a t interval)
                if r.estimand == "ATO":  # say which truth it is held to
                    suffix = " (ATO)" if "truth_ato" in strength else " (held to the ATT)"
                rows.append({"rep": rep, "dgp": dgp, "null": null, "estimator": r.estimator + suffix,
                             "estimate": r.estimate, "se": se, "truth": t_all, "truth_used": t_used,
                             "covered": lo <= t_all <= hi, "covered_used": lo <= t_used <= hi,
                             "rejects_zero": not lo <= 0 <= hi, "n_used": r.n_treated})  # fmt: skip
        if dgp == "confounded":
            rows.append(_sensitivity(rep, dgp, null, results, sample, data, spec, strength))
    return rows


def _sensitivity(rep, dgp, null, results, sample, data, spec, strength) -> dict:
    """E-value and Rosenbaum bounds of the matching estimate, against the true confounder."""
    head = next(r for r in results if r.estimator == "matching")
    out = {"rep": rep, "dgp": dgp, "null": null, "estimator": "sensitivity", **strength}
    try:
        ev = sens.evalue_att(head.estimate, head.ci_low, head.ci_high,
                             treated_risk=sens.treated_risk(head, sample, OUTCOME))  # fmt: skip
        out["evalue_ci"] = ev.evalue_ci
    except ValueError:
        out["evalue_ci"] = np.nan
    pairs = sens.matched_pairs(sample, OUTCOME, distance=sample["logit"],
                               caliper=spec.matching["caliper"], exact=spec.exact)  # fmt: skip
    rb = sens.rosenbaum_binary(pairs.y_treated, pairs.y_control, alpha=ALPHA / 2)
    out["gamma_critical"] = rb.gamma_critical
    out["significant"] = head.p_value < ALPHA
    return out


# --- summary ------------------------------------------------------------------------------


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per DGP and estimator: bias, SD, mean SE, coverage (all / used mentored), size."""
    est = rows.loc[~rows["estimator"].isin(["randomisation_test", "sensitivity"])]
    eff = est.loc[~est["null"]]
    g = eff.assign(err=eff["estimate"] - eff["truth"]).groupby(["dgp", "estimator"], sort=False)
    out = pd.DataFrame({
        "reps": g.size(),
        "bias": g["err"].mean(),
        "sd": g["estimate"].std(ddof=1),
        "mean_se": g["se"].mean(),
        "coverage": g["covered"].mean(),
        "coverage_used": g["covered_used"].mean(),
        "mentored_used": g["n_used"].mean(),
    })  # fmt: skip
    return out


def test_size(rows: pd.DataFrame) -> pd.DataFrame:
    t = rows.loc[rows["estimator"] == "randomisation_test"]
    if t.empty:  # --draws 0: no null studies
        return pd.DataFrame()
    g = t.groupby("dgp", sort=False)
    return pd.DataFrame({"reps": g.size(), "rejects_5pct": g["p_value"].apply(lambda p: (p <= ALPHA).mean()),
                         "rejects_10pct": g["p_value"].apply(lambda p: (p <= 0.10).mean()),
                         "failed_draws": g["n_failed"].sum()})  # fmt: skip


def _mc(p: float, n: int) -> str:
    return f"{100 * p:.1f} ({100 * np.sqrt(p * (1 - p) / n):.1f})"


def markdown(summary: pd.DataFrame, size: pd.DataFrame, sens_rows: pd.DataFrame) -> str:
    lines = [
        "| DGP | estimator | reps | bias (pp) | SD (pp) | mean SE (pp) | coverage, % (MC SE) "
        "| coverage of the used mentored's ATT, % | mentored used |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (dgp, est), r in summary.iterrows():
        lines.append(
            f"| {dgp} | {est} | {int(r.reps)} | {100 * r.bias:+.2f} | {100 * r.sd:.2f} | "
            f"{100 * r.mean_se:.2f} | {_mc(r.coverage, int(r.reps))} | "
            f"{100 * r.coverage_used:.1f} | {r.mentored_used:.1f} |"
        )
    if len(size):
        lines += ["", "| DGP | randomisation test: null studies | rejects at 5 %, % (MC SE) | "
                  "at 10 %, % | draws that could not be estimated |", "|---|---|---|---|---|"]  # fmt: skip
    for dgp, r in size.iterrows():
        lines.append(f"| {dgp} | {int(r.reps)} | {_mc(r.rejects_5pct, int(r.reps))} | "
                     f"{100 * r.rejects_10pct:.1f} | {int(r.failed_draws)} |")  # fmt: skip
    if len(sens_rows):
        lines += ["", "| confounded DGP | studies | matching CI excludes 0 (no true effect), % | "
                  "E-value of the CI at most the true confounder's strength, % | "
                  "Rosenbaum Gamma at most the true Gamma, % (of significant results) |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for null, s in sens_rows.groupby("null"):
            strength = np.minimum(s["rr_ud"], s["rr_uy"])
            ev_flag = (s["evalue_ci"] <= strength).mean()
            sig = s.loc[s["significant"]]
            rb_flag = (sig["gamma_critical"] <= sig["gamma_true"]).mean() if len(sig) else np.nan
            lines.append(f"| {'null' if null else 'effect'} studies | {len(s)} | "
                         f"{100 * s['significant'].mean():.1f} | {100 * ev_flag:.1f} | "
                         f"{100 * rb_flag:.1f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=500, help="replications per DGP (default 500)")
    ap.add_argument("--confounded-reps", type=int, default=None,
                    help="replications of the confounded DGP (default: --reps)")  # fmt: skip
    ap.add_argument("--draws", type=int, default=199,
                    help="randomisation-test draws per null study (default 199: the 5 %% and "
                    "10 %% levels are attainable exactly); 0: no null studies, the estimators' "
                    "bias and coverage only")  # fmt: skip
    ap.add_argument("--dgps", nargs="+", default=list(DGPS), choices=DGPS)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=20170601)
    ap.add_argument("--params", type=Path, default=ROOT / "params" / "default.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--from-csv", type=Path, default=None,
                    help="only summarise the rows of an earlier (or unfinished) run's CSV")  # fmt: skip
    args = ap.parse_args(argv)
    if args.from_csv is not None:
        tab = pd.read_csv(args.from_csv)
        counts = tab.drop_duplicates(["dgp", "rep"]).groupby("dgp").size().to_dict()
        text = markdown(summarise(tab), test_size(tab), tab.loc[tab["estimator"] == "sensitivity"])
        print(f"From {args.from_csv}: replications per DGP {counts}.\n\n{text}")
        return 0
    params = load_params(args.params, check_files=False).notebook_parameters()
    args.out.mkdir(parents=True, exist_ok=True)
    label = f"reps{args.reps}_draws{args.draws}_seed{args.seed}_{'-'.join(args.dgps)}"
    csv = args.out / f"inference_study_{label}.csv"
    t0 = time.perf_counter()
    # replications interleaved across DGPs (rep 0 of each, then rep 1, ...) and the rows saved
    # as they come, so that a run stopped early still has every DGP at about the same count
    tasks = [(dgp, rep) for rep in range(args.reps) for dgp in args.dgps
             if not (dgp == "confounded" and args.confounded_reps
                     and rep >= args.confounded_reps)]  # fmt: skip
    done: dict[tuple[str, int], list[dict]] = {}
    step = max(1, len(tasks) // 50)

    def collect(key: tuple[str, int], got: list[dict]) -> None:
        done[key] = got
        if len(done) % step == 0 or len(done) == len(tasks):
            el = time.perf_counter() - t0
            counts = {d: sum(1 for k in done if k[0] == d) for d in args.dgps}
            print(f"  {len(done)}/{len(tasks)} replications {counts}, {el:.0f} s elapsed",
                  file=sys.stderr, flush=True)  # fmt: skip
            ordered = [row for k in sorted(done, key=lambda k: (args.dgps.index(k[0]), k[1]))
                       for row in done[k]]  # fmt: skip
            pd.DataFrame(ordered).to_csv(csv, index=False)

    def run_one(key: tuple[str, int]) -> list[dict]:
        return replication(key[1], dgp=key[0], base_seed=args.seed, params=params,
                           draws=args.draws)  # fmt: skip

    if args.jobs <= 1:
        for key in tasks:
            collect(key, run_one(key))
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futs = {pool.submit(replication, key[1], dgp=key[0], base_seed=args.seed,
                                params=params, draws=args.draws): key for key in tasks}  # fmt: skip
            for fut in as_completed(futs):
                collect(futs[fut], fut.result())
    rows = [row for k in sorted(done, key=lambda k: (args.dgps.index(k[0]), k[1]))
            for row in done[k]]  # fmt: skip
    tab = pd.DataFrame(rows)
    text = markdown(summarise(tab), test_size(tab), tab.loc[tab["estimator"] == "sensitivity"])
    md = args.out / f"inference_study_{label}.md"
    wall = time.perf_counter() - t0
    head = (f"{args.reps} replications per DGP, {N_MENTORED} mentored, {N_COMPARISON} comparison "
            f"persons (default DGP) or {N_POOL_CROSS_SECTION} (the others), {args.draws} "
            f"randomisation draws per null study, seed {args.seed}, "
            f"wall time {wall:.0f} s.\n\n")  # fmt: skip
    md.write_text(head + text + "\n", encoding="utf-8")
    print(head + text)
    print(f"\nWritten: {csv}, {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
