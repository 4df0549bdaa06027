"""Bad inputs that used to get through `validate`, each refused (or accepted) at validate time.

Each class is tried through the command line as a user meets it: `evaluation validate` and
`evaluation run` give one message naming the file, the column and the rows (never a cell's
value), exit 3 and no traceback, and `run` stops before any notebook starts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation import synth
from evaluation.cli import main
from evaluation.data.contract import ContractViolationError, load_study
from evaluation.data.sample_flow import SampleRule

#: Stands for a cell's content; it must never appear in a message.
SECRET = "Karin Secret"
#: The default rule: design.min_mentored 10, outcomes.min_pre_months 12.
RULE = SampleRule(min_mentored=10, min_pre_months=12)


def study_folder(tmp_path: Path, make_params, *, n_mentored: int = 12, **overrides) -> Path:
    """A parameter file with a small synthetic study written beside it; returns the file."""
    params = make_params(tmp_path / "s", **overrides)
    synth.write(synth.generate(5, n_mentored=n_mentored, n_comparison=200), params.parent / "data")
    return params


def data(params: Path, table: str) -> Path:
    return params.parent / "data" / f"{table}.csv"


def edit(params: Path, table: str, change) -> None:
    """Rewrite one table of the study through ``change(frame) -> frame`` (text as read)."""
    path = data(params, table)
    change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)


def refused(capsys, params: Path, *words: str) -> str:
    """`validate` and `run` both exit 3 with the words, no traceback, no notebook started."""
    assert main(["validate", "--params", str(params)]) == 3
    err = capsys.readouterr().err
    out_root = params.parent / "outputs"
    assert main(["run", "--params", str(params), "--out", str(out_root)]) == 3
    run_err = capsys.readouterr().err
    for text in (err, run_err):
        assert "Traceback" not in text
        for word in words:
            assert word in text, text
    started = [p for p in out_root.glob("*") if p.name != ".cache"] if out_root.exists() else []
    assert not started, f"a run folder was made: {started}"
    return err


def accepted(capsys, params: Path, *words: str) -> str:
    assert main(["validate", "--params", str(params)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    for word in words:
        assert word in out, out
    return out


# --- 1, 2: what the design needs ----------------------------------------------------------


def test_no_mentored_person_with_monthly_rows_is_refused(tmp_path, make_params, capsys):
    params = study_folder(tmp_path, make_params)
    mentored = pd.read_csv(data(params, "participants")).query("group == 'mentored'")
    edit(params, "monthly", lambda m: m[~m["person_id"].isin(mentored["person_id"])])
    err = refused(
        capsys, params, "[rule too_few_analysable]",
        "none of the 12 mentored persons can be analysed (12 have no row in monthly",
        "participants.csv", "column group",
    )  # fmt: skip
    assert "Rows (12, first 5 shown)" in err


@pytest.mark.parametrize("n_mentored", [1, 4])
def test_fewer_mentored_than_the_design_needs_are_refused(
    tmp_path, make_params, capsys, n_mentored
):
    params = study_folder(tmp_path, make_params, n_mentored=n_mentored)
    refused(
        capsys, params, f"only {n_mentored} of the {n_mentored} mentored persons can be analysed",
        "at least 10 mentored persons who can be analysed (design.min_mentored)",
    )  # fmt: skip


def test_the_minimum_is_a_parameter_and_counts_only_the_analysable(tmp_path, make_params):
    study = synth.generate(5, n_mentored=10, n_comparison=100)
    paths = synth.write(study, tmp_path / "d")
    tables = {k: v for k, v in paths.items() if k != "truth"}
    assert "10 of the 10 mentored" in load_study(tables, sample=RULE).notes[-1]
    # two mentored persons lose their pre-period: 8 can be analysed, fewer than 10
    monthly = study.monthly.astype({"person_id": str, "month": str})
    mentored = study.participants.query("group == 'mentored'").head(2)
    early = monthly.merge(mentored[["person_id", "start_month"]], on="person_id", how="left")
    cut = early["start_month"].notna() & (early["month"] < early["start_month"])
    monthly[~cut.to_numpy()].to_csv(tables["monthly"], index=False)
    with pytest.raises(ContractViolationError) as info:
        load_study(tables, sample=RULE)
    assert "only 8 of the 10" in str(info.value)
    assert "2 have fewer than 12 months of coverage immediately before" in str(info.value)
    load_study(tables, sample=SampleRule(min_mentored=8, min_pre_months=12))
    load_study(tables, sample=SampleRule(min_mentored=10, min_pre_months=0))


def test_a_study_without_comparison_persons_with_monthly_rows_is_refused(tmp_path):
    study = synth.generate(5, n_mentored=12, n_comparison=50)
    paths = synth.write(study, tmp_path / "d")
    comparison = study.participants.query("group == 'comparison'")["person_id"]
    monthly = study.monthly.astype({"person_id": str, "month": str})
    monthly[~monthly["person_id"].isin(comparison)].to_csv(paths["monthly"], index=False)
    with pytest.raises(ContractViolationError, match="no comparison person has a row in monthly"):
        load_study({k: v for k, v in paths.items() if k != "truth"}, sample=RULE)


# --- 3: a survey keeps its other columns ------------------------------------------------------


def test_a_survey_column_that_is_no_item_is_kept_and_said_to_be_unused(
    tmp_path, make_params, capsys
):
    params = study_folder(tmp_path, make_params)
    edit(params, "survey", lambda s: s.assign(comment=f"{SECRET} said so"))
    out = accepted(capsys, params, "survey: the column comment is kept and not used")
    assert SECRET not in out


# --- 4: the Excel sheet -------------------------------------------------------------------


def excel_participants(params: Path, sheets: dict[str, str | None]) -> Path:
    """participants as a workbook: each sheet either notes (None) or the table."""
    table = pd.read_csv(data(params, "participants"), dtype=str)
    path = params.parent / "data" / "participants.xlsx"
    with pd.ExcelWriter(path) as writer:
        for name, kind in sheets.items():
            frame = table if kind else pd.DataFrame({"Notes": ["exported from the case system"]})
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def with_data(params: Path, table: str, value: object) -> Path:
    doc = yaml.safe_load(params.read_text("utf-8"))
    doc["data"][table] = value
    params.write_text(yaml.safe_dump(doc), "utf-8")
    return params


def test_a_workbook_is_read_from_its_data_sheet_and_the_sheet_is_named(
    tmp_path, make_params, capsys
):
    params = study_folder(tmp_path, make_params)
    path = excel_participants(params, {"Om filen": None, "Deltagare": "table"})
    with_data(params, "participants", str(path))
    accepted(capsys, params, "participants: read from sheet 'Deltagare' of participants.xlsx",
             "first row has the columns person_id")  # fmt: skip


def test_a_workbook_with_two_data_sheets_is_refused_until_one_is_chosen(
    tmp_path, make_params, capsys
):
    params = study_folder(tmp_path, make_params)
    path = excel_participants(params, {"Notes": None, "2018": "t", "2019": "t"})
    with_data(params, "participants", str(path))
    refused(capsys, params, "'2018', '2019' all have the columns of participants",
            "sheet: <sheet name>", "[rule file_unreadable]")  # fmt: skip
    with_data(params, "participants", {"path": str(path), "sheet": "2019"})
    accepted(capsys, params, "read from sheet '2019' of participants.xlsx (chosen in the parameter")


def test_a_violation_in_a_workbook_names_the_sheet_it_was_read_from(tmp_path, make_params, capsys):
    params = study_folder(tmp_path, make_params)
    edit(params, "participants", lambda p: p.assign(sex=p["sex"].where(p.index != 3, "x")))
    path = excel_participants(params, {"Notes": None, "Data": "t"})
    with_data(params, "participants", str(path))
    err = refused(capsys, params, "[rule category]", "'x' (1 row)", "Rows (1): 4.")
    assert "Note: participants: read from sheet 'Data' of participants.xlsx" in err


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"path": "data/participants.csv", "sheet": "Data"}, "sheet is an option of Excel"),
        ({"path": "data/participants.csv", "delimiter": ";"}, "unknown key"),
    ],
    ids=["sheet-of-a-csv", "unknown-option"],
)
def test_reading_options_the_study_does_not_have_are_refused_as_parameters(
    tmp_path, make_params, capsys, value, words
):
    params = with_data(study_folder(tmp_path, make_params), "participants", value)
    assert main(["validate", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "data.participants" in err and words in err and "Traceback" not in err


# --- 5: no message shows a row ------------------------------------------------------------


def test_a_parse_error_names_row_and_line_never_the_row(tmp_path, make_params, capsys):
    params = study_folder(tmp_path, make_params)
    path = data(params, "monthly")
    lines = path.read_text("utf-8").splitlines()
    lines[40] += f",{SECRET} 850101-1234"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    err = refused(capsys, params, "data row 40 (line 41 of the file) has 5 fields where the "
                  "header has 4", "monthly.csv")  # fmt: skip
    assert SECRET not in err and "850101" not in err and lines[40].split(",")[0] not in err


# --- 6: sessions in the mentoring period --------------------------------------------------


def test_a_session_outside_its_persons_mentoring_period_is_refused(tmp_path, make_params, capsys):
    params = study_folder(tmp_path, make_params)
    edit(params, "sessions", lambda s: s.assign(date=s["date"].where(s.index != 6, "2016-05-02")))
    err = refused(capsys, params, "[rule session_outside_mentoring]", "sessions.csv",
                  "column date", "Rows (1): 7.")  # fmt: skip
    assert "2016-05-02" not in err  # the row by number, never its content


def test_a_session_after_the_end_month_is_refused_and_the_last_day_is_not(tmp_path):
    study = synth.generate(5, n_mentored=12, n_comparison=50)
    paths = {k: v for k, v in synth.write(study, tmp_path / "d").items() if k != "truth"}
    person = study.participants.query("group == 'mentored'").iloc[0]
    sessions = study.sessions.copy()
    last = (pd.Period(person["end_month"], "M").end_time).strftime("%Y-%m-%d")
    after = (pd.Period(person["end_month"], "M") + 1).start_time.strftime("%Y-%m-%d")
    mine = sessions.index[sessions["person_id"] == person["person_id"]]
    sessions.loc[mine[0], "date"] = last
    sessions.to_csv(paths["sessions"], index=False)
    load_study(paths)
    sessions.loc[mine[1], "date"] = after
    sessions.to_csv(paths["sessions"], index=False)
    with pytest.raises(ContractViolationError, match="session_outside_mentoring") as info:
        load_study(paths)
    assert info.value.violations[0].rows == (int(mine[1]) + 1,)


# --- 7: a cell of megabytes -----------------------------------------------------------------


def test_a_note_of_megabytes_is_kept_like_any_extra_column(tmp_path, make_params, capsys):
    params = study_folder(tmp_path, make_params)
    note = "n" * 3_000_000
    edit(
        params,
        "participants",
        lambda p: p.assign(note=p.index.map(lambda i: note if i == 2 else "")),
    )
    accepted(capsys, params, "note")  # listed among the extra columns
