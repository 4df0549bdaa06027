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
# # 06 Robustness: how sure are we?
#
# With about fifty mentored persons the first question is whether the study could have seen
# an effect at all (the minimum detectable effect, ex ante); then whether the estimators find
# "effects" where there can be none (placebo outcomes before the start, and a fake start a
# year early); how strong a hidden confounder (motivation) would have to be to explain the
# headline away (E-value, Rosenbaum bounds); whether the answer hinges on one specification
# (a specification curve, run in parallel). What it cost per additional person in work is
# notebook 07's.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en"}
outcomes = {"horizons": [6, 12, 24], "pre_months": 12}
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
    "trimming": "common_support",
    "balance_threshold": 0.1,
}
estimation = {
    "estimators": ["naive", "regression", "ra", "ipw", "aipw", "ebal", "overlap", "matching"],
    "headline": {"estimator": "matching", "outcome": "employed_m12", "subgroup": "all"},
    "matching": {
        "neighbours": 4,
        "replace": True,
        "caliper": 0.2,
        "bias_correction": True,
        "se": "ai2006",
    },
    "level": 0.95,
}
robustness = {
    "alpha": 0.05,
    "power": 0.8,
    "pre_outcome_months": 6,
    "fake_start_shift": 12,
    "fake_start_horizons": [6, 12],
    "rosenbaum_gamma_max": 3.0,
    "ovb_benchmarks": ["pre_months_employed_12"],
    "ovb_multiples": [1.0, 2.0, 3.0],
    "specifications": None,  # None: the built-in grid; the runner passes the resolved path
    "workers": 2,
    "compare_sequential": False,
}
costs = {"horizon": 12}  # the power at the costs horizon (the costs: notebook 07)
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import pandas as pd

from evaluation.chapters import robustness as chapter
from evaluation.data.io import read_handed_over_panel
from evaluation.plots import robustness as plots
from evaluation.plots import theme
from evaluation.results.recorder import Recorder
from evaluation.robustness import omitted as sens_ovb
from evaluation.robustness import placebo as pl
from evaluation.robustness import power as pw
from evaluation.robustness import sensitivity as sens
from evaluation.robustness import speccurve as sc
from evaluation.text import catalogue
from evaluation.text.numbers import level_percent
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "06_robustness",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)
ALT = catalogue(study["language"]).section("figure")
PCT = level_percent(estimation["level"], study["language"])  # the intervals' level, as labelled

# %% [markdown]
# ## Inputs
# The hand-over of notebooks 01 and 02 (covariates, outcomes, design decisions), the monthly
# rows of the persons the placebo designs and the power analysis need (the design stage's
# comparison subsample and the matched persons). The placebo designs and the specification
# curve, which rerun the design and every estimator many times, use every mentored person and
# the comparison subsample (the whole pool unless it is larger than
# `design.subsample_comparison`). The chapter function runs every analysis below; the
# specification curve prints its progress.

# %%
dsg = pd.read_parquet(scratch / "design.parquet")
ch = chapter.robustness_chapter(
    pd.read_parquet(scratch / "design_data.parquet"),
    pd.read_parquet(scratch / "outcome_data.parquet"),
    dsg,
    read_handed_over_panel(
        scratch / "monthly_panel.parquet",
        dsg.loc[dsg["in_subsample"] | (dsg["match_weight"] > 0), "person_id"],
    ),
    outcomes=outcomes,
    design=design,
    estimation=estimation,
    robustness=robustness,
    costs=costs,
    min_cell=disclosure["min_cell"],
)

# %% [markdown]
# ## Power: the minimum detectable effect, ex ante
# For each horizon h the outcome's standard deviation is taken from the pre-period: the share
# employed in month start − min(h, 12) in the matched sample (mentored and their matches, equal
# weight), before anyone was mentored. The group sizes are the matched mentored and Kish's
# effective number of matched comparison persons (controls reused by several mentored count
# less); no gain from covariate adjustment is assumed (conservative). Power is that of a
# two-sided z-test. The figure is drawn from the table: horizons whose spread comes from the
# same month share a line.

# %%
rec.table(
    "power_mde",
    ch.power_table,
    title="Minimum detectable effect by horizon (ex ante, from the pre-period)",
    made_by=pw.matched_mde,
)
rec.number(
    "power",
    ch.power,
    title="Minimum detectable effect (ex ante) and its inputs",
    made_by=chapter.power_section,
    reveals=ch.facts["power"],
)
rec.plot(
    "power_curve",
    plots.power_curve,
    "power_mde",
    title="Power against the true effect, by horizon",
    alt=ALT["alt_power_curve"],
    alpha=robustness["alpha"],
    target=robustness["power"],
)
rec.show("power_mde")

# %%
rec.show("power_curve")

# %% [markdown]
# ## Placebo tests
# Where the true effect is zero by construction. (1) Pre-period outcomes of the study's own
# sample: employment in month start − m and earnings over the m months before start. They are
# not in the propensity model, but they are parts of its 12-month totals: the test asks whether
# balancing the year also balanced the last months (a pre-programme dip would show here).
# (2) A fake start 12 months early: every start is moved back, the pre-period covariates are
# rebuilt from the year before the fake start, the whole design is rerun, and the outcomes are
# counted from the fake start, all before the real start. This is the stronger test: the
# propensity model never sees these outcomes. Each estimate's sample sizes are those of its own
# design (the fake start matches afresh); persons without a full year of records before the
# fake start are left out and counted.

# %%
rec.effects(ch.placebos, made_by=chapter.placebo_section)
rec.count(
    "placebo_fake_dropped_control",
    ch.counts["placebo_fake_dropped_control"],
    title="Comparison persons without a full year before the fake start (left out)",
    made_by=pl.fake_start_data,
)
rec.count(
    "placebo_fake_dropped_treated",
    ch.counts["placebo_fake_dropped_treated"],
    title="Mentored persons without a full year before the fake start (left out)",
    made_by=pl.fake_start_data,
)
rec.number(
    "placebo_summary",
    ch.placebo_summary,
    title="Placebo estimates (adjusted estimators) whose confidence interval covers zero",
    made_by=chapter.placebo_section,
)
rec.table(
    "placebo_effects",
    ch.placebo_table,
    title="Placebo estimates (true effect zero)",
    made_by=chapter.effects_published,
)
rec.plot(
    "placebo_forest",
    plots.placebo_forest,
    "placebo_effects",
    title="Placebo estimates on employment (true effect zero)",
    alt=ALT["alt_placebo_forest"].format(pct=PCT),
    level=estimation["level"],
)
rec.show("placebo_effects")

# %%
rec.show("placebo_forest")

# %% [markdown]
# ## Sensitivity to hidden confounding
# **E-value** (VanderWeele and Ding 2017) of the headline estimate. The risk difference is
# converted to a risk ratio with the counterfactual share employed of the mentored that the
# (bias-corrected) estimate implies as the baseline: p0 = p1 - ATT, with p1 the share employed
# among the mentored the estimate is about; RR = p1 / p0, p0 held fixed for the limits. An
# estimate that implies a baseline at or beyond 0 or 1 has no risk ratio: the E-value is then
# withheld, with the reason.
# **Rosenbaum bounds** for the matched pairs on the binary outcome: the study matches four
# comparison persons with replacement, so for this test each mentored person is re-matched to
# one comparison person without replacement (greedy, same score, quarter and caliper), giving
# disjoint pairs; the McNemar-type test on discordant pairs is one-sided at (1 − level)/2.
# Both need a 0/1 headline outcome; for another outcome they are skipped, with the reason.

# %%
for name, why in ch.skipped.items():
    rec.skipped(name, why)
if ch.evalue is not None:
    rec.number(
        "evalue",
        ch.evalue,
        title="E-value of the headline estimate and of its confidence limit",
        made_by=sens.evalue_att,
        reveals=ch.facts["evalue"],
    )
    rec.show("evalue")
if ch.rosenbaum is not None:
    rec.count(
        "rosenbaum_pairs",
        ch.counts["rosenbaum_pairs"],
        title="Matched pairs (1:1) for Rosenbaum bounds",
        made_by=sens.matched_pairs,
    )
    rec.count(
        "rosenbaum_discordant",
        ch.counts["rosenbaum_discordant"],
        title="Discordant pairs (one of the two employed)",
        made_by=sens.rosenbaum_binary,
    )
    rec.count(
        "rosenbaum_treated_only",
        ch.counts["rosenbaum_treated_only"],
        title="Discordant pairs in which the mentored person is the employed one",
        made_by=sens.rosenbaum_binary,
    )
    rec.number(
        "rosenbaum",
        ch.rosenbaum,
        title="Rosenbaum bounds: Gamma at which the headline stops being significant",
        made_by=sens.rosenbaum_binary,
        reveals=ch.facts["rosenbaum"],
    )
    rec.table(
        "rosenbaum_curve",
        ch.rosenbaum_curve,
        title="Rosenbaum bounds: upper bound of the one-sided p-value by Gamma",
        made_by=sens.rosenbaum_binary,
    )
    rec.plot(
        "rosenbaum_bounds",
        plots.rosenbaum_bounds,
        "rosenbaum_curve",
        title="Rosenbaum bounds: worst-case p-value by hidden bias",
        alt=ALT["alt_rosenbaum_bounds"],
        alpha=ch.rosenbaum["alpha"],
    )
    rec.show("rosenbaum")
    rec.show("rosenbaum_bounds")

# %% [markdown]
# ## Sensitivity of the regression estimate to an omitted confounder
# **Cinelli and Hazlett (2020)** for the regression estimator (OLS of the headline outcome on
# mentoring and the covariates, with its classical standard error, the one their identities
# hold for): the partial R² of mentoring with the outcome; the robustness value RV (a hidden
# confounder explaining this share of the residual variance of both mentoring and the outcome
# takes the estimate to zero) and RV at the interval's level (it makes the estimate
# insignificant); and bounds for a confounder 1, 2 or 3 times as strong as each benchmark
# covariate (`robustness.ovb_benchmarks`, `ovb_multiples`). The contour plot shows the
# adjusted estimate over the two partial R², with the benchmarks marked. Every value is a
# statistic of the regression's sample.

# %%
rec.number(
    "ovb",
    ch.ovb,
    title="Omitted-confounder sensitivity of the regression estimate (Cinelli-Hazlett)",
    made_by=sens_ovb.omitted_sensitivity,
    reveals=ch.facts["ovb"],
)
rec.table(
    "ovb_bounds",
    ch.ovb_bounds,
    title="Regression estimate with a hidden confounder as strong as a multiple of a covariate",
    made_by=sens_ovb.omitted_sensitivity,
)
rec.table(
    "ovb_grid",
    ch.ovb_contour,
    title="Regression estimate by the strength of a hidden confounder (the contour plot's grid)",
    made_by=sens_ovb.contour,
)
rec.plot(
    "ovb_contour",
    plots.ovb_contour,
    "ovb_grid",
    title="Regression estimate adjusted for a hidden confounder, by its strength",
    alt=ALT["alt_ovb_contour"],
    outcome=ch.ovb["outcome"],
)
rec.show("ovb")
rec.show("ovb_bounds")
rec.show("ovb_contour")

# %% [markdown]
# ## Specification curve
# Every combination of the defensible choices in the grid file (horizon, estimator, covariate
# set, trimming, neighbours and caliper for matching), each designed and estimated from the
# person-level data, in parallel processes (`robustness.workers`); with
# `robustness.compare_sequential` the grid is also run one by one to compare the wall times
# (kept in the run's provenance, not among the results, since they measure the machine).
# Estimates resting on fewer than the disclosure threshold are withheld; every specification's
# group sizes count its own persons, checked by the run's disclosure audit with every other
# published number.

# %%
rec.measured(
    "timing_spec_curve",
    ch.timing,
    title="Specification curve: wall time in parallel and one by one (seconds; "
    "in provenance.measured)",
    made_by=sc.run_grid,
)
rec.number(
    "spec_curve_summary",
    ch.spec_summary,
    title="Specification curve: agreement with the headline",
    made_by=sc.summarise,
    reveals=ch.facts["spec_curve_summary"],
)
rec.table(
    "spec_curve_estimates",
    ch.spec_table,
    title="Specification curve: every specification's estimate",
    made_by=chapter.spec_curve_tables,
)
rec.plot(
    "spec_curve",
    plots.spec_curve,
    "spec_curve_estimates",
    title="Specification curve",
    alt=ALT["alt_spec_curve"].format(pct=PCT),
    alpha=1 - estimation["level"],
)
rec.show("spec_curve_summary")

# %%
rec.show("spec_curve")

# %%
rec.save()
