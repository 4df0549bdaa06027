"""The reading options of a table in the parameter file (``data.<table>``): issue 15.

``columns``, ``recode``, ``sep``, ``decimal`` and ``encoding`` sit beside ``path``; old files
(a path, or ``{path, sheet}``) read as before. The options reach the readers unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.config import TableFile, parse_params
from evaluation.errors import ParamsError

SOURCE = Path("site.yaml")


def _params(data: str):
    study = "study: {name: A site's programme, site: A site}\n"
    return parse_params(f"{study}data:\n{data}", source=SOURCE, base=Path("/site"))


def test_old_forms_read_as_before() -> None:
    params = _params("  participants: p.csv\n  monthly: {path: m.xlsx, sheet: Data}\n")
    assert params.data.participants.source() == {"path": Path("/site/p.csv")}
    assert params.data.monthly.source() == {"path": Path("/site/m.xlsx"), "sheet": "Data"}
    assert params.data.model_dump(mode="json")["participants"] == "/site/p.csv"


def test_the_options_reach_the_reader_and_codes_are_text() -> None:
    params = _params(
        "  participants: p.csv\n"
        "  monthly:\n"
        "    path: m.csv\n"
        "    sep: ';'\n"
        "    decimal: ','\n"
        "    encoding: cp1252\n"
        "    columns: {person_id: Löpnr, employed: Sysselsatt}\n"
        "    recode: {employed: {Ja: 1, Nej: 0, 9: null, yes: true}}\n"
    )
    assert params.data.monthly.source() == {
        "path": Path("/site/m.csv"), "sep": ";", "decimal": ",", "encoding": "cp1252",
        "columns": {"person_id": "Löpnr", "employed": "Sysselsatt"},
        "recode": {"employed": {"Ja": "1", "Nej": "0", "9": None, "1": "1"}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("{path: m.xlsx, sep: ';'}", "sep: options of CSV files; m.xlsx is not one"),
        ("{path: m.csv, sep: ':'}", "data.monthly.sep"),
        ("{path: m.csv, decimal: ';'}", "data.monthly.decimal"),
        ("{path: m.csv, columns: [a, b]}", "data.monthly.columns"),
        ("{path: m.csv, recode: {sex: Kvinna}}", "data.monthly.recode.sex"),
        ("{path: m.csv, delimiter: ';'}", "data.monthly.delimiter: unknown key"),
    ],
)
def test_wrong_options_are_refused_with_their_key(table: str, words: str) -> None:
    with pytest.raises(ParamsError) as err:
        _params(f"  participants: p.csv\n  monthly: {table}\n")
    assert words in str(err.value)
    assert err.value.exit_code == 2


def test_a_table_file_round_trips_through_its_dump() -> None:
    table = TableFile.model_validate(
        {"path": "m.csv", "sep": "\t", "recode": {"employed": {"Ja": 1}}}
    )
    assert TableFile.model_validate(table.model_dump(mode="json")) == table
