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
# # 03 Effects: the average effect of mentoring on the mentored (ATT)
#
# Every estimator named in the parameters, on every outcome and horizon, on the sample the
# design stage kept (notebook 02). The naive difference is shown beside the adjusted
# estimators so the size of the selection bias can be seen. Matching uses the Abadie–Imbens
# (2006) standard error (`estimation.matching.se`; the 2016 version, which accounts for the
# propensity score being estimated, is offered but its intervals undercover badly at about
# fifty mentored, `bench/inference_study.py`; the bootstrap is not valid for matching); weighting and doubly robust
# estimators use sandwich standard errors that account for the estimated propensity score;
# the headline estimate also gets a randomisation test whose assignment mechanism is the
# propensity score.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en"}
outcomes = {"horizons": [6, 12, 24]}
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
    "permutation_draws": 999,
    "bootstrap": {"draws": 999, "use_when_ratio_above": 1.05, "weights": "exponential"},
    "subgroups": ["sex", "education", "swedish_level"],
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import pandas as pd

from evaluation.chapters.effects import effects_chapter
from evaluation.estimate import effects as fx
from evaluation.estimate import esf
from evaluation.estimate.multiplicity import romano_wolf
from evaluation.estimate.subgroups import subgroup_effects
from evaluation.plots import effects as plots
from evaluation.plots import theme
from evaluation.results.recorder import Recorder
from evaluation.rng import stream
from evaluation.text import catalogue
from evaluation.text.numbers import level_percent
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "03_effects",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)
ALT = catalogue(study["language"]).section("figure")
PCT = level_percent(estimation["level"], study["language"])  # the intervals' level, as labelled

# %%
ch = effects_chapter(
    pd.read_parquet(scratch / "design_data.parquet"),
    pd.read_parquet(scratch / "outcome_data.parquet"),
    pd.read_parquet(scratch / "design.parquet"),
    pd.read_parquet(scratch / "monthly_panel.parquet", columns=["person_id", "month", "employed"]),
    outcomes=outcomes,
    design=design,
    estimation=estimation,
    min_cell=disclosure["min_cell"],
    bootstrap_rng=stream(seed, "weighted_bootstrap"),
    permutation_rng=stream(seed, "permutation"),
)
for name, why in ch.skipped.items():
    rec.skipped(name, why)

# %% [markdown]
# ## All estimators, all outcomes
# IPW and AIPW also get a weighted bootstrap that refits the propensity (and outcome) model in
# every draw, beside the sandwich SE; it is shown instead of the sandwich when larger by more
# than `estimation.bootstrap.use_when_ratio_above` (each result's spec keeps both). Its person
# weights are shared by all outcomes: the joint draws of the multiplicity adjustment below.
# Sample sizes are shown in the report and in `results.json` as published: one may still be
# hidden when the run checks every published number together (the disclosure audit).

# %%
rec.effects(ch.results, made_by=fx.estimate_study)
rec.table(
    "effects",
    ch.effects,
    title="Estimated effects (ATT) by outcome and estimator",
    made_by=fx.effects_table,
)
rec.number(
    "se_methods",
    ch.se_methods,
    title="How each estimator's standard error was obtained (headline outcome)",
    made_by=fx.se_labels,
)
rec.number(
    "weighted_bootstrap",
    ch.bootstrap,
    title="Weighted bootstrap of IPW and AIPW "
    "(propensity refitted per draw): settings and how many SEs it replaced",
    made_by=fx.bootstrap_study,
)
rec.show("effects")

# %% [markdown]
# ## Pre-registered subgroups
# The headline estimator on the headline outcome within each level of every variable of
# `estimation.subgroups`, fitted on that level's persons alone (their estimates are among the
# effects above, subgroup `variable=level`); a level with fewer than `disclosure.min_cell`
# persons in a group is not estimated. Cochran's Q tests that the effect is the same in every
# level of a variable; the p-values are Holm-adjusted over the variables
# (`evaluation.estimate.subgroups`).

# %%
rec.table(
    "subgroup_tests",
    ch.subgroup_tests,
    title="Does the effect differ between subgroups? Cochran's Q per variable, Holm-adjusted",
    made_by=subgroup_effects,
)
rec.show("subgroup_tests")

# %% [markdown]
# ## The ESF result indicators, by sex
# The European Social Fund counts participants in employment, self-employment included, **upon
# leaving** (common immediate result indicator) and **six months after leaving** (common
# longer-term result indicator), all broken down by gender: Regulation (EU) No 1304/2013, Annex
# I; the Commission's guidance takes "upon leaving" as the four weeks after leaving. On monthly
# data with `end_month` the last month in mentoring, they are being employed in the month after
# `end_month` and in month `end_month + 6`. "Employed six months after start" is a different,
# ordinary outcome of the study (often read while mentoring still goes on).
#
# First the indicators as ESF counts them: the mentored persons who left and whose month is
# observed, and those of them in work. Then the effect of mentoring on them (naive difference
# and the headline estimator, all and by sex). A comparison person has no leaving date: each is
# read as many months after their (pseudo) start as the nearest mentored person on the
# propensity score in the same start quarter took to leave, plus one or six months
# (`evaluation.estimate.esf`). Women and men are estimated apart, each with its own design; the
# women-men difference of two independent estimates has the SE sqrt(se_w^2 + se_m^2). A site
# without `end_month` has no leavers: the indicators are then not computed (each exhibit below
# shows why), and the report says why.

# %%
rec.number(
    "esf_outcome",
    ch.esf_outcome,
    title="Outcome of the ESF longer-term result indicator (employed six months after leaving)",
    made_by=esf.build_leaving_outcomes,
)
rec.number(
    "esf_immediate_outcome",
    ch.esf_immediate_outcome,
    title="Outcome of the ESF immediate result indicator (employed upon leaving)",
    made_by=esf.build_leaving_outcomes,
)
rec.number(
    "esf_definition",
    ch.esf_definition,
    title="How the ESF indicators and their counterfactual are defined",
    made_by=esf.counterfactual_leaving,
)
rec.table(
    "esf_indicator",
    ch.esf_indicator,
    title="ESF result indicators: mentored leavers "
    "in work upon leaving and six months after leaving, by sex",
    made_by=esf.indicator_counts,
)
rec.show("esf_indicator")

# %%
rec.effects(ch.esf_results, made_by=esf.estimate_indicators)
rec.table(
    "esf_by_sex",
    ch.esf_by_sex,
    title="Effect on the ESF result indicators, by sex",
    made_by=esf.estimate_indicators,
)
rec.number(
    "esf_sex_difference",
    ch.esf_sex_difference,
    title="ESF indicator: women minus men (headline estimator), with its SE and p-value",
    made_by=fx.sex_difference,
    reveals=ch.esf_difference_facts,
)
rec.show("esf_by_sex")

# %% [markdown]
# ## Many outcomes at once: Romano–Wolf adjusted p-values
# The headline estimator on every outcome and horizon is one family: the chance that any of
# them looks significant by luck is larger than each p-value says. Romano–Wolf step-down
# p-values use the joint bootstrap distribution of the family (the weighted bootstrap above
# for IPW/AIPW; for matching a multiplier bootstrap of the estimator's Abadie-Imbens
# decomposition with the same person weights, since the bootstrap of the matching itself is
# invalid).

# %%
rec.number(
    "multiplicity",
    ch.multiplicity,
    title="Romano-Wolf adjusted p-values of the headline estimator over all outcomes",
    made_by=romano_wolf,
    reveals=ch.multiplicity_facts,
)
rec.table(
    "effects_multiplicity",
    ch.multiplicity_table,
    title="Headline estimator by outcome: bootstrap and Romano-Wolf adjusted p-values",
    made_by=romano_wolf,
)
rec.show("effects_multiplicity")

# %% [markdown]
# ## Randomisation test of the headline estimate
# A conditional randomisation test of the sharp null that mentoring changed no one's outcome.
# Its assignment mechanism is the design's own assumption (selection on observables): each
# person is mentored with the probability the propensity-score model gives them, the number
# mentored in each start quarter held at its observed value (conditional Poisson sampling).
# On every redrawn assignment the whole headline estimator is rerun, propensity model
# included. It is exact only if the propensity model were known; it is estimated, so the
# test's level is shown by simulation (`bench/inference_study.py`), not assumed. On a pool
# larger than `design.subsample_comparison` it runs on the design stage's comparison
# subsample, so `observed` is the estimate on that subsample.

# %%
rec.number(
    "headline_permutation",
    ch.permutation,
    title="Randomisation test of the "
    "headline estimate (assignments redrawn from the propensity score)",
    made_by=fx.randomisation_headline,
    reveals=ch.permutation_facts,
)
rec.show("headline_permutation")

# %% [markdown]
# ## The headline outcome across estimators
# The figure is drawn from the table below it (the estimates of the headline outcome, one row
# per estimator); an estimate withheld by the disclosure audit is drawn empty and marked.

# %%
rec.table(
    "effects_headline",
    ch.headline,
    title="Estimates of the headline outcome by estimator (the forest plot's data)",
    made_by=effects_chapter,
)
rec.plot(
    "effects_forest",
    plots.forest,
    "effects_headline",
    title="Effect on the headline outcome by estimator",
    alt=ALT["alt_effects_forest"].format(pct=PCT),
    outcome=ch.spec.headline_outcome,
    level=estimation["level"],
)
rec.show("effects_forest")

# %%
rec.show("effects_headline")

# %%
rec.save()
