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
# # 01 Data: validation, sample flow and descriptives
#
# Reads the input tables named in the parameter file, checks them against the data contract
# (`data/README.md`), builds the analysis data (outcomes and pre-period covariates, one row per
# person) and shows who is analysed and who is not, and why. Everything shown here is an
# aggregate; person-level data go to the run's scratch folder only, never into this notebook.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"name": "BottomUp Integration", "language": "en", "synthetic": True}
data = {
    "participants": "../data/synthetic/participants.csv",
    "monthly": "../data/synthetic/monthly.csv",
    "survey": "../data/synthetic/survey.csv",
    "sessions": "../data/synthetic/sessions.csv",
    "mentors": "../data/synthetic/mentors.csv",
}
outcomes = {"horizons": [6, 12, 24], "pre_months": 12, "min_pre_months": 12}
bottomup = {
    "factors": {
        "goal": ["goal_1", "goal_2", "goal_3"],
        "barrier": ["barrier_1", "barrier_2", "barrier_3", "barrier_4", "barrier_5"],
        "network": ["network_1", "network_2", "network_3"],
        "efficacy": ["efficacy_1", "efficacy_2", "efficacy_3"],
        "mentor": ["mentor_1", "mentor_2", "mentor_3", "mentor_4"],
    },
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from evaluation.config import outcome_names, survey_items
from evaluation.data import describe
from evaluation.data.contract import load_study
from evaluation.design.sample import build_analysis
from evaluation.plots import theme as style
from evaluation.report.labels import labels
from evaluation.results.recorder import Recorder
from evaluation.rng import stream

style.apply()
rec = Recorder(run_dir, "01_data", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
scratch.mkdir(parents=True, exist_ok=True)
K = disclosure["min_cell"]
L = labels(study["language"])

# %% [markdown]
# ## The input tables against the data contract

# %%
# the survey's items are those of bottomup.factors; its other columns are kept, not used
tables_data = load_study(data, survey_items=survey_items(bottomup["factors"]))
validation = tables_data.summary()
# file names only: a full path can name the evaluator's machine or user
validation["file"] = validation["file"].map(lambda f: Path(f).name if isinstance(f, str) else f)
rec.table(
    "input_tables",
    validation.set_index("table"),
    title="Input tables and their validation",
    made_by="evaluation.data.contract.load_study",
)

# %%
for name in ("survey", "sessions", "mentors"):
    if getattr(tables_data, name) is None:
        rec.skipped(name, f"the optional table '{name}' is absent from the inputs")
rec.number(
    "optional_tables_present",
    [n for n in ("survey", "sessions", "mentors") if getattr(tables_data, n) is not None],
    title="Optional input tables present",
    made_by="evaluation.data.contract.load_study",
)

# %% [markdown]
# ## Analysis data and sample flow
#
# Comparison persons without an eligibility month get a pseudo start month drawn (seeded) from
# the mentored persons' start months; persons with less pre-period coverage than
# `outcomes.min_pre_months` are excluded, and counted.

# %%
analysis = build_analysis(
    tables_data.participants,
    tables_data.monthly,
    horizons=outcomes["horizons"],
    pre_months=outcomes["pre_months"],
    min_pre_months=outcomes["min_pre_months"],
    rng=stream(seed, "pseudo_starts"),
)
flow = rec.table(
    "sample_flow",
    describe.protect_flow(analysis.flow, K),
    title="Sample flow: persons in, excluded and why, analysed",
    made_by="evaluation.design.sample.build_analysis",
)
flow

# %%
frame = analysis.frame
groups = frame["treated"].map({1: "mentored", 0: "comparison"})
n_mentored = int((frame["treated"] == 1).sum())
n_comparison = int((frame["treated"] == 0).sum())
rec.count("n_mentored", n_mentored, title="Mentored persons analysed",
          made_by="evaluation.design.sample.build_analysis")
rec.count("n_comparison", n_comparison, title="Comparison persons analysed",
          made_by="evaluation.design.sample.build_analysis")
rec.count("n_pseudo_starts", int(analysis.n_pseudo_starts),
          title="Comparison persons given a pseudo start month",
          made_by="evaluation.design.pseudo_starts.assign_pseudo_starts")
rec.number("start_months", {"first": str(frame.loc[frame.treated == 1, "start_month"].min()),
                            "last": str(frame.loc[frame.treated == 1, "start_month"].max())},
           title="First and last start month of the mentored",
           made_by="evaluation.design.sample.build_analysis")

# %% [markdown]
# Persons whose coverage does not reach a horizon keep their row; their outcome at that horizon
# is missing (not zero), and they are counted here.

# %%
rec.table(
    "short_coverage",
    describe.protect_margined(
        analysis.short_coverage, ["mentored", "comparison", "total"], K, total_column="total"
    ),
    title="Persons whose data do not cover each horizon",
    made_by="evaluation.design.sample.build_analysis",
)

# %% [markdown]
# ## Who are the mentored, and who is the comparison pool?

# %%
numeric = [c for c in ("age", "years_in_sweden", "pre_months_employed_12", "pre_earnings_12")
           if c in frame]
categorical = [c for c in ("sex", "education", "swedish_level", "origin_region") if c in frame]
desc_frame = frame.assign(group=groups)
desc = pd.concat(
    [
        describe.numeric_by_group(desc_frame, "group", numeric, K),
        describe.categorical_by_group(desc_frame, "group", categorical, K),
    ]
)
rec.table(
    "descriptives",
    desc[["mentored", "comparison"]],
    title="Characteristics at start by group: mean (SD) or n (%)",
    made_by="evaluation.data.describe",
    note="Counts below the disclosure threshold and cells that would reveal them are shown as "
    f"<{K}.",
)

# %%
bins = [-0.5, 0, 3, 6, 9, 12]
bin_labels = ["0", "1-3", "4-6", "7-9", "10-12"]
shares = describe.binned_shares(desc_frame, "group", "pre_months_employed_12", bins, bin_labels, K)
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.4
for j, label in enumerate(["mentored", "comparison"]):
    x = [i + (j - 0.5) * width for i in range(len(bin_labels))]
    ax.bar(x, shares[label].fillna(0), width=width, label=L[label],
           color=style.GROUP_COLOURS[label])
    for xi, s in zip(x, shares[label], strict=True):
        if pd.isna(s):
            ax.text(xi, 0.01, f"<{K}", ha="center", va="bottom", fontsize=8)
ax.set_xticks(range(len(bin_labels)), bin_labels)
ax.set_xlabel(L["pre_months_employed"])
ax.set_ylabel(L["share_of_group"])
ax.legend()
rec.figure(
    "pre_employment",
    fig,
    title="Employment history before start, by group",
    alt=L["alt_pre_employment"],
    made_by="evaluation.data.describe.binned_shares",
)
plt.show()

# %% [markdown]
# ## Hand-over to the next notebooks (scratch, outside the run folder)
# The design stage reads the covariates only; outcomes are kept in a separate file so that the
# design notebook can be run blind to them.

# %%
outcome_cols = [*outcome_names(outcomes["horizons"]), "months_to_job", "job_found", "months_after"]
design_cols = [c for c in frame.columns if c not in outcome_cols]
frame[design_cols].to_parquet(scratch / "design_data.parquet")
frame[["person_id", *outcome_cols]].to_parquet(scratch / "outcome_data.parquet")
# the validated monthly rows of the persons in the analysis, so that the timing and robustness
# notebooks read (a filtered part of) them instead of reading and validating the input again
monthly = tables_data.monthly
monthly.loc[monthly["person_id"].isin(frame["person_id"])].to_parquet(
    scratch / "monthly_panel.parquet", index=False, row_group_size=1_000_000)
rec.save()
