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
    "covariates": ["age", "sex", "education", "swedish_level", "years_in_sweden",
                   "origin_region", "pre_months_employed_12", "pre_earnings_12",
                   "pre_employed_m1"],
    "exact": "start_quarter",
}
estimation = {
    "estimators": ["naive", "regression", "ra", "ipw", "aipw", "matching"],
    "headline": {"estimator": "matching", "outcome": "employed_m12", "subgroup": "all"},
    "matching": {"neighbours": 4, "replace": True, "caliper": 0.2, "bias_correction": True,
                 "se": "ai2006"},
    "level": 0.95,
    "permutation_draws": 999,
    "bootstrap": {"draws": 999, "use_when_ratio_above": 1.05, "weights": "exponential"},
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from evaluation.config import outcome_names
from evaluation.disclosure.differencing import without_sample_sizes
from evaluation.estimate import effects as fx
from evaluation.estimate.results import compare
from evaluation.plots import theme as style
from evaluation.report.labels import labels, outcome_label
from evaluation.results.recorder import Recorder
from evaluation.rng import stream

style.apply()
rec = Recorder(run_dir, "03_effects", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
K = disclosure["min_cell"]

# %%
covs = pd.read_parquet(scratch / "design_data.parquet")
outs = pd.read_parquet(scratch / "outcome_data.parquet")
dsg = pd.read_parquet(scratch / "design.parquet")
data = fx.analysis_sample(covs, outs, dsg)
outcome_list = outcome_names(outcomes["horizons"])
spec = fx.EffectsSpec.from_params(design, estimation)

# %% [markdown]
# ## All estimators, all outcomes

# %%
results = fx.estimate_study(data, outcome_list, spec)
# IPW and AIPW: a weighted bootstrap that refits the propensity (and outcome) model in every
# draw, beside the sandwich SE; shown instead of it when larger by more than
# estimation.bootstrap.use_when_ratio_above (each result's spec keeps both). Its person
# weights are shared by all outcomes: the joint draws of the multiplicity adjustment below.
BOOT = estimation["bootstrap"]
boot = None
if BOOT["draws"] > 0:
    boot = fx.bootstrap_study(data, outcome_list, spec, draws=BOOT["draws"],
                              use_when_ratio_above=BOOT["use_when_ratio_above"],
                              rng=stream(seed, "weighted_bootstrap"), scheme=BOOT["weights"])
    results = fx.apply_bootstrap(results, boot)
    rec.number("weighted_bootstrap", {
        **BOOT, "n_bootstrap_shown": sum(r.spec.get("se_key") == "bootstrap_ps" for r in results),
        "n_checked": sum("se_key" in r.spec for r in results)},
        title="Weighted bootstrap of IPW and AIPW (propensity refitted per draw): settings and "
        "how many SEs it replaced", made_by="evaluation.estimate.effects.bootstrap_study")
rec.effects(results, made_by="evaluation.estimate.effects.estimate_study")
table = fx.effects_table(results)
rec.table("effects", table, title="Estimated effects (ATT) by outcome and estimator",
          made_by="evaluation.estimate.results.compare")
rec.number("se_methods", fx.se_labels(results, spec.headline_outcome),
           title="How each estimator's standard error was obtained (headline outcome)",
           made_by="evaluation.estimate.effects.se_labels")
without_sample_sizes(table)  # sizes: in the report and results.json, after differencing control

# %% [markdown]
# ## The ESF result indicator: employed six months after start, by sex
# The ESF indicator counts persons in employment or self-employment six months after; it is
# shown on its own and split by sex, with the headline estimator.

# %%
esf_outcome = f"employed_m{min(outcomes['horizons'])}"
rec.number("esf_outcome", esf_outcome, title="Outcome of the ESF result indicator",
           made_by="params: outcomes.horizons (the shortest)")
esf = fx.estimate_by_sex(data, esf_outcome, spec, min_cell=K)
rec.effects(esf.results, made_by="evaluation.estimate.effects.estimate_by_sex")
for label, why in esf.withheld.items():
    rec.skipped(f"esf_{label}", why)
# women minus men: the two estimates rest on disjoint persons (each sex has its own design),
# so the SE of the difference is sqrt(se_w^2 + se_m^2); withheld with either group
esf_diff = fx.sex_difference(esf, spec.headline_estimator)
if esf_diff is None:
    rec.skipped("sex_difference_esf", "the women-men difference needs both estimates, and one "
                "is withheld")
else:
    rec.number("esf_sex_difference", esf_diff.to_dict(), title="ESF indicator: women minus men "
               "(headline estimator), with its SE and p-value",
               made_by="evaluation.estimate.effects.sex_difference")
esf_table = fx.effects_table(esf.results)
rec.table("esf_by_sex", esf_table, title=f"ESF indicator ({esf_outcome}) by sex",
          made_by="evaluation.estimate.effects.estimate_by_sex")
without_sample_sizes(esf_table)

# %% [markdown]
# ## Many outcomes at once: Romano–Wolf adjusted p-values
# The headline estimator on every outcome and horizon is one family: the chance that any of
# them looks significant by luck is larger than each p-value says. Romano–Wolf step-down
# p-values use the joint bootstrap distribution of the family (the weighted bootstrap above
# for IPW/AIPW; for matching a multiplier bootstrap of the estimator's Abadie-Imbens
# decomposition with the same person weights, since the bootstrap of the matching itself is
# invalid).

# %%
family = fx.headline_family(data, results, outcome_list, spec, boot) if boot else None
if family is None:
    rec.skipped("multiplicity", f"no joint bootstrap for the headline estimator "
                f"{spec.headline_estimator} (or estimation.bootstrap.draws is 0)")
else:
    rec.number("multiplicity", {
        "estimator": spec.headline_estimator, "method": family.method, "draws": family.draws,
        "outcomes": list(family.table.index),
        "p_romano_wolf": family.table["p_romano_wolf"].to_dict(),
        "p_bootstrap": family.table["p_bootstrap"].to_dict()},
        title="Romano-Wolf adjusted p-values of the headline estimator over all outcomes",
        made_by="evaluation.estimate.multiplicity.romano_wolf")
    rec.table("effects_multiplicity", family.table.round(4), title="Headline estimator by "
              "outcome: bootstrap and Romano-Wolf adjusted p-values",
              made_by="evaluation.estimate.multiplicity.romano_wolf")
family.table.round(3) if family else None

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
perm_data = data.loc[data["in_subsample"]]
if estimation["permutation_draws"] > 0:
    perm = fx.randomisation_headline(perm_data, spec, n_draws=estimation["permutation_draws"],
                                     rng=stream(seed, "permutation"))
    rec.number("headline_permutation", fx.randomisation_record(perm, n_persons=len(perm_data)),
               title="Randomisation test of the headline estimate (assignments redrawn from "
               "the propensity score)", made_by="evaluation.estimate.effects.randomisation_headline")
    display(fx.randomisation_record(perm, n_persons=len(perm_data)))
else:
    rec.skipped("headline_permutation", "estimation.permutation_draws is 0")

# %% [markdown]
# ## The headline outcome across estimators

# %%
fig = fx.forest_plot(results, spec.headline_outcome)
L = labels(study["language"])
fig.axes[0].set_xlabel(
    L["effect_ci"].format(outcome=outcome_label(spec.headline_outcome, study["language"]))
)
fig.axes[0].set_yticklabels([L["est_" + t.get_text()] for t in fig.axes[0].get_yticklabels()])
rec.figure("effects_forest", fig, title="Effect on the headline outcome by estimator",
           alt=L["alt_effects_forest"],
           made_by="evaluation.estimate.effects.forest_plot")
plt.show()

# %%
without_sample_sizes(compare([r for r in results if r.outcome == spec.headline_outcome]))

# %%
rec.save()
