# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 Robustness and costs: how sure are we, and was it worth it?
#
# With about fifty mentored persons the first question is whether the study could have seen
# an effect at all (the minimum detectable effect, ex ante); then whether the estimators find
# "effects" where there can be none (placebo outcomes before the start, and a fake start a
# year early); how strong a hidden confounder (motivation) would have to be to explain the
# headline away (E-value, Rosenbaum bounds); whether the answer hinges on one specification
# (a specification curve, run in parallel); and what the programme cost per participant and
# per additional person in work.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en"}
data = {
    "participants": "../data/synthetic/participants.csv",
    "monthly": "../data/synthetic/monthly.csv",
}
outcomes = {"horizons": [6, 12, 24], "pre_months": 12}
design = {
    "covariates": ["age", "sex", "education", "swedish_level", "years_in_sweden",
                   "origin_region", "pre_months_employed_12", "pre_earnings_12",
                   "pre_employed_m1"],
    "exact": "start_quarter",
    "trimming": "common_support",
    "balance_threshold": 0.1,
}
estimation = {
    "estimators": ["naive", "regression", "ra", "ipw", "aipw", "matching"],
    "headline": {"estimator": "matching", "outcome": "employed_m12", "subgroup": "all"},
    "matching": {"neighbours": 4, "replace": True, "caliper": 0.2, "bias_correction": True,
                 "se": "ai2006"},
    "level": 0.95,
}
robustness = {
    "alpha": 0.05,
    "power": 0.8,
    "pre_outcome_months": 6,
    "fake_start_shift": 12,
    "fake_start_horizons": [6, 12],
    "rosenbaum_gamma_max": 3.0,
    "specifications": "../params/specifications.yaml",
    "workers": 2,
    "compare_sequential": False,
}
costs = {
    "horizon": 12,
    "monthly_earnings_sek": 20000,
    "tax_share": 0.3,
    "benefit_saved_sek_per_month": 6000,
    "duration_months": 12,
}
report = {"budget_sek": 3254321, "planned_participants": 50}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from evaluation.data.io import read_handed_over_panel, read_table
from evaluation.disclosure.differencing import without_sample_sizes
from evaluation.disclosure.rules import suppressed_label
from evaluation.estimate import effects as fx
from evaluation.plots import theme as style
from evaluation.report.labels import labels as report_labels
from evaluation.report.labels import number as fmt_number
from evaluation.results.recorder import Recorder
from evaluation.robustness import costs as cst
from evaluation.robustness import placebo as pl
from evaluation.robustness import power as pw
from evaluation.robustness import sensitivity as sens
from evaluation.robustness import speccurve as sc

T0 = time.perf_counter()
style.apply()
rec = Recorder(run_dir, "06_robustness", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
K = disclosure["min_cell"]
LEVEL = estimation["level"]
LANG = study["language"]
ALT = report_labels(LANG)
L = {
    "en": {"effect_pp": "True effect (percentage points)", "power": "Power",
           "target": "target power", "horizon": "horizon", "months": "months",
           "placebo_effect": "Placebo estimate (percentage points, 95 % CI)",
           "pre": "before start", "fake": "fake start", "gamma": "Gamma (hidden bias)",
           "p_upper": "Upper bound of the p-value", "alpha": "significance level",
           "estimate": "Effect (pp, 95 % CI)", "specification": "Specifications, sorted by estimate",
           "significant": "significant", "not_significant": "not significant",
           "estimator": "estimator", "covariate_set": "covariates", "trimming": "trimming",
           "neighbours": "neighbours", "full": "full", "parsimonious": "parsimonious",
           "common_support": "common support", "none": "none", "crump": "Crump",
           "matching": "matching", "ipw": "IPW", "aipw": "AIPW", "ra": "RA",
           "regression": "regression", "naive": "naive"},
    "sv": {"effect_pp": "Verklig effekt (procentenheter)", "power": "Styrka",
           "target": "önskad styrka", "horizon": "horisont", "months": "månader",
           "placebo_effect": "Placeboskattning (procentenheter, 95 % KI)",
           "pre": "före start", "fake": "falsk start", "gamma": "Gamma (dold snedvridning)",
           "p_upper": "Övre gräns för p-värdet", "alpha": "signifikansnivå",
           "estimate": "Effekt (procentenheter, 95 % KI)",
           "specification": "Specifikationer, sorterade efter skattning",
           "significant": "signifikant", "not_significant": "inte signifikant",
           "estimator": "skattare", "covariate_set": "kovariater", "trimming": "trimning",
           "neighbours": "grannar", "full": "alla", "parsimonious": "sparsam",
           "common_support": "gemensamt stöd", "none": "ingen", "crump": "Crump",
           "matching": "matchning", "ipw": "IPW", "aipw": "AIPW", "ra": "RA",
           "regression": "regression", "naive": "naiv"},
}[LANG]

# %%
covs = pd.read_parquet(scratch / "design_data.parquet")
outs = pd.read_parquet(scratch / "outcome_data.parquet")
dsg = pd.read_parquet(scratch / "design.parquet")
sample = fx.analysis_sample(covs, outs, dsg)
spec = fx.EffectsSpec.from_params(design, estimation)
# the design stage's comparison subsample (the whole pool unless it is larger than
# design.subsample_comparison): the placebo designs and the specification curve, which rerun
# the design and every estimator many times, use every mentored person and these
in_sub = set(dsg.loc[dsg["in_subsample"], "person_id"])
sub_sample = sample.loc[sample["person_id"].isin(in_sub)].reset_index(drop=True)
# the monthly rows 01 validated, read for the subsample and the matched persons only
monthly = read_handed_over_panel(
    scratch / "monthly_panel.parquet",
    dsg.loc[dsg["in_subsample"] | (dsg["match_weight"] > 0), "person_id"])
if costs["horizon"] not in outcomes["horizons"]:
    raise ValueError(f"costs.horizon {costs['horizon']} is not among outcomes.horizons "
                     f"{outcomes['horizons']}")
employment = [f"employed_m{h}" for h in outcomes["horizons"]]
main = fx.estimate_study(sample, employment, spec)
by_outcome = {r.outcome: r for r in main if r.estimator == spec.headline_estimator}
headline = [r for r in main if r.outcome == spec.headline_outcome
            and r.estimator == spec.headline_estimator]
headline = headline[0] if headline else fx.estimate_study(
    sample, [spec.headline_outcome], spec)[-1]  # a non-employment headline
without_sample_sizes(headline.to_frame())

# %% [markdown]
# ## Power: the minimum detectable effect, ex ante
# For each horizon h the outcome's standard deviation is taken from the pre-period: the share
# employed in month start − min(h, 12) in the matched sample (mentored and their matches, equal
# weight), before anyone was mentored. The group sizes are the matched mentored and Kish's
# effective number of matched comparison persons (controls reused by several mentored count
# less); no gain from covariate adjustment is assumed (conservative). Power is that of a
# two-sided z-test.

# %%
P = outcomes["pre_months"]
pre_months_needed = sorted({min(h, P) for h in outcomes["horizons"]} - {P})
pre = sample[["person_id", f"pre_employed_m{P}"]]
matched_persons = sample.loc[sample["match_weight"] > 0]  # only they enter the power analysis
for m in pre_months_needed:
    pre = pre.merge(pl.pre_period_outcomes(matched_persons, monthly, m)[
        ["person_id", f"pre_employed_m{m}"]], on="person_id", how="left", validate="one_to_one")
treated = sample["treated"].to_numpy() == 1
w = sample["match_weight"].to_numpy()
n1 = int(((w > 0) & treated).sum())
ess = pw.kish_ess(w[~treated])
deff = pw.matching_design_effect(n1, ess, estimation["matching"]["neighbours"])
rows, power_rows = [], {}
for h in outcomes["horizons"]:
    col = f"pre_employed_m{min(h, P)}"
    y = pre[col].to_numpy(dtype=float)
    ok = ~np.isnan(y)
    p_t = np.average(y[ok & treated & (w > 0)])
    p_c = np.average(y[ok & ~treated & (w > 0)], weights=w[ok & ~treated & (w > 0)])
    share = 0.5 * (p_t + p_c)
    mde = pw.minimum_detectable_effect(pw.binary_sd(share), n1, ess, alpha=robustness["alpha"],
                                       power=robustness["power"])
    power_rows[h] = mde
    rows.append({"horizon": h, "pre_month": -min(h, P), "pre_share": share, "sd": mde.sigma,
                 "mde": mde.mde, "se": mde.se})
power_table = pd.DataFrame(rows).set_index("horizon")
rec.table("power_mde", power_table.round(4),
          title="Minimum detectable effect by horizon (ex ante, from the pre-period)",
          made_by="evaluation.robustness.power.minimum_detectable_effect")
rec.number("power", {
    "alpha": robustness["alpha"], "power": robustness["power"], "n_treated": n1,
    "ess_control": ess, "neighbours": estimation["matching"]["neighbours"],
    "design_effect": deff,
    "by_horizon": {str(h): {"mde": r.mde, "sd": r.sigma, "pre_month": min(h, P)}
                   for h, r in power_rows.items()},
    "costs_horizon_mde": power_rows[costs["horizon"]].mde,
}, title="Minimum detectable effect (ex ante) and its inputs",
   made_by="evaluation.robustness.power.minimum_detectable_effect")
power_table

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
grid_pp = np.linspace(0, 40, 161)
curves: dict[float, list[int]] = {}  # horizons whose spread comes from the same month share a line
for h, r in power_rows.items():
    curves.setdefault(round(r.se, 12), []).append(h)
for hs in curves.values():
    r = power_rows[hs[0]]
    line, = ax.plot(grid_pp, pw.power_at(grid_pp / 100, r.se, robustness["alpha"]),
                    label=f"{L['horizon']} {', '.join(map(str, hs))} {L['months']}")
    ax.axvline(100 * r.mde, color=line.get_color(), linestyle=":", linewidth=0.8)
ax.axhline(robustness["power"], color="black", linestyle="--", linewidth=0.8,
           label=L["target"])
ax.set_xlabel(L["effect_pp"])
ax.set_ylabel(L["power"])
ax.set_ylim(0, 1)
ax.legend(fontsize=8)
rec.figure("power_curve", fig, title="Power against the true effect, by horizon",
           alt=ALT["alt_power_curve"], made_by="evaluation.robustness.power.power_at")
plt.show()

# %% [markdown]
# ## Placebo tests
# Where the true effect is zero by construction. (1) Pre-period outcomes of the study's own
# sample: employment in month start − m and earnings over the m months before start. They are
# not in the propensity model, but they are parts of its 12-month totals: the test asks whether
# balancing the year also balanced the last months (a pre-programme dip would show here).
# (2) A fake start 12 months early: every start is moved back, the pre-period covariates are
# rebuilt from the year before the fake start, the whole design is rerun, and the outcomes are
# counted from the fake start, all before the real start. This is the stronger test: the
# propensity model never sees these outcomes.

# %%
m = robustness["pre_outcome_months"]
pre_cols = [f"pre_employed_m{m}", f"pre_earnings_{m}"]
with_pre = sub_sample.merge(
    pl.pre_period_outcomes(sub_sample, monthly, m)[["person_id", *pre_cols]],
    on="person_id", validate="one_to_one")
placebo_pre = pl.pre_period_effects(with_pre, pre_cols, spec)
fake = pl.fake_start_data(covs.loc[covs["person_id"].isin(in_sub)], monthly,
                          shift=robustness["fake_start_shift"],
                          horizons=robustness["fake_start_horizons"], pre_months=P)
placebo_fake = pl.fake_start_effects(fake, design, estimation)
placebos = placebo_pre + placebo_fake
rec.effects(placebos, made_by="evaluation.robustness.placebo")
rec.count("placebo_fake_dropped_control", fake.n_dropped_control,
          title="Comparison persons without a full year before the fake start (left out)",
          made_by="evaluation.robustness.placebo.fake_start_data")
rec.count("placebo_fake_dropped_treated", fake.n_dropped_treated,
          title="Mentored persons without a full year before the fake start (left out)",
          made_by="evaluation.robustness.placebo.fake_start_data")
adjusted = [r for r in placebos if not r.estimator.endswith("_naive")]
cover = [r.ci_low <= 0 <= r.ci_high for r in adjusted]
rec.number("placebo_summary", {
    "n_adjusted": len(adjusted), "n_cover_zero": int(sum(cover)),
    "n_significant": int(sum(r.p_value < 1 - LEVEL for r in adjusted)),
    "pre_months": m, "shift": robustness["fake_start_shift"],
    "fake_horizons": list(fake.horizons),
    "headline_estimator": spec.headline_estimator,
}, title="Placebo estimates (adjusted estimators) whose confidence interval covers zero",
   made_by="evaluation.robustness.placebo")
placebo_table = fx.effects_table(placebos)
rec.table("placebo_effects", placebo_table, title="Placebo estimates (true effect zero)",
          made_by="evaluation.robustness.placebo")
without_sample_sizes(placebo_table)

# %%
shown = [r for r in placebos if r.outcome.startswith(("fake_start_employed_m", "pre_employed_m"))
         and not r.estimator.endswith("_naive")]
fig, ax = plt.subplots(figsize=(7, 0.28 * len(shown) + 1.2))
y = np.arange(len(shown))[::-1]
for yi, r in zip(y, shown, strict=True):
    colour = style.GROUP_COLOURS["mentored"] if "fake" in r.estimator else "#9a9a9a"
    ax.errorbar(100 * r.estimate, yi, xerr=[[100 * (r.estimate - r.ci_low)],
                                            [100 * (r.ci_high - r.estimate)]],
                fmt="o", ms=3, color=colour, capsize=2)
ax.axvline(0, color="black", linewidth=0.8)
names = []
for r in shown:
    kind = L["fake"] if "fake" in r.estimator else L["pre"]
    est = r.estimator.split("_")[-1]
    when = (f"{kind}, {r.outcome.removeprefix('fake_start_employed_m')} {L['months']}"
            if "fake" in r.estimator else f"{kind}, -{m} {L['months']}")
    names.append(f"{when}: {L.get(est, est)}")
ax.set_yticks(y, names, fontsize=7)
ax.set_xlabel(L["placebo_effect"])
fig.tight_layout()
rec.figure("placebo_forest", fig, title="Placebo estimates on employment (true effect zero)",
           alt=ALT["alt_placebo_forest"],
           made_by="evaluation.robustness.placebo")
plt.show()

# %% [markdown]
# ## Sensitivity to hidden confounding
# **E-value** (VanderWeele and Ding 2017) of the headline estimate. The risk difference is
# converted to a risk ratio with the counterfactual share employed of the mentored that the
# (bias-corrected) estimate implies as the baseline: p0 = p1 - ATT, with p1 the share employed
# among the mentored the estimate is about; RR = p1 / p0, p0 held fixed for the limits.
# **Rosenbaum bounds** for the matched pairs on the binary outcome: the study matches four
# comparison persons with replacement, so for this test each mentored person is re-matched to
# one comparison person without replacement (greedy, same score, quarter and caliper), giving
# disjoint pairs; the McNemar-type test on discordant pairs is one-sided at (1 − level)/2.

# %%
hy = spec.headline_outcome
est_sample = fx.supported(sample.loc[sample[hy].notna()], spec.covariates)
binary = bool(est_sample[hy].isin([0, 1]).all())
if binary:
    p1 = sens.treated_risk(headline, est_sample, hy)
    ev = sens.evalue_att(headline.estimate, headline.ci_low, headline.ci_high, treated_risk=p1)
    rec.number("evalue", {"rd": ev.rd, "baseline": ev.baseline, "rr": ev.rr,
                          "rr_low": ev.rr_low, "rr_high": ev.rr_high, "evalue": ev.evalue,
                          "evalue_ci": ev.evalue_ci, "ci_covers_null": ev.evalue_ci == 1.0},
               title="E-value of the headline estimate and of its confidence limit",
               made_by="evaluation.robustness.sensitivity.evalue_risk_difference")
    pairs = sens.matched_pairs(est_sample, hy, distance=est_sample["logit"],
                               caliper=estimation["matching"]["caliper"], exact=design["exact"])
    gammas = np.round(np.arange(1.0, robustness["rosenbaum_gamma_max"] + 1e-9, 0.05), 2)
    rb = sens.rosenbaum_binary(pairs.y_treated, pairs.y_control, alpha=(1 - LEVEL) / 2,
                               gammas=gammas)
    # the counts as published (a small one suppressed): what this notebook shows of them
    pair_counts = {
        "pairs": rec.count("rosenbaum_pairs", rb.n_pairs,
                           title="Matched pairs (1:1) for Rosenbaum bounds",
                           made_by="evaluation.robustness.sensitivity.matched_pairs"),
        "discordant": rec.count("rosenbaum_discordant", rb.n_discordant,
                                title="Discordant pairs (one of the two employed)",
                                made_by="evaluation.robustness.sensitivity.rosenbaum_binary"),
        "mentored_employed": rec.count(
            "rosenbaum_treated_only", rb.n_treated_only,
            title="Discordant pairs in which the mentored person is the employed one",
            made_by="evaluation.robustness.sensitivity.rosenbaum_binary"),
    }
    rec.number("rosenbaum", {
        "alpha": rb.alpha, "p_at_1": rb.p_at_1,
        "gamma_critical": rb.gamma_critical if np.isfinite(rb.gamma_critical) else None,
        "significant_at_1": rb.p_at_1 < rb.alpha, "gamma_max": robustness["rosenbaum_gamma_max"],
        "pairs_estimate": float(np.mean(pairs.y_treated - pairs.y_control)),
    }, title="Rosenbaum bounds: Gamma at which the headline stops being significant",
       made_by="evaluation.robustness.sensitivity.rosenbaum_binary")
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(rb.gammas, rb.p_upper, color=style.GROUP_COLOURS["mentored"])
    ax.axhline(rb.alpha, color="black", linestyle="--", linewidth=0.8,
               label=f"{L['alpha']} {fmt_number(rb.alpha, study['language'], 3)}")
    ax.set_xlabel(L["gamma"])
    ax.set_ylabel(L["p_upper"])
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    rec.figure("rosenbaum_bounds", fig, title="Rosenbaum bounds: worst-case p-value by hidden bias",
               alt=ALT["alt_rosenbaum_bounds"],
               made_by="evaluation.robustness.sensitivity.rosenbaum_binary")
    plt.show()
    display({"evalue": round(ev.evalue, 3), "evalue_ci": round(ev.evalue_ci, 3),
             "gamma_critical": rb.gamma_critical, "p_at_gamma_1": round(rb.p_at_1, 4),
             **pair_counts})
else:
    rec.skipped("sensitivity_binary", "the headline outcome is not 0/1: the E-value conversion "
                "and the McNemar-type Rosenbaum bounds apply to a binary outcome")

# %% [markdown]
# ## Specification curve
# Every combination of the defensible choices in the grid file (horizon, estimator, covariate
# set, trimming, neighbours and caliper for matching), each designed and estimated from the
# person-level data, in parallel processes; the grid is also run one by one to report the
# wall time of both. Estimates resting on fewer than the disclosure threshold are withheld.

# %%
grid = sc.read_grid(robustness["specifications"])
everyone = covs.merge(outs, on="person_id", validate="one_to_one")
everyone = everyone.loc[everyone["person_id"].isin(in_sub)].reset_index(drop=True)
STEP = max(1, len(grid.specifications) // 6)


def progress(done, total, t0=time.perf_counter()):  # noqa: B008 - the cell's start time
    """Print a progress line every few specifications."""
    if done % STEP == 0 or done == total:
        print(f"specifications done: {done}/{total}  ({time.perf_counter() - t0:.1f} s)",
              flush=True)


curve = sc.run_grid(everyone, grid, exact=design["exact"], level=LEVEL,
                    bias_adjust=estimation["matching"]["bias_correction"],
                    workers=robustness["workers"], progress=progress)
timing = {"parallel_seconds": curve.wall_seconds, "workers": curve.workers,
          "processes_seen": curve.processes_seen, "n_specifications": len(grid.specifications)}
if robustness["compare_sequential"] and robustness["workers"] > 1:
    one = sc.run_grid(everyone, grid, exact=design["exact"], level=LEVEL,
                      bias_adjust=estimation["matching"]["bias_correction"], workers=1)
    assert np.allclose(one.table["estimate"], curve.table["estimate"], equal_nan=True)
    timing |= {"sequential_seconds": one.wall_seconds,
               "speedup": one.wall_seconds / curve.wall_seconds}
rec.measured("timing_spec_curve", timing,
             title="Specification curve: wall time in parallel and one by one (seconds; "
             "in provenance.measured)", made_by="evaluation.robustness.speccurve.run_grid")
table = curve.table.copy()
small = (table["n_treated"] < K) | (table["n_control"] < K)
table.loc[small, ["estimate", "se", "ci_low", "ci_high", "p_value"]] = np.nan
table.loc[small, "error"] = f"withheld: fewer than {K} persons in a group"
summary = sc.summarise(table, headline.estimate, alpha=1 - LEVEL)
# the group sizes as published: a size below the threshold suppressed ('<k'), as every count
table = table.astype({"n_treated": object, "n_control": object})
for col in ("n_treated", "n_control"):
    few = table[col].map(lambda n: isinstance(n, int | np.integer) and 0 < n < K)
    table.loc[few, col] = suppressed_label(K)
rec.number("spec_curve_summary", {**summary.__dict__, "grid_sha256": grid.sha256,
                          "grid_file": Path(grid.source).name,
                          "n_withheld": int(small.sum())},
           title="Specification curve: agreement with the headline",
           made_by="evaluation.robustness.speccurve.summarise")
rec.table("spec_curve_estimates", table.round(4).set_index("outcome"),
          title="Specification curve: every specification's estimate",
          made_by="evaluation.robustness.speccurve.run_grid")
print(summary, timing)

# %%
fig = sc.curve_plot(table, L, alpha=1 - LEVEL)
rec.figure("spec_curve", fig, title="Specification curve",
           alt=ALT["alt_spec_curve"],
           made_by="evaluation.robustness.speccurve.curve_plot")
plt.show()

# %% [markdown]
# ## Costs
# Cost per participant from the budget; cost per additional person in work at the costs
# horizon with an interval from the effect's confidence interval (unbounded when it includes
# zero, undefined when the estimate is not positive); the break-even effect under the stated
# assumptions (parameters `costs.*`).

# %%
# the participants table alone (validated by the runner and by 01; its group column as the
# contract normalises it)
participants = read_table(data["participants"], table="participants")
served = int((participants["group"].str.strip().str.lower() == "mentored").sum())
effect = by_outcome[f"employed_m{costs['horizon']}"]
cpa = cst.cost_per_additional(report["budget_sek"], served, effect.estimate, effect.ci_low,
                              effect.ci_high)
be = cst.break_even(cpa.cost_per_participant, monthly_earnings=costs["monthly_earnings_sek"],
                    tax_share=costs["tax_share"],
                    benefit_saved_per_month=costs["benefit_saved_sek_per_month"],
                    duration_months=costs["duration_months"])
rec.count("costs_served", served, title="Mentored persons served (participants table)",
          made_by="evaluation.data.io.read_table")
rec.number("costs", {
    "cost_per_participant": cpa.cost_per_participant,
    "cost_per_planned": cst.cost_per_participant(report["budget_sek"],
                                                 report["planned_participants"]),
    "horizon": costs["horizon"], "estimator": effect.estimator,
    "effect": effect.estimate, "effect_low": effect.ci_low, "effect_high": effect.ci_high,
    "additional_persons": cpa.additional_persons, "additional_low": cpa.additional_low,
    "additional_high": cpa.additional_high, "cost_per_additional": cpa.cost,
    "cost_per_additional_low": cpa.cost_low, "cost_per_additional_high": cpa.cost_high,
    "status": cpa.status,
    "break_even_earnings": be.effect_earnings, "break_even_public": be.effect_public,
    "gain_per_month_public": be.gain_per_month_public,
    "monthly_earnings": costs["monthly_earnings_sek"], "tax_share": costs["tax_share"],
    "benefit_saved": costs["benefit_saved_sek_per_month"],
    "duration_months": costs["duration_months"],
}, title="Costs per participant and per additional person in work; break-even effects",
   made_by="evaluation.robustness.costs")
cpa, be

# %%
print(f"notebook run time: {time.perf_counter() - T0:.1f} s")
rec.save()
