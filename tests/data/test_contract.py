from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.calendar import month_index
from evaluation.data.contract import (
    MAX_REPORTED,
    RULES,
    ContractViolationError,
    StudyTables,
    Violation,
    coverage_by_person,
    coverage_summary,
    load_study,
    rules_markdown,
    validate_monthly,
    validate_participants,
    validate_sessions,
    validate_study,
    validate_survey,
)
from evaluation.errors import ContractError

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
#: Seconds allowed to validate a monthly table of PERF_ROWS rows (generous for slow CI).
PERF_ROWS = 2_000_000
PERF_SECONDS = 20.0

Tables = dict[str, pd.DataFrame]


# --- helpers -------------------------------------------------------------------------


def set_value(table: str, row: int, column: str, value: object) -> Callable[[Tables], None]:
    """Mutation: set a cell; ``row`` is the 1-based data row number."""

    def mutate(tables: Tables) -> None:
        frame = tables[table]
        if value is None or isinstance(value, str):
            frame[column] = frame[column].astype(object)
        elif isinstance(value, float) and not pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
        frame.loc[row - 1, column] = value

    return mutate


def append_copy(table: str, row: int) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        frame = tables[table]
        tables[table] = pd.concat([frame, frame.iloc[[row - 1]]], ignore_index=True)

    return mutate


def drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=column)

    return mutate


def both(*mutations: Callable[[Tables], None]) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        for m in mutations:
            m(tables)

    return mutate


def copy_tables(tables: Tables) -> Tables:
    return {name: frame.copy() for name, frame in tables.items()}


def raise_violations(call: Callable[[], object]) -> ContractViolationError:
    with pytest.raises(ContractViolationError) as info:
        call()
    assert isinstance(info.value, ContractError)
    assert info.value.exit_code == 3
    return info.value


# --- one bad file per rule -----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    table: str
    column: str | None
    mutate: Callable[[Tables], None]
    rows: tuple[int, ...]
    count: int
    fmt: str = "csv"
    also: tuple[str, ...] = ()  # other rules the same mutation breaks


CASES = [
    # participants
    Case("p-required-column", "required_column", "participants", "sex",
         drop_column("participants", "sex"), (), 0, "xlsx"),
    Case("p-duplicate-column", "duplicate_column_names", "participants", "sex",
         lambda t: t["participants"].insert(6, " Sex", "female"), (), 0),
    Case("p-duplicate-person", "duplicate_key", "participants", "person_id",
         append_copy("participants", 1), (1, 5), 2, "parquet"),
    Case("p-required-value", "required_value", "participants", "origin_region",
         set_value("participants", 3, "origin_region", " "), (3,), 1),
    Case("p-start-for-mentored", "start_month_for_mentored", "participants", "start_month",
         set_value("participants", 2, "start_month", None), (2,), 1, "dta"),
    Case("p-category-sex", "category", "participants", "sex",
         set_value("participants", 4, "sex", "x"), (4,), 1),
    Case("p-category-group", "category", "participants", "group",
         set_value("participants", 4, "group", "control"), (4,), 1, "sav"),
    Case("p-category-education", "category", "participants", "education",
         set_value("participants", 1, "education", "Secondary school"), (1,), 1),
    Case("p-month-format", "month_format", "participants", "start_month",
         set_value("participants", 1, "start_month", "2018/03"), (1,), 1, "sav"),
    Case("p-integer", "integer", "participants", "birth_year",
         set_value("participants", 2, "birth_year", "1990.5"), (2,), 1),
    Case("p-year-range", "year_range", "participants", "birth_year",
         set_value("participants", 3, "birth_year", 1850), (3,), 1, "parquet"),
    Case("p-year-future", "year_range", "participants", "arrival_year",
         set_value("participants", 4, "arrival_year", 2999), (4,), 1),
    Case("p-arrival-before-birth", "arrival_before_birth", "participants",
         "birth_year, arrival_year", set_value("participants", 1, "arrival_year", 1980), (1,), 1),
    Case("p-end-before-start", "end_before_start", "participants", "start_month, end_month",
         set_value("participants", 1, "end_month", "2018-01"), (1,), 1, "xlsx"),
    Case("p-end-for-comparison", "mentored_only", "participants", "end_month",
         set_value("participants", 3, "end_month", "2018-10"), (3,), 1),
    Case("p-mentor-for-comparison", "mentored_only", "participants", "mentor_id",
         set_value("participants", 4, "mentor_id", "M01"), (4,), 1, "xlsx"),
    Case("p-unknown-mentor", "unknown_mentor", "participants", "mentor_id",
         set_value("participants", 1, "mentor_id", "M99"), (1,), 1),
    # monthly
    Case("m-required-column", "required_column", "monthly", "earnings",
         drop_column("monthly", "earnings"), (), 0, "parquet"),
    Case("m-duplicate-month", "duplicate_key", "monthly", "person_id, month",
         set_value("monthly", 6, "month", "2017-05-01"), (5, 6), 2),
    Case("m-required-value", "required_value", "monthly", "earnings",
         set_value("monthly", 10, "earnings", None), (10,), 1),
    Case("m-month-format", "month_format", "monthly", "month",
         both(set_value("monthly", 3, "month", "201703"),
              set_value("monthly", 40, "month", "2017-13")), (3, 40), 2),
    Case("m-binary", "binary_0_1", "monthly", "employed",
         set_value("monthly", 7, "employed", 2), (7,), 1, "dta"),
    Case("m-binary-optional", "binary_0_1", "monthly", "in_education",
         set_value("monthly", 2, "in_education", 3), (2,), 1, "sav"),
    Case("m-number", "number", "monthly", "earnings",
         set_value("monthly", 8, "earnings", "1,5"), (8,), 1),
    Case("m-non-negative", "non_negative", "monthly", "earnings",
         set_value("monthly", 9, "earnings", -100.0), (9,), 1, "xlsx"),
    Case("m-unknown-person", "unknown_person", "monthly", "person_id",
         set_value("monthly", 144, "person_id", "P9999"), (144,), 1, "parquet"),
    # survey
    Case("s-duplicate-wave", "duplicate_key", "survey", "person_id, wave",
         append_copy("survey", 1), (1, 5), 2),
    Case("s-category-wave", "category", "survey", "wave",
         set_value("survey", 2, "wave", "endline"), (2,), 1),
    Case("s-likert", "likert_1_5", "survey", "q1",
         both(set_value("survey", 1, "q1", 6), set_value("survey", 3, "q1", 0)), (1, 3), 2, "dta"),
    Case("s-integer", "integer", "survey", "q2",
         set_value("survey", 1, "q2", 2.5), (1,), 1),
    Case("s-unknown-person", "unknown_person", "survey", "person_id",
         set_value("survey", 4, "person_id", "P7777"), (4,), 1),
    # sessions
    Case("x-date-format", "date_format", "sessions", "date",
         both(set_value("sessions", 2, "date", "2018-02-30"),
              set_value("sessions", 3, "date", "05/03/2018")), (2, 3), 2),
    Case("x-positive", "positive", "sessions", "minutes",
         set_value("sessions", 1, "minutes", 0), (1,), 1),
    Case("x-integer", "integer", "sessions", "minutes",
         set_value("sessions", 2, "minutes", 45.5), (2,), 1, "parquet"),
    Case("x-not-mentored", "session_not_mentored", "sessions", "person_id",
         set_value("sessions", 3, "person_id", "P0003"), (3,), 1),
    Case("x-unknown-person", "unknown_person", "sessions", "person_id",
         set_value("sessions", 3, "person_id", "P9999"), (3,), 1),
    Case("x-unknown-mentor", "unknown_mentor", "sessions", "mentor_id",
         set_value("sessions", 2, "mentor_id", "M77"), (2,), 1, "parquet"),
    Case("x-required-value", "required_value", "sessions", "mentor_id",
         set_value("sessions", 1, "mentor_id", None), (1,), 1),
    Case("x-after-end-month", "session_outside_mentoring", "sessions", "date",
         set_value("sessions", 2, "date", "2019-01-10"), (2,), 1, "xlsx"),
    # mentors
    Case("t-duplicate-mentor", "duplicate_key", "mentors", "mentor_id",
         append_copy("mentors", 2), (2, 3), 2),
    Case("t-category", "category", "mentors", "background",
         set_value("mentors", 1, "background", "swedish"), (1,), 1),
    Case("t-binary", "binary_0_1", "mentors", "same_field",
         set_value("mentors", 2, "same_field", 5), (2,), 1),
    Case("t-required-column", "required_column", "mentors", "background",
         drop_column("mentors", "background"), (), 0, "sav"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_rule_is_reported_with_file_column_rows_and_count(
    case: Case, tables: Tables, write_study
) -> None:
    tables = copy_tables(tables)
    case.mutate(tables)
    paths = write_study(tables, {case.table: case.fmt})

    err = raise_violations(lambda: load_study(paths))

    assert {v.rule for v in err.violations} == {case.rule, *case.also}
    found = [v for v in err.violations if v.rule == case.rule and v.table == case.table]
    assert len(found) == 1
    v = found[0]
    assert v.column == case.column
    assert v.file == str(paths[case.table])
    assert v.rows == case.rows
    assert v.count == case.count
    assert v.expected
    message = str(err)
    assert f"{case.table} ({paths[case.table]})" in message
    assert f"[rule {case.rule}]" in message
    text = v.describe()
    assert case.column in text
    if case.count:
        rows_line = text.splitlines()[1]
        assert rows_line.strip().startswith(f"Rows ({case.count}")
        shown = rows_line.split(":", 1)[1]
        for row in case.rows:
            assert f" {row}" in shown
    assert "Expected:" in text
    assert "What to do:" in text


def test_a_valid_study_passes_and_is_normalised(tables: Tables, write_study) -> None:
    paths = write_study(tables, {"monthly": "parquet", "mentors": "xlsx", "survey": "dta"})
    study = load_study(paths)

    p = study.participants
    assert list(p.columns[:12]) == [
        "person_id", "group", "start_month", "end_month", "birth_year", "sex",
        "origin_region", "arrival_year", "education", "swedish_level", "municipality",
        "mentor_id",
    ]  # fmt: skip
    assert p["person_id"].tolist() == ["P0001", "000123", "P0003", "P0004"]
    for name in ("person_id", "group", "start_month", "end_month", "sex", "mentor_id"):
        assert p[name].dtype == "str", name
    assert p["birth_year"].dtype == "Int64"
    assert p["arrival_year"].dtype == "Int64"
    assert p["household_size"].tolist() == [3, 1, 4, 2]  # extra column kept
    assert pd.isna(p.loc[3, "start_month"])

    m = study.monthly
    assert m["employed"].dtype == "int8"
    assert m["earnings"].dtype == "float64"
    assert m["in_education"].dtype == "Int8"
    assert m["month"].str.fullmatch(r"\d{4}-\d{2}").all()

    s = study.survey
    assert s["q1"].dtype == "float64"
    assert s["q2"].isna().sum() == 1
    assert study.sessions["minutes"].dtype == "int64"
    assert study.sessions["date"].tolist() == ["2018-03-05", "2018-04-02", "2018-06-11"]
    assert study.mentors["same_field"].dtype == "int8"
    assert study.sources == paths


def test_only_required_tables_are_needed(tables: Tables, write_study) -> None:
    paths = write_study({k: tables[k] for k in ("participants", "monthly")})
    study = load_study({**paths, "survey": None})
    assert study.survey is None and study.sessions is None and study.mentors is None
    summary = study.summary()
    assert summary["table"].tolist() == ["participants", "monthly", "survey", "sessions", "mentors"]
    assert summary["status"].tolist() == ["valid", "valid", "not given", "not given", "not given"]
    assert summary.loc[0, "rows"] == 4
    assert summary.loc[0, "extra_columns"] == "household_size"
    assert summary.loc[1, "file"] == str(paths["monthly"])


def test_the_summary_counts_the_columns_of_the_file_not_of_the_normalised_table(
    tables: Tables, write_study
) -> None:
    # issue 15 item 8: "Columns 12" for a 10-column file (the optional contract columns the
    # file lacks are added, empty, to the normalised table; the summary describes the file)
    p = tables["participants"].drop(columns=["end_month", "municipality", "household_size"])
    paths = write_study({"participants": p, "monthly": tables["monthly"]})
    study = load_study(paths)
    assert p.shape[1] == 10 and study.participants.shape[1] == 12
    summary = study.summary().set_index("table")
    assert summary.loc["participants", "columns"] == 10
    assert summary.loc["monthly", "columns"] == tables["monthly"].shape[1]
    assert summary.loc["participants", "extra_columns"] == ""


def test_validators_do_not_modify_their_input(tables: Tables) -> None:
    before = copy_tables(tables)
    validate_study(tables)
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], before[name])


def test_harmless_variants_are_normalised(participants: pd.DataFrame, monthly) -> None:
    p = participants.astype({"birth_year": "float64", "person_id": object}).copy()
    p.columns = [c.upper() if c == "sex" else c for c in p.columns]
    p.loc[0, "person_id"] = "  P0001 "
    p["SEX"] = ["Female", " MALE", "female ", "Male"]
    p.loc[0, "swedish_level"] = "None"
    p["start_month"] = ["2018-03-01", "2018-06", "2018-04-15 00:00:00", None]
    out = validate_participants(p)
    assert out["person_id"].tolist()[0] == "P0001"
    assert out["sex"].tolist() == ["female", "male", "female", "male"]
    assert out["swedish_level"].tolist()[0] == "none"
    assert out["start_month"].tolist()[:3] == ["2018-03", "2018-06", "2018-04"]
    assert out["birth_year"].tolist() == [1985, 1990, 1979, 1995]

    m = monthly.copy()
    m["month"] = pd.to_datetime(m["month"] + "-01")
    m["employed"] = m["employed"].astype(bool)
    out = validate_monthly(m, participants=participants)
    assert out["month"].tolist()[:2] == ["2017-01", "2017-02"]
    assert out["employed"].dtype == "int8"


@pytest.mark.parametrize(
    "month", ["2018/03", "201803", "03-2018", "2018-3", "mars 2018", "2018-02-30"]
)
def test_ambiguous_or_malformed_months_are_refused(participants: pd.DataFrame, month: str) -> None:
    p = participants.copy()
    p.loc[0, "start_month"] = month
    err = raise_violations(lambda: validate_participants(p, file="p.csv"))
    assert [v.rule for v in err.violations] == ["month_format"]
    assert err.violations[0].rows == (1,)
    assert month not in str(err)  # the row by number, never its content


# --- personal identity numbers -------------------------------------------------------

PIN_SHAPED = [
    "850101-1234",
    "850101+1234",
    "8501011234",
    "19850101-1234",
    "198501011234",
    "850161-1234",  # samordningsnummer: day + 60
    "20000229-1234",  # leap day
    "000229-1234",  # leap day, century unknown
    " 8501011234 ",
]
NOT_PIN = [
    "P000123",
    "M0042",
    "000777",
    "8513011234",  # month 13
    "8502301234",  # 30 February
    "850229-1234",  # 29 February in a year that is not a leap year
    "8501001234",  # day 0
    "1234567890",  # month 34
    "19850101",
    "30000101-1234",  # year in the future
    "P850101-1234",
]


@pytest.mark.parametrize("pin", PIN_SHAPED)
def test_identity_numbers_are_refused_and_never_shown(participants: pd.DataFrame, pin: str) -> None:
    p = participants.copy()
    p.loc[2, "person_id"] = pin
    err = raise_violations(lambda: validate_participants(p, file="data/p.csv"))
    v = err.violations[0]
    assert v.rule == "personal_identity_number"
    assert (v.table, v.column, v.rows, v.count) == ("participants", "person_id", (3,), 1)
    message = str(err)
    assert pin.strip() not in message
    assert pin.strip().replace("-", "").replace("+", "") not in message
    assert pin.strip() not in repr(err.violations)
    assert "pseudonymised" in message
    assert "data/p.csv" in message


@pytest.mark.parametrize("value", NOT_PIN)
def test_harmless_pseudonyms_are_accepted(participants: pd.DataFrame, value: str) -> None:
    p = participants.copy()
    p.loc[2, "person_id"] = value
    assert validate_participants(p)["person_id"].tolist()[2] == value.strip()


def test_identity_numbers_are_refused_in_every_table_and_in_mentor_ids(
    tables: Tables, write_study
) -> None:
    tables = copy_tables(tables)
    pins = {"000123": "19900312-2389", "M01": "510317+4422"}
    for frame in tables.values():
        for column in ("person_id", "mentor_id"):
            if column in frame:
                frame[column] = frame[column].replace(pins)
    tables["monthly"] = pd.concat(  # a duplicate among identity numbers: still not shown
        [tables["monthly"], tables["monthly"].iloc[[40]]], ignore_index=True
    )
    paths = write_study(tables, {"monthly": "parquet", "mentors": "sav"})

    err = raise_violations(lambda: load_study(paths))

    pin_hits = {(v.table, v.column) for v in err.violations if v.rule == "personal_identity_number"}
    assert pin_hits == {
        ("participants", "person_id"),
        ("participants", "mentor_id"),
        ("monthly", "person_id"),
        ("survey", "person_id"),
        ("sessions", "person_id"),
        ("sessions", "mentor_id"),
        ("mentors", "mentor_id"),
    }
    assert err.violations[0].rule == "personal_identity_number"  # most important first
    monthly_pin = next(v for v in err.violations if v.rule == "personal_identity_number"
                       and v.table == "monthly")  # fmt: skip
    assert monthly_pin.count == 37 and monthly_pin.rows == (37, 38, 39, 40, 41)
    message = str(err) + repr(err.violations)
    for pin in pins.values():
        assert pin not in message
        assert pin.replace("-", "").replace("+", "") not in message
        assert pin[2:] not in message
    dup = next(v for v in err.violations if v.rule == "duplicate_key")
    assert dup.rows == (41, 145)
    assert "2017-05" not in str(dup.describe())  # rows by number, never their content


# --- whole-study behaviour -----------------------------------------------------------


def test_all_problems_of_all_tables_come_in_one_error_most_important_first(
    tables: Tables, write_study
) -> None:
    tables = copy_tables(tables)
    set_value("participants", 4, "sex", "x")(tables)
    set_value("sessions", 1, "mentor_id", "M99")(tables)
    set_value("mentors", 2, "mentor_id", "0101011234")(tables)
    tables["monthly"] = tables["monthly"].drop(columns="employed")
    paths = write_study(tables)

    err = raise_violations(lambda: load_study(paths))

    assert [(v.rule, v.table) for v in err.violations] == [
        ("personal_identity_number", "mentors"),
        ("required_column", "monthly"),
        ("category", "participants"),
        ("unknown_mentor", "participants"),
        ("unknown_mentor", "sessions"),
    ]
    message = str(err)
    assert message.startswith("The input data break the data contract")
    assert "5 problems in participants, monthly, sessions, mentors" in message
    assert message.index("mentors (") < message.index("monthly (")


def test_missing_unknown_and_unreadable_tables_are_reported_together(
    tables: Tables, write_study, tmp_path: Path
) -> None:
    paths = write_study({"participants": tables["participants"]})
    bad = tmp_path / "survey.parquet"
    bad.write_bytes(b"garbage")
    err = raise_violations(
        lambda: load_study(
            {
                **paths,
                "survey": bad,
                "sessions": tmp_path / "nope.csv",
                "surveys": paths["participants"],
            }
        )  # fmt: skip
    )
    rules = {(v.rule, v.table) for v in err.violations}
    assert rules == {
        ("table_missing", "monthly"),
        ("file_unreadable", "survey"),
        ("file_unreadable", "sessions"),
        ("unknown_table", "surveys"),
    }
    message = str(err)
    assert str(bad) in message and "nope.csv" in message and "does not exist" in message


def test_survey_items_given_must_be_present_and_other_columns_are_kept(
    tables: Tables, write_study
) -> None:
    tables = copy_tables(tables)
    tables["survey"]["comment"] = ["ok", "", "bra", "x"]
    paths = write_study(tables)
    study = load_study(paths, survey_items=["Q1", "q2"])
    assert study.survey["comment"].tolist()[0] == "ok"
    assert study.survey["q1"].dtype == "float64"

    err = raise_violations(lambda: load_study(paths, survey_items=["q1", "q3"]))
    assert [(v.rule, v.column) for v in err.violations] == [("required_column", "q3")]
    # Without a list, every other column is an item: the comment is not an answer.
    err = raise_violations(lambda: load_study(paths))
    assert [(v.rule, v.column) for v in err.violations] == [("integer", "comment")]


def test_long_reports_are_capped_but_every_violation_is_kept(survey: pd.DataFrame) -> None:
    s = survey.copy()
    for i in range(MAX_REPORTED + 5):
        s[f"item{i}"] = [9, 1, 1, 1]
    err = raise_violations(lambda: validate_survey(s))
    assert len(err.violations) == MAX_REPORTED + 5
    assert "and 5 more problems" in str(err)
    assert str(err).count("[rule likert_1_5]") == MAX_REPORTED


def test_many_offending_rows_show_the_first_few_and_the_count(monthly, participants) -> None:
    m = monthly.copy()
    m["earnings"] = -1.0
    err = raise_violations(lambda: validate_monthly(m, participants=participants, file="m.csv"))
    v = err.violations[0]
    assert v.count == len(m)
    assert v.rows == (1, 2, 3, 4, 5)
    assert f"Rows ({len(m)}, first 5 shown): 1, 2, 3, 4, 5." in str(err)
    assert "-1.0" not in str(err)


def test_violation_is_structured() -> None:
    v = Violation("f.csv", "monthly", "month", "month_format", "values are not valid months",
                  "a month", rows=(2,), count=1)  # fmt: skip
    assert v.severity == RULES["month_format"].severity
    assert "monthly (f.csv), column month" in v.describe()


def test_sessions_validated_alone_need_no_other_table(sessions: pd.DataFrame) -> None:
    out = validate_sessions(sessions)
    assert out["minutes"].tolist() == [60, 45, 90]


# --- coverage ------------------------------------------------------------------------


def test_coverage_counts_months_before_and_after_start(tables: Tables) -> None:
    study = validate_study(tables)
    monthly = study.monthly[study.monthly["month"] <= "2019-03"]  # P0001: 12 after 2018-03
    cov = coverage_by_person(study.participants, monthly, months_before=12, months_after=12)
    assert cov["person_id"].tolist() == ["P0001", "000123", "P0003"]  # P0004: no start
    first = cov.iloc[0]
    assert (first["months_before"], first["months_after"]) == (12, 12)
    assert (first["first_month"], first["last_month"]) == ("2017-01", "2019-03")
    assert not first["short"]
    assert cov.iloc[1]["months_after"] == 9 and cov.iloc[1]["short_after"]  # 2018-06 + 9
    summary = coverage_summary(cov)
    assert summary.set_index("group").loc["mentored", "short"] == 1


def test_coverage_reports_persons_without_monthly_rows(tables: Tables) -> None:
    study = validate_study(tables)
    monthly = study.monthly[study.monthly["person_id"] != "P0003"]
    cov = coverage_by_person(study.participants, monthly).set_index("person_id")
    assert cov.loc["P0003", "months_before"] == 0 and cov.loc["P0003", "short"]
    assert pd.isna(cov.loc["P0003", "first_month"])


def test_month_index_counts_months() -> None:
    idx = month_index(pd.Series(["2018-01", "2017-12", None]))
    assert idx.iloc[0] - idx.iloc[1] == 1
    assert pd.isna(idx.iloc[2])


# --- the rules document and speed ----------------------------------------------------


def test_every_rule_is_documented() -> None:
    text = "".join(
        p.read_text(encoding="utf-8")
        for p in (DATA_DIR / "CONTRACT_RULES.md", DATA_DIR / "README.md")
        if p.exists()
    )
    for rule in RULES:
        assert f"`{rule}`" in text, rule
    assert rules_markdown().count("| `") == len(RULES)


def test_the_rules_document_is_not_stale() -> None:
    """data/CONTRACT_RULES.md is what the rule table renders (the example message included)."""
    written = (DATA_DIR / "CONTRACT_RULES.md").read_text(encoding="utf-8")
    assert written == rules_markdown(), (
        "data/CONTRACT_RULES.md is stale: run `.venv/bin/python -m evaluation.data.contract`"
    )


def test_a_large_monthly_table_validates_in_seconds() -> None:
    persons = PERF_ROWS // 100
    ids = pd.Series([f"P{i:07d}" for i in range(persons)], dtype="str")
    months = pd.Series([f"{2010 + k // 12}-{k % 12 + 1:02d}" for k in range(100)], dtype="str")
    rng = np.random.default_rng(0)
    monthly = pd.DataFrame(
        {
            "person_id": ids.repeat(100).reset_index(drop=True),
            "month": pd.concat([months] * persons, ignore_index=True),
            "employed": rng.integers(0, 2, PERF_ROWS).astype("int8"),
            "earnings": rng.exponential(10_000, PERF_ROWS),
        }
    )
    participants = pd.DataFrame({"person_id": ids})
    start = time.perf_counter()
    out = validate_monthly(monthly, participants=participants)
    elapsed = time.perf_counter() - start
    assert len(out) == PERF_ROWS
    assert elapsed < PERF_SECONDS, f"{elapsed:.1f} s"


def test_study_tables_are_frozen(tables: Tables) -> None:
    study = validate_study(tables)
    assert isinstance(study, StudyTables)
    with pytest.raises(AttributeError):
        study.participants = study.monthly  # type: ignore[misc]


def test_this_year_is_a_plausible_arrival_year(participants: pd.DataFrame) -> None:
    p = participants.copy()
    p.loc[0, "arrival_year"] = dt.date.today().year
    validate_participants(p)


def test_errors_survive_pickling(participants: pd.DataFrame) -> None:
    import pickle

    p = participants.copy()
    p.loc[0, "sex"] = "x"
    err = raise_violations(lambda: validate_participants(p))
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.violations == err.violations


def test_survey_items_are_recorded(tables: Tables) -> None:
    study = validate_study(tables)
    assert study.survey_items == ("q1", "q2")
    assert study.summary().set_index("table").loc["survey", "extra_columns"] == ""


def test_numeric_identity_numbers_from_a_register_file_are_refused(
    tables: Tables, write_study
) -> None:
    tables = copy_tables(tables)
    numeric = {"P0001": 198501011234, "000123": 199003122389, "P0003": 3, "P0004": 4}
    for name in ("participants", "monthly", "survey", "sessions"):
        tables[name]["person_id"] = tables[name]["person_id"].map(numeric).astype("int64")
    paths = write_study(tables, {"participants": "parquet", "monthly": "dta"})
    err = raise_violations(lambda: load_study(paths))
    hits = [v for v in err.violations if v.rule == "personal_identity_number"]
    assert {v.table for v in hits} == {"participants", "monthly", "survey", "sessions"}
    assert next(v for v in hits if v.table == "participants").rows == (1, 2)
    assert "198501011234" not in str(err) and "199003122389" not in str(err)


def test_identity_numbers_in_other_columns_are_not_shown_either(participants) -> None:
    p = participants.copy()
    p["sex"] = p["sex"].astype(object)
    p.loc[1, "sex"] = "850101-1234"
    p.loc[2, "sex"] = 198501011234.0
    err = raise_violations(lambda: validate_participants(p))
    v = err.violations[0]
    assert (v.rule, v.rows) == ("category", (2, 3))
    assert "1234" not in str(err) and "(a value not shown) (1 row)" in str(err)


def test_a_notebook_may_leave_out_the_monthly_table_on_purpose(tmp_path):
    """Notebook 05 does not read the register-sized monthly table (validated by the runner
    and notebook 01): the other tables are validated as usual, without it."""
    from evaluation import synth
    from evaluation.data.contract import ContractViolationError, load_study

    written = synth.write(synth.generate(5, n_mentored=12, n_comparison=40), tmp_path, fmt="csv")
    paths = {k: v for k, v in written.items() if k in
             ("participants", "survey", "sessions", "mentors")}  # fmt: skip
    tables = load_study(paths, required=("participants",))
    assert tables.monthly is None and tables.survey is not None
    assert tables.summary().set_index("table").loc["monthly", "status"] == "not given"
    # by default it is required, with the contract's message
    with pytest.raises(ContractViolationError, match="table_missing"):
        load_study(paths)
    # and the other tables' rules still apply: a survey row of an unknown person
    survey = pd.read_csv(paths["survey"])
    survey.loc[0, "person_id"] = "NOBODY"
    survey.to_csv(tmp_path / "bad_survey.csv", index=False)
    with pytest.raises(ContractViolationError, match="survey"):
        load_study({**paths, "survey": tmp_path / "bad_survey.csv"}, required=("participants",))
    with pytest.raises(ValueError, match="required tables"):
        load_study(paths, required=("survey",))


def test_identity_numbers_are_refused_in_any_column(tmp_path) -> None:
    """Not only in the identifiers: a note column, a copied register field as text inside a
    sentence, or a 12-digit whole number; the value itself is never shown."""
    from evaluation import synth

    written = synth.write(synth.generate(5, n_mentored=12, n_comparison=40), tmp_path, fmt="csv")
    participants = pd.read_csv(written["participants"])
    for extra, value, row in (("note", "call her on 850312-1234 first", 2),
                              ("register_copy", "19850312-1234", 5),
                              ("number", 198503121234, 7)):  # fmt: skip
        frame = participants.copy()
        frame[extra] = None if extra != "number" else 1
        frame.loc[row, extra] = value
        path = tmp_path / f"p_{extra}.csv"
        frame.to_csv(path, index=False)
        with pytest.raises(ContractViolationError) as err:
            load_study({"participants": path, "monthly": written["monthly"]})
        text = str(err.value)
        assert "personal_identity_number" in text and extra in text, text
        assert f"row {row + 1}" in text or f"rows {row + 1}" in text or str(row + 1) in text
        assert "850312" not in text
    # dates, earnings and ordinary numbers pass
    frame = participants.assign(note="met 2018-03-05, 12 hours", number=1234567)
    frame.to_csv(tmp_path / "fine.csv", index=False)
    load_study({"participants": tmp_path / "fine.csv", "monthly": written["monthly"]})
