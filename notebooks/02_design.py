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
# # 02 Design: propensity score, overlap, trimming, matching and balance
#
# The design stage comes before any outcome and is blind to them: this notebook reads only the
# covariates (`design_data.parquet`), never the outcome file. It fits the propensity score,
# shows overlap, applies the trimming rule, matches, and shows balance before and after
# adjustment. The effects notebook uses the trimmed sample decided here.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en"}
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
    "subsample_comparison": 5000,
}
estimation = {
    "matching": {
        "neighbours": 4,
        "replace": True,
        "caliper": 0.2,
        "bias_correction": True,
        "se": "ai2006",
    },
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import pandas as pd

from evaluation.chapters.design import design_chapter
from evaluation.design.propensity import fit_propensity
from evaluation.design.study import comparison_subsample
from evaluation.plots import design as plots
from evaluation.plots import theme
from evaluation.protocol import params_source
from evaluation.results.recorder import Recorder
from evaluation.rng import stream
from evaluation.text import catalogue
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "02_design",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)
ALT = catalogue(study["language"]).section("figure")

# %%
frame = pd.read_parquet(scratch / "design_data.parquet")
assert not any(c.startswith(("employed_m", "months_employed_", "earnings_")) for c in frame), (
    "the design stage must not see outcomes"
)
ch = design_chapter(
    frame,
    design=design,
    matching=estimation["matching"],
    rng=stream(seed, "comparison_subsample"),
    min_cell=disclosure["min_cell"],
    language=study["language"],
)

# %% [markdown]
# ## The propensity score
# A logit of mentoring on the pre-period covariates named in the parameters, fitted on everyone
# inside common support (for the overlap plot and trimming) and re-fitted on the trimmed sample
# (for matching, weighting and the estimators). The re-fitted model is shown.

# %%
rec.table(
    "propensity_model",
    ch.propensity,
    title="Propensity-score model (logit coefficients)",
    made_by=fit_propensity,
)
rec.number(
    "propensity_fit",
    ch.fit,
    title="Propensity model fit statistics",
    made_by=design_chapter,
    reveals=ch.fit_facts,
)
rec.show("propensity_model")

# %% [markdown]
# ## Overlap and trimming
# Before the model: persons in a category of a covariate that only one group has (for example
# a Swedish level no mentored person has) are outside common support and set aside, counted
# below. Then the rule `common_support` drops comparison persons whose propensity score is below
# the lowest score among the mentored, and mentored persons above the highest comparison score
# (Dehejia and Wahba 1999); `crump` keeps scores in [0.1, 0.9] (Crump et al. 2009); `none`
# keeps all. The figure is drawn from the table below it: a bin with fewer persons than the
# disclosure threshold shows `<k`, a bin hidden so that it cannot be worked out shows `..`.

# %%
rec.table(
    "overlap_bins",
    ch.overlap,
    title="Overlap: each group's share of persons by bin of the propensity score's logit",
)
rec.plot(
    "overlap",
    plots.group_share_bars,
    "overlap_bins",
    title="Overlap of the propensity score",
    alt=ALT["alt_overlap"],
    axis_label="pscore_logit",
)
rec.show("overlap")

# %%
rec.table(
    "trimming", ch.trimming, title=f"Trimming rule '{design['trimming']}': persons before and after"
)
rec.table(
    "category_support",
    ch.category_support,
    title="Categories that only one group has (outside common support)",
)
rec.count(
    "n_outside_category_support",
    ch.counts["n_outside_category_support"],
    title="Persons in a category only one group has",
    made_by=design_chapter,
)
rec.count(
    "n_trimmed_treated",
    ch.counts["n_trimmed_treated"],
    title="Mentored persons trimmed",
    made_by=design_chapter,
)
rec.count(
    "n_trimmed_control",
    ch.counts["n_trimmed_control"],
    title="Comparison persons trimmed",
    made_by=design_chapter,
)
rec.number(
    "trimming_rule",
    design["trimming"],
    title="Trimming rule",
    made_by=params_source("design.trimming"),
)
rec.show("trimming")

# %% [markdown]
# ## Matching
# Nearest-neighbour matching on the logit of the propensity score within cells of the exact
# variable, with the caliper (in standard deviations of the logit) from the parameters. The
# counts are shown in the report and in `results.json` as published: one may still be hidden
# when the run checks every published number together (the disclosure audit).

# %%
rec.number(
    "matching_neighbours",
    estimation["matching"]["neighbours"],
    title="Comparison persons matched to each mentored person",
    made_by=params_source("estimation.matching.neighbours"),
)
rec.count(
    "n_matched", ch.counts["n_matched"], title="Mentored persons matched", made_by=design_chapter
)
rec.count(
    "n_unmatched",
    ch.counts["n_unmatched"],
    title="Mentored persons left unmatched (caliper/cell)",
    made_by=design_chapter,
)
rec.count(
    "n_controls_used",
    ch.counts["n_controls_used"],
    title="Distinct comparison persons used",
    made_by=design_chapter,
)

# %% [markdown]
# ## Balance before and after adjustment
# Standardised mean differences (treated SD as denominator, as cobalt does for the ATT) and
# variance ratios. The target is |SMD| < `design.balance_threshold`. Means are not shown here
# (the descriptive table of notebook 01 has them, with disclosure control); the SMD of a 0/1
# term gives away how many persons have it, so it is checked with every other published number
# by the run's disclosure audit.

# %%
rec.table(
    "balance",
    ch.balance,
    title="Balance: standardised mean differences and variance ratios before and after adjustment",
)
for name, summary in ch.balance_summaries.items():
    rec.number(
        f"balance_{name}",
        summary,
        title=f"Balance summary ({name})",
        made_by=design_chapter,
        reveals=ch.summary_facts[name],
    )
rec.plot(
    "love_plot",
    plots.love_plot,
    "balance",
    title="Love plot: standardised mean differences",
    alt=ALT["alt_love_plot"],
    threshold=design["balance_threshold"],
)
rec.show("balance")

# %%
rec.show("love_plot")

# %% [markdown]
# ## The comparison subsample for repeated analyses
# The randomisation test, the weighted event study, the staggered DiD, the placebo tests and the
# specification curve are repeated many times or need every person-month. On a register-sized
# pool they use every mentored person and a simple random sample of at most
# `design.subsample_comparison` comparison persons, drawn here once, blind to outcomes
# (`evaluation.design.study.comparison_subsample`). A smaller pool is used whole.

# %%
rec.number(
    "comparison_subsample",
    ch.subsample.summary(),
    title="Comparison persons in the repeated analyses (subsample of the pool)",
    made_by=comparison_subsample,
    reveals=ch.subsample_facts,
)
ch.to_frame()

# %% [markdown]
# ## Hand-over to the effects notebook (scratch, outside the run folder)

# %%
ch.hand_over.to_parquet(scratch / "design.parquet")
rec.save()
