"""The data chapter (notebook 01) without a kernel: its tables, their labels and their facts.

A small synthetic study (:mod:`evaluation.synth`) with a few persons made to be excluded (no
monthly rows, short pre-period coverage) and a few categories made small, so that the tables
have hidden cells. What must hold:

* every count cell of the sample flow, the short-coverage table, the descriptive table and
  the pre-employment table has a fact, whose persons are the right ones (worked out here
  again from the analysis data, independently of the chapter's code) and whose number is the
  cell's wherever the cell is shown;
* a hidden cell says truthfully why: ``<k`` only for a count of 1 to k-1;
* the input-table summary counts the file's columns and its participants row all persons;
* the hand-over keeps outcomes away from the design stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.chapters.data import (
    HAND_OVER_FILES,
    PRE_EMPLOYMENT_BINS,
    PRE_EMPLOYMENT_LABELS,
    data_chapter,
    write_hand_over,
)
from evaluation.config import outcome_names
from evaluation.data.contract import validate_study
from evaluation.disclosure.ledger import row_key
from evaluation.pipeline.notebooks import NOTEBOOKS
from evaluation.rng import stream
from evaluation.synth import generate

K = 5
SEED = 7
OUTCOMES = {"horizons": [6, 12, 24], "pre_months": 12, "min_pre_months": 12}
#: Persons made to be excluded: no monthly rows (2 mentored, 3 comparison).
NO_ROWS = {"mentored": 2, "comparison": 3}
#: Share tolerance of a published share (four decimals).
SHARE_TOL = 5e-5


@pytest.fixture(scope="module")
def study():
    s = generate(SEED, n_mentored=40, n_comparison=160)
    parts = s.participants.copy()
    monthly = s.monthly
    gone = [
        *parts.loc[parts["group"] == "mentored", "person_id"].head(NO_ROWS["mentored"]),
        *parts.loc[parts["group"] == "comparison", "person_id"].head(NO_ROWS["comparison"]),
    ]
    monthly = monthly.loc[~monthly["person_id"].astype(str).isin(gone)]
    # two comparison persons with a category no one else has (a small cell of the table)
    some = parts.index[parts["group"] == "comparison"][10:12]
    parts["origin_region"] = parts["origin_region"].astype(object)
    parts.loc[some, "origin_region"] = "Other"
    tables = validate_study({"participants": parts, "monthly": monthly, "survey": None,
                             "sessions": s.sessions, "mentors": s.mentors})  # fmt: skip
    return tables, set(map(str, gone))


@pytest.fixture(scope="module")
def chapter(study):
    tables, _ = study
    return data_chapter(tables, outcomes=OUTCOMES, rng=stream(SEED, "pseudo_starts"),
                        min_cell=K)  # fmt: skip


def _facts(table):
    out = {}
    for f in table.facts:
        assert f.where not in out, f"two facts for one cell: {f.where}"
        out[f.where] = f
    return out


def _count(cell) -> int | None:
    """The number a published count cell shows (``None`` where hidden)."""
    if isinstance(cell, int | np.integer):
        return int(cell)
    text = str(cell).split(" ")[0]
    return int(text) if text.isdigit() else None


def _truthful(cell, n: int) -> None:
    """A hidden cell's label: ``<k`` only for 1..k-1 persons."""
    if str(cell) == f"<{K}":
        assert 0 < n < K, f"'<{K}' on a count of {n}"
    elif str(cell) == "..":
        pass  # hidden to protect another: any number
    else:
        assert _count(cell) == n, (cell, n)


def _by_group(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {"mentored": frame[frame["treated"] == 1], "comparison": frame[frame["treated"] == 0]}


def test_every_cell_of_the_sample_flow_counts_its_persons(study, chapter):
    tables, gone = study
    flow = chapter.sample_flow.frame
    facts = _facts(chapter.sample_flow)
    assert set(facts) == {(row_key(s), c) for s in flow.index
                          for c in ("mentored", "comparison", "total")}  # fmt: skip
    for step, row in flow.iterrows():
        for col in ("mentored", "comparison", "total"):
            _truthful(row[col], facts[(step, col)].n)
    everyone = set(tables.participants["person_id"].astype(str))
    assert set(facts[("persons in participants", "total")].persons) == everyone
    no_rows = facts[("excluded: no monthly records", "mentored")]
    assert set(no_rows.persons) <= gone and no_rows.n == NO_ROWS["mentored"]
    assert flow.loc["excluded: no monthly records", "mentored"] == f"<{K}"
    analysed = set(chapter.analysis.frame["person_id"].astype(str))
    assert set(facts[("analysed", "total")].persons) == analysed
    mentored = chapter.analysis.frame.loc[chapter.analysis.frame["treated"] == 1, "person_id"]
    assert set(facts[("analysed", "mentored")].persons) == set(mentored.astype(str))
    assert set(chapter.counts["n_mentored"]) == set(mentored.astype(str))
    assert len(chapter.counts["n_comparison"]) + len(mentored) == len(analysed)
    pseudo = chapter.analysis.frame.loc[chapter.analysis.frame["pseudo_start"] == 1, "person_id"]
    assert set(pseudo.astype(str)) <= set(chapter.counts["n_pseudo_starts"])
    assert len(chapter.counts["n_pseudo_starts"]) == chapter.analysis.n_pseudo_starts


def test_short_coverage_cells_count_the_analysed_whose_data_end_early(chapter):
    frame = chapter.analysis.frame
    facts = _facts(chapter.short_coverage)
    flow_facts = _facts(chapter.sample_flow)
    for h, row in chapter.short_coverage.frame.iterrows():
        for col, part in (*_by_group(frame).items(), ("total", frame)):
            want = set(part.loc[part["months_after"] < h, "person_id"].astype(str))
            f = facts[(row_key(h), col)]
            assert set(f.persons) == want
            _truthful(row[col], f.n)
            # the same persons as the flow's note row: one set, shown twice
            assert (
                set(flow_facts[(f"analysed, coverage ends before month {h}", col)].persons) == want
            )


def test_descriptive_cells_have_the_persons_they_describe(chapter):
    frame = chapter.analysis.frame
    table = chapter.descriptives.frame
    facts = _facts(chapter.descriptives)
    assert list(table.columns) == ["mentored", "comparison"]
    assert set(facts) == {(row_key(v), g) for v in table.index for g in table.columns}
    groups = _by_group(frame)
    small = 0
    for variable, row in table.iterrows():
        column, _, value = variable.partition(": ")
        for g, part in groups.items():
            f = facts[(variable, g)]
            if value:  # categorical: n (%) of the group with that value
                have = part[column].astype("string").fillna("missing") == value
                assert f.kind == "count"
                assert set(f.persons) == set(part.loc[have, "person_id"].astype(str))
                _truthful(row[g], f.n)
                small += str(row[g]) == f"<{K}"
                if _count(row[g]) is not None:
                    pct = float(str(row[g]).split("(")[1].split(" ")[0])
                    assert pct == pytest.approx(100 * f.n / len(part), abs=0.05)
            else:  # numeric: mean (SD) of the group's persons with a value
                assert f.kind == "sample"
                assert set(f.persons) == set(part.loc[part[column].notna(), "person_id"]
                                             .astype(str))  # fmt: skip
                assert str(row[g]).startswith("withheld") == (f.n < K)
    assert small >= 1, "the test study must have a small descriptive cell"
    assert table.loc["origin_region: Other", "comparison"] == f"<{K}"


def test_pre_employment_shares_are_of_the_right_persons_and_labelled_truthfully(chapter):
    frame = chapter.analysis.frame
    table = chapter.pre_employment.frame
    facts = _facts(chapter.pre_employment)
    assert list(table.index) == list(PRE_EMPLOYMENT_LABELS)
    binned = pd.cut(frame["pre_months_employed_12"], bins=list(PRE_EMPLOYMENT_BINS),
                    labels=list(PRE_EMPLOYMENT_LABELS), right=True, include_lowest=True)  # fmt: skip
    for label, row in table.iterrows():
        for g, part in _by_group(frame).items():
            f = facts[(label, g)]
            assert set(f.persons) == set(part.loc[binned.loc[part.index] == label, "person_id"]
                                         .astype(str))  # fmt: skip
            cell = row[g]
            if isinstance(cell, str):
                assert cell in (f"<{K}", ".."), cell
                if cell == f"<{K}":
                    assert 0 < f.n < K
            else:
                assert cell == pytest.approx(f.n / len(part), abs=SHARE_TOL)


def test_input_tables_name_files_only_and_count_all_participants(study, chapter):
    tables, _ = study
    shown = chapter.input_tables.frame
    assert shown.loc["participants", "rows"] == len(tables.participants)
    assert shown.loc["participants", "columns"] == tables.file_columns["participants"]
    assert shown.loc["survey", "status"] == "not given"
    (f,) = chapter.input_tables.facts
    assert f.where == ("participants", "rows")
    assert set(f.persons) == set(tables.participants["person_id"].astype(str))
    assert chapter.skipped == {"survey": "the optional table 'survey' is absent from the inputs"}
    assert chapter.optional_present == ["sessions", "mentors"]


def test_start_months_are_those_of_the_mentored_analysed(chapter):
    frame = chapter.analysis.frame
    starts = frame.loc[frame["treated"] == 1, "start_month"].astype(str)
    assert chapter.start_months == {"first": starts.min(), "last": starts.max()}


def test_the_hand_over_keeps_outcomes_away_from_the_design_stage(chapter, tmp_path):
    paths = write_hand_over(chapter, tmp_path / "scratch")
    design = pd.read_parquet(paths["design_data"])
    outcomes = pd.read_parquet(paths["outcome_data"])
    monthly = pd.read_parquet(paths["monthly_panel"])
    names = outcome_names(OUTCOMES["horizons"])
    assert not set(names) & set(design.columns)
    assert {"treated", "person_id", "start_month"} <= set(design.columns)
    assert list(outcomes.columns) == ["person_id", *names, "months_to_job", "job_found",
                                      "months_after"]  # fmt: skip
    assert set(monthly["person_id"].astype(str)) == set(design["person_id"].astype(str))
    assert [p.name for p in paths.values()] == ["design_data.parquet", "outcome_data.parquet",
                                                "monthly_panel.parquet"]  # fmt: skip


def test_the_chapter_records_nothing_person_level(chapter):
    record = chapter.to_record()
    assert "counts" not in record and "analysis" not in record
    assert not {"design_data", "outcome_data", "monthly_panel"} & set(record)


def test_the_hand_over_files_are_those_the_run_graph_declares():
    # the notebook names them through write_hand_over, so the source check of the run graph
    # (tests/pipeline/test_graph_cache.py) cannot see them: held here instead
    (spec,) = [s for s in NOTEBOOKS if s.name == "01_data"]
    assert set(HAND_OVER_FILES.values()) == set(spec.writes)
