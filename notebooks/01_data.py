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
from evaluation.chapters.data import data_chapter, write_hand_over
from evaluation.config import survey_items
from evaluation.data.contract import load_study
from evaluation.design.sample import build_analysis
from evaluation.plots import design as plots
from evaluation.plots import theme
from evaluation.results.recorder import Recorder
from evaluation.rng import stream
from evaluation.text import catalogue
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "01_data",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
ALT = catalogue(study["language"]).section("figure")

# %% [markdown]
# ## The input tables against the data contract
# Each table given is checked against the contract; the survey's items are those of
# `bottomup.factors` (its other columns are kept, not used). The table below names each file
# (its name only: a full path can name the evaluator's machine), its rows and its columns as
# read (the normalised table also has every optional contract column the file lacks, empty),
# and the columns beyond the contract, kept as possible covariates.

# %%
tables = load_study(data, survey_items=survey_items(bottomup["factors"]))
ch = data_chapter(
    tables, outcomes=outcomes, rng=stream(seed, "pseudo_starts"), min_cell=disclosure["min_cell"]
)
rec.table(
    "input_tables", ch.input_tables, title="Input tables and their validation", made_by=load_study
)
for name, reason in ch.skipped.items():
    rec.skipped(name, reason)
rec.number(
    "optional_tables_present",
    ch.optional_present,
    title="Optional input tables present",
    made_by=load_study,
)
rec.show("input_tables")

# %% [markdown]
# ## Analysis data and sample flow
#
# Comparison persons without an eligibility month get a pseudo start month drawn (seeded) from
# the mentored persons' start months; persons with less pre-period coverage than
# `outcomes.min_pre_months` are excluded, and counted. Every cell counts persons; a count below
# the disclosure threshold shows `<k`, a cell hidden so that it cannot be worked out from the
# others `..`. The counts are shown as published: one may still be hidden when the run checks
# every published number together (the disclosure audit).

# %%
rec.table(
    "sample_flow",
    ch.sample_flow,
    title="Sample flow: persons in, excluded and why, analysed",
    made_by=build_analysis,
)
rec.count(
    "n_mentored", ch.counts["n_mentored"], title="Mentored persons analysed", made_by=data_chapter
)
rec.count(
    "n_comparison",
    ch.counts["n_comparison"],
    title="Comparison persons analysed",
    made_by=data_chapter,
)
rec.count(
    "n_pseudo_starts",
    ch.counts["n_pseudo_starts"],
    title="Comparison persons given a pseudo start month",
    made_by=data_chapter,
)
rec.number(
    "start_months",
    ch.start_months,
    title="First and last start month of the mentored",
    made_by=data_chapter,
)
rec.show("sample_flow")

# %% [markdown]
# Persons whose coverage does not reach a horizon keep their row; their outcome at that horizon
# is missing (not zero), and they are counted here.

# %%
rec.table(
    "short_coverage",
    ch.short_coverage,
    title="Persons whose data do not cover each horizon",
    made_by=build_analysis,
)
rec.show("short_coverage")

# %% [markdown]
# ## Who are the mentored, and who is the comparison pool?
# Numeric characteristics as mean (SD), withheld when fewer persons than the disclosure
# threshold have a value; categorical ones as n (%) of the group. A count below the threshold
# shows `<k`, a cell hidden so that it cannot be worked out from the others `..`.

# %%
rec.table(
    "descriptives",
    ch.descriptives,
    title="Characteristics at start by group: mean (SD) or n (%)",
    note="Counts below the disclosure threshold are shown as <k, cells hidden so that "
    "they cannot be worked out from the others as '..', and a mean resting on fewer "
    "persons than the threshold is withheld.",
)
rec.show("descriptives")

# %% [markdown]
# The figure is drawn from the table below it: each group's share of persons by months employed
# in the year before start; a bin hidden by disclosure control is drawn empty and marked with the
# table's own label.

# %%
rec.table(
    "pre_employment_bins",
    ch.pre_employment,
    title="Employment history before start: each group's share of persons by months "
    "employed in the 12 months before start",
)
rec.plot(
    "pre_employment",
    plots.group_share_bars,
    "pre_employment_bins",
    title="Employment history before start, by group",
    alt=ALT["alt_pre_employment"],
    axis_label="pre_months_employed",
)
rec.show("pre_employment")

# %% [markdown]
# ## Hand-over to the next notebooks (scratch, outside the run folder)
# The design stage reads the covariates only; outcomes are kept in a separate file so that the
# design notebook can be run blind to them. The validated monthly rows of the persons in the
# analysis are kept too, so that the timing and robustness notebooks read (a filtered part of)
# them instead of reading and validating the input again.

# %%
write_hand_over(ch, scratch_dir)
rec.save()
