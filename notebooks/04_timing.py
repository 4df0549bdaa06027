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
# # 04 Timing: when the effect comes
#
# Three views of the effect over time, all on the sample the design stage kept (notebook 02):
#
# 1. an **event study** on the monthly panel (leads and lags around start, person and
#    calendar-month fixed effects, event-time effects shared with the comparison persons, SEs
#    clustered by person), on the matched sample and on the odds-weighted trimmed sample, with
#    a joint pre-trend test and sup-t uniform bands;
# 2. **staggered difference-in-differences** (Callaway & Sant'Anna 2021) with cohorts by start
#    period, outcome-regression and doubly robust versions, aggregated to event time, cohort
#    and one overall ATT, beside the two-way fixed-effects (TWFE) estimate;
# 3. **time to the first job**: weighted Kaplan–Meier curves and a Cox model on the matched
#    sample.
#
# Outcome names in `results.json`: `employed_rel_m{k}` / `earnings_rel_m{k}` are event-study
# coefficients for month `k` since start (negative `k`: leads); `employed_{u}_rel{e}`,
# `employed_{u}_cohort{label}` and `employed_{u}_overall` (and `earnings_...`) are the staggered
# DiD aggregates in periods `u` (`q` quarters: share of the quarter's months employed and
# earnings in the quarter; `m` months).

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en", "currency": "SEK"}
design = {
    "covariates": ["age", "sex", "education", "swedish_level", "years_in_sweden",
                   "origin_region", "pre_months_employed_12", "pre_earnings_12",
                   "pre_employed_m1"],
    "exact": "start_quarter",
}
estimation = {
    "level": 0.95,
    "matching": {"neighbours": 4, "replace": True, "caliper": 0.2, "bias_correction": True},
    "bootstrap": {"draws": 999, "use_when_ratio_above": 1.05, "weights": "exponential"},
}
timing = {
    "leads": 12,
    "lags": 24,
    "cohort": "quarter",
    "control": "never_same_cohort",
    "dr_propensity": "design_score",
    "pre_periods": 4,
    "post_periods": 8,
    "bootstrap_draws": 999,
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from evaluation.calendar import month_index, month_label, quarter_label
from evaluation.data.io import read_handed_over_panel
from evaluation.data.outcomes import panel_relative
from evaluation.design.matching import match_nearest
from evaluation.design.propensity import design_matrix
from evaluation.design.study import matching_options
from evaluation.estimate import duration as du
from evaluation.estimate import dynamics as dy
from evaluation.estimate import staggered as st
from evaluation.estimate.att import BootstrapWeights
from evaluation.estimate.results import EffectResult
from evaluation.plots import theme as style
from evaluation.report.labels import labels as report_labels
from evaluation.results.recorder import Recorder
from evaluation.rng import stream

started = time.perf_counter()
style.apply()
rec = Recorder(run_dir, "04_timing", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
K = disclosure["min_cell"]
LEVEL = estimation["level"]
LABELS = {
    "en": {"month": "Months since start", "employed": "Effect on employment (percentage points)",
           "earnings": f"Effect on monthly earnings ({study['currency']})",
           "earnings_q": f"Effect on earnings in the period ({study['currency']})",
           "pointwise": "95 % pointwise", "uniform": "95 % uniform (sup-t)",
           "matched": "Matched sample", "ipw": "Weighted sample", "period": "Periods since start",
           "cs_dr": "Callaway–Sant’Anna, doubly robust", "cs_or": "Callaway–Sant’Anna, "
           "outcome regression", "twfe": "Two-way fixed effects", "job": "Share who found a job",
           "mentored": "Mentored", "comparison": "Matched comparison"},
    "sv": {"month": "Månader sedan start", "employed": "Effekt på sysselsättning "
           "(procentenheter)", "earnings": f"Effekt på månadsinkomst ({study['currency']})",
           "earnings_q": f"Effekt på inkomst under perioden ({study['currency']})",
           "pointwise": "95 % punktvis", "uniform": "95 % simultant (sup-t)",
           "matched": "Matchat urval", "ipw": "Viktat urval", "period": "Perioder sedan start",
           "cs_dr": "Callaway–Sant’Anna, dubbelt robust", "cs_or": "Callaway–Sant’Anna, "
           "utfallsregression", "twfe": "Tvåvägs fixa effekter", "job": "Andel som fått jobb",
           "mentored": "Mentorstödda", "comparison": "Matchad jämförelsegrupp"},
}
L = LABELS[study["language"]]
ALT = report_labels(study["language"])

# %% [markdown]
# ## Data: the monthly panel of the persons the design stage kept

# %%
covs = pd.read_parquet(scratch / "design_data.parquet")
outs = pd.read_parquet(scratch / "outcome_data.parquet")
dsg = pd.read_parquet(scratch / "design.parquet")
persons = covs.merge(dsg, on="person_id", how="inner", validate="one_to_one")
assert len(persons) == len(covs) == len(dsg), "the hand-over files cover different persons"
persons = persons.loc[persons["keep"]].sort_values("person_id", kind="mergesort")
# the design stage's matched sets, matched again on the same trimmed persons (deterministic;
# checked against the hand-over's matching weights): the bootstrap of the Cox model below
# resamples them
matched_sets = match_nearest(persons.reset_index(drop=True), "treated",
                             distance=persons["logit"].reset_index(drop=True),
                             **matching_options(estimation["matching"], design.get("exact")))
assert np.allclose(matched_sets.weights.to_numpy(), persons["match_weight"].to_numpy()), \
    "matching again on the trimmed persons does not reproduce the design stage's weights"
set_pairs = pd.DataFrame({"treated": persons["person_id"].to_numpy()[matched_sets.pair_positions[0]],
                          "control": persons["person_id"].to_numpy()[matched_sets.pair_positions[1]],
                          "weight": matched_sets.pair_positions[2]})
rec.count("timing_n_persons", len(persons), title="Persons in the timing analyses (trimmed)",
          made_by="evaluation.estimate.effects.analysis_sample")
# the matched persons (matched event study, time to first job) and the design stage's
# comparison subsample (weighted event study, staggered DiD, TWFE; the whole pool unless it
# is larger than design.subsample_comparison). The odds weights of sampled comparison persons
# are divided by the sampling fraction (Horvitz-Thompson), so they stand for the whole pool.
persons = persons.loc[(persons["match_weight"] > 0) | persons["in_subsample"]]
persons = persons.assign(ipw_weight=persons["ipw_weight"] * persons["subsample_weight"])
persons = persons.reset_index(drop=True)
# the monthly rows 01 validated, read for these persons only; start months (pseudo starts
# included) come from 01's hand-over, not drawn again
monthly = read_handed_over_panel(scratch / "monthly_panel.parquet", persons["person_id"])
panel = panel_relative(persons[["person_id", "group", "start_month"]], monthly)
del monthly
panel["month"] = month_index(panel["month"]).to_numpy(dtype=np.int64)
panel = panel.merge(persons[["person_id", "match_weight", "ipw_weight"]], on="person_id",
                    how="left", validate="many_to_one")

# %% [markdown]
# ## 1. Event study
# Month −1 is the reference. Leads (months before start) show whether the mentored were on a
# different path already; lags trace the effect month by month.

# %%
SAMPLES = {"matched": "match_weight", "ipw": "ipw_weight"}
ESTIMAND = {
    "matched": "ATT in month k since start relative to month -1, mentored with a match "
               "(matching weights), event study with person, calendar-month and shared "
               "event-time fixed effects",
    "ipw": "ATT in month k since start relative to month -1, mentored in the trimmed sample "
           "(odds weights e/(1-e) on comparison persons), event study with person, "
           "calendar-month and shared event-time fixed effects",
}
studies, bands = {}, {}
for sample, wcol in SAMPLES.items():
    for outcome in ("employed", "earnings"):
        es = dy.event_study(panel, outcome=outcome, weight=wcol, leads=timing["leads"],
                            lags=timing["lags"], level=LEVEL)
        band = dy.sup_t_band(es, stream(seed, f"sup_t_{sample}_{outcome}"),
                             draws=timing["bootstrap_draws"])
        wald = dy.pretrend_test(es)
        studies[sample, outcome], bands[sample, outcome] = es, band
        rows = es.table.loc[es.table["event_time"] != es.reference]
        rec.effects(
            [EffectResult.from_normal(
                estimate=r.estimate, se=r.se, level=LEVEL, outcome=f"{outcome}_rel_m{r.event_time}",
                estimator=f"event_study_{sample}", estimand=ESTIMAND[sample],
                n_treated=es.n_treated, n_control=es.n_control,
                se_method="clustered by person (linearmodels PanelOLS)",
                spec={"leads": timing["leads"], "lags": timing["lags"], "reference": -1})
             for r in rows.itertuples()],
            made_by="evaluation.estimate.dynamics.event_study",
        )
        rec.number(f"es_{sample}_{outcome}", {
            "pretrend_wald": wald.statistic, "pretrend_df": wald.df, "pretrend_p": wald.p_value,
            "sup_t": band.critical_value, "n_treated": es.n_treated, "n_control": es.n_control,
            "n_obs": es.n_obs}, title=f"Event study ({sample}, {outcome}): pre-trend test and "
            "sup-t critical value", made_by="evaluation.estimate.dynamics.pretrend_test")
# The weighted (ipw) sample's odds weights are estimated: a weighted bootstrap refits the
# propensity model in every draw and recomputes the weights; the coefficients follow to
# first order (evaluation.estimate.dynamics.event_study_weight_bootstrap). Its SEs go beside
# the clustered ones in the event-study table.
es_boot = {}
if estimation["bootstrap"]["draws"] > 0:
    by_id = persons.set_index("person_id")
    for outcome in ("employed", "earnings"):
        inf = dy.event_study_influence(panel, outcome=outcome, weight="ipw_weight",
                                       leads=timing["leads"], lags=timing["lags"])
        who = by_id.loc[inf.person_id]
        es_boot[outcome] = dy.event_study_weight_bootstrap(
            inf, who["treated"].to_numpy(), design_matrix(who, design["covariates"]).frame.to_numpy(),
            who["pscore"].to_numpy(), who["subsample_weight"].to_numpy(),
            BootstrapWeights.draw(len(inf.person_id), estimation["bootstrap"]["draws"],
                                  stream(seed, f"es_weights_{outcome}"), estimation["bootstrap"]["weights"]))
        clustered = studies["ipw", outcome].table.dropna(subset=["se"])["se"].to_numpy()
        rec.number(f"es_ipw_{outcome}_bootstrap", {
            "draws": int(estimation["bootstrap"]["draws"]), "n_failed": es_boot[outcome].n_failed,
            "se_ratio_median": float(np.median(es_boot[outcome].se / clustered)),
            "se_ratio_max": float(np.max(es_boot[outcome].se / clustered)),
            "method": es_boot[outcome].method},
            title=f"Weighted event study ({outcome}): bootstrap SEs with the weights re-estimated, "
            "relative to the clustered SEs", made_by="evaluation.estimate.dynamics.event_study_weight_bootstrap")
rec.number("es_window", {"leads": timing["leads"], "lags": timing["lags"]},
           title="Event-study window (months)", made_by="params: timing.leads, timing.lags")
shown = [k for k in (3, 6, 12, 18, 24) if k <= timing["lags"]]
rec.number("es_months_shown", shown, title="Event-study months tabulated in the report",
           made_by="params: timing.lags")
es_table = pd.concat(
    {f"{sample}_{outcome}": b.table.set_index("event_time")[
        ["estimate", "se", "ci_low", "ci_high", "band_low", "band_high"]]
     for (sample, outcome), b in bands.items()}, axis=1)
es_table.columns = [f"{a}_{b}" for a, b in es_table.columns]
for outcome, b in es_boot.items():  # the bootstrap SE beside the clustered SE (reference: NaN)
    times = studies["ipw", outcome].table.dropna(subset=["se"])["event_time"].to_numpy()
    es_table[f"ipw_{outcome}_se_bootstrap"] = pd.Series(b.se, index=times).reindex(es_table.index)
rec.table("event_study", es_table.round(6), title="Event-study coefficients by month since start "
          "(matched and weighted samples; employment and monthly earnings), pointwise and uniform "
          "bands", made_by="evaluation.estimate.dynamics.event_study")
es_table.filter(like="matched_employed").round(3)


# %%
def plot_event_study(outcome: str, scale: float) -> plt.Figure:
    """Matched-sample coefficients with both bands, weighted-sample points beside them."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    t = bands["matched", outcome].table
    x = t["event_time"].to_numpy()
    ax.fill_between(x, scale * t["band_low"], scale * t["band_high"], color="#1b6ca8",
                    alpha=0.12, step=None, label=L["uniform"])
    ax.fill_between(x, scale * t["ci_low"], scale * t["ci_high"], color="#1b6ca8", alpha=0.25,
                    label=L["pointwise"])
    ax.plot(x, scale * t["estimate"], "o-", color="#1b6ca8", ms=3, label=L["matched"])
    w = bands["ipw", outcome].table
    ax.plot(w["event_time"] + 0.25, scale * w["estimate"], "s", color="#c05a00", ms=3,
            label=L["ipw"])
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel(L["month"])
    ax.set_ylabel(L[outcome])
    ax.legend(fontsize=8, loc="upper left")
    return fig


for outcome, scale in (("employed", 100.0), ("earnings", 1.0)):
    fig = plot_event_study(outcome, scale)
    rec.figure(f"event_study_{outcome}", fig, title=f"Event study: effect on {outcome} by "
               "month since start",
               alt=ALT["alt_event_study"].format(outcome=ALT[f"alt_outcome_{outcome}"],
                                                 leads=timing["leads"], lags=timing["lags"]),
               made_by="evaluation.estimate.dynamics.event_study")
    plt.show()

# %% [markdown]
# ## 2. Staggered difference-in-differences (Callaway & Sant'Anna 2021)
# Cohorts are the mentored persons' start periods. The comparison for each cohort is chosen by
# `timing.control`; by default never-mentored persons whose eligibility (pseudo start) falls in
# the same period, so that both groups pass registration at the same time. The outcome
# regression uses the design covariates; the doubly robust version adds a propensity score
# (by default on the design stage's propensity logit, one index, since cohorts are small).

# %%
UNIT = "q" if timing["cohort"] == "quarter" else "m"
div = 3 if UNIT == "q" else 1
# on the design stage's comparison subsample (the whole pool unless it is larger than
# design.subsample_comparison)
in_sub = persons.loc[persons["in_subsample"]].reset_index(drop=True)
periods = st.period_panel(
    panel.loc[panel["person_id"].isin(in_sub["person_id"]),
              ["person_id", "month", "employed", "earnings"]], unit=timing["cohort"])
start_m = month_index(in_sub["start_month"]).to_numpy(dtype=np.int64)
dm = design_matrix(in_sub, design["covariates"]).frame.add_prefix("x_")
cs_persons = pd.concat([in_sub[["person_id", "treated", "logit"]], dm], axis=1).assign(
    start_period=start_m // div)
x_cols = list(dm.columns)
z_cols = ["logit"] if timing["dr_propensity"] == "design_score" else None
cohort_label = (lambda p: quarter_label([p * 3])[0]) if UNIT == "q" else (
    lambda p: month_label([p])[0])
size = cs_persons.loc[cs_persons["treated"] == 1, "start_period"].value_counts()
CS_ESTIMAND = {
    "rel": "ATT e periods after the start period, cohorts weighted by size (Callaway & "
           "Sant'Anna 2021 event-time aggregation)",
    "cohort": "ATT of one start cohort, averaged over its periods from start on",
    "overall": "overall ATT: cohort ATTs averaged with cohort shares (Callaway & Sant'Anna "
               "2021 group aggregation)",
}
cs, cs_rows = {}, []
for outcome in ("employed", "earnings"):
    cp = st.cohort_panel(periods, cs_persons, outcome=outcome, covariates=x_cols,
                         propensity_covariates=z_cols)
    for method in ("dr", "or"):
        gt = st.att_gt(cp, method=method, control=timing["control"],
                       pre=timing["pre_periods"], post=timing["post_periods"])
        ev, co = st.aggregate_event_time(gt), st.aggregate_cohort(gt)
        boot = dy.multiplier_bootstrap(ev.influence, stream(seed, f"cs_{method}_{outcome}"),
                                       draws=timing["bootstrap_draws"], level=LEVEL)
        cs[outcome, method] = (gt, ev, co, boot)
        common = {"estimator": f"cs_{method}", "n_control": int(gt.table["n_control"].max()),
                  "se_method": "influence function (analytic)", "level": LEVEL,
                  "spec": {"control": timing["control"], "cohort": timing["cohort"],
                           "dr_propensity": timing["dr_propensity"]}}
        n_tr = int((cp.cohort >= 0).sum())
        for r in ev.table.itertuples():
            cs_rows.append(EffectResult.from_normal(
                estimate=r.att, se=r.se, outcome=f"{outcome}_{UNIT}_rel{r.key}",
                estimand=CS_ESTIMAND["rel"], n_treated=n_tr, **common))
        for r in co.table.itertuples():
            if r.key == "overall":
                cs_rows.append(EffectResult.from_normal(
                    estimate=r.att, se=r.se, outcome=f"{outcome}_{UNIT}_overall",
                    estimand=CS_ESTIMAND["overall"], n_treated=n_tr, **common))
            elif size.get(r.key, 0) >= K:
                cs_rows.append(EffectResult.from_normal(
                    estimate=r.att, se=r.se, outcome=f"{outcome}_{UNIT}_cohort{cohort_label(r.key)}",
                    estimand=CS_ESTIMAND["cohort"], n_treated=int(size[r.key]), **common))
        rec.number(f"cs_{method}_{outcome}_band", {
            "critical_value": boot.critical_value, "draws": boot.draws,
            "n_cells": int(len(gt.table)), "n_cells_failed": len(gt.failed)}, title=f"Staggered DiD ({method}, {outcome}): uniform "
            "band critical value", made_by="evaluation.estimate.dynamics.multiplier_bootstrap")
rec.effects(cs_rows, made_by="evaluation.estimate.staggered.att_gt")
cs_table = pd.concat(
    {f"{method}_{outcome}": v[1].table.set_index("key")[["att", "se"]].assign(
        band_se=v[3].se, critical_value=v[3].critical_value)
     for (outcome, method), v in cs.items()}, axis=1)
cs_table.columns = [f"{a}_{b}" for a, b in cs_table.columns]
cs_table.index.name = "event_time"
rec.table("staggered_event_time", cs_table.round(6), title="Staggered DiD (Callaway–Sant'Anna) "
          "by period since start: ATT, analytic and bootstrap SE, uniform critical value",
          made_by="evaluation.estimate.staggered.aggregate_event_time")
rec.number("cs_unit", UNIT, title="Period of the staggered DiD (q quarter, m month)",
           made_by="params: timing.cohort")
rec.number("cs_control", timing["control"], title="Comparison group of the staggered DiD",
           made_by="params: timing.control")
rec.count("cs_n_cohorts", int(len(size)), title="Start cohorts in the staggered DiD",
          made_by="evaluation.estimate.staggered.att_gt")
# a cohort's own estimate resting on fewer than K mentored is withheld (it still enters the
# event-time and overall aggregates, which rest on all cohorts)
rec.number("cs_cohorts_withheld", {"cohorts": sorted(cohort_label(g) for g in size.index
                                                    if size[g] < K), "min_cell": K},
           title=f"Start cohorts with fewer than {K} mentored (own estimate withheld)",
           made_by="evaluation.estimate.staggered.att_gt")
pd.DataFrame([r.to_dict() for r in cs_rows])[["outcome", "estimator", "estimate", "se"]].head(12)

# %% [markdown]
# ### Two-way fixed effects beside it
# The TWFE regression of the outcome on person and period effects and a "started" indicator,
# on the same periods, and the weights it puts on each cohort-period cell (de Chaisemartin &
# D'Haultfœuille 2020): negative weights mean that some effects enter with the wrong sign.

# %%
lo = int(cs_persons.loc[cs_persons.treated == 1, "start_period"].min()) - timing["pre_periods"] - 1
hi = int(cs_persons.loc[cs_persons.treated == 1, "start_period"].max()) + timing["post_periods"]
tw_panel = periods.merge(cs_persons[["person_id", "treated", "start_period"]], on="person_id")
tw_panel["cohort"] = np.where(tw_panel["treated"] == 1, tw_panel["start_period"], -1)
tw_panel = tw_panel.loc[tw_panel["period"].between(lo, hi)]
tw_rows = []
for outcome in ("employed", "earnings"):
    tw = dy.twfe(tw_panel, outcome=outcome)
    tw_rows.append(EffectResult.from_normal(
        estimate=tw.estimate, se=tw.se, level=LEVEL, outcome=f"{outcome}_{UNIT}_overall",
        estimator="twfe", estimand="TWFE coefficient on 'started' (person and period fixed "
        "effects): a weighted average of cohort-period effects", n_treated=tw.n_treated,
        n_control=tw.n_control, se_method="clustered by person (linearmodels PanelOLS)"))
rec.effects(tw_rows, made_by="evaluation.estimate.dynamics.twfe")
wts = dy.twfe_weights(tw_panel, outcome="employed")
neg = wts["weight"] < 0
rec.number("twfe_weights", {"n_cells": int(len(wts)), "n_negative": int(neg.sum()),
                            "sum_negative": float(wts.loc[neg, "weight"].sum())},
           title="TWFE weights on cohort-period cells (employment)",
           made_by="evaluation.estimate.dynamics.twfe_weights")
rec.table("twfe_weights_by_event_time", wts.groupby("event_time")["weight"].agg(["sum", "min"]).rename(
    columns={"sum": "weight", "min": "smallest_cell_weight"}).round(6),
    title="TWFE weights by period since start (employment), summed over cohorts",
    made_by="evaluation.estimate.dynamics.twfe_weights")
wts.groupby("event_time")["weight"].sum().round(3).to_frame().T


# %%
def plot_staggered(outcome: str, scale: float) -> plt.Figure:
    """Event-time ATTs: doubly robust with the uniform band, outcome regression, TWFE."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    _, ev, _, boot = cs[outcome, "dr"]
    e = ev.table["key"].to_numpy(dtype=float)
    att = ev.table["att"].to_numpy()
    se = np.where(np.isfinite(boot.se), boot.se, ev.table["se"].to_numpy())
    ax.fill_between(e, scale * (att - boot.critical_value * se),
                    scale * (att + boot.critical_value * se), color="#1b6ca8", alpha=0.15,
                    label=L["uniform"])
    ax.plot(e, scale * att, "o-", color="#1b6ca8", ms=4, label=L["cs_dr"])
    orr = cs[outcome, "or"][1].table
    ax.plot(orr["key"].astype(float) + 0.15, scale * orr["att"], "s", color="#c05a00", ms=4,
            label=L["cs_or"])
    tw = next(r for r in tw_rows if r.outcome.startswith(outcome))
    ax.axhline(scale * tw.estimate, color="#555555", ls=":", label=L["twfe"])
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
    ax.set_xlabel(L["period"])
    ax.set_ylabel(L["employed"] if outcome == "employed" else L["earnings_q"])
    ax.legend(fontsize=8, loc="upper left")
    return fig


for outcome, scale in (("employed", 100.0), ("earnings", 1.0)):
    fig = plot_staggered(outcome, scale)
    rec.figure(f"staggered_{outcome}", fig, title=f"Staggered DiD: effect on {outcome} by "
               "period since start",
               alt=ALT["alt_staggered"].format(outcome=ALT[f"alt_outcome_{outcome}"]),
               made_by="evaluation.estimate.staggered.aggregate_event_time")
    plt.show()

# %% [markdown]
# ## 3. Time to the first job
# Matched sample (matching weights). Each curve is drawn only through points that rest on at
# least the disclosure threshold of persons with an event since the previous point.

# %%
surv = persons[["person_id", "treated", "match_weight"]].merge(
    outs[["person_id", "months_to_job", "job_found"]], on="person_id", validate="one_to_one")
surv = surv.loc[(surv["match_weight"] > 0) & surv["months_to_job"].notna()]
grid = np.arange(1, int(surv["months_to_job"].max()) + 1)
fig, ax = plt.subplots(figsize=(7, 4))
km_points = {}
for label, flag in (("mentored", 1), ("comparison", 0)):
    g = surv.loc[surv["treated"] == flag]
    km = du.kaplan_meier(g["months_to_job"], g["job_found"], g["match_weight"])
    pts = du.disclosure_steps(km, grid, K)
    km_points[label] = pts
    ax.step(pts["time"], 1 - pts["survival"], where="post", color=style.GROUP_COLOURS[label],
            label=L[label])
ax.set_xlabel(L["month"])
ax.set_ylabel(L["job"])
ax.set_ylim(0, 1)
ax.legend()
rec.figure("time_to_job", fig, title="Share who found a first job, by months since start",
           alt=ALT["alt_time_to_job"],
           made_by="evaluation.estimate.duration.kaplan_meier")
plt.show()
# the published step curve read at the months of the report table (a share is shown only
# where the curve has a point at or before it other than the start)
months = [m for m in (3, 6, 12, 24) if m <= grid.max()]
at = {"months": months}
for label, pts in km_points.items():
    at[label] = {str(m): (float(1 - pts.loc[pts["time"] <= m, "survival"].iloc[-1])
                          if (pts["time"].between(1, m)).any() else None) for m in months}
rec.number("km_job_share", at, title="Share with a first job by month (Kaplan–Meier step "
           "curve as published)", made_by="evaluation.estimate.duration.disclosure_steps")

# %%
cox = du.cox_ph(surv["months_to_job"], surv["job_found"], surv[["treated"]],
                weights=surv["match_weight"])
hr = cox.hazard_ratio(LEVEL).iloc[0]
n_t = int((surv["treated"] == 1).sum())
rec.effects([EffectResult.from_normal(
    estimate=float(cox.params[0]), se=float(cox.se[0]), level=LEVEL, outcome="months_to_job",
    estimator="cox_matched", estimand="log hazard ratio of finding a first job, mentored vs "
    "matched comparison (Cox proportional hazards, Breslow ties, matching weights)",
    n_treated=n_t, n_control=int(len(surv) - n_t),
    se_method="robust sandwich (Lin & Wei 1989)")], made_by="evaluation.estimate.duration.cox_ph")
rec.number("cox_hazard_ratio", {"hr": hr["hazard_ratio"], "ci_low": hr["ci_low"],
                                "ci_high": hr["ci_high"], "p_value": hr["p_value"]},
           title="Hazard ratio of a first job (Cox, matched sample)",
           made_by="evaluation.estimate.duration.cox_ph")
hr

# %% [markdown]
# The robust sandwich above treats the matching weights as fixed. A bootstrap of the matched
# sets (each mentored person with their matches, exponential weights per set; a comparison
# person's weight recomputed from the sets they serve) lets the weights vary with the sample;
# the interval on the log scale uses its SE (IQR / 1.349 of the draws).

# %%
if estimation["bootstrap"]["draws"] > 0:
    rows = surv.reset_index(drop=True)
    pos = pd.Index(rows["person_id"])
    keep_pairs = set_pairs["treated"].isin(pos) & set_pairs["control"].isin(pos)
    sp = set_pairs.loc[keep_pairs]
    cox_boot = du.cox_matched_set_bootstrap(
        rows["months_to_job"], rows["job_found"], rows[["treated"]],
        (pos.get_indexer(sp["treated"]), pos.get_indexer(sp["control"]), sp["weight"].to_numpy()),
        stream(seed, "cox_matched_sets"), draws=estimation["bootstrap"]["draws"])
    zq = float(stats.norm.ppf(0.5 + LEVEL / 2))
    rec.number("cox_bootstrap", {
        "se_log_hr_robust": float(cox.se[0]), "se_log_hr_bootstrap": cox_boot.se,
        "ci_low": float(np.exp(cox.params[0] - zq * cox_boot.se)),
        "ci_high": float(np.exp(cox.params[0] + zq * cox_boot.se)),
        "p_value": float(2 * stats.norm.sf(abs(cox.params[0]) / cox_boot.se)),
        "draws": int(estimation["bootstrap"]["draws"]), "n_failed": cox_boot.n_failed,
        "method": cox_boot.method},
        title="Hazard ratio of a first job: interval from the bootstrap of matched sets",
        made_by="evaluation.estimate.duration.cox_matched_set_bootstrap")
    print(f"log HR SE: robust {cox.se[0]:.4f}, matched-set bootstrap {cox_boot.se:.4f}")

# %%
rec.save()
print(f"04_timing ran in {time.perf_counter() - started:.1f} s")
