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
    "covariates": ["age", "sex", "education", "swedish_level", "years_in_sweden",
                   "origin_region", "pre_months_employed_12", "pre_earnings_12",
                   "pre_employed_m1"],
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
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from evaluation.bottomup import dose as dz
from evaluation.bottomup import model as mm
from evaluation.bottomup import profiles as pf
from evaluation.bottomup.factors import HEYWOOD_CAP, exploratory_factors
from evaluation.bottomup.instrument import FACTOR_LABELS, load_instrument, mapping_differences
from evaluation.bottomup.moderation import moderation_by_factors
from evaluation.bottomup.scales import ALPHA_ACCEPTABLE, cronbach_alpha, factor_scores, reverse_code
from evaluation.config import survey_items
from evaluation.data.contract import load_study
from evaluation.disclosure.differencing import without_sample_sizes
from evaluation.disclosure.rules import TOTAL, protect_counts, suppressed_label
from evaluation.estimate.effects import analysis_sample, withheld_reason
from evaluation.estimate.results import EffectResult
from evaluation.plots import theme as style
from evaluation.report.labels import labels as report_labels
from evaluation.results.recorder import Recorder

style.apply()
rec = Recorder(run_dir, "05_bottomup", min_cell=disclosure["min_cell"], language=study["language"])
scratch = Path(scratch_dir)
K = disclosure["min_cell"]
LANG = study["language"]
LEVEL = estimation["level"]
B = bottomup
OUTCOME = B["outcome"]
COVS = design["covariates"]
RULE = {"level": LEVEL, "suggestive_p": B["suggestive_p"]}
LABEL = {
    "en": {"disagree": "disagree (1-2)", "neutral": "neither (3)", "agree": "agree (4-5)",
           "hidden": f"not shown (cells < {K})", "share": "Share of answers",
           "per_sd": "Change in the effect per SD of the baseline score",
           "meetings": "Number of mentoring meetings", "effect": "Effect on the outcome (ATT)",
           "withheld": f"<{K}"},
    "sv": {"disagree": "instämmer inte (1-2)", "neutral": "varken eller (3)",
           "agree": "instämmer (4-5)", "hidden": f"visas inte (celler < {K})",
           "share": "Andel av svaren",
           "per_sd": "Förändring av effekten per standardavvikelse av poängen vid start",
           "meetings": "Antal mentorsträffar", "effect": "Effekt på utfallet (ATT)",
           "withheld": f"<{K}"},
}[LANG]
FACTOR = FACTOR_LABELS[LANG]
ALT = report_labels(LANG)

# %% [markdown]
# ## Inputs: the validated tables and the analysis sample of the design stage

# %%
# every table but the monthly one (not used here; the runner and notebook 01 validated it, and
# on a register-sized pool reading it again would dominate this notebook)
tables = load_study({k: v for k, v in data.items() if k != "monthly"}, required=("participants",),
                    survey_items=survey_items(B["factors"]))
present = {n: getattr(tables, n) is not None for n in ("survey", "sessions", "mentors")}
rec.number("bottomup_inputs", present, title="Optional inputs present for the bottom-up chapter",
           made_by="evaluation.data.contract.load_study")
rec.number("bottomup_outcome", OUTCOME, title="Outcome of the moderation and dose analyses",
           made_by="params: bottomup.outcome")
rec.number("bottomup_rule", {**RULE, "correction": B["correction"], "knot": B["dose_knot"],
                             "agree_min": B["agree_min"], "alpha_acceptable": ALPHA_ACCEPTABLE},
           title="Evidence rule and multiplicity correction",
           made_by="evaluation.bottomup.model.evidence")
for name, why in (
    ("survey", "no participant survey: the bottom-up factors, their reliability, profiles "
               "and moderation are not analysed"),
    ("sessions", "no session records: the dose of mentoring (meetings, minutes) is not analysed"),
    ("mentors", "no mentor table: mentor traits (same field, migrant background) are not "
                "analysed"),
):
    if not present[name]:
        rec.skipped(f"bottomup_{name}", why)

sample = analysis_sample(pd.read_parquet(scratch / "design_data.parquet"),
                         pd.read_parquet(scratch / "outcome_data.parquet"),
                         pd.read_parquet(scratch / "design.parquet"))
assert OUTCOME in sample, f"bottomup.outcome {OUTCOME} is not an outcome of this study"
people = tables.participants.assign(person_id=tables.participants["person_id"].astype(str))
people = people.set_index("person_id")
baseline_factors = {f: its for f, its in B["factors"].items()
                    if f not in B["follow_up_factors"]}
follow_factors = list(B["factors"])

# %% [markdown]
# ## Measurement: reliability, factor structure, scores
# Reverse-coded items are turned round (6 − answer). Cronbach's alpha uses pairwise deletion;
# a person's score on a factor is the mean of the answered items when at least
# `bottomup.min_answered` of the factor's items are answered, otherwise missing.
#
# The exploratory factor analysis (principal axes from squared multiple correlations, then the
# rotation `bottomup.rotation`) is deterministic: the same answers give the same loadings in any
# row order and any process. On a few dozen persons it can reach a Heywood case (an item's
# communality reaching 1): that is recorded and reported as such, and the loadings are not.

# %%
scores_b = scores_f = None
if present["survey"]:
    instrument = load_instrument(B["instrument"])
    differences = mapping_differences(instrument, B["factors"], B["reverse"])
    rec.number("bottomup_instrument", {"name": instrument.name, "matches_params": not differences},
               title="Survey instrument and whether the parameters follow it",
               made_by="evaluation.bottomup.instrument.mapping_differences")
    rec.number("bottomup_item_text",
               {i: {"en": e, "sv": s} for i, e, s in instrument.items[["item", "text_en", "text_sv"]]
                .itertuples(index=False)},
               title="Wording of the survey items", made_by=f"file: data/instruments/{instrument.name}.csv")
    sv = tables.survey.assign(person_id=tables.survey["person_id"].astype(str))
    items_all = [i for its in B["factors"].values() for i in its]
    waves = {w: sv.loc[sv["wave"] == w].set_index("person_id")[items_all] for w in ("baseline", "follow_up")}
    coded = {w: reverse_code(a, B["reverse"]) for w, a in waves.items()}
    n_base, n_follow = len(waves["baseline"]), len(waves["follow_up"])
    rec.count("bottomup_n_baseline", n_base, title="Mentored persons answering at baseline",
              made_by="evaluation.data.contract.load_study")
    rec.count("bottomup_n_follow_up", n_follow, title="Mentored persons answering at follow-up",
              made_by="evaluation.data.contract.load_study")
    rows, item_rows = [], []
    for factor, its in B["factors"].items():
        wave = "follow_up" if factor in B["follow_up_factors"] else "baseline"
        answered = int(coded[wave][its].notna().any(axis=1).sum())
        try:  # a wave with fewer answers than K: the count suppressed, statistics withheld
            rel = cronbach_alpha(coded[wave][its]) if answered >= K else None
        except ValueError:  # too few joint answers for an item pair: alpha is undefined
            rel = None
        n = rel.n if rel is not None else answered
        rows.append({"factor": factor, "wave": wave, "items": len(its),
                     "persons": suppressed_label(K) if 0 < n < K else n,
                     "alpha": None if rel is None or rel.n < K else round(rel.alpha, 3)})
        for it in its:
            shown = rel is not None and rel.n >= K
            item_rows.append({"item": it, "factor": factor,
                              "item_rest": round(rel.item_rest[it], 3) if shown else None,
                              "alpha_if_dropped": round(rel.alpha_if_dropped[it], 3) if shown else None})
    reliability = pd.DataFrame(rows).set_index("factor")
    rec.table("bottomup_reliability", reliability, title="Reliability of each scale (Cronbach's alpha)",
              made_by="evaluation.bottomup.scales.cronbach_alpha")
    rec.number("bottomup_alpha", reliability["alpha"].to_dict(), title="Cronbach's alpha by factor",
               made_by="evaluation.bottomup.scales.cronbach_alpha")
    rec.table("bottomup_item_reliability", pd.DataFrame(item_rows).set_index("item"),
              title="Item-rest correlation and alpha if the item is dropped",
              made_by="evaluation.bottomup.scales.cronbach_alpha")
    display(reliability)

# %%
if present["survey"]:
    try:
        efa = exploratory_factors(coded["baseline"], baseline_factors, rotation=B["rotation"])
    except ValueError as exc:  # too few joint answers for the correlations: no solution at all
        efa, efa_error = None, str(exc)
    if efa is None:
        efa_summary = {"stable": False, "heywood": [], "converged": False, "too_few": True,
                       "method": "principal axis", "rotation": B["rotation"],
                       "n_items": sum(len(its) for its in baseline_factors.values())}
        efa_table = efa_error
        rec.skipped("bottomup_efa", f"the exploratory factor analysis has no solution: {efa_error}")
    else:
        efa_summary = {"stable": efa.stable, "heywood": list(efa.heywood),
                       "converged": efa.converged, "too_few": False,
                       "iterations": efa.iterations, "heywood_cap": HEYWOOD_CAP,
                       "method": efa.method, "n": efa.n, "rotation": efa.rotation,
                       "n_items": len(efa.loadings)}
    if efa is not None and efa.stable:
        efa_table = efa.table()
        rec.table("bottomup_efa", efa_table, title="Exploratory factor analysis at baseline: rotated "
                  "loadings beside the intended factor", made_by="evaluation.bottomup.factors.exploratory_factors")
        efa_summary.update({
            "agreement": efa.agreement,
            "n_on_intended": int(round(efa.agreement * len(efa.loadings))),
            "loadings": {i: round(float(efa.loadings.loc[i, f]), 3) for i, f in efa.intended.items()}})
    elif efa is not None:
        # a Heywood case (or no convergence): the loadings are not an estimate; say so instead
        efa_table = efa.communality.round(3).to_frame("communality")
        rec.skipped("bottomup_efa", "the exploratory factor analysis reached a Heywood case or did "
                    "not converge: its loadings are not reported")
    rec.number("bottomup_efa_summary", efa_summary,
               title="EFA: share of items loading most on their intended factor",
               made_by="evaluation.bottomup.factors.exploratory_factors")
    display(efa_table)

# %%
if present["survey"]:
    sc_b = factor_scores(waves["baseline"], baseline_factors, B["reverse"], min_answered=B["min_answered"])
    sc_f = factor_scores(waves["follow_up"], B["factors"], B["reverse"], min_answered=B["min_answered"])
    scores_b, scores_f = sc_b.scores, sc_f.scores
    rec.number("bottomup_scoring",
               {"min_answered": B["min_answered"],
                "n_scored_baseline": sc_b.n_scored.to_dict(),
                "n_incomplete_baseline": sc_b.n_incomplete.to_dict()},
               title="Persons scored per factor at baseline, and those scored from part of the items",
               made_by="evaluation.bottomup.scales.factor_scores")

# %% [markdown]
# ## What the participants report
# Ranked agreement (answers 4–5 after reverse coding, so that "agree" always means *more* of
# the factor: reporting a barrier, having a goal) at baseline; distributions of each item in
# three answer groups; profiles by sex and education; change to follow-up.

# %%
if present["survey"]:
    base_items = [i for its in baseline_factors.values() for i in its]
    factor_of = {i: f for f, its in B["factors"].items() for i in its}
    agree = pf.agreement(coded["baseline"], base_items, factor_of, agree_min=B["agree_min"], min_cell=K)
    rec.table("bottomup_agreement", agree.round({"share": 3}),
              title="Share agreeing with each item at baseline, ranked",
              made_by="evaluation.bottomup.profiles.agreement")
    ranking = {f: [{"item": i, "share": float(r["share"]), "reverse": i in B["reverse"]}
                   for i, r in agree.iterrows()
                   if r["factor"] == f and pd.notna(r["share"])] for f in ("barrier", "goal")}
    rec.number("bottomup_ranking", ranking, title="Barriers and goals ranked by the share agreeing",
               made_by="evaluation.bottomup.profiles.agreement")
    agree_f = pf.agreement(coded["follow_up"], B["factors"]["mentor"], factor_of,
                           agree_min=B["agree_min"], min_cell=K) if "mentor" in B["factors"] else None
    if agree_f is not None:
        rec.number("bottomup_mentor_agreement",
                   {i: (None if pd.isna(r["share"]) else float(r["share"])) for i, r in agree_f.iterrows()},
                   title="Share agreeing with each mentor-relationship item at follow-up",
                   made_by="evaluation.bottomup.profiles.agreement")
    display(agree)

# %%
if present["survey"]:
    shares, hidden = pf.answer_groups(coded["baseline"], base_items, min_cell=K)
    wording = instrument.wording(LANG)
    item_labels = [textwrap.fill(wording.get(i, i), 60) for i in base_items]
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * sum(t.count("\n") + 1 for t in item_labels) + 1.4))
    y = np.arange(len(base_items))[::-1]
    left = np.zeros(len(base_items))
    colours = {"disagree": "#c8553d", "neutral": "#d9d9d9", "agree": "#1b6ca8"}
    for g in ("disagree", "neutral", "agree"):
        w = shares[g].fillna(0).to_numpy()
        ax.barh(y, w, left=left, color=colours[g], label=LABEL[g])
        left += w
    ax.barh(y, hidden.to_numpy(), left=left, color="white", edgecolor="#7f7f7f", hatch="//",
            label=LABEL["hidden"])
    ax.set_yticks(y, item_labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(LABEL["share"])
    ax.legend(ncol=2, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    rec.figure("bottomup_answers", fig, title="Answers to each item at baseline (after reverse coding)",
               alt=ALT["alt_bu_answers"], made_by="evaluation.bottomup.profiles.answer_groups")
    plt.show()

# %%
if present["survey"]:
    who = people.reindex(scores_b.index)
    for key, col in (("sex", "sex"), ("education", "education")):
        groups = pf.collapse_small(who[col], K)
        prof = pf.profile_by(scores_b, groups, min_cell=K)
        rec.table(f"bottomup_profile_table_{key}", prof, title=f"Baseline factor scores by {key}: mean, SD, n",
                  made_by="evaluation.bottomup.profiles.profile_by",
                  note=f"Groups with fewer than {K} persons are merged; statistics on fewer are withheld.")
        rec.number(f"bottomup_profile_{key}",
                   {g: {f: (None if pd.isna(prof.loc[f, f"{g}: mean"]) else float(prof.loc[f, f"{g}: mean"]))
                        for f in prof.index} for g in sorted(groups.unique())},
                   title=f"Mean baseline factor scores by {key}",
                   made_by="evaluation.bottomup.profiles.profile_by")

# %%
if present["survey"]:
    change, n_both = {}, 0
    for f in baseline_factors:
        c = pf.paired_change(scores_b[f], scores_f[f])
        n_both = max(n_both, c.n)
        change[f] = None if c.n < K else {k: getattr(c, k) for k in c.__dataclass_fields__}
    rec.number("bottomup_change", change, title="Change of the factor scores from baseline to "
               "follow-up: paired t, Wilcoxon, effect sizes", made_by="evaluation.bottomup.profiles.paired_change")
    rec.count("bottomup_n_both", n_both, title="Mentored persons scored at both waves",
              made_by="evaluation.bottomup.profiles.paired_change")
    shown_change = {f: c for f, c in change.items() if c is not None}
    display(pd.DataFrame.from_dict(shown_change, orient="index").round(3) if shown_change
            else f"withheld: fewer than {K} persons scored at both waves")

# %% [markdown]
# ## Which baseline factors go with a larger effect
# Interactions of mentoring with the standardised baseline scores (all factors in one model)
# in the regression estimator on the design stage's sample, with the multiplicity correction
# `bottomup.correction` across factors; beside it, the ATT (regression adjustment) of the
# mentored above and at-or-below the median of each score.

# %%
# Standard errors clustered by mentor (CR2, Bell-McCaffrey t; each comparison person a
# cluster of their own): the mentor of most sessions, else the participants' mentor_id; with
# fewer than dz.MIN_MENTORS mentors the moderation is not estimated, without any mentor
# identifiers it is estimated with HC3 and says so.
moder = None
if present["survey"]:
    frame = sample.join(scores_b, on="person_id")
    mentor_of = (dz.mentoring_dose(tables.sessions)["mentor_id"] if present["sessions"]
                 else people["mentor_id"])  # fmt: skip
    frame = frame.assign(mentor_id=frame["person_id"].map(mentor_of))
    scored = (frame["treated"] == 1) & frame[list(baseline_factors)].notna().all(axis=1)
    mod_mentors = int(frame.loc[scored, "mentor_id"].dropna().nunique())
    mod_cluster = "mentor_id" if mod_mentors > 0 else None
    if mod_cluster and mod_mentors < dz.MIN_MENTORS:
        rec.number("bottomup_moderation_mentors",
                   {"n": suppressed_label(K) if 0 < mod_mentors < K else mod_mentors,
                    "min": dz.MIN_MENTORS},
                   title="Mentors of the mentored with baseline scores, and the fewest analysed",
                   made_by="evaluation.bottomup.moderation.moderation_by_factors")
        rec.skipped("bottomup_moderation", f"the mentored with baseline scores had fewer than "
                    f"{dz.MIN_MENTORS} mentors: the moderation analysis clusters by mentor")
    else:
        moder = moderation_by_factors(frame, OUTCOME, COVS, list(baseline_factors),
                                      correction=B["correction"], cluster=mod_cluster,
                                      level=LEVEL)  # fmt: skip
if moder is not None:
    mod_rows = {f: {k: (bool(v) if k == "flagged" else float(v)) for k, v in r.items()}
                for f, r in moder.table.iterrows()}
    rec.number("bottomup_moderation", {"factors": mod_rows, "n_treated": moder.n_treated,
                                       "n_control": moder.n_control, "flagged": moder.flagged,
                                       "att_at_mean": moder.att_at_mean.to_dict(),
                                       "se_method": moder.se_method,
                                       "n_mentors": (suppressed_label(K)
                                                     if moder.n_clusters and moder.n_clusters < K
                                                     else moder.n_clusters)},
               title="Change in the effect per SD of each baseline factor score (interactions)",
               made_by="evaluation.bottomup.moderation.moderation_by_factors")
    inter = [EffectResult.from_normal(
        estimate=r["estimate"], se=r["se"], level=LEVEL, outcome=OUTCOME,
        estimator="bottomup_interaction",
        estimand=f"change in the ATT per standard deviation of the baseline {f} score "
        "(treatment interaction in the regression estimator; association, not randomised)",
        n_treated=moder.n_treated, n_control=moder.n_control, se_method=moder.se_method,
        subgroup=f"factor={f}", spec={"p_adjusted": r["p_adjusted"], "correction": B["correction"]})
        for f, r in moder.table.iterrows()]
    # a split (mentored above / at or below a factor's median) on fewer than K persons of a
    # group rests on too few to publish: withheld
    split = [r for r in moder.split if withheld_reason(r, K) is None]
    rec.effects(inter + split, made_by="evaluation.bottomup.moderation.moderation_by_factors")
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(mod_rows) + 1.2))
    yy = np.arange(len(mod_rows))[::-1]
    for yi, r in zip(yy, mod_rows.values(), strict=True):
        ax.errorbar(r["estimate"], yi, xerr=[[r["estimate"] - r["ci_low"]], [r["ci_high"] - r["estimate"]]],
                    fmt="o", color="#1b6ca8" if r["flagged"] else "#7f7f7f", capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(yy, [FACTOR[f] for f in mod_rows])
    ax.set_xlabel(LABEL["per_sd"])
    fig.tight_layout()
    rec.figure("bottomup_moderation_plot", fig, title="Effect modification by baseline factors",
               alt=ALT["alt_bu_moderation"],
               made_by="evaluation.bottomup.moderation.moderation_by_factors")
    plt.show()
    display(moder.table.round(3))

# %% [markdown]
# ## Among the mentored: dose of mentoring and the mentor (associations)
# Number of meetings and minutes from `sessions`, the mentor's traits from `mentors`; standard
# errors clustered by mentor. None of this was randomised: persons who met their mentor more
# often, or had a mentor from their own field, may differ in ways that also drive employment.

# %%
assoc = slopes = relationship = None
mentoring = False  # enough mentors for the analyses clustered by mentor
if present["sessions"]:
    dose = dz.mentoring_dose(tables.sessions, tables.mentors if present["mentors"] else None)
    dframe = dz.attach(sample, dose)
    mentored = dframe.loc[dframe["treated"] == 1]
    n_mentors = int(mentored["mentor_id"].nunique())
    mentoring = n_mentors >= dz.MIN_MENTORS
    rec.number("bottomup_mentors", {"n": suppressed_label(K) if 0 < n_mentors < K else n_mentors,
                                     "min": dz.MIN_MENTORS},
               title="Mentors of the mentored (sessions table), and the fewest analysed",
               made_by="evaluation.bottomup.dose.mentoring_dose")
    if not mentoring:
        rec.skipped("bottomup_mentoring", f"the mentored had fewer than {dz.MIN_MENTORS} "
                    "mentors: the mentoring analyses cluster by mentor")
if present["sessions"] and mentoring:
    rec.number("bottomup_dose_summary",
               {"meetings_median": float(mentored["meetings"].median()),
                "meetings_q1": float(mentored["meetings"].quantile(0.25)),
                "meetings_q3": float(mentored["meetings"].quantile(0.75)),
                "minutes_median": float(mentored["minutes_per_meeting"].median())},
               title="Meetings per mentored person and minutes per meeting (median, quartiles)",
               made_by="evaluation.bottomup.dose.mentoring_dose")
    curve = dz.dose_curve(dframe, OUTCOME, COVS, "meetings", B["dose_edges"], min_cell=K,
                          cluster="mentor_id", level=LEVEL)
    counts = curve.bins[["n_treated"]].astype("int64")
    counts.loc[TOTAL] = counts["n_treated"].sum()
    shown_n = protect_counts(counts, K).table["n_treated"].drop(TOTAL)
    bins_table = curve.bins.drop(columns=["n_treated", "withheld"]).round(3).astype(object)
    bins_table.loc[curve.bins["withheld"].to_numpy()] = "withheld"
    bins_table.insert(0, "mentored", shown_n)
    rec.table("bottomup_dose_curve", bins_table, title="Effect by number of meetings (ATT within bins)",
              made_by="evaluation.bottomup.dose.dose_curve")
    slopes_fit = dz.dose_slopes(dframe, OUTCOME, COVS, "meetings", B["dose_knot"],
                                cluster="mentor_id", level=LEVEL)
    slopes = {"below": slopes_fit.below.to_dict(), "above": slopes_fit.above.to_dict(),
              "knot": slopes_fit.knot, "rising_then_flat": slopes_fit.rising_then_flat}
    rec.number("bottomup_dose_slopes", slopes, title="Slope of the effect per meeting below and "
               "above the knot (linear spline)", made_by="evaluation.bottomup.dose.dose_slopes")
    ok = ~curve.bins["withheld"]
    b = curve.bins.loc[ok]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    xs = np.arange(len(curve.bins))[ok.to_numpy()]
    ax.errorbar(xs, b["estimate"], yerr=[b["estimate"] - b["ci_low"], b["ci_high"] - b["estimate"]],
                fmt="o-", color="#1b6ca8", capsize=3)
    for xi in np.arange(len(curve.bins))[~ok.to_numpy()]:
        ax.text(xi, 0, LABEL["withheld"], ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(curve.bins)), [s.replace("-1000", "+") for s in curve.bins.index])
    ax.set_xlabel(LABEL["meetings"])
    ax.set_ylabel(LABEL["effect"])
    fig.tight_layout()
    rec.figure("bottomup_dose_plot", fig, title="Effect by number of mentoring meetings",
               alt=ALT["alt_bu_dose"],
               made_by="evaluation.bottomup.dose.dose_curve")
    plt.show()
    features = {"meetings": 5.0, "minutes_per_meeting": 15.0}
    if present["mentors"]:
        features.update({"same_field": 1.0, "migrant_mentor": 1.0})
    # a feature every mentored person has alike (every mentor from the same field) has no
    # association to estimate
    constant = [f for f in features if mentored[f].nunique(dropna=True) < 2]
    rec.number("bottomup_constant_features", constant, title="Mentoring features that do not "
               "vary among the mentored", made_by="evaluation.bottomup.dose.mentoring_dose")
    if constant:
        rec.skipped("bottomup_no_variation", f"no variation among the mentored: {constant}")
    features = {f: u for f, u in features.items() if f not in constant}
    assoc_table = (dz.associations(dframe, OUTCOME, COVS, features, cluster="mentor_id",
                                   correction=B["correction"], level=LEVEL)
                   if features else pd.DataFrame())  # fmt: skip
    assoc = {f: {k: float(v) for k, v in r.items()} for f, r in assoc_table.iterrows()}
    for r in assoc.values():
        r["evidence"] = mm.evidence(r["p_value"], r["p_adjusted"], **RULE)
    rec.number("bottomup_mentor_associations", assoc, title="Outcome and mentoring features among "
               "the mentored (associations)", made_by="evaluation.bottomup.dose.associations")
    if present["mentors"]:
        share = {"same_field": float(mentored["same_field"].mean()),
                 "migrant_mentor": float(mentored["migrant_mentor"].mean())}
        n_with = {k: int(mentored[k].sum()) for k in share}
        if min(min(n_with.values()), min(len(mentored) - v for v in n_with.values())) >= K:
            rec.number("bottomup_mentor_shares", share, title="Share of the mentored with a mentor "
                       "from the same field / a migrant mentor", made_by="evaluation.bottomup.dose.mentoring_dose")
    display(without_sample_sizes(assoc_table.round(3)))

# %%
n_scored = 0
if present["survey"] and "mentor" in B["factors"]:
    rframe = sample.join(scores_f[["mentor"]].rename(columns={"mentor": "relationship"}), on="person_id")
    n_scored = int(rframe.loc[rframe["treated"] == 1, "relationship"].notna().sum())
    if n_scored < K:  # a statistic on fewer persons than the disclosure threshold: withheld
        rec.skipped("bottomup_relationship", f"fewer than {K} mentored persons scored the "
                    "mentor relationship at follow-up")
if present["survey"] and "mentor" in B["factors"] and n_scored >= K:
    if present["sessions"]:
        rframe = dz.attach(rframe, dose[["mentor_id"]])
    cl = ("mentor_id" if mentoring and rframe.loc[rframe["treated"] == 1, "mentor_id"].notna().all()
          else None)  # fmt: skip
    rel_sd = float(rframe.loc[rframe["treated"] == 1, "relationship"].std())
    rel = dz.associations(rframe, OUTCOME, COVS, {"relationship": rel_sd}, cluster=cl,
                          correction="none", level=LEVEL).loc["relationship"]
    relationship = {k: float(v) for k, v in rel.items()}
    relationship["evidence"] = mm.evidence(relationship["p_value"], relationship["p_adjusted"], **RULE)
    rec.number("bottomup_relationship", relationship, title="Outcome and the mentor relationship at "
               "follow-up, per SD of the score (association)", made_by="evaluation.bottomup.dose.associations")

# %% [markdown]
# ## The mentorship model
# Each component rests on the estimates above, graded by the rule: strong = the confidence
# interval excludes zero after the correction; suggestive = uncorrected p below
# `bottomup.suggestive_p`; none otherwise.

# %%
components = mm.mentorship_model(
    associations=assoc, slopes=slopes,
    moderation=(mod_rows if moder is not None else None), relationship=relationship,
    level=LEVEL, suggestive_p=B["suggestive_p"],
)
rec.number("bottomup_model", [c.to_dict() for c in components],
           title="The mentorship model: components and the strength of the evidence behind each",
           made_by="evaluation.bottomup.model.mentorship_model")
pd.DataFrame([c.to_dict() for c in components])

# %%
rec.save()
