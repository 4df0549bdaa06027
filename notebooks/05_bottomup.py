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
# # 05 The bottom-up factors and the mentorship model
#
# What the mentored themselves report (goals, barriers, network, self-efficacy and, at
# follow-up, the mentor relationship), how reliable the scales are, which baseline factors go
# with a larger effect, how outcomes go with the dose of mentoring and with the mentor's traits,
# and the mentorship model that follows by a stated evidence rule. The survey is answered by
# the mentored only; everything about dose and mentors is an association, not an effect.
# Optional inputs that are absent (survey, sessions, mentors) skip their part, recorded.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
study = {"language": "en"}
data = {
    "participants": "../data/synthetic/participants.csv",
    "monthly": "../data/synthetic/monthly.csv",
    "survey": "../data/synthetic/survey.csv",
    "sessions": "../data/synthetic/sessions.csv",
    "mentors": "../data/synthetic/mentors.csv",
}
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
}
estimation = {"level": 0.95}
bottomup = {
    "instrument": "survey_v1",
    "factors": {
        "goal": ["goal_1", "goal_2", "goal_3"],
        "barrier": ["barrier_1", "barrier_2", "barrier_3", "barrier_4", "barrier_5"],
        "network": ["network_1", "network_2", "network_3"],
        "efficacy": ["efficacy_1", "efficacy_2", "efficacy_3"],
        "mentor": ["mentor_1", "mentor_2", "mentor_3", "mentor_4"],
    },
    "reverse": ["barrier_2", "barrier_4", "network_3", "mentor_4"],
    "follow_up_factors": ["mentor"],
    "min_answered": 0.5,
    "agree_min": 4,
    "outcome": "months_employed_12",
    "correction": "holm",
    "rotation": "promax",
    "dose_edges": [0, 8, 12, 16, 20, 1000],
    "dose_knot": 12,
    "suggestive_p": 0.2,
}
disclosure = {"min_cell": 5}
run_dir = "../outputs/dev"
scratch_dir = "../data/synthetic/.evaluation-work/scratch/dev"  # person-level: beside the data

# %%
from pathlib import Path

import pandas as pd

from evaluation.bottomup.dose import associations, dose_curve, dose_slopes, mentoring_dose
from evaluation.bottomup.factors import exploratory_factors
from evaluation.bottomup.instrument import mapping_differences
from evaluation.bottomup.model import evidence, mentorship_model
from evaluation.bottomup.moderation import moderation_by_factors
from evaluation.bottomup.profiles import agreement, answer_shares, paired_change, profile_by
from evaluation.bottomup.scales import cronbach_alpha, factor_scores
from evaluation.chapters.bottomup import bottomup_chapter
from evaluation.config import survey_items
from evaluation.data.contract import load_study
from evaluation.estimate.effects import analysis_sample
from evaluation.plots import bottomup as plots
from evaluation.plots import theme
from evaluation.protocol import params_source
from evaluation.results.recorder import Recorder
from evaluation.text import catalogue
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
theme.apply()
rec = Recorder(
    run_dir,
    "05_bottomup",
    min_cell=disclosure["min_cell"],
    language=study["language"],
    private_dir=scratch_dir,
)
scratch = Path(scratch_dir)
ALT = catalogue(study["language"]).section("figure")

# %% [markdown]
# ## Inputs: the validated tables and the analysis sample of the design stage
# Every table but the monthly one (not used here; the runner and notebook 01 validated it, and
# on a register-sized pool reading it again would dominate this notebook). The chapter function
# runs every analysis below once; a part whose input is absent, or that rests on too few
# persons or mentors, is left out and the reason recorded in the run's list of skipped analyses.

# %%
tables = load_study(
    {k: v for k, v in data.items() if k != "monthly"},
    required=("participants",),
    survey_items=survey_items(bottomup["factors"]),
)
sample = analysis_sample(
    pd.read_parquet(scratch / "design_data.parquet"),
    pd.read_parquet(scratch / "outcome_data.parquet"),
    pd.read_parquet(scratch / "design.parquet"),
)
ch = bottomup_chapter(
    tables,
    sample,
    bottomup=bottomup,
    covariates=design["covariates"],
    level=estimation["level"],
    min_cell=disclosure["min_cell"],
    language=study["language"],
)
rec.number(
    "bottomup_inputs",
    ch.inputs,
    title="Optional inputs present for the bottom-up chapter",
    made_by=load_study,
)
rec.number(
    "bottomup_outcome",
    bottomup["outcome"],
    title="Outcome of the moderation and dose analyses",
    made_by=params_source("bottomup.outcome"),
)
rec.number(
    "bottomup_rule", ch.rule, title="Evidence rule and multiplicity correction", made_by=evidence
)
for analysis, reason in ch.skipped.items():
    rec.skipped(analysis, reason)
sv = ch.survey

# %% [markdown]
# ## Measurement: reliability, factor structure, scores
# Reverse-coded items are turned round (6 − answer). Cronbach's alpha uses pairwise deletion;
# a person's score on a factor is the mean of the answered items when at least
# `bottomup.min_answered` of the factor's items are answered, otherwise missing. A factor
# answered by fewer persons than the disclosure threshold shows `<k` persons and no alpha.
#
# The exploratory factor analysis (principal axes from squared multiple correlations, then the
# rotation `bottomup.rotation`) is deterministic: the same answers give the same loadings in any
# row order and any process. On a few dozen persons it can reach a Heywood case (an item's
# communality reaching 1): that is recorded and reported as such, and the loadings are not.

# %%
if sv is not None:
    rec.number(
        "bottomup_instrument",
        sv.instrument,
        title="Survey instrument and whether the parameters follow it",
        made_by=mapping_differences,
    )
    rec.number(
        "bottomup_item_text",
        sv.item_text,
        title="Wording of the survey items",
        made_by=f"file: data/instruments/{sv.instrument['name']}.csv",
    )
    rec.count(
        "bottomup_n_baseline",
        sv.persons["n_baseline"],
        title="Mentored persons answering at baseline",
        made_by=load_study,
    )
    rec.count(
        "bottomup_n_follow_up",
        sv.persons["n_follow_up"],
        title="Mentored persons answering at follow-up",
        made_by=load_study,
    )
    rec.table(
        "bottomup_reliability",
        sv.reliability,
        title="Reliability of each scale (Cronbach's alpha)",
        made_by=cronbach_alpha,
    )
    rec.number(
        "bottomup_alpha",
        sv.alpha,
        title="Cronbach's alpha by factor",
        made_by=cronbach_alpha,
        reveals=sv.reveals("alpha"),
    )
    rec.table(
        "bottomup_item_reliability",
        sv.item_reliability,
        title="Item-rest correlation and alpha if the item is dropped",
        made_by=cronbach_alpha,
    )
    rec.show("bottomup_reliability")

# %%
if sv is not None and sv.efa is not None:
    rec.table(
        "bottomup_efa",
        sv.efa,
        title="Exploratory factor analysis at baseline: rotated "
        "loadings beside the intended factor",
        made_by=exploratory_factors,
    )
if sv is not None:
    rec.number(
        "bottomup_efa_summary",
        sv.efa_summary,
        title="EFA: share of items loading most on their intended factor",
        made_by=exploratory_factors,
        reveals=sv.reveals("efa_summary"),
    )
    rec.show("bottomup_efa_summary")

# %%
if sv is not None:
    rec.number(
        "bottomup_scoring",
        sv.scoring,
        title="Persons scored per factor at baseline, and those scored from part of the items",
        made_by=factor_scores,
        reveals=sv.reveals("scoring"),
    )
    rec.show("bottomup_scoring")

# %% [markdown]
# ## What the participants report
# Ranked agreement (answers 4–5 after reverse coding, so that "agree" always means *more* of
# the factor: reporting a barrier, having a goal) at baseline; distributions of each item in
# three answer groups; profiles by sex and education; change to follow-up. An answer group
# with fewer persons than the disclosure threshold shows `<k`, one hidden so that it cannot be
# worked out from the others `..`; the figure draws them as one hatched segment.

# %%
if sv is not None:
    rec.table(
        "bottomup_agreement",
        sv.agreement,
        title="Share agreeing with each item at baseline, ranked",
        made_by=agreement,
    )
    rec.number(
        "bottomup_ranking",
        sv.ranking,
        title="Barriers and goals ranked by the share agreeing",
        made_by=agreement,
        reveals=sv.reveals("ranking"),
    )
    rec.show("bottomup_agreement")
if sv is not None and sv.mentor_agreement is not None:
    rec.number(
        "bottomup_mentor_agreement",
        sv.mentor_agreement,
        title="Share agreeing with each mentor-relationship item at follow-up",
        made_by=agreement,
        reveals=sv.reveals("mentor_agreement"),
    )

# %%
if sv is not None:
    rec.table(
        "bottomup_answer_groups",
        sv.answers,
        title="Answers to each item at baseline in three groups (after reverse coding)",
        made_by=answer_shares,
    )
    rec.plot(
        "bottomup_answers",
        plots.answer_bars,
        "bottomup_answer_groups",
        title="Answers to each item at baseline (after reverse coding)",
        alt=ALT["alt_bu_answers"],
    )
    rec.show("bottomup_answers")

# %%
if sv is not None:
    for by, table in sv.profile_tables.items():
        rec.table(
            f"bottomup_profile_table_{by}",
            table,
            made_by=profile_by,
            title=f"Baseline factor scores by {by}: mean, SD, n",
            note="Groups with fewer persons than the disclosure threshold are merged; "
            "statistics on fewer are withheld.",
        )
        rec.number(
            f"bottomup_profile_{by}",
            sv.profiles[by],
            made_by=profile_by,
            title=f"Mean baseline factor scores by {by}",
            reveals=sv.reveals(f"profile_{by}"),
        )
    rec.show("bottomup_profile_table_sex")

# %%
if sv is not None:
    rec.number(
        "bottomup_change",
        sv.change,
        title="Change of the factor scores from baseline "
        "to follow-up: paired t, Wilcoxon, effect sizes",
        made_by=paired_change,
        reveals=sv.reveals("change"),
    )
    rec.count(
        "bottomup_n_both",
        sv.persons["n_both"],
        title="Mentored persons scored at both waves",
        made_by=paired_change,
    )
    rec.show("bottomup_change")

# %% [markdown]
# ## Which baseline factors go with a larger effect
# Interactions of mentoring with the standardised baseline scores (all factors in one model)
# in the regression estimator on the design stage's sample, with the multiplicity correction
# `bottomup.correction` across factors; beside it, the ATT (regression adjustment) of the
# mentored above and at-or-below the median of each score (a split resting on fewer persons
# of a group than the disclosure threshold is withheld).
#
# Standard errors are clustered by mentor (CR2, Bell-McCaffrey t; each comparison person a
# cluster of their own): the mentor of most sessions, else the participants' `mentor_id`. With
# fewer mentors than the analyses need the moderation is not estimated (the mentors are
# counted instead); without any mentor identifiers it is estimated with HC3 and says so.

# %%
if ch.moderation_mentors is not None:
    rec.number(
        "bottomup_moderation_mentors",
        ch.moderation_mentors,
        title="Mentors of the mentored with baseline scores, and the fewest analysed",
        made_by=moderation_by_factors,
    )
mod = ch.moderation
if mod is not None:
    rec.number(
        "bottomup_moderation",
        mod.summary,
        title="Change in the effect per SD of each baseline factor score (interactions)",
        made_by=moderation_by_factors,
        reveals=mod.reveals("summary"),
    )
    rec.effects(mod.effects, made_by=moderation_by_factors)
    rec.table(
        "bottomup_moderation_terms",
        mod.terms,
        made_by=moderation_by_factors,
        title="Change in the effect per SD of each baseline factor score: the "
        "interactions with their multiplicity correction",
    )
    rec.plot(
        "bottomup_moderation_plot",
        plots.moderation_dots,
        "bottomup_moderation_terms",
        title="Effect modification by baseline factors",
        alt=ALT["alt_bu_moderation"],
    )
    rec.show("bottomup_moderation_plot")

# %%
if mod is not None:
    rec.show("bottomup_moderation_terms")

# %% [markdown]
# ## Among the mentored: dose of mentoring and the mentor (associations)
# Number of meetings and minutes from `sessions`, the mentor's traits from `mentors`; standard
# errors clustered by mentor. None of this was randomised: persons who met their mentor more
# often, or had a mentor from their own field, may differ in ways that also drive employment.
# A band of meetings with fewer mentored persons than the disclosure threshold is not
# estimated.

# %%
if ch.mentors is not None:
    rec.number(
        "bottomup_mentors",
        ch.mentors,
        title="Mentors of the mentored (sessions table), and the fewest analysed",
        made_by=mentoring_dose,
    )
dose = ch.dose
if dose is not None:
    rec.number(
        "bottomup_dose_summary",
        dose.summary,
        title="Meetings per mentored person and minutes per meeting (median, quartiles)",
        made_by=mentoring_dose,
        reveals=dose.reveals("summary"),
    )
    rec.table(
        "bottomup_dose_curve",
        dose.curve,
        title="Effect by number of meetings (ATT within bins)",
        made_by=dose_curve,
    )
    rec.number(
        "bottomup_dose_slopes",
        dose.slopes,
        title="Slope of the effect per meeting below and above the knot (linear spline)",
        made_by=dose_slopes,
        reveals=dose.reveals("slopes"),
    )
    rec.plot(
        "bottomup_dose_plot",
        plots.dose_points,
        "bottomup_dose_curve",
        title="Effect by number of mentoring meetings",
        alt=ALT["alt_bu_dose"],
    )
    rec.show("bottomup_dose_plot")

# %%
if dose is not None:
    rec.number(
        "bottomup_constant_features",
        dose.constant,
        title="Mentoring features that do not vary among the mentored",
        made_by=mentoring_dose,
    )
    rec.number(
        "bottomup_mentor_associations",
        dose.associations,
        title="Outcome and mentoring features among the mentored (associations)",
        made_by=associations,
        reveals=dose.reveals("associations"),
    )
    rec.show("bottomup_mentor_associations")
if dose is not None and dose.mentor_shares is not None:
    rec.number(
        "bottomup_mentor_shares",
        dose.mentor_shares,
        title="Share of the mentored with a mentor from the same field / a migrant mentor",
        made_by=mentoring_dose,
        reveals=dose.reveals("mentor_shares"),
    )

# %%
if ch.relationship is not None:
    rec.number(
        "bottomup_relationship",
        ch.relationship,
        title="Outcome and the mentor relationship at follow-up, per SD of the score (association)",
        made_by=associations,
        reveals=ch.reveals("relationship"),
    )
    rec.show("bottomup_relationship")

# %% [markdown]
# ## The mentorship model
# Each component rests on the estimates above, graded by the rule: strong = the confidence
# interval excludes zero after the correction; suggestive = uncorrected p below
# `bottomup.suggestive_p`; none otherwise.

# %%
rec.number(
    "bottomup_model",
    ch.model,
    title="The mentorship model: components and the strength of the evidence behind each",
    made_by=mentorship_model,
)
rec.show("bottomup_model")

# %%
rec.save()
