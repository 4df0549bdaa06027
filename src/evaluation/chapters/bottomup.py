"""The bottom-up chapter (notebook 05): what the mentored report, and the mentorship model.

The survey is answered by the mentored only; the chapter measures the factors (reliability,
factor structure, scores), describes what the participants report (agreement, answer groups,
profiles, change to follow-up), relates the baseline factors, the dose of mentoring and the
mentor's traits to the effect (associations, not effects), and grades the components of the
mentorship model by the evidence rule (:mod:`evaluation.bottomup.model`).

The numbers happen in :mod:`evaluation.bottomup`; this module orchestrates them, applies the
primary disclosure control (a count of 1 to k-1 persons shows ``<k``, a statistic on fewer
than k persons is withheld) and records, for every published value, the persons whose
number it gives away (:mod:`evaluation.disclosure.ledger`), so that the run's disclosure
audit can check it against every other published number: a count of persons or a share of a
published total is a ``count`` fact (a share: the persons of its numerator), a mean, an
alpha, a loading, a test or an estimate is a ``sample`` fact on the persons it rests on.

The survey, the session records and the mentor table are optional inputs. A part of the
chapter whose input is absent, or that rests on too few persons or mentors, is ``None`` in
the result and the reason is in :attr:`BottomUpChapter.skipped` (one mapping, recorded as the
run's list of skipped analyses), so that the notebook makes no decision of its own.

Counts of mentors (``bottomup_mentors``, ``n_mentors``) are not counts of persons of the
study's inputs and carry no fact. They cannot give a small number of mentees away: every
mentor counted has at least one mentee, so a mentor count ``m`` says only that at least
``m`` mentored persons are behind it, and a mentor count below the threshold is itself shown
``<k`` -- so no shown mentor count sets a lower bound that pins a hidden count of mentees
(a count of 1 to k-1 hidden as ``<k`` is pinned by a lower bound only if the bound is k-1 or
more, which a shown mentor count of k or more already exceeds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.bottomup import profiles as pf
from evaluation.bottomup.dose import (
    MIN_MENTORS,
    analysed_persons,
    associations,
    attach,
    dose_curve,
    dose_slopes,
    mentoring_dose,
)
from evaluation.bottomup.factors import HEYWOOD_CAP, exploratory_factors, fewest_joint
from evaluation.bottomup.instrument import WAVES, load_instrument, mapping_differences
from evaluation.bottomup.model import evidence, mentorship_model
from evaluation.bottomup.moderation import TREATMENT, moderation_by_factors
from evaluation.bottomup.scales import ALPHA_ACCEPTABLE, cronbach_alpha, factor_scores, reverse_code
from evaluation.data.contract.validate import StudyTables
from evaluation.disclosure.ledger import Fact, PublishedTable, fact, row_key
from evaluation.disclosure.rules import TOTAL, protect_counts, suppressed_label, withheld_label
from evaluation.estimate.effects import withheld_reason
from evaluation.estimate.results import EffectResult
from evaluation.protocol import Result, private, produced_by

#: The participants' characteristics the baseline profiles are shown by.
PROFILE_BY = ("sex", "education")
#: The factors whose items are ranked by the share agreeing (the report lists them).
RANKED = ("barrier", "goal")
#: The factor that scores the mentor relationship at follow-up.
RELATIONSHIP = "mentor"
#: The mentoring features of the sessions table, with the unit their association is per.
DOSE_FEATURES = {"meetings": 5.0, "minutes_per_meeting": 15.0}
#: The mentor's traits of the mentors table, with the unit (with minus without).
MENTOR_FEATURES = {"same_field": 1.0, "migrant_mentor": 1.0}
#: Numbers of an estimate row that are statistics on its sample (not the unit, not a flag).
_STATISTICS = ("estimate", "se", "ci_low", "ci_high", "p_value", "p_adjusted", "df")

#: Why each optional input's part is not analysed when the input is absent.
ABSENT = {
    "survey": "no participant survey: the bottom-up factors, their reliability, profiles and "
              "moderation are not analysed",
    "sessions": "no session records: the dose of mentoring (meetings, minutes) is not analysed",
    "mentors": "no mentor table: mentor traits (same field, migrant background) are not "
               "analysed",
}  # fmt: skip

Facts = tuple[Fact, ...]


def _shown(n: int, k: int) -> int | str:
    """A count as published: ``<k`` for 1 to k-1 (primary suppression)."""
    return suppressed_label(k) if 0 < n < k else int(n)


def _ids(index: Any) -> np.ndarray:
    return np.asarray(pd.Index(index).astype(str))


# --- the result ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Part(Result):
    """A part of the chapter: its published values and, privately, their facts."""

    def reveals(self, name: str) -> Facts:
        """The facts of the published number ``name`` (paths relative to the number)."""
        return getattr(self, "facts", {}).get(name, ())


@dataclass(frozen=True, eq=False)
class SurveyPart(_Part):
    """What the survey gives: measurement, what the participants report, change.

    Attributes
    ----------
    instrument, item_text
        The instrument and whether the parameters follow it; the items' wording.
    reliability, alpha, item_reliability
        Cronbach's alpha per factor (persons, alpha; withheld on fewer than k persons) and
        the item statistics.
    efa, efa_summary
        The exploratory factor analysis at baseline: the loadings (``None`` when it has no
        stable solution; the chapter's ``skipped`` says why) and its summary.
    scoring
        Persons scored per factor at baseline, and those scored from part of the items.
    agreement, ranking, mentor_agreement
        The share agreeing with each baseline item (counts, ranked), the barriers and goals
        ranked, and the mentor-relationship items at follow-up (``None`` without them).
    answers
        Each baseline item's answers in three groups (the figure's table).
    profile_tables, profiles
        Baseline scores by :data:`PROFILE_BY` (mean, SD, n; the means alone).
    change
        Paired change of each baseline factor to follow-up (``None`` on fewer than k).
    persons
        The persons of the counts ``n_baseline``, ``n_follow_up`` and ``n_both`` (private).
    facts
        Facts of the numbers above, by field name (private).
    scores_baseline, scores_follow_up
        The persons' factor scores (private).
    """

    instrument: dict[str, Any]
    item_text: dict[str, dict[str, str]]
    reliability: PublishedTable
    alpha: dict[str, float | None]
    item_reliability: PublishedTable
    efa: PublishedTable | None
    efa_summary: dict[str, Any]
    scoring: dict[str, Any]
    agreement: PublishedTable
    ranking: dict[str, list[dict[str, Any]]]
    mentor_agreement: dict[str, float | None] | None
    answers: PublishedTable
    profile_tables: dict[str, PublishedTable]
    profiles: dict[str, dict[str, dict[str, float | None]]]
    change: dict[str, dict[str, Any] | None]
    persons: dict[str, np.ndarray] = private(default_factory=dict)
    facts: dict[str, Facts] = private(default_factory=dict)
    scores_baseline: pd.DataFrame | None = private(default=None)
    scores_follow_up: pd.DataFrame | None = private(default=None)

    def to_frame(self) -> pd.DataFrame:
        """The reliability table."""
        return self.reliability.frame


@dataclass(frozen=True, eq=False)
class ModerationPart(_Part):
    """Effect modification by the baseline factor scores (treatment interactions).

    Attributes
    ----------
    summary
        The interactions per factor, the ATT at the mean scores, the sample sizes, the
        flagged factors, the standard errors' method and the mentors clustered on.
    terms
        The interactions as a table (the figure's table).
    effects
        The interactions and the ATT above / at or below each factor's median (a split on
        fewer than k persons of a group is left out), each carrying its persons.
    facts
        Facts of ``summary`` (private).
    """

    summary: dict[str, Any]
    terms: PublishedTable
    effects: list[EffectResult]
    facts: dict[str, Facts] = private(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The interactions."""
        return self.terms.frame


@dataclass(frozen=True, eq=False)
class DosePart(_Part):
    """The dose of mentoring and the mentor's traits among the mentored (associations).

    Attributes
    ----------
    summary
        Meetings per mentored person (median, quartiles) and minutes per meeting.
    curve
        The ATT within bins of the number of meetings (the figure's table).
    slopes
        The linear spline in the meetings: slope below and above the knot.
    constant
        Mentoring features that do not vary among the mentored (not analysed).
    associations
        The outcome and each mentoring feature, with the evidence grade.
    mentor_shares
        Shares with a same-field / migrant mentor (``None`` without the mentor table, or
        when a group of either answer has fewer than k persons).
    facts
        Facts of the numbers above (private).
    """

    summary: dict[str, float]
    curve: PublishedTable
    slopes: dict[str, Any]
    constant: list[str]
    associations: dict[str, dict[str, Any]]
    mentor_shares: dict[str, float] | None
    facts: dict[str, Facts] = private(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The dose curve."""
        return self.curve.frame


@dataclass(frozen=True, eq=False)
class BottomUpChapter(_Part):
    """Everything the bottom-up chapter publishes; absent parts are ``None``.

    Attributes
    ----------
    inputs
        Which optional inputs are present (survey, sessions, mentors).
    rule
        The evidence rule, the multiplicity correction, the knot, the agreement threshold.
    skipped
        Analysis → why it is not part of this run (absent input, too few persons or
        mentors, no stable factor solution, no variation). One mapping for the whole chapter.
    survey
        :class:`SurveyPart`, or ``None`` without a survey.
    moderation
        :class:`ModerationPart`, or ``None`` (no survey, or too few mentors).
    moderation_mentors
        Mentors of the mentored with baseline scores and the fewest analysed, when they are
        too few for the moderation analysis; else ``None``.
    mentors
        Mentors of the mentored (sessions table) and the fewest analysed; ``None`` without
        sessions.
    dose
        :class:`DosePart`, or ``None`` (no sessions, or too few mentors).
    relationship
        The outcome and the mentor relationship at follow-up, or ``None``.
    model
        The mentorship model: its components and the evidence behind each.
    facts
        Facts of ``relationship`` (private).
    """

    inputs: dict[str, bool]
    rule: dict[str, Any]
    skipped: dict[str, str]
    survey: SurveyPart | None
    moderation: ModerationPart | None
    moderation_mentors: dict[str, Any] | None
    mentors: dict[str, Any] | None
    dose: DosePart | None
    relationship: dict[str, Any] | None
    model: list[dict[str, Any]]
    facts: dict[str, Facts] = private(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The mentorship model, one row per component."""
        return pd.DataFrame(self.model)


# --- the chapter -----------------------------------------------------------------------------
@produced_by
def bottomup_chapter(
    tables: StudyTables,
    sample: pd.DataFrame,
    *,
    bottomup: Mapping[str, Any],
    covariates: Sequence[str],
    level: float,
    min_cell: int,
    language: str = "en",
) -> BottomUpChapter:
    """Analyse the bottom-up factors, the dose of mentoring and the mentor; make the tables.

    Parameters
    ----------
    tables
        The validated input tables (:func:`evaluation.data.contract.load_study`):
        participants, and the optional survey, sessions and mentors (``None`` when absent).
    sample
        The design stage's analysis sample (:func:`evaluation.estimate.effects.
        analysis_sample`): one row per person with ``treated``, the covariates and outcomes.
    bottomup
        The parameter file's ``bottomup`` section.
    covariates
        The design covariates (the outcome model of every regression here).
    level
        The confidence level (``estimation.level``).
    min_cell
        The disclosure threshold.
    language
        The report's language (the answer table quotes the items' wording in it).

    Returns
    -------
    BottomUpChapter
    """
    k = int(min_cell)
    bu = bottomup
    outcome = str(bu["outcome"])
    if outcome not in sample:
        raise ValueError(f"bottomup.outcome {outcome!r} is not an outcome of this study")
    covariates = list(covariates)
    inputs = {n: getattr(tables, n) is not None for n in ("survey", "sessions", "mentors")}
    skipped = {f"bottomup_{n}": ABSENT[n] for n, present in inputs.items() if not present}
    rule = {"level": level, "suggestive_p": bu["suggestive_p"], "correction": bu["correction"],
            "knot": bu["dose_knot"], "agree_min": bu["agree_min"],
            "alpha_acceptable": ALPHA_ACCEPTABLE}  # fmt: skip

    survey = moderation = moderation_mentors = None
    if inputs["survey"]:
        survey, why = _survey(tables.survey, tables.participants, bu, k, language)
        skipped.update(why)
        moderation, moderation_mentors, why = _moderation(
            sample, survey.scores_baseline, tables, bu, covariates, level, k)  # fmt: skip
        skipped.update(why)
    mentors = dose = per_person = None
    enough_mentors = False
    if inputs["sessions"]:
        mentors, dose, per_person, why = _mentoring(sample, tables.sessions, tables.mentors, bu,
                                                    covariates, level, k)  # fmt: skip
        enough_mentors = dose is not None
        skipped.update(why)
    relationship, rel_facts = None, ()
    if survey is not None and RELATIONSHIP in bu["factors"]:
        relationship, rel_facts, why = _relationship(
            sample, survey.scores_follow_up, per_person, enough_mentors, bu, covariates, level, k
        )
        skipped.update(why)

    components = mentorship_model(
        associations=dose.associations if dose is not None else None,
        slopes=dose.slopes if dose is not None else None,
        moderation=moderation.summary["factors"] if moderation is not None else None,
        relationship=relationship, level=level, suggestive_p=bu["suggestive_p"],
    )  # fmt: skip
    return BottomUpChapter(
        inputs=inputs,
        rule=rule,
        skipped=skipped,
        survey=survey,
        moderation=moderation,
        moderation_mentors=moderation_mentors,
        mentors=mentors,
        dose=dose,
        relationship=relationship,
        model=[c.to_dict() for c in components],
        facts={"relationship": rel_facts},
    )


# --- the survey ------------------------------------------------------------------------------
def _survey(survey: pd.DataFrame, participants: pd.DataFrame, bu: Mapping[str, Any], k: int,
            language: str) -> tuple[SurveyPart, dict[str, str]]:  # fmt: skip
    """Measurement, what the participants report, and change (see :class:`SurveyPart`)."""
    factors = {str(f): list(its) for f, its in bu["factors"].items()}
    reverse = list(bu["reverse"])
    follow = list(bu["follow_up_factors"])
    baseline_factors = {f: its for f, its in factors.items() if f not in follow}
    instrument = load_instrument(bu["instrument"])
    sv = survey.assign(person_id=survey["person_id"].astype(str))
    items_all = [i for its in factors.values() for i in its]
    waves = {w: sv.loc[sv["wave"] == w].set_index("person_id")[items_all] for w in WAVES}
    coded = {w: reverse_code(a, reverse) for w, a in waves.items()}
    facts: dict[str, Facts] = {}
    skipped: dict[str, str] = {}

    reliability, item_reliability, alpha, facts["alpha"] = _reliability(coded, factors, follow, k)
    efa, efa_summary, facts["efa_summary"], why = _efa(coded["baseline"], baseline_factors,
                                                       str(bu["rotation"]))  # fmt: skip
    skipped.update(why)

    sc_b = factor_scores(waves["baseline"], baseline_factors, reverse,
                         min_answered=bu["min_answered"])  # fmt: skip
    sc_f = factor_scores(waves["follow_up"], factors, reverse, min_answered=bu["min_answered"])
    scored = {f: sc_b.scores.index[sc_b.scores[f].notna()] for f in baseline_factors}
    part = {f: sc_b.incomplete.index[sc_b.incomplete[f].to_numpy()] for f in baseline_factors}
    scoring = {"min_answered": bu["min_answered"],
               "n_scored_baseline": {f: _shown(len(ix), k) for f, ix in scored.items()},
               "n_incomplete_baseline": {f: _shown(len(ix), k) for f, ix in part.items()}}  # fmt: skip
    facts["scoring"] = tuple(
        [fact(("n_scored_baseline", f), ix) for f, ix in scored.items()]
        + [fact(("n_incomplete_baseline", f), ix) for f, ix in part.items()]
    )

    factor_of = {i: f for f, its in factors.items() for i in its}
    base_items = [i for its in baseline_factors.values() for i in its]
    agreement, agree_persons = _agreement(coded["baseline"], base_items, factor_of, bu, k)
    agree = agreement.frame
    ranking = {f: [{"item": i, "share": float(r["share"]), "reverse": i in reverse}
                   for i, r in agree.iterrows() if r["factor"] == f and pd.notna(r["share"])]
               for f in RANKED}  # fmt: skip
    facts["ranking"] = tuple(fact((f, j, "share"), agree_persons[b["item"]])
                             for f, ranked in ranking.items() for j, b in enumerate(ranked))  # fmt: skip
    mentor_agreement = None
    if RELATIONSHIP in factors:
        follow_agree, follow_persons = _agreement(coded["follow_up"], factors[RELATIONSHIP],
                                                  factor_of, bu, k)  # fmt: skip
        mentor_agreement = {str(i): (None if pd.isna(r["share"]) else float(r["share"]))
                            for i, r in follow_agree.frame.iterrows()}  # fmt: skip
        facts["mentor_agreement"] = tuple(fact((i,), follow_persons[i]) for i in mentor_agreement)

    answers = _answers(coded["baseline"], base_items, instrument.wording(language), k)
    people = participants.assign(person_id=participants["person_id"].astype(str))
    who = people.set_index("person_id").reindex(sc_b.scores.index)
    profile_tables, profiles = {}, {}
    for key in PROFILE_BY:
        profile_tables[key], profiles[key], facts[f"profile_{key}"] = _profile(
            sc_b.scores, pf.collapse_small(who[key], k), k
        )
    change, n_both, facts["change"] = _change(sc_b.scores, sc_f.scores, list(baseline_factors), k)
    return SurveyPart(
        instrument={"name": instrument.name,
                    "matches_params": not mapping_differences(instrument, factors, reverse)},
        item_text={i: {"en": e, "sv": s} for i, e, s in
                   instrument.items[["item", "text_en", "text_sv"]].itertuples(index=False)},
        reliability=reliability,
        alpha=alpha,
        item_reliability=item_reliability,
        efa=efa,
        efa_summary=efa_summary,
        scoring=scoring,
        agreement=PublishedTable(agree.round({"share": 3}), agreement.facts),
        ranking=ranking,
        mentor_agreement=mentor_agreement,
        answers=answers,
        profile_tables=profile_tables,
        profiles=profiles,
        change=change,
        persons={"n_baseline": _ids(waves["baseline"].index),
                 "n_follow_up": _ids(waves["follow_up"].index), "n_both": n_both},
        facts=facts,
        scores_baseline=sc_b.scores,
        scores_follow_up=sc_f.scores,
    ), skipped  # fmt: skip


def _reliability(coded: Mapping[str, pd.DataFrame], factors: Mapping[str, list[str]],
                 follow: Sequence[str], k: int
                 ) -> tuple[PublishedTable, PublishedTable, dict[str, float | None], Facts]:  # fmt: skip
    """Cronbach's alpha of each factor in its wave, with the item statistics.

    A factor answered by fewer than k persons is not analysed (its count shows ``<k``); an
    alpha resting on fewer than k persons with two answered items is withheld, and so are its
    item statistics. The persons of ``persons`` are those ``Reliability.n`` counts (two or
    more of the factor's items answered), or those answering any item when alpha is not
    computed; alpha and the item statistics are statistics on them.
    """
    rows, item_rows, cell_facts, item_facts, alpha_facts = [], [], [], [], []
    for factor, its in factors.items():
        wave = "follow_up" if factor in follow else "baseline"
        block = coded[wave][its]
        answered = block.notna().sum(axis=1)
        n_any = int((answered > 0).sum())
        try:  # a wave with fewer answers than k: the count suppressed, statistics withheld
            rel = cronbach_alpha(block) if n_any >= k else None
        except ValueError:  # too few joint answers for an item pair: alpha is undefined
            rel = None
        counted = block.index[(answered >= 2 if rel is not None else answered > 0).to_numpy()]
        n = rel.n if rel is not None else n_any
        shown = rel is not None and rel.n >= k
        rows.append({"factor": factor, "wave": wave, "items": len(its), "persons": _shown(n, k),
                     "alpha": round(rel.alpha, 3) if shown else None})  # fmt: skip
        cell_facts += [fact((factor, "persons"), counted),
                       fact((factor, "alpha"), counted, "sample")]  # fmt: skip
        alpha_facts.append(fact((factor,), counted, "sample"))
        for it in its:
            item_rows.append({"item": it, "factor": factor,
                              "item_rest": round(rel.item_rest[it], 3) if shown else None,
                              "alpha_if_dropped": round(rel.alpha_if_dropped[it], 3) if shown
                              else None})  # fmt: skip
            item_facts += [fact((it, c), counted, "sample")
                           for c in ("item_rest", "alpha_if_dropped")]  # fmt: skip
    table = pd.DataFrame(rows).set_index("factor")
    return (PublishedTable(table, tuple(cell_facts)),
            PublishedTable(pd.DataFrame(item_rows).set_index("item"), tuple(item_facts)),
            table["alpha"].to_dict(), tuple(alpha_facts))  # fmt: skip


def _efa(coded: pd.DataFrame, factors: Mapping[str, list[str]], rotation: str
         ) -> tuple[PublishedTable | None, dict[str, Any], Facts, dict[str, str]]:  # fmt: skip
    """The exploratory factor analysis at baseline: loadings (if stable) and summary.

    ``n`` (the fewest persons answering an item pair) is a count of those persons
    (:func:`~evaluation.bottomup.factors.fewest_joint`); the loadings and communalities are
    statistics on the persons with two or more of the items answered.
    """
    names = [i for its in factors.values() for i in its]
    try:
        efa = exploratory_factors(coded, factors, rotation=rotation)
    except ValueError as exc:  # too few joint answers for the correlations: no solution at all
        summary = {"stable": False, "heywood": [], "converged": False, "too_few": True,
                   "method": "principal axis", "rotation": rotation, "n_items": len(names)}  # fmt: skip
        return (
            None,
            summary,
            (),
            {"bottomup_efa": f"the exploratory factor analysis has no solution: {exc}"},
        )
    summary = {"stable": efa.stable, "heywood": list(efa.heywood), "converged": efa.converged,
               "too_few": False, "iterations": efa.iterations, "heywood_cap": HEYWOOD_CAP,
               "method": efa.method, "n": efa.n, "rotation": efa.rotation,
               "n_items": len(efa.loadings)}  # fmt: skip
    facts: list[Fact] = [fact(("n",), fewest_joint(coded, factors))]
    if not efa.stable:  # a Heywood case (or no convergence): the loadings are not an estimate
        return None, summary, tuple(facts), {
            "bottomup_efa": "the exploratory factor analysis reached a Heywood case or did "
                            "not converge: its loadings are not reported"}  # fmt: skip
    summary.update({
        "agreement": efa.agreement,
        "n_on_intended": int(round(efa.agreement * len(efa.loadings))),
        "loadings": {i: round(float(efa.loadings.loc[i, f]), 3) for i, f in efa.intended.items()},
    })  # fmt: skip
    sample = coded.index[(coded[names].notna().sum(axis=1) >= 2).to_numpy()]
    facts += [fact(("loadings", i), sample, "sample") for i in summary["loadings"]]
    table = efa.table()
    numeric = [c for c in table.columns if c != "intended"]
    cells = tuple(fact((row_key(i), c), sample, "sample") for i in table.index for c in numeric)
    return PublishedTable(table, cells), summary, tuple(facts), {}


def _agreement(coded: pd.DataFrame, items: list[str], factor_of: Mapping[str, str],
               bu: Mapping[str, Any], k: int
               ) -> tuple[PublishedTable, dict[str, pd.Index]]:  # fmt: skip
    """The share agreeing with each item (:func:`~evaluation.bottomup.profiles.agreement`).

    ``n``, ``agree`` and ``not_agree`` count the persons answering, agreeing and not
    agreeing; the share gives away the persons agreeing (its numerator). Returns the table
    (share unrounded) with its facts, and the persons agreeing with each item.
    """
    agree_min = bu["agree_min"]
    table = pf.agreement(coded, items, factor_of, agree_min=agree_min, min_cell=k)
    facts, agreeing = [], {}
    for i in items:
        answered = coded[i].notna()
        yes = (coded[i] >= agree_min).to_numpy()
        agreeing[i] = coded.index[yes]
        facts += [fact((i, "n"), coded.index[answered.to_numpy()]),
                  fact((i, "agree"), agreeing[i]),
                  fact((i, "not_agree"), coded.index[answered.to_numpy() & ~yes]),
                  fact((i, "share"), agreeing[i])]  # fmt: skip
    return PublishedTable(table, tuple(facts)), agreeing


def _answers(coded: pd.DataFrame, items: list[str], wording: Mapping[str, str], k: int
             ) -> PublishedTable:  # fmt: skip
    """Each item's answers in three groups: the share, or the label hiding its count.

    Each share is a count over the item's answers (published in the agreement table): its
    fact is the persons of the item in the group.
    """
    shares = pf.answer_shares(coded, items, min_cell=k)
    shares.insert(0, "wording", [wording.get(i, i) for i in shares.index])
    facts = tuple(fact((i, g), coded.index[coded[i].isin(values).to_numpy()])
                  for i in items for g, values in pf.ANSWER_GROUPS.items())  # fmt: skip
    return PublishedTable(shares, facts)


def _profile(scores: pd.DataFrame, groups: pd.Series, k: int
             ) -> tuple[PublishedTable, dict[str, dict[str, float | None]], Facts]:  # fmt: skip
    """Scores by group (:func:`~evaluation.bottomup.profiles.profile_by`) and their facts.

    ``n`` counts the group's persons scored on the factor; mean and SD are statistics on
    them. Groups smaller than k are merged first (:func:`~evaluation.bottomup.profiles.
    collapse_small`).
    """
    prof = pf.profile_by(scores, groups, min_cell=k)
    names = sorted(groups.unique())
    means = {g: {f: (None if pd.isna(prof.loc[f, f"{g}: mean"]) else float(prof.loc[f, f"{g}: mean"]))
                 for f in prof.index} for g in names}  # fmt: skip
    cells, number = [], []
    for g in names:
        for f in prof.index:
            members = scores.index[((groups == g) & scores[f].notna()).to_numpy()]
            cells += [fact((row_key(f), f"{g}: n"), members),
                      fact((row_key(f), f"{g}: mean"), members, "sample"),
                      fact((row_key(f), f"{g}: sd"), members, "sample")]  # fmt: skip
            number.append(fact((g, f), members, "sample"))
    return PublishedTable(prof, tuple(cells)), means, tuple(number)


def _change(scores_b: pd.DataFrame, scores_f: pd.DataFrame, factors: list[str], k: int
            ) -> tuple[dict[str, dict[str, Any] | None], np.ndarray, Facts]:  # fmt: skip
    """Paired change of each factor score, withheld on fewer than k persons with both.

    ``n`` counts the persons with both scores; the other fields are statistics on them.
    Returns the change, the persons of the largest ``n`` (``bottomup_n_both``) and the facts.
    """
    change: dict[str, dict[str, Any] | None] = {}
    facts: list[Fact] = []
    n_both = np.array([], dtype=str)
    for f in factors:
        both = pf.pairs(scores_b[f], scores_f[f]).index
        c = pf.paired_change(scores_b[f], scores_f[f])
        if c.n > len(n_both):
            n_both = _ids(both)
        change[f] = None if c.n < k else {name: getattr(c, name) for name in c.__dataclass_fields__}
        facts += [fact((f, name), both, "count" if name == "n" else "sample")
                  for name in c.__dataclass_fields__]  # fmt: skip
    return change, n_both, tuple(facts)


# --- effect modification by the baseline scores ------------------------------------------
def _moderation(sample: pd.DataFrame, scores_b: pd.DataFrame, tables: StudyTables,
                bu: Mapping[str, Any], covariates: list[str], level: float, k: int
                ) -> tuple[ModerationPart | None, dict[str, Any] | None, dict[str, str]]:  # fmt: skip
    """Interactions of mentoring with the baseline scores, clustered by mentor.

    The mentor of a mentored person is the mentor of most sessions, else the participants'
    ``mentor_id``; with fewer than :data:`~evaluation.bottomup.dose.MIN_MENTORS` mentors the
    moderation is not estimated (the mentors are counted instead); without any mentor
    identifiers it is estimated with HC3 and says so.
    """
    outcome = str(bu["outcome"])
    follow = list(bu["follow_up_factors"])
    factors = [str(f) for f in bu["factors"] if f not in follow]
    frame = sample.join(scores_b, on="person_id")
    people = tables.participants.assign(person_id=tables.participants["person_id"].astype(str))
    mentor_of = (mentoring_dose(tables.sessions)["mentor_id"] if tables.sessions is not None
                 else people.set_index("person_id")["mentor_id"])  # fmt: skip
    frame = frame.assign(mentor_id=frame["person_id"].map(mentor_of))
    scored = (frame[TREATMENT] == 1) & frame[factors].notna().all(axis=1)
    n_mentors = int(frame.loc[scored, "mentor_id"].dropna().nunique())
    cluster = "mentor_id" if n_mentors > 0 else None
    if cluster and n_mentors < MIN_MENTORS:
        return None, {"n": _shown(n_mentors, k), "min": MIN_MENTORS}, {
            "bottomup_moderation": f"the mentored with baseline scores had fewer than "
                                   f"{MIN_MENTORS} mentors: the moderation analysis clusters by "
                                   "mentor"}  # fmt: skip
    moder = moderation_by_factors(frame, outcome, covariates, factors,
                                  correction=bu["correction"], cluster=cluster, level=level)  # fmt: skip
    treated, controls = moder.persons
    rows = {str(f): {c: (bool(v) if c == "flagged" else float(v)) for c, v in r.items()}
            for f, r in moder.table.iterrows()}  # fmt: skip
    summary = {"factors": rows, "n_treated": _shown(moder.n_treated, k),
               "n_control": _shown(moder.n_control, k), "flagged": moder.flagged,
               "att_at_mean": moder.att_at_mean.to_dict(), "se_method": moder.se_method,
               "n_mentors": (suppressed_label(k) if moder.n_clusters and moder.n_clusters < k
                             else moder.n_clusters)}  # fmt: skip
    on_sample = [("factors", f, c) for f, r in rows.items() for c in r if c in _STATISTICS] + [
        ("att_at_mean", c) for c in summary["att_at_mean"] if c in _STATISTICS
    ]
    facts = (
        fact(("n_treated",), treated),
        fact(("n_control",), controls),
        *(fact(w, ids, "sample") for w in on_sample for ids in (treated, controls)),
    )
    inter = [EffectResult.from_normal(
        estimate=r["estimate"], se=r["se"], level=level, outcome=outcome,
        estimator="bottomup_interaction",
        estimand=f"change in the ATT per standard deviation of the baseline {f} score "
        "(treatment interaction in the regression estimator; association, not randomised)",
        n_treated=moder.n_treated, n_control=moder.n_control, se_method=moder.se_method,
        subgroup=f"factor={f}", spec={"p_adjusted": r["p_adjusted"], "correction": bu["correction"]},
        persons=moder.persons) for f, r in moder.table.iterrows()]  # fmt: skip
    # a split (mentored above / at or below a factor's median) on fewer than k persons of a
    # group rests on too few to publish: withheld
    split = [r for r in moder.split if withheld_reason(r, k) is None]
    terms = moder.table[["estimate", "se", "ci_low", "ci_high", "p_value", "p_adjusted",
                         "flagged"]].rename_axis("factor").round(4)  # fmt: skip
    term_facts = tuple(fact((row_key(f), c), ids, "sample") for f in terms.index
                       for c in terms.columns if c != "flagged" for ids in (treated, controls))  # fmt: skip
    return ModerationPart(summary=summary, terms=PublishedTable(terms, term_facts),
                          effects=inter + split, facts={"summary": facts}), None, {}  # fmt: skip


# --- the dose of mentoring and the mentor ----------------------------------------------------
def _mentoring(sample: pd.DataFrame, sessions: pd.DataFrame, mentors: pd.DataFrame | None,
               bu: Mapping[str, Any], covariates: list[str], level: float, k: int
               ) -> tuple[dict[str, Any], DosePart | None, pd.DataFrame, dict[str, str]]:  # fmt: skip
    """The dose of mentoring and the mentor's traits, clustered by mentor (associations).

    Returns the mentors counted, the dose part (``None`` with fewer than
    :data:`~evaluation.bottomup.dose.MIN_MENTORS` mentors), each mentored person's dose and
    mentor (:func:`~evaluation.bottomup.dose.mentoring_dose`), and the analyses skipped.
    """
    outcome = str(bu["outcome"])
    dose = mentoring_dose(sessions, mentors)
    frame = attach(sample, dose)
    mentored = frame.loc[frame[TREATMENT] == 1]
    n_mentors = int(mentored["mentor_id"].nunique())
    counted = {"n": _shown(n_mentors, k), "min": MIN_MENTORS}
    if n_mentors < MIN_MENTORS:
        return counted, None, dose, {
            "bottomup_mentoring": f"the mentored had fewer than {MIN_MENTORS} mentors: the "
                                  "mentoring analyses cluster by mentor"}  # fmt: skip
    skipped: dict[str, str] = {}
    facts: dict[str, Facts] = {}
    met = mentored.loc[mentored["meetings"].notna(), "person_id"]
    summary = {"meetings_median": float(mentored["meetings"].median()),
               "meetings_q1": float(mentored["meetings"].quantile(0.25)),
               "meetings_q3": float(mentored["meetings"].quantile(0.75)),
               "minutes_median": float(mentored["minutes_per_meeting"].median())}  # fmt: skip
    facts["summary"] = tuple(fact((c,), met, "sample") for c in summary)
    curve = _curve(frame, outcome, covariates, bu, level, k)
    fit = dose_slopes(frame, outcome, covariates, "meetings", bu["dose_knot"],
                      cluster="mentor_id", level=level)  # fmt: skip
    slopes = {"below": fit.below.to_dict(), "above": fit.above.to_dict(), "knot": fit.knot,
              "rising_then_flat": fit.rising_then_flat}  # fmt: skip
    sides = analysed_persons(frame, outcome, ["meetings"])
    facts["slopes"] = tuple(fact((part, c), ids, "sample") for part in ("below", "above")
                            for c in slopes[part] if c in _STATISTICS for ids in sides)  # fmt: skip
    features = dict(DOSE_FEATURES) | (dict(MENTOR_FEATURES) if mentors is not None else {})
    # a feature every mentored person has alike (every mentor from the same field) has no
    # association to estimate
    constant = [f for f in features if mentored[f].nunique(dropna=True) < 2]
    if constant:
        skipped["bottomup_no_variation"] = f"no variation among the mentored: {constant}"
    features = {f: u for f, u in features.items() if f not in constant}
    table = (associations(frame, outcome, covariates, features, cluster="mentor_id",
                          correction=bu["correction"], level=level)
             if features else pd.DataFrame())  # fmt: skip
    assoc: dict[str, dict[str, Any]] = {}
    assoc_facts: list[Fact] = []
    for f, r in table.iterrows():
        treated, controls = analysed_persons(frame, outcome, [f])
        row: dict[str, Any] = {c: float(v) for c, v in r.items()}
        row["n_treated"] = _shown(int(r["n_treated"]), k)
        row["evidence"] = evidence(row["p_value"], row["p_adjusted"], level=level,
                                   suggestive_p=bu["suggestive_p"])  # fmt: skip
        assoc[str(f)] = row
        assoc_facts.append(fact((f, "n_treated"), treated))
        assoc_facts += [fact((f, c), ids, "sample") for c in row if c in _STATISTICS
                        for ids in (treated, controls)]  # fmt: skip
    facts["associations"] = tuple(assoc_facts)
    shares = None
    if mentors is not None:
        with_trait = {t: mentored.loc[mentored[t] == 1, "person_id"] for t in MENTOR_FEATURES}
        n_with = {t: len(ids) for t, ids in with_trait.items()}
        if min(min(n_with.values()), min(len(mentored) - v for v in n_with.values())) >= k:
            shares = {t: float(mentored[t].mean()) for t in MENTOR_FEATURES}
            facts["mentor_shares"] = tuple(fact((t,), ids) for t, ids in with_trait.items())
    return (
        counted,
        DosePart(
            summary=summary,
            curve=curve,
            slopes=slopes,
            constant=constant,
            associations=assoc,
            mentor_shares=shares,
            facts=facts,
        ),
        dose,
        skipped,
    )


def _curve(frame: pd.DataFrame, outcome: str, covariates: list[str], bu: Mapping[str, Any],
           level: float, k: int) -> PublishedTable:  # fmt: skip
    """The ATT within bins of meetings.

    The mentored per bin (protected, the bins' sum as the margin), and the estimates (a bin
    with fewer than k mentored is withheld).
    """
    curve = dose_curve(frame, outcome, covariates, "meetings", bu["dose_edges"], min_cell=k,
                       cluster="mentor_id", level=level)  # fmt: skip
    counts = curve.bins[["n_treated"]].astype("int64")
    counts.loc[TOTAL] = counts["n_treated"].sum()
    shown_n = protect_counts(counts, k).table["n_treated"].drop(TOTAL)
    table = curve.bins.drop(columns=["n_treated", "withheld"]).round(3).astype(object)
    table.loc[curve.bins["withheld"].to_numpy()] = withheld_label(k)
    table.insert(0, "mentored", shown_n)
    facts = []
    for label in table.index:
        treated = curve.treated_bin.index[(curve.treated_bin == label).to_numpy()]
        facts.append(fact((row_key(label), "mentored"), treated))
        facts += [fact((row_key(label), c), ids, "sample") for c in table.columns
                  if c in _STATISTICS for ids in (treated, curve.control_ids)]  # fmt: skip
    return PublishedTable(table, tuple(facts))


def _relationship(sample: pd.DataFrame, scores_f: pd.DataFrame, dose: pd.DataFrame | None,
                  enough_mentors: bool, bu: Mapping[str, Any], covariates: list[str],
                  level: float, k: int
                  ) -> tuple[dict[str, Any] | None, Facts, dict[str, str]]:  # fmt: skip
    """The outcome and the mentor-relationship score at follow-up, per SD of the score.

    Clustered by mentor when the mentoring analyses are (enough mentors, each scored mentored
    person's mentor known); withheld when fewer than k mentored persons scored it.
    """
    outcome = str(bu["outcome"])
    frame = sample.join(scores_f[[RELATIONSHIP]].rename(columns={RELATIONSHIP: "relationship"}),
                        on="person_id")  # fmt: skip
    treated = frame[TREATMENT] == 1
    n_scored = int(frame.loc[treated, "relationship"].notna().sum())
    if n_scored < k:  # a statistic on fewer persons than the disclosure threshold: withheld
        return None, (), {"bottomup_relationship": f"fewer than {k} mentored persons scored the "
                                                   "mentor relationship at follow-up"}  # fmt: skip
    if dose is not None:
        frame = attach(frame, dose[["mentor_id"]])
    cl = ("mentor_id" if enough_mentors and frame.loc[treated, "mentor_id"].notna().all()
          else None)  # fmt: skip
    sd = float(frame.loc[treated, "relationship"].std())
    row = associations(frame, outcome, covariates, {"relationship": sd}, cluster=cl,
                       correction="none", level=level).loc["relationship"]  # fmt: skip
    out: dict[str, Any] = {c: float(v) for c, v in row.items()}
    out["evidence"] = evidence(out["p_value"], out["p_adjusted"], level=level,
                               suggestive_p=bu["suggestive_p"])  # fmt: skip
    t_ids, c_ids = analysed_persons(frame, outcome, ["relationship"])
    scored = frame.loc[treated & frame["relationship"].notna(), "person_id"]
    facts = (fact(("n_treated",), t_ids), fact(("unit",), scored, "sample"),
             *(fact((c,), ids, "sample") for c in out if c in _STATISTICS
               for ids in (t_ids, c_ids)))  # fmt: skip
    return out, facts, {}
