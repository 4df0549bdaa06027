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
# # Pooling the partner sites: one answer across sites, and where they differ
#
# Each partner site keeps its participants and register extracts; what it sends is a small,
# disclosure-checked bundle of aggregates made by `evaluation export` from its own study run.
# This notebook checks that the bundles are comparable (same outcome definitions, horizons,
# estimand and study version), converts money to one currency and price year, and combines
# the site effects by inverse-variance meta-analysis: the fixed-effect (common-effect)
# estimate, the random-effects estimate with the Hartung-Knapp adjustment (few sites), the
# heterogeneity statistics (Q, I², tau², prediction interval), a forest plot and the estimate
# without each site in turn.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {
    "name": "BottomUp Integration across partner sites",
    "site": "Three partner sites (synthetic data)",
    "country": "EU",
    "currency": "EUR",
    "language": "en",
    "synthetic": True,
}
sites = [
    {
        "key": "goteborg",
        "bundle": "../../outputs/bundles/goteborg.json",
        "truth": "../../data/synthetic-sites/goteborg/truth.json",
    },
    {
        "key": "lodz",
        "bundle": "../../outputs/bundles/lodz.json",
        "truth": "../../data/synthetic-sites/lodz/truth.json",
    },
    {
        "key": "porto",
        "bundle": "../../outputs/bundles/porto.json",
        "truth": "../../data/synthetic-sites/porto/truth.json",
    },
]
pooling = {
    "estimator": "matching",
    "outcomes": ["employed_m12", "months_employed_12", "earnings_12"],
    "tau2_method": "paule_mandel",
    "level": 0.95,
}
currency = {
    "target": "EUR",
    "price_year": 2019,
    "exchange_rates": {"SEK": 0.0944367, "PLN": 0.2326880, "EUR": 1.0},
    "price_index": {},
}
headline = {"estimator": "matching", "outcome": "employed_m12", "subgroup": "pooled"}
disclosure = {"min_cell": 5}
run_dir = "../../outputs/dev-pooling"
scratch_dir = "../../params/benchmarks/.evaluation-work/scratch/dev-pooling"

# %%
import matplotlib.pyplot as plt
import pandas as pd

from evaluation.config import PoolingParams
from evaluation.plots import theme as style
from evaluation.pooling import figures
from evaluation.pooling.pool import load_sites, pool_outcome, size_weighted_truth
from evaluation.pooling.report import (
    effect_results,
    leave_one_out_table,
    pooled_number,
    site_table,
    tau2_table,
)
from evaluation.report.labels import labels
from evaluation.results.recorder import Recorder
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
style.apply()
params = PoolingParams.model_validate(
    {
        "kind": "pooling",
        "seed": seed,
        "study": study,
        "sites": sites,
        "pooling": pooling,
        "currency": currency,
        "headline": headline,
        "disclosure": disclosure,
    }
)
rec = Recorder(run_dir, "pooling", min_cell=disclosure["min_cell"])

# %% [markdown]
# ## The sites and their bundles
#
# Every bundle is checked again here (schema, identifiers, small counts) and the sites
# against each other; a bundle that fails stops the run with a message naming its file,
# site and field.

# %%
site_bundles = load_sites(params)
sites_frame = site_table(site_bundles)
rec.table(
    "pool_sites",
    sites_frame,
    title="Partner sites: size, currency and balance",
    made_by="evaluation.pooling.report.site_table",
)
rec.number(
    "pool_k",
    len(site_bundles),
    title="Number of sites pooled",
    made_by="evaluation.pooling.pool.load_sites",
)
rec.number(
    "pool_settings",
    {
        "estimator": params.pooling.estimator,
        "tau2_method": params.pooling.tau2_method,
        "level": params.pooling.level,
        "target": params.currency.target,
        "price_year": params.currency.price_year,
        "study_version": site_bundles[0].bundle.study_version,
        "horizons": site_bundles[0].bundle.outcome_definitions.horizons,
    },
    title="Pooling settings",
    made_by="params: pooling, currency",
)
sites_frame

# %% [markdown]
# ## Pooled estimates by outcome

# %%
pooled = {o: pool_outcome(site_bundles, o, params) for o in params.pooling.outcomes}
effects = []
for outcome, po in pooled.items():
    effects += effect_results(po, params.pooling.estimator)
    rec.number(
        f"pool_{outcome}",
        pooled_number(po),
        title=f"Pooled estimates of {outcome}",
        made_by="evaluation.pooling.meta.meta_analysis",
    )
rec.effects(effects, made_by="evaluation.pooling.meta.meta_analysis")
summary = pd.DataFrame(
    [
        {
            "outcome": o,
            "fixed": p.result.fixed.estimate,
            "random_hk": p.result.random_hk.estimate,
            "ci_low": p.result.random_hk.ci_low,
            "ci_high": p.result.random_hk.ci_high,
            "i2": p.result.heterogeneity.i2,
            "tau2": p.result.random.tau2,
        }
        for o, p in pooled.items()
    ]
)
summary

# %% [markdown]
# ## tau² by method, and leave one site out (headline outcome)

# %%
head = pooled[params.headline.outcome]
rec.table(
    "pool_tau2",
    tau2_table(head),
    title="Between-site variance by estimator",
    made_by="evaluation.pooling.meta.meta_analysis",
)
for outcome, po in pooled.items():
    if po.leave_one_out:
        rec.table(
            f"pool_loo_{outcome}",
            leave_one_out_table(po),
            title=f"Leave one site out: {outcome}",
            made_by="evaluation.pooling.meta.leave_one_out",
        )
    else:
        rec.skipped(f"pool_loo_{outcome}", "fewer than three sites")
tau2_table(head)

# %% [markdown]
# ## Forest plots

# %%
for outcome, po in pooled.items():
    fig = figures.forest_plot(po, params.currency.target, study["language"])
    rec.figure(
        f"pool_forest_{outcome}",
        fig,
        title=f"Forest plot: {outcome}",
        alt=labels(study["language"])["alt_pool_forest"].format(outcome=outcome),
        made_by="evaluation.pooling.figures.forest_plot",
    )
    plt.show()

# %% [markdown]
# ## Synthetic demonstration: the known answer
#
# The generator knows each site's true effect (ATT over its mentored). The pooled estimate
# should be close to their mean weighted by the number of mentored, and its interval should
# cover it.

# %%
for outcome, po in pooled.items():
    factors = dict(zip(po.sites["key"], po.sites["factor"], strict=True))
    truth = size_weighted_truth(params, outcome, factors)
    if truth is None:
        rec.skipped(
            f"pool_truth_{outcome}",
            "no true effects known (real sites, or truth files without this outcome)",
        )
        continue
    hk = po.result.random_hk
    truth["covered"] = bool(hk.ci_low <= truth["size_weighted"] <= hk.ci_high)
    truth["error"] = hk.estimate - truth["size_weighted"]
    rec.number(
        f"pool_truth_{outcome}",
        truth,
        title=f"True effects of the synthetic sites: {outcome}",
        made_by="evaluation.pooling.pool.size_weighted_truth",
    )
    print(outcome, truth)

# %%
rec.save()
