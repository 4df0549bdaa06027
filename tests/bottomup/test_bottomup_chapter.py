"""The bottom-up chapter function on a hand-made study (no kernel): its tables, their facts.

Every published count has a ``count`` fact with exactly the persons it counts, every share of
a published total the persons of its numerator, every statistic a ``sample`` fact on the
persons it rests on; hidden cells are labelled for what they are; absent inputs leave their
part out with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.bottomup.dose import MIN_MENTORS
from evaluation.chapters.bottomup import ABSENT, PROFILE_BY, bottomup_chapter
from evaluation.data.contract.validate import StudyTables
from evaluation.disclosure.ledger import Fact, PublishedTable, row_key

K = 5
FACTORS = {"goal": ["goal_1", "goal_2", "goal_3"], "barrier": ["barrier_1", "barrier_2", "barrier_3"],
           "mentor": ["mentor_1", "mentor_2"]}  # fmt: skip
BOTTOMUP = {
    "instrument": "survey_v1", "factors": FACTORS, "reverse": ["barrier_2"],
    "follow_up_factors": ["mentor"], "min_answered": 0.5, "agree_min": 4, "outcome": "y",
    "correction": "holm", "rotation": "promax", "dose_edges": [0, 4, 8, 1000], "dose_knot": 4,
    "suggestive_p": 0.2,
}  # fmt: skip
MENTORED = [f"m{i:02d}" for i in range(40)]
COMPARISON = [f"c{i:03d}" for i in range(120)]
BASELINE = MENTORED[:38]  # m38, m39 never answered
FOLLOW_UP = MENTORED[:25]
SKIP_GOAL_3 = MENTORED[:3]  # scored on goal from two of its three items: 3 persons, '<5'
ONE_GOAL_ITEM = MENTORED[3]  # one goal item of three: answered, not scored on goal
TERTIARY = MENTORED[30:33]  # an education group of 3: merged into a larger group
N_MENTORS = 10


def _mentor(i: int) -> str:
    return f"M{i % N_MENTORS}"


def make_study(n_mentors: int = N_MENTORS):
    """Tables and the analysis sample of a hand-made study."""
    rng = np.random.default_rng(7)
    people = pd.DataFrame({
        "person_id": MENTORED + COMPARISON,
        "group": ["mentored"] * 40 + ["comparison"] * 120,
        "sex": ["female" if i % 2 else "male" for i in range(160)],
        "education": ["tertiary" if p in TERTIARY else ("secondary" if i % 3 else "primary")
                      for i, p in enumerate(MENTORED + COMPARISON)],
        "mentor_id": [f"M{i % n_mentors}" for i in range(40)] + [None] * 120,
    })  # fmt: skip
    rows = []
    for wave, who in (("baseline", BASELINE), ("follow_up", FOLLOW_UP)):
        for p in who:
            latent = rng.normal()
            row = {"person_id": p, "wave": wave}
            for its in FACTORS.values():
                for it in its:
                    row[it] = float(np.clip(np.round(3 + latent + rng.normal(scale=0.8)), 1, 5))
            rows.append(row)
    survey = pd.DataFrame(rows)
    base = survey["wave"] == "baseline"
    survey.loc[base & survey["person_id"].isin(SKIP_GOAL_3), "goal_3"] = np.nan
    survey.loc[base & (survey["person_id"] == ONE_GOAL_ITEM), ["goal_2", "goal_3"]] = np.nan
    survey.loc[base, FACTORS["mentor"]] = np.nan
    sessions = pd.DataFrame([
        {"person_id": p, "mentor_id": f"M{i % n_mentors}", "date": f"2017-{m % 12 + 1:02d}-01",
         "minutes": 45 + i + m}
        for i, p in enumerate(MENTORED) for m in range(1 + i % 11)])  # fmt: skip
    mentors = pd.DataFrame({"mentor_id": [f"M{i}" for i in range(N_MENTORS)],
                            "same_field": [i % 2 for i in range(N_MENTORS)],
                            "background": ["migrant" if i % 3 == 0 else "native"
                                           for i in range(N_MENTORS)]})  # fmt: skip
    treated = np.r_[np.ones(40), np.zeros(120)].astype(int)
    age = rng.normal(35, 8, 160)
    sample = pd.DataFrame({"person_id": MENTORED + COMPARISON, "treated": treated, "age": age,
                           "y": rng.normal(5, 2, 160) + 1.5 * treated})  # fmt: skip
    tables = StudyTables(participants=people, monthly=None, survey=survey, sessions=sessions,
                         mentors=mentors)  # fmt: skip
    return tables, sample


def run(tables, sample):
    return bottomup_chapter(tables, sample, bottomup=BOTTOMUP, covariates=["age"], level=0.95,
                            min_cell=K, language="en")  # fmt: skip


@pytest.fixture(scope="module")
def chapter():
    return run(*make_study())


def cell(table: pd.DataFrame, where: tuple) -> object:
    """The cell a fact's path ``(row, column)`` names (the path must name one)."""
    row, column = where
    rows = [i for i in table.index if row_key(i) == row]
    assert len(rows) == 1 and column in table.columns, f"the fact {where} names no cell"
    return table.loc[rows[0], column]


def value_at(number: object, where: tuple) -> object:
    """The value a fact's path names inside a published number."""
    for part in where:
        number = number[part]
    return number


def ids(persons) -> set[str]:
    return {str(p) for p in persons}


def facts_of(table: PublishedTable, column: str, kind: str | None = None) -> list[Fact]:
    return [f for f in table.facts if f.where[1] == column and (kind is None or f.kind == kind)]


def tables_of(ch) -> dict[str, tuple[PublishedTable, tuple[str, ...]]]:
    """Every published table with its count columns."""
    sv = ch.survey
    out = {
        "reliability": (sv.reliability, ("persons",)),
        "agreement": (sv.agreement, ("n", "agree", "not_agree", "share")),
        "answers": (sv.answers, ("disagree", "neutral", "agree")),
        "item_reliability": (sv.item_reliability, ()),
        "efa": (sv.efa, ()),
        "moderation_terms": (ch.moderation.terms, ()),
        "dose_curve": (ch.dose.curve, ("mentored",)),
    }
    for by, t in sv.profile_tables.items():
        out[f"profile_{by}"] = (t, tuple(c for c in t.frame.columns if c.endswith(": n")))
    return out  # fmt: skip


def test_every_count_cell_has_a_fact_with_exactly_its_persons(chapter):
    for name, (table, count_columns) in tables_of(chapter).items():
        if table is None:
            continue
        for f in table.facts:
            shown = cell(table.frame, f.where)
            if (
                f.kind == "count"
                and not isinstance(shown, str)
                and f.where[1] != "share"
                and table is not chapter.survey.answers
            ):
                assert shown == f.n, f"{name} {f.where}: shows {shown}, its fact counts {f.n}"
        for column in count_columns:
            counted = {f.where[0] for f in facts_of(table, column, "count")}
            assert counted == {row_key(i) for i in table.frame.index}, f"{name}.{column}"


def test_every_statistic_has_a_sample_fact(chapter):
    for name, (table, count_columns) in tables_of(chapter).items():
        if table is None:
            continue
        # not statistics: labels, the number of items, a flag, and the rank of the shares
        numeric = [c for c in table.frame.columns if c not in count_columns and c not in
                   ("wave", "items", "factor", "intended", "wording", "flagged", "rank")]  # fmt: skip
        for column in numeric:
            rows = {f.where[0] for f in facts_of(table, column, "sample")}
            assert rows == {row_key(i) for i in table.frame.index}, f"{name}.{column}"


def test_the_survey_counts_count_the_right_persons(chapter):
    sv = chapter.survey
    assert ids(sv.persons["n_baseline"]) == set(BASELINE)
    assert ids(sv.persons["n_follow_up"]) == set(FOLLOW_UP)
    scoring = {f.where: f for f in sv.reveals("scoring")}
    assert ids(scoring[("n_incomplete_baseline", "goal")].persons) == set(SKIP_GOAL_3)
    assert sv.scoring["n_incomplete_baseline"]["goal"] == f"<{K}", "primary suppression"
    scored_goal = set(BASELINE) - {ONE_GOAL_ITEM}
    assert ids(scoring[("n_scored_baseline", "goal")].persons) == scored_goal
    assert sv.scoring["n_scored_baseline"]["goal"] == len(scored_goal)
    # the reliability's persons: two or more of the factor's items answered (alpha's n)
    rel = {f.where: f for f in sv.reliability.facts}
    assert ids(rel[("goal", "persons")].persons) == scored_goal
    assert rel[("goal", "alpha")].kind == "sample"
    assert ids(rel[("mentor", "persons")].persons) == set(FOLLOW_UP)
    both = {f.where: f for f in sv.reveals("change")}
    assert ids(both[("goal", "n")].persons) == set(FOLLOW_UP) - {ONE_GOAL_ITEM}
    assert both[("goal", "n")].kind == "count" and both[("goal", "mean_change")].kind == "sample"
    assert ids(sv.persons["n_both"]) == set(FOLLOW_UP)  # the largest: barrier


def test_shares_give_away_their_numerators(chapter):
    sv = chapter.survey
    agree = {f.where: f for f in sv.agreement.facts}
    for item in sv.agreement.frame.index:
        n, yes = agree[(item, "n")], agree[(item, "agree")]
        assert ids(agree[(item, "share")].persons) == ids(yes.persons)
        assert ids(yes.persons) <= ids(n.persons)
        assert ids(agree[(item, "not_agree")].persons) == ids(n.persons) - ids(yes.persons)
    ranked = {f.where: f for f in sv.reveals("ranking")}
    for factor, items in sv.ranking.items():
        for j, b in enumerate(items):
            assert ids(ranked[(factor, j, "share")].persons) == ids(agree[(b["item"], "agree")]
                                                                    .persons)  # fmt: skip
            assert value_at(sv.ranking, (factor, j, "share")) == b["share"]
    for item in FACTORS["goal"] + FACTORS["barrier"]:  # three answer groups partition answers
        groups = [ids(f.persons) for f in sv.answers.facts if f.where[0] == item]
        assert set().union(*groups) == ids(agree[(item, "n")].persons)
        assert sum(len(g) for g in groups) == agree[(item, "n")].n


def test_hidden_cells_are_labelled_for_what_they_are(chapter):
    sv = chapter.survey
    answers = sv.answers.frame[["disagree", "neutral", "agree"]]
    for _, row in answers.iterrows():
        hidden = [c for c in row if isinstance(c, str)]
        assert all(c in (f"<{K}", "..") for c in hidden)
        shown = sum(c for c in row if not isinstance(c, str))
        assert (not hidden and shown == pytest.approx(1, abs=2e-3)) or (hidden and shown < 1)
    for f in sv.answers.facts:  # a cell shown as a share rests on k or more persons
        if not isinstance(cell(sv.answers.frame, f.where), str):
            assert f.n >= K
        elif cell(sv.answers.frame, f.where) == f"<{K}":
            assert 0 < f.n < K
    # profiles: the 3 tertiary persons are merged into a larger group
    edu = sv.profile_tables["education"].frame
    assert not any(c.startswith("tertiary:") for c in edu.columns)
    merged = [c for c in edu.columns if c.endswith(" + other: n")]
    assert merged, "the small group is merged, not dropped"
    group = merged[0].removesuffix(": n")
    counted = {f.where: f for f in sv.profile_tables["education"].facts}[("goal", merged[0])]
    assert set(TERTIARY) <= ids(counted.persons), f"{group} holds the tertiary persons"


def test_profile_cells_count_the_group_scored_on_the_factor(chapter):
    sv = chapter.survey
    table = sv.profile_tables["sex"]
    women = {p for i, p in enumerate(MENTORED + COMPARISON) if i % 2}
    scored_goal = set(BASELINE) - {ONE_GOAL_ITEM}
    facts = {f.where: f for f in table.facts}
    assert ids(facts[("goal", "female: n")].persons) == scored_goal & women
    assert facts[("goal", "female: mean")].kind == "sample"
    means = {f.where: f for f in sv.reveals("profile_sex")}
    assert ids(means[("female", "goal")].persons) == scored_goal & women
    assert set(sv.profiles) == set(PROFILE_BY)


def test_numbers_facts_name_values_that_exist(chapter):
    sv, mod, dose = chapter.survey, chapter.moderation, chapter.dose
    numbers = {"alpha": sv.alpha, "efa_summary": sv.efa_summary, "scoring": sv.scoring,
               "ranking": sv.ranking, "mentor_agreement": sv.mentor_agreement,
               "profile_sex": sv.profiles["sex"], "profile_education": sv.profiles["education"],
               "change": sv.change}  # fmt: skip
    for name, number in numbers.items():
        assert sv.reveals(name), name
        for f in sv.reveals(name):
            value_at(number, f.where)
    for part, number in ((mod, mod.summary), (dose, None)):
        for name in ("summary", "slopes", "associations", "mentor_shares"):
            target = number if part is mod else getattr(dose, name, None)
            for f in part.reveals(name):
                value_at(target, f.where)
    for f in chapter.reveals("relationship"):
        value_at(chapter.relationship, f.where)
    assert {f.where for f in mod.reveals("summary") if f.kind == "count"} == {
        ("n_treated",),
        ("n_control",),
    }


def test_estimates_carry_the_persons_they_count(chapter):
    mod = chapter.moderation
    treated = {f.where: f for f in mod.reveals("summary")}[("n_treated",)]
    assert ids(treated.persons) == set(BASELINE) - {ONE_GOAL_ITEM}  # scored on every factor
    assert mod.summary["n_treated"] == treated.n
    for e in mod.effects:
        assert e.persons is not None
        assert (len(e.persons[0]), len(e.persons[1])) == (e.n_treated, e.n_control)
        assert ids(e.persons[0]) <= ids(treated.persons)
    splits = [e for e in mod.effects if e.estimator == "bottomup_split_ra"]
    for f in ("goal", "barrier"):
        two = [e for e in splits if e.subgroup.startswith(f"{f}=")]
        if len(two) == 2:  # the two halves partition the mentored used
            assert ids(two[0].persons[0]) | ids(two[1].persons[0]) == ids(treated.persons)
    assoc = {f.where: f for f in chapter.dose.reveals("associations")}
    for feature, row in chapter.dose.associations.items():
        assert assoc[(feature, "n_treated")].n == row["n_treated"]


def test_the_dose_bins_count_their_mentored(chapter):
    curve = chapter.dose.curve
    meetings = {p: 1 + i % 11 for i, p in enumerate(MENTORED)}
    edges = BOTTOMUP["dose_edges"]
    for f in facts_of(curve, "mentored"):
        lo, hi = (int(x) for x in f.where[0].split("-"))
        want = {p for p, m in meetings.items() if edges[0] < m and lo <= m <= hi}
        assert ids(f.persons) == want
    for _, row in curve.frame.iterrows():
        if isinstance(row["estimate"], str):
            assert row["estimate"] == f"withheld (n<{K})"


def test_absent_inputs_leave_their_parts_out_with_the_reason():
    tables, sample = make_study()
    bare = StudyTables(participants=tables.participants, monthly=None)
    ch = run(bare, sample)
    assert ch.inputs == {"survey": False, "sessions": False, "mentors": False}
    assert ch.skipped == {f"bottomup_{n}": ABSENT[n] for n in ("survey", "sessions", "mentors")}
    assert (ch.survey, ch.moderation, ch.mentors, ch.dose, ch.relationship) == (None,) * 5
    assert {c["evidence"] for c in ch.model} == {"not_assessed"}


def test_too_few_mentors_count_the_mentors_and_skip_what_clusters_by_them():
    tables, sample = make_study(n_mentors=3)
    ch = run(tables, sample)
    assert ch.moderation is None and ch.dose is None
    assert ch.moderation_mentors == {"n": f"<{K}", "min": MIN_MENTORS}
    assert ch.mentors == {"n": f"<{K}", "min": MIN_MENTORS}
    assert {"bottomup_moderation", "bottomup_mentoring"} <= set(ch.skipped)
    assert ch.survey is not None and ch.relationship is not None  # not clustered: estimated
