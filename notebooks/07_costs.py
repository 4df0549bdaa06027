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
# # 07 Costs: was it worth it?
#
# What the programme cost per participant and per additional person in work, and the effect
# at which it would pay for itself. A notebook of its own so that a change of a cost assumption
# executes this notebook alone (`evaluation.chapters.costs`).

# %%
# %matplotlib inline

# %% tags=["parameters"]
study = {"language": "en"}
data = {"participants": "../data/synthetic/participants.csv"}
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
from pathlib import Path

import pandas as pd

from evaluation.chapters import costs as chapter
from evaluation.data.io import read_table
from evaluation.results.recorder import Recorder
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
rec = Recorder(
    run_dir,
    "07_costs",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)

# %% [markdown]
# ## Costs
# Cost per participant from the budget; cost per additional person in work at the costs
# horizon with an interval from the effect's confidence interval (unbounded when it includes
# zero, undefined when the estimate is not positive); the break-even effect under the stated
# assumptions (parameters `costs.*`). The effect is the headline estimator's on employment at
# the costs horizon, on the design stage's sample (the number notebook 03 reports). The persons
# served are the mentored rows of the participants table.

# %%
ch = chapter.costs_chapter(
    pd.read_parquet(scratch / "design_data.parquet"),
    pd.read_parquet(scratch / "outcome_data.parquet"),
    pd.read_parquet(scratch / "design.parquet"),
    read_table(data["participants"], table="participants"),
    outcomes=outcomes,
    design=design,
    estimation=estimation,
    costs=costs,
    report=report,
)
rec.count(
    "costs_served",
    ch.served,
    title="Mentored persons served (participants table)",
    made_by=read_table,
)
rec.number(
    "costs",
    ch.costs,
    title="Costs per participant and per additional person in work; break-even effects",
    made_by=chapter.costs_section,
    reveals=ch.facts,
)
rec.show("costs")

# %%
rec.save()
