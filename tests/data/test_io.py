from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from evaluation.data.io import (
    SUPPORTED_FORMATS,
    TableSource,
    UnreadableTableError,
    as_text,
    read_source,
    read_table,
    write_table,
)
from evaluation.errors import ContractError

FORMATS = [ext.lstrip(".") for ext in SUPPORTED_FORMATS]
EARNINGS_RTOL = 1e-12


def frame_with_awkward_values() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": ["000123", "P0002", "0042", None],
            "mentor_id": ["M01", None, "007", "M04"],
            "month": ["2018-03", "2018-04", None, "2019-12"],
            "start_month": ["2018-01", "2018-01", "2018-02", None],
            "employed": [0, 1, 1, 0],
            "earnings": [0.0, 12500.25, 1 / 3, np.nan],
            "birth_year": pd.array([1985, None, 1990, 1979], dtype="Int64"),
            "sex": ["female", "male", None, "female"],
        }
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_text_ids_months_and_numbers(tmp_path: Path, fmt: str) -> None:
    df = frame_with_awkward_values()
    path = write_table(df, tmp_path / f"t.{fmt}")
    back = read_table(path, table="monthly")

    assert list(back.columns) == list(df.columns)
    for name in ("person_id", "mentor_id", "month", "start_month", "sex"):
        assert back[name].dtype == "str", name
        assert back[name].isna().tolist() == df[name].isna().tolist(), name
        assert back[name].dropna().tolist() == df[name].dropna().tolist(), name
    np.testing.assert_allclose(
        back["earnings"].astype("float64"), df["earnings"], rtol=EARNINGS_RTOL
    )
    assert back["employed"].astype("int64").tolist() == [0, 1, 1, 0]
    assert back["birth_year"].astype("Float64").tolist() == [1985, pd.NA, 1990, 1979]
    assert isinstance(back.index, pd.RangeIndex)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_a_valid_study_table_preserves_the_contract(
    tmp_path: Path, fmt: str, participants: pd.DataFrame
) -> None:
    from evaluation.data.contract import validate_participants

    path = write_table(participants, tmp_path / f"participants.{fmt}")
    back = validate_participants(read_table(path, table="participants"), file=path)
    expected = validate_participants(participants)
    pd.testing.assert_frame_equal(
        back.drop(columns="household_size"), expected.drop(columns="household_size")
    )
    assert back["household_size"].astype("int64").tolist() == [3, 1, 4, 2]


def test_write_table_does_not_modify_its_input(tmp_path: Path) -> None:
    df = frame_with_awkward_values()
    before = df.copy()
    for fmt in FORMATS:
        write_table(df, tmp_path / f"t.{fmt}")
    pd.testing.assert_frame_equal(df, before)


def test_csv_with_byte_order_mark_and_messy_header(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeff Person_ID ,Month\n000123,2018-03\n".encode())
    back = read_table(path, table="monthly")
    assert list(back.columns) == ["person_id", "month"]
    assert back.loc[0, "person_id"] == "000123"


def test_csv_only_empty_fields_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id,swedish_level,note\nNA,None,NULL\n,none,\n", encoding="utf-8")
    back = read_table(path, table="participants")
    assert back["person_id"].tolist()[0] == "NA"
    assert pd.isna(back["person_id"].tolist()[1])
    assert back["swedish_level"].tolist() == ["None", "none"]
    assert back["note"].tolist()[0] == "NULL"


def test_csv_numbers_become_numeric_but_codes_with_leading_zeros_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "person_id,kommun,income,children,mixed\n001,0180,100.5,2,a\n002,1480,,0,3\n",
        encoding="utf-8",
    )
    back = read_table(path, table="participants")
    assert back["person_id"].tolist() == ["001", "002"]
    assert back["kommun"].tolist() == ["0180", "1480"]
    assert back["income"].dtype == "float64"
    assert back["children"].dtype == "int64"
    assert back["mixed"].tolist() == ["a", "3"]


def test_excel_dates_and_numbers_in_id_and_month_columns_become_text(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    pd.DataFrame(
        {
            "person_id": [123, 4567],
            "month": [dt.datetime(2018, 3, 1), dt.datetime(2018, 4, 1)],
            "mentor_id": ["M01", 7],
        }
    ).to_excel(path, index=False)
    back = read_table(path, table="monthly")
    assert back["person_id"].tolist() == ["123", "4567"]
    assert back["month"].tolist() == ["2018-03-01", "2018-04-01"]
    assert back["mentor_id"].tolist() == ["M01", "7"]


def test_excel_sheet_named_like_the_table_is_preferred(tmp_path: Path) -> None:
    path = tmp_path / "study.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="readme", index=False)
        pd.DataFrame({"mentor_id": ["M01"]}).to_excel(writer, sheet_name="Mentors", index=False)
    assert list(read_table(path, table="mentors").columns) == ["mentor_id"]
    # no sheet is named sessions or has its columns: refused, never read from the first sheet
    err = assert_unreadable(path, "sessions", "none of the workbook's sheets")
    assert "'readme', 'Mentors'" in str(err)


def test_stata_value_labels_and_numeric_ids(tmp_path: Path) -> None:
    path = tmp_path / "p.dta"
    df = pd.DataFrame(
        {
            "person_id": [123.0, 198501011234.0],
            "sex": pd.Categorical(["Female", "Male"]),
            "month": pd.to_datetime(["2018-03-01", "2018-04-01"]),
        }
    )
    df.to_stata(path, write_index=False, version=118)
    back = read_table(path, table="participants")
    assert back["person_id"].tolist() == ["123", "198501011234"]
    assert back["sex"].astype(str).tolist() == ["Female", "Male"]
    assert back["month"].tolist() == ["2018-03-01", "2018-04-01"]


def test_spss_value_labels(tmp_path: Path) -> None:
    path = tmp_path / "p.sav"
    df = pd.DataFrame({"person_id": ["P1", "P2"], "sex": [1.0, 2.0]})
    pyreadstat.write_sav(df, str(path), variable_value_labels={"sex": {1.0: "female", 2.0: "male"}})
    back = read_table(path, table="participants")
    assert back["sex"].tolist() == ["female", "male"]
    assert back["person_id"].tolist() == ["P1", "P2"]


def test_as_text_formats_numbers_dates_and_categories() -> None:
    assert as_text(pd.Series([123.0, np.nan, 1.5])).tolist()[::2] == ["123", "1.5"]
    assert as_text(pd.Series([1, None], dtype="Int64")).tolist()[0] == "1"
    stamps = pd.Series(pd.to_datetime(["2018-03-01", "2018-03-02 10:30"], format="ISO8601"))
    assert as_text(stamps).tolist() == ["2018-03-01", "2018-03-02 10:30:00"]
    assert as_text(pd.Series(["a", None], dtype="category")).tolist()[0] == "a"
    months = pd.Series(pd.period_range("2018-01", periods=2, freq="M"))
    assert as_text(months).tolist() == ["2018-01", "2018-02"]


# --- errors --------------------------------------------------------------------------


def assert_unreadable(path: Path | dict, table: str, words: str) -> UnreadableTableError:
    with pytest.raises(UnreadableTableError) as info:
        read_table(path, table=table)
    err = info.value
    assert isinstance(err, ContractError)
    assert err.exit_code == 3
    message = str(err)
    assert str(path["path"] if isinstance(path, dict) else path) in message
    assert table in message
    assert "What to do" in message
    assert words in message
    return err


def test_missing_file(tmp_path: Path) -> None:
    assert_unreadable(tmp_path / "nope.csv", "participants", "does not exist")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert_unreadable(folder, "participants", "is a folder")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("person_id\nP1\n", encoding="utf-8")
    assert_unreadable(path, "monthly", "'.txt'")


@pytest.mark.parametrize("fmt", ["parquet", "xlsx", "dta", "sav"])
def test_corrupt_binary_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"p.{fmt}"
    path.write_bytes(b"this is not a real file\x00\x01\x02" * 10)
    assert_unreadable(path, "monthly", f"cannot be read as .{fmt}")


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"")
    assert_unreadable(path, "participants", "cannot be read as .csv")


def test_csv_that_is_not_utf8_is_read_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("person_id,municipality\nP1,Umeå\n".encode("cp1252"))
    read = read_source(path, table="participants")
    assert read.frame["municipality"].tolist() == ["Umeå"]
    assert "encoding Windows-1252 (detected: the file is not UTF-8)" in read.notes[0]


def test_csv_with_an_explicit_encoding_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("person_id,municipality\nP1,Umeå\n".encode("cp1252"))
    source = {"path": path, "encoding": "utf-8"}
    assert_unreadable(source, "participants", "not valid utf-8 text")


def test_semicolon_separated_csv_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id;month\nP1;2018-03\n", encoding="utf-8")
    read = read_source(path, table="monthly")
    assert list(read.frame.columns) == ["person_id", "month"]
    assert "separator ';' (detected from the header)" in read.notes[0]


def test_semicolon_separated_csv_read_as_comma_separated(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id;month\nP1;2018-03\n", encoding="utf-8")
    assert_unreadable({"path": path, "sep": ","}, "monthly", "sep: ';'")


def test_write_table_refuses_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="not a supported format"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "x.json")


def test_unreadable_error_survives_pickling(tmp_path: Path) -> None:
    import pickle

    with pytest.raises(UnreadableTableError) as info:
        read_table(tmp_path / "nope.csv", table="monthly")
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value)


def test_csv_row_with_too_many_fields_is_refused_without_showing_values(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id,month\nP1,2018-03\n850101-1234,2018-04,extra\n", encoding="utf-8")
    err = assert_unreadable(path, "monthly", "cannot be read as .csv")
    assert "850101-1234" not in str(err)


def test_csv_quoted_newlines_are_one_value(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('person_id,note\nP1,"two\nlines"\n', encoding="utf-8")
    assert read_table(path, table="participants")["note"].tolist() == ["two\nlines"]


def test_csv_repeated_header_names_are_kept_repeated(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id,sex,sex\nP1,female,male\n", encoding="utf-8")
    assert list(read_table(path, table="participants").columns) == ["person_id", "sex", "sex"]


# --- no parser message echoes the file ------------------------------------------------

#: Text that stands for a cell's content: it must never appear in a message.
SECRET = "Karin Secret"


@pytest.mark.parametrize(
    ("text", "row", "line", "fields", "header"),
    [
        (f"person_id,month\nP1,2018-03\nP2,2018-04,{SECRET}\n", 2, 3, 3, 2),
        (f"person_id,month,note\nP1,2018-03,x\n\nP2,{SECRET}\n", 2, 4, 2, 3),
        (f'person_id,month\nP1,2018-03\n"{SECRET},2018-04\nP3,2018-05\n', 2, 4, 1, 2),
    ],
    ids=["extra-field", "missing-field-after-blank-line", "unclosed-quote"],
)
def test_a_ragged_csv_row_is_named_by_row_and_line_never_shown(
    tmp_path: Path, text: str, row: int, line: int, fields: int, header: int
) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    err = assert_unreadable(path, "monthly", f"data row {row} (line {line} of the file)")
    assert f"has {fields} field" in str(err) and f"the header has {header}" in str(err)
    assert SECRET not in str(err) and "2018-04" not in str(err)


def test_a_system_file_behind_a_csv_name_is_refused_without_its_lines(tmp_path: Path) -> None:
    """A CSV name that is a link to a system file (colon-separated, commas inside fields)."""
    system = tmp_path / "passwd"
    system.write_text(
        f"root:x:0:0:root:/root:/bin/bash\nkarin:x:1000:1000:{SECRET},,,:/home/karin:/bin/bash\n",
        encoding="utf-8",
    )
    link = tmp_path / "participants.csv"
    link.symlink_to(system)
    err = assert_unreadable(link, "participants", "data row 1 (line 2 of the file) has 4 fields")
    assert SECRET not in str(err) and "karin" not in str(err) and "/bin/bash" not in str(err)


def test_semicolons_with_decimal_commas_get_the_semicolon_hint(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("person_id;month;earnings\nP1;2018-03;22397,0\n", encoding="utf-8")
    err = assert_unreadable({"path": path, "sep": ","}, "monthly", "semicolon-separated")
    assert "22397" not in str(err)


@pytest.mark.parametrize("fmt", ["parquet", "xlsx", "dta", "sav"])
def test_a_reader_error_never_quotes_the_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"p.{fmt}"
    path.write_bytes(f"{SECRET} 850101-1234 ".encode() * 50)
    err = assert_unreadable(path, "monthly", f"cannot be read as .{fmt}")
    assert SECRET not in str(err) and "850101" not in str(err)
    assert "message is not shown" in str(err)


def test_an_empty_csv_says_it_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"")
    assert_unreadable(path, "participants", "it is empty (no header row)")


# --- cells of any size -----------------------------------------------------------------

#: A cell larger than the fast CSV parser's block (it failed at about 2 MB).
BIG_CELL = 3_000_000


def test_a_cell_of_megabytes_is_read_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = [f"P{i},{'x' if i != 5 else 'y' * BIG_CELL}" for i in range(20)]
    path.write_text("person_id,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    back = read_table(path, table="participants")
    assert len(back) == 20
    assert back["note"].str.len().tolist()[4:7] == [1, BIG_CELL, 1]
    assert back["person_id"].tolist()[:2] == ["P0", "P1"]


def test_a_ragged_row_beside_a_cell_of_megabytes_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = [f"P{i},{'y' * BIG_CELL if i == 2 else 'x'}" for i in range(10)]
    rows[7] += f",{SECRET}"
    path.write_text("person_id,note\n" + "\n".join(rows) + "\n", encoding="utf-8")
    err = assert_unreadable(path, "participants", "data row 8 (line 9 of the file) has 3 fields")
    assert SECRET not in str(err)


# --- which Excel sheet -----------------------------------------------------------------


def workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path) as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


NOTES = pd.DataFrame({"About this file": ["exported 2024-05-02", "by the case system"]})
PEOPLE = pd.DataFrame({"Person_ID": ["P1"], "group": ["mentored"], "start_month": ["2018-03"],
                       "birth_year": [1990], "sex": ["female"], "origin_region": ["Syria"],
                       "arrival_year": [2016], "education": ["secondary"],
                       "swedish_level": ["none"]})  # fmt: skip


def test_excel_data_on_a_later_sheet_are_found_by_their_header_and_named(tmp_path: Path) -> None:
    path = workbook(tmp_path / "p.xlsx", {"Notes": NOTES, "Deltagare": PEOPLE})
    read = read_source(path, table="participants")
    assert read.sheet == "Deltagare" and "first row has the columns person_id" in read.why
    assert read.frame["person_id"].tolist() == ["P1"]


def test_excel_with_two_candidate_sheets_is_refused_with_the_sheets(tmp_path: Path) -> None:
    path = workbook(tmp_path / "p.xlsx", {"Notes": NOTES, "2018": PEOPLE, "2019": PEOPLE})
    err = assert_unreadable(path, "participants", "'2018', '2019' all have the columns")
    assert "sheet: <sheet name>" in str(err)


def test_excel_sheet_chosen_in_the_parameters_is_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "p.xlsx", {"Notes": NOTES, "2018": PEOPLE, "2019": PEOPLE.head(0)})
    read = read_source({"path": path, "sheet": "2019"}, table="participants")
    assert (read.sheet, len(read.frame)) == ("2019", 0)
    assert read.why == "chosen in the parameter file"
    assert read_table(TableSource(path, sheet="2018"), table="participants").shape[0] == 1
    assert_unreadable_source({"path": path, "sheet": "2020"}, "no sheet '2020'", "'Notes', '2018'")


def test_a_sheet_is_refused_for_a_file_that_has_none(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("person_id\nP1\n", encoding="utf-8")
    assert_unreadable_source({"path": path, "sheet": "Data"}, "only an Excel workbook")


def test_a_one_sheet_workbook_is_read_whatever_its_header(tmp_path: Path) -> None:
    path = workbook(tmp_path / "p.xlsx", {"Blad1": NOTES})
    read = read_source(path, table="participants")
    assert (read.sheet, read.why) == ("Blad1", "the workbook's only sheet")


def assert_unreadable_source(source: dict, *words: str) -> None:
    with pytest.raises(UnreadableTableError) as info:
        read_table(source, table="participants")
    for word in words:
        assert word in str(info.value)


def test_excel_repeated_header_names_are_kept_repeated(tmp_path: Path) -> None:
    """pandas renames a repeated Excel header 'sex' to 'sex.1': the contract must see both."""
    path = tmp_path / "p.xlsx"
    frame = pd.DataFrame([["P1", "female", "male"]], columns=["person_id", "sex", "sex"])
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, sheet_name="participants", index=False)
    assert list(read_table(path, table="participants").columns) == ["person_id", "sex", "sex"]


# --- a site's export: dialect, column map, recodes, YYYYMM (issue 15) ----------------------


def test_a_decimal_comma_column_with_digit_groups_is_read_in_a_semicolon_file(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "person_id;month;earnings;note\nP1;2018-03;22397,0;a\nP2;2018-03;1\u00a0250,50;b\n"
        "P3;2018-03;7;c\n", encoding="utf-8",
    )  # fmt: skip
    frame = read_table(path, table="monthly")
    np.testing.assert_allclose(frame["earnings"], [22397.0, 1250.5, 7.0], rtol=EARNINGS_RTOL)


def test_a_comma_file_never_reads_quoted_commas_as_decimals(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('person_id,earnings\nP1,"1,500"\n', encoding="utf-8")
    assert read_table(path, table="monthly")["earnings"].tolist() == ["1,500"]
    frame = read_table({"path": path, "decimal": ","}, table="monthly")
    assert frame["earnings"].tolist() == [1.5]


def test_a_column_with_any_other_value_keeps_its_commas(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("person_id;earnings\nP1;1,5\nP2;n/a\n", encoding="utf-8")
    assert read_table(path, table="monthly")["earnings"].tolist() == ["1,5", "n/a"]


@pytest.mark.parametrize(("sep", "name"), [("\t", "tab"), ("|", "'|'")])
def test_other_separators_are_detected(tmp_path, sep, name):
    path = tmp_path / "m.csv"
    path.write_text(f"person_id{sep}month\nP1{sep}2018-03\n", encoding="utf-8")
    read = read_source(path, table="monthly")
    assert list(read.frame.columns) == ["person_id", "month"]
    assert f"separator {name} (detected from the header)" in read.notes[0]


def test_an_explicit_separator_and_encoding_are_used(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("person_id|kommun\nP1|Umeå\n".encode("latin-1"))
    read = read_source({"path": path, "sep": "|", "encoding": "latin-1"}, table="participants")
    assert read.frame["kommun"].tolist() == ["Umeå"]
    assert "separator '|' (parameter file)" in read.notes[0]
    assert "encoding latin-1 (parameter file)" in read.notes[0]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("person_id;month\nP1;201803\n".encode("utf-8-sig"))
    read = read_source(path, table="monthly")
    assert read.frame.columns[0] == "person_id"
    assert read.frame["month"].tolist() == ["2018-03"]
    assert "months written YYYYMM read as YYYY-MM in month" in read.notes[-1]


def test_yyyymm_is_read_only_when_every_value_has_that_form(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("person_id,month\nP1,201803\nP2,2018-04\n", encoding="utf-8")
    read = read_source(path, table="monthly")
    assert read.frame["month"].tolist() == ["201803", "2018-04"]  # the contract refuses it
    assert read.notes == ()


def test_yyyymm_from_a_numeric_column_of_another_format(tmp_path):
    path = tmp_path / "m.parquet"
    pd.DataFrame({"person_id": ["P1", "P2"], "month": [201803, 201812]}).to_parquet(path)
    assert read_table(path, table="monthly")["month"].tolist() == ["2018-03", "2018-12"]


def test_the_column_map_and_recodes_apply_in_every_format(tmp_path):
    frame = pd.DataFrame({"Löpnr": ["P1", "P2", "P3"], "Kön": ["Kvinna", " man ", "Okänt"],
                          "Sysselsatt": [1, 2, 1]})  # fmt: skip
    path = write_table(frame, tmp_path / "p.dta")
    source = {
        "path": path,
        "columns": {"person_id": "LÖPNR", "sex": "kön", "employed": "Sysselsatt"},
        "recode": {"sex": {"kvinna": "female", "Man": "male", "Okänt": None},
                   "employed": {"1": "1", "2": "0"}},
    }  # fmt: skip
    read = read_source(source, table="participants")
    assert list(read.frame.columns) == ["person_id", "sex", "employed"]
    assert read.frame["sex"].tolist()[:2] == ["female", "male"]
    assert pd.isna(read.frame["sex"].iloc[2])
    assert read.frame["employed"].tolist() == ["1", "0", "1"]
    assert read.notes[0] == ("participants: columns mapped (contract \u2190 file): person_id "
                             "\u2190 LÖPNR, sex \u2190 kön, employed \u2190 Sysselsatt.")  # fmt: skip
    assert (
        "sex (kvinna \u2192 female, Man \u2192 male, Okänt \u2192 missing; 3 rows)" in read.notes[1]
    )


def test_a_column_map_naming_a_column_the_file_lacks_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("Löpnr,Kön\nP1,Kvinna\n", encoding="utf-8")
    err = assert_unreadable(
        {"path": path, "columns": {"person_id": "Lopnr"}}, "participants", "'Lopnr'"
    )
    assert "its columns: löpnr, kön" in str(err) and "Kvinna" not in str(err)
    err = assert_unreadable(
        {"path": path, "recode": {"sex": {"Kvinna": "female"}}}, "participants", "'sex'"
    )
    assert "Kvinna" not in str(err).split("What to do")[0].split("recode map")[0]


@pytest.mark.parametrize(
    ("option", "words"),
    [({"sep": "::"}, "not one character"), ({"decimal": ";"}, "neither '.' nor ','"),
     ({"encoding": "klingon"}, "is not known")],
)  # fmt: skip
def test_bad_csv_options_are_refused(tmp_path, option, words):
    path = tmp_path / "p.csv"
    path.write_text("person_id\nP1\n", encoding="utf-8")
    assert_unreadable({"path": path, **option}, "participants", words)


def test_csv_options_on_another_format_are_refused(tmp_path):
    path = write_table(pd.DataFrame({"person_id": ["P1"]}), tmp_path / "p.parquet")
    assert_unreadable({"path": path, "sep": ";"}, "participants", "sep is an option of CSV")
