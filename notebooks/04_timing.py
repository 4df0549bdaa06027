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
    "covariates": [
        "age",
        "sex",
        "education",
        "swedish_level",
        "years_in_sweden",
        "origin_region",
        "pre_months_employed_12",
        "pre_earnings_12",
        "pre_employed_m1",
    ],
    "exact": "start_quarter",
}
estimation = {
    "level": 0.95,
    "matching": {
        "neighbours": 4,
        "replace": True,
        "caliper": 0.2,
        "bias_correction": True,
        "se": "ai2006",
    },
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
from pathlib import Path

import pandas as pd

from evaluation.chapters.timing import timing_chapter
from evaluation.estimate import duration as du
from evaluation.estimate import dynamics as dy
from evaluation.estimate import staggered as st
from evaluation.plots import theme
from evaluation.plots import timing as plots
from evaluation.protocol import params_source
from evaluation.results.recorder import Recorder
from evaluation.text import catalogue
from evaluation.text.numbers import level_percent
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "04_timing",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)
T = catalogue(study["language"])
PCT = level_percent(estimation["level"], study["language"])  # the bands' level, as labelled

# %% [markdown]
# ## Data: the monthly panel of the persons the design stage kept
# The persons the design stage kept (trimmed), from the hand-overs of notebooks 01 and 02. The
# matched persons serve the matched event study and the time to the first job; the design
# stage's comparison subsample (the whole pool unless it is larger than
# `design.subsample_comparison`) serves the weighted event study, the staggered DiD and TWFE,
# with the odds weights of sampled comparison persons divided by the sampling fraction. Their
# monthly rows come from notebook 01's hand-over, start months (pseudo starts included) too.
# The design stage's matched sets are matched again on the same trimmed persons (matching is
# deterministic; the weights are checked against the hand-over) for the bootstrap of the Cox
# model below. Everything of this notebook is computed by one call,
# `evaluation.chapters.timing.timing_chapter`; the cells below record and show its parts.

# %%
ch = timing_chapter(
    pd.read_parquet(scratch / "design_data.parquet"),
    pd.read_parquet(scratch / "outcome_data.parquet"),
    pd.read_parquet(scratch / "design.parquet"),
    scratch / "monthly_panel.parquet",
    design=design,
    estimation=estimation,
    timing=timing,
    seed=seed,
    min_cell=disclosure["min_cell"],
)
rec.count(
    "timing_n_persons",
    ch.counts["timing_n_persons"],
    title="Persons in the timing analyses (trimmed)",
    made_by=timing_chapter,
)

# %% [markdown]
# ## 1. Event study
# Month −1 is the reference. Leads (months before start) show whether the mentored were on a
# different path already; lags trace the effect month by month. Each coefficient rests on the
# persons of its sample observed in that month; one resting on fewer persons than the
# disclosure threshold is withheld.
#
# The weighted sample's odds weights are estimated: a weighted bootstrap refits the propensity
# model in every draw and recomputes the weights, and the coefficients follow to first order
# (`evaluation.estimate.dynamics.odds_weight_bootstrap`). Its SEs go beside the clustered ones
# in the event-study table.

# %%
rec.effects(ch.event_effects, made_by=dy.event_study)
for key, tests in ch.event_tests.items():
    rec.number(
        f"es_{key}",
        tests,
        title=f"Event study ({key.replace('_', ', ')}): pre-trend test and sup-t critical value",
        made_by=dy.pretrend_test,
        reveals=ch.number_facts[f"es_{key}"],
    )
for outcome, boot in ch.event_bootstrap.items():
    rec.number(
        f"es_ipw_{outcome}_bootstrap",
        boot,
        title=f"Weighted event study ({outcome}): "
        "bootstrap SEs with the weights re-estimated, relative to the clustered SEs",
        made_by=dy.event_study_weight_bootstrap,
        reveals=ch.number_facts[f"es_ipw_{outcome}_bootstrap"],
    )
rec.number(
    "es_window",
    ch.window,
    title="Event-study window (months)",
    made_by=params_source("timing.leads", "timing.lags"),
)
rec.number(
    "es_months_shown",
    ch.months_shown,
    title="Event-study months tabulated in the report",
    made_by=params_source("timing.lags"),
)
rec.table(
    "event_study",
    ch.event_study,
    title="Event-study coefficients by month since start "
    "(matched and weighted samples; employment and monthly earnings), pointwise and "
    "uniform bands",
    made_by=dy.event_study,
)
rec.show("event_study")

# %%
rec.plot(
    "event_study_employed",
    plots.event_study,
    "event_study",
    title="Event study: effect on employed by month since start",
    alt=T.format(
        "figure.alt_event_study",
        outcome=T["figure.alt_outcome_employed"],
        pct=PCT,
        leads=timing["leads"],
        lags=timing["lags"],
    ),
    outcome="employed",
    currency=study["currency"],
    level=estimation["level"],
)
rec.show("event_study_employed")

# %%
rec.plot(
    "event_study_earnings",
    plots.event_study,
    "event_study",
    title="Event study: effect on earnings by month since start",
    alt=T.format(
        "figure.alt_event_study",
        outcome=T["figure.alt_outcome_earnings"],
        pct=PCT,
        leads=timing["leads"],
        lags=timing["lags"],
    ),
    outcome="earnings",
    currency=study["currency"],
    level=estimation["level"],
)
rec.show("event_study_earnings")

# %% [markdown]
# ## 2. Staggered difference-in-differences (Callaway & Sant'Anna 2021)
# Cohorts are the mentored persons' start periods. The comparison for each cohort is chosen by
# `timing.control`; by default never-mentored persons whose eligibility (pseudo start) falls in
# the same period, so that both groups pass registration at the same time. The outcome
# regression uses the design covariates; the doubly robust version adds a propensity score
# (by default on the design stage's propensity logit, one index, since cohorts are small).
# Effects are aggregated to period since start, to cohort and to one overall ATT; a cohort's
# own estimate resting on fewer mentored than the disclosure threshold is withheld (it still
# enters the aggregates, which rest on all cohorts).

# %%
rec.effects(ch.staggered_effects, made_by=st.att_gt)
for key, band in ch.staggered_bands_stats.items():
    rec.number(
        f"cs_{key}_band",
        band,
        title=f"Staggered DiD ({key.replace('_', ', ')}): uniform band critical value",
        made_by=dy.multiplier_bootstrap,
        reveals=ch.number_facts[f"cs_{key}_band"],
    )
rec.table(
    "staggered_event_time",
    ch.staggered,
    title="Staggered DiD (Callaway–Sant'Anna) by "
    "period since start: ATT, analytic and bootstrap SE, uniform critical value",
    made_by=st.aggregate_event_time,
)
rec.number(
    "cs_unit",
    ch.unit,
    title="Period of the staggered DiD (q quarter, m month)",
    made_by=params_source("timing.cohort"),
)
rec.number(
    "cs_control",
    timing["control"],
    title="Comparison group of the staggered DiD",
    made_by=params_source("timing.control"),
)
rec.count(
    "cs_n_cohorts", ch.n_cohorts, title="Start cohorts in the staggered DiD", made_by=st.att_gt
)
rec.number(
    "cs_cohorts_withheld",
    ch.cohorts_withheld,
    title=f"Start cohorts with fewer than "
    f"{disclosure['min_cell']} mentored (own estimate withheld)",
    made_by=timing_chapter,
)
rec.show("staggered_event_time")

# %% [markdown]
# ### Two-way fixed effects beside it
# The TWFE regression of the outcome on person and period effects and a "started" indicator,
# on the same periods, and the weights it puts on each cohort-period cell (de Chaisemartin &
# D'Haultfœuille 2020): negative weights mean that some effects enter with the wrong sign.

# %%
rec.effects(ch.twfe_effects, made_by=dy.twfe)
rec.number(
    "twfe_weights",
    ch.twfe_weights,
    title="TWFE weights on cohort-period cells (employment)",
    made_by=dy.twfe_weights,
    reveals=ch.number_facts["twfe_weights"],
)
rec.table(
    "twfe_weights_by_event_time",
    ch.twfe_weights_by_event_time,
    title="TWFE weights by period since start (employment), summed over cohorts",
    made_by=dy.twfe_weights,
)
rec.show("twfe_weights_by_event_time")

# %% [markdown]
# The figures draw, by period since start, the doubly robust ATT with its uniform band, the
# outcome-regression ATT and the TWFE estimate, from the table below them.

# %%
rec.table(
    "staggered_bands",
    ch.staggered_bands,
    title="Staggered DiD by period since start "
    "as drawn: doubly robust ATT with its uniform band, outcome-regression ATT, TWFE",
    made_by=timing_chapter,
)
rec.plot(
    "staggered_employed",
    plots.staggered,
    "staggered_bands",
    title="Staggered DiD: effect on employed by period since start",
    alt=T.format("figure.alt_staggered", outcome=T["figure.alt_outcome_employed"], pct=PCT),
    outcome="employed",
    currency=study["currency"],
    level=estimation["level"],
)
rec.show("staggered_employed")

# %%
rec.plot(
    "staggered_earnings",
    plots.staggered,
    "staggered_bands",
    title="Staggered DiD: effect on earnings by period since start",
    alt=T.format("figure.alt_staggered", outcome=T["figure.alt_outcome_earnings"], pct=PCT),
    outcome="earnings",
    currency=study["currency"],
    level=estimation["level"],
)
rec.show("staggered_earnings")

# %% [markdown]
# ## 3. Time to the first job
# Matched sample (matching weights): weighted Kaplan–Meier curves of the share who found a first
# job. Each curve is published only through points at least the disclosure threshold of events
# apart, with at least that many persons still at risk and still without a job
# (`evaluation.estimate.duration.disclosure_steps`); the figure is drawn from the table of those
# points, and the report reads the curves at a few months off the same points.

# %%
rec.table(
    "time_to_job_steps",
    ch.job_steps,
    title="Share who found a first job by month "
    "since start: the published points of the Kaplan–Meier step curves",
    made_by=du.disclosure_steps,
)
rec.plot(
    "time_to_job",
    plots.time_to_job,
    "time_to_job_steps",
    title="Share who found a first job, by months since start",
    alt=T["figure.alt_time_to_job"],
)
rec.number(
    "km_job_share",
    ch.km_job_share,
    title="Share with a first job by month (Kaplan–Meier step curve as published)",
    made_by=du.disclosure_steps,
    reveals=ch.number_facts["km_job_share"],
)
rec.show("time_to_job")

# %% [markdown]
# A Cox model of the hazard of a first job, mentored against the matched comparison (Breslow
# ties, matching weights, robust sandwich SE).

# %%
rec.effects([ch.cox_effect], made_by=du.cox_ph)
rec.number(
    "cox_hazard_ratio",
    ch.cox_hazard_ratio,
    title="Hazard ratio of a first job (Cox, matched sample)",
    made_by=du.cox_ph,
    reveals=ch.number_facts["cox_hazard_ratio"],
)
rec.show("cox_hazard_ratio")

# %% [markdown]
# The robust sandwich above treats the matching weights as fixed. A bootstrap of the matched
# sets (each mentored person with their matches, exponential weights per set; a comparison
# person's weight recomputed from the sets they serve) lets the weights vary with the sample;
# the interval on the log scale uses its SE (IQR / 1.349 of the draws). It is left out when
# `estimation.bootstrap.draws` is 0.

# %%
if ch.cox_bootstrap is not None:
    rec.number(
        "cox_bootstrap",
        ch.cox_bootstrap,
        title="Hazard ratio of a first job: interval from the bootstrap of matched sets",
        made_by=du.cox_matched_set_bootstrap,
        reveals=ch.number_facts["cox_bootstrap"],
    )
    rec.show("cox_bootstrap")

# %%
ch.to_frame()

# %%
rec.save()
