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
    "covariates": ["age", "sex", "education", "swedish_level", "years_in_sweden",
                   "origin_region", "pre_months_employed_12", "pre_earnings_12",
                   "pre_employed_m1"],
    "exact": "start_quarter",
    "trimming": "common_support",
    "balance_threshold": 0.1,
    "subsample_comparison": 5000,
}
estimation = {
    "matching": {"neighbours": 4, "replace": True, "caliper": 0.2, "bias_correction": True,
                 "se": "ai2006"},
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../outputs/.scratch/dev"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evaluation.data import describe
from evaluation.design import study_design
from evaluation.design.balance import love_plot
from evaluation.design.study import comparison_subsample
from evaluation.report import style
from evaluation.report.exhibits import Recorder
from evaluation.report.labels import labels, term_label
from evaluation.report.labels import number as label_number
from evaluation.rng import stream

style.apply()
rec = Recorder(run_dir, "02_design", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
K = disclosure["min_cell"]
THR = design["balance_threshold"]
L = labels(study["language"])

# %%
frame = pd.read_parquet(scratch / "design_data.parquet")
assert not any(c.startswith(("employed_m", "months_employed_", "earnings_")) for c in frame), (
    "the design stage must not see outcomes"
)
covariates = design["covariates"]
dsg = study_design(frame, covariates=covariates, design=design, matching=estimation["matching"])

# %% [markdown]
# ## The propensity score
# A logit of mentoring on the pre-period covariates named in the parameters, fitted on everyone
# inside common support (for the overlap plot and trimming) and re-fitted on the trimmed sample
# (for matching, weighting and the estimators). The re-fitted model is shown.

# %%
fit = dsg.propensity
coef = pd.DataFrame({"coefficient": fit.params, "se": fit.bse}).round(4)
rec.table("propensity_model", coef, title="Propensity-score model (logit coefficients)",
          made_by="evaluation.design.propensity.fit_propensity")
rec.number("propensity_fit", fit.summary_dict(), title="Propensity model fit statistics",
           made_by="evaluation.design.propensity.fit_propensity")
coef

# %% [markdown]
# ## Overlap and trimming
# Before the model: persons in a category of a covariate that only one group has (for example
# a Swedish level no mentored person has) are outside common support and set aside, counted
# below. Then the rule `common_support` drops comparison persons whose propensity score is below the lowest
# score among the mentored, and mentored persons above the highest comparison score (Dehejia
# and Wahba 1999); `crump` keeps scores in [0.1, 0.9] (Crump et al. 2009); `none` keeps all.

# %%
logit = dsg.propensity_all.linear_predictor
groups = frame.loc[logit.index, "treated"].map({1: "mentored", 0: "comparison"})
edges = list(np.linspace(float(logit.min()) - 1e-9, float(logit.max()), 9))
lang = study["language"]
labels = [L["range"].format(a=label_number(a, lang), b=label_number(b, lang))
          for a, b in zip(edges[:-1], edges[1:], strict=True)]
shares = describe.binned_shares(
    pd.DataFrame({"group": groups, "logit": logit}), "group", "logit", edges, labels, K
)
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.4
for j, label in enumerate(["mentored", "comparison"]):
    x = [i + (j - 0.5) * width for i in range(len(labels))]
    ax.bar(x, shares[label].fillna(0), width=width, label=L[label],
           color=style.GROUP_COLOURS[label])
    for xi, s in zip(x, shares[label], strict=True):
        if pd.isna(s):
            ax.text(xi, 0.01, f"<{K}", ha="center", va="bottom", fontsize=7)
ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
ax.set_xlabel(L["pscore_logit"])
ax.set_ylabel(L["share_of_group"])
ax.legend()
rec.figure("overlap", fig, title="Overlap of the propensity score",
           alt=L["alt_overlap"],
           made_by="evaluation.design.propensity.fit_propensity")
plt.show()

# %%
sup = dsg.support
cat = dsg.category_support
trim = pd.DataFrame(
    {
        "mentored": [int((frame.treated == 1).sum()), cat.n_removed_treated,
                     sup.n_trimmed_treated, int((dsg.sample.treated == 1).sum())],
        "comparison": [int((frame.treated == 0).sum()), cat.n_removed_control,
                       sup.n_trimmed_control, int((dsg.sample.treated == 0).sum())],
    },
    index=pd.Index(["before trimming", "in a category only one group has",
                    "trimmed by the propensity-score rule", "after trimming"], name="step"),
)
rec.table(
    "trimming",
    describe.protect_margined(trim, ["mentored", "comparison"], K, total_row="before trimming"),
    title=f"Trimming rule '{design['trimming']}': persons before and after",
    made_by="evaluation.design.propensity.trim_common_support",
)
rec.table(
    "category_support",
    cat.removed.set_index(["covariate", "level"]).pipe(
        lambda t: describe.protect_margined(t, ["persons"], K)
    ),
    title="Categories that only one group has (outside common support)",
    made_by="evaluation.design.study.category_support",
)
rec.count("n_outside_category_support", cat.n_removed_treated + cat.n_removed_control,
          title="Persons in a category only one group has",
          made_by="evaluation.design.study.category_support")
rec.count("n_trimmed_treated", sup.n_trimmed_treated, title="Mentored persons trimmed",
          made_by="evaluation.design.propensity.trim_common_support")
rec.count("n_trimmed_control", sup.n_trimmed_control, title="Comparison persons trimmed",
          made_by="evaluation.design.propensity.trim_common_support")
rec.number("trimming_rule", design["trimming"], title="Trimming rule",
           made_by="params: design.trimming")

# %% [markdown]
# ## Matching
# Nearest-neighbour matching on the logit of the propensity score within cells of the exact
# variable, with the caliper (in standard deviations of the logit) from the parameters.

# %%
m = dsg.matching
rec.number("matching_neighbours", estimation["matching"]["neighbours"],
           title="Comparison persons matched to each mentored person",
           made_by="params: estimation.matching.neighbours")
rec.count("n_matched", m.n_matched, title="Mentored persons matched",
          made_by="evaluation.design.matching.match_nearest")
rec.count("n_unmatched", m.n_unmatched, title="Mentored persons left unmatched (caliper/cell)",
          made_by="evaluation.design.matching.match_nearest")
# not displayed here: a count may still be hidden when the run merges the results
# (evaluation.report.differencing); the report and results.json show it as published
shown_controls_used = rec.count("n_controls_used", m.n_controls_used,
                                title="Distinct comparison persons used",
                                made_by="evaluation.design.matching.match_nearest")

# %% [markdown]
# ## Balance before and after adjustment
# Standardised mean differences (treated SD as denominator, as cobalt does for the ATT) and
# variance ratios. The target is |SMD| < 0.1. Means are not shown here (the descriptive table of
# notebook 01 has them, with disclosure control), so no small category can be read off.

# %%
bal = dsg.balance_frame()
rec.table("balance", bal.round(3), title="Balance: standardised mean differences and variance "
          "ratios before and after adjustment", made_by="evaluation.design.balance.balance_table")
for key, b in dsg.balance.items():
    rec.number(f"balance_{key}", {"max_abs_smd": b.max_abs_smd, "n_flagged": b.n_flagged,
                                  "n_terms": int(len(b.table)),
                                  "ess_control": b.ess_control},
               title=f"Balance summary ({key})", made_by="evaluation.design.balance.balance_table")
bal.round(3)

# %%
fig = love_plot(dsg.balance["before"], dsg.balance["matched"], threshold=THR,
                labels=(L["before"], L["after_matching"]))
fig.axes[0].set_xlabel(L["smd"])
fig.axes[0].set_yticklabels([term_label(t.get_text(), lang) for t in fig.axes[0].get_yticklabels()])
rec.figure("love_plot", fig, title="Love plot: standardised mean differences",
           alt=L["alt_love_plot"],
           made_by="evaluation.design.balance.love_plot")
plt.show()

# %% [markdown]
# ## Hand-over to the effects notebook (scratch)

# %% [markdown]
# ### The comparison subsample for repeated analyses
# The permutation test, the weighted event study, the staggered DiD, the placebo tests and the
# specification curve are repeated many times or need every person-month. On a register-sized
# pool they use every mentored person and a simple random sample of at most
# `design.subsample_comparison` comparison persons, drawn here once, blind to outcomes
# (`evaluation.design.study.comparison_subsample`). A smaller pool is used whole.

# %%
hand = dsg.hand_over()
sub = comparison_subsample(frame.loc[hand.index, "treated"].to_numpy(),
                           design["subsample_comparison"], stream(seed, "comparison_subsample"))
hand["in_subsample"] = sub.mask
hand["subsample_weight"] = sub.weights(frame.loc[hand.index, "treated"].to_numpy())
rec.number("comparison_subsample", sub.summary(),
           title="Comparison persons in the repeated analyses (subsample of the pool)",
           made_by="evaluation.design.study.comparison_subsample")
hand.to_parquet(scratch / "design.parquet")
rec.save()
