"""A partner site's Swedish export, read with a parameter file and no hand work (issue 15).

The export is what a case-management system and a register extract give through Swedish
Excel: semicolons, decimal commas (``22397,0``), months ``YYYYMM``, Swedish column names and
codes (``Kvinna``, ``Ja``), the participants file in Windows-1252 and the monthly file in
UTF-8 with a byte-order mark. It is written here from the synthetic study
(:func:`write_swedish_export`; run this file as a script to write one:
``python tests/data/test_swedish_export.py OUT_DIR``), and read with the committed parameter
file ``tests/data/swedish_export/params.yaml`` (its ``columns`` and ``recode`` maps).

The truth is the synthetic study itself: the export must validate to exactly the tables the
contract's own files of the same study give. Tolerances: none (the same numbers, exactly).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation import synth
from evaluation.cli import main
from evaluation.config import load_params
from evaluation.data.contract import load_study

HERE = Path(__file__).resolve().parent
PARAMS = HERE / "swedish_export" / "params.yaml"

#: A small study: enough mentored persons for the design's minimum.
SEED, N_MENTORED, N_COMPARISON = 20170601, 40, 300

#: The export's codes of the contract's values (the inverse of the parameter file's recode).
GROUP = {"mentored": "Mentorskap", "comparison": "Jämförelse"}
SEX = {"female": "Kvinna", "male": "Man"}
EDUCATION = {"primary_or_less": "Förgymnasial", "secondary": "Gymnasial",
             "post_secondary": "Eftergymnasial", "unknown": "Okänd"}  # fmt: skip
SWEDISH = {"none": "Ingen", "sfi_started": "SFI påbörjad", "sfi_completed": "SFI avslutad",
           "fluent": "Flytande"}  # fmt: skip


def _yyyymm(months: pd.Series) -> pd.Series:
    return months.astype("str").str.replace("-", "", regex=False)


def write_swedish_export(folder: Path, study: synth.SyntheticStudy) -> dict[str, Path]:
    """Write participants and monthly as a Swedish Excel export, and the parameter file.

    Returns the files written: ``participants``, ``monthly`` and ``params``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tables = study.tables()
    p = tables["participants"]
    participants = pd.DataFrame(
        {
            "Löpnummer": p["person_id"],
            "Grupp": p["group"].map(GROUP),
            "Startmånad": _yyyymm(p["start_month"]),
            "Slutmånad": _yyyymm(p["end_month"]),
            "Födelseår": p["birth_year"],
            "Kön": p["sex"].map(SEX),
            "Ursprungsregion": p["origin_region"],
            "Invandringsår": p["arrival_year"],
            "Utbildningsnivå": p["education"].map(EDUCATION),
            "SFI-nivå": p["swedish_level"].map(SWEDISH),
            "Kommun": p["municipality"],
            "Mentor": p["mentor_id"],
        }
    )
    m = tables["monthly"]
    monthly = pd.DataFrame(
        {
            "Löpnummer": m["person_id"].astype("str"),
            "Månad": _yyyymm(m["month"].astype("str")),
            "Sysselsatt": m["employed"].map({1: "Ja", 0: "Nej"}),
            "Arbetsinkomst": m["earnings"].map(lambda e: f"{e},0"),
        }
    )
    files = {"participants": folder / "deltagare.csv", "monthly": folder / "manadsdata.csv"}
    participants.to_csv(files["participants"], sep=";", index=False, encoding="cp1252")
    monthly.to_csv(files["monthly"], sep=";", index=False, encoding="utf-8-sig")
    files["params"] = folder / "params.yaml"
    shutil.copyfile(PARAMS, files["params"])
    return files


@pytest.fixture(scope="module")
def study() -> synth.SyntheticStudy:
    return synth.generate(SEED, n_mentored=N_MENTORED, n_comparison=N_COMPARISON)


@pytest.fixture(scope="module")
def export(tmp_path_factory, study) -> dict[str, Path]:
    return write_swedish_export(tmp_path_factory.mktemp("export"), study)


def test_the_export_is_what_the_issue_describes(export) -> None:
    """The fixture is the hard case: no line of it meets the contract as it stands."""
    raw = export["participants"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header = raw.decode("cp1252").splitlines()[0]
    assert header.count(";") == 11 and "," not in header and "Löpnummer" in header
    monthly = export["monthly"].read_text("utf-8-sig").splitlines()
    assert monthly[0] == "Löpnummer;Månad;Sysselsatt;Arbetsinkomst"
    assert export["monthly"].read_bytes().startswith(b"\xef\xbb\xbf")
    _, month, employed, earnings = monthly[1].split(";")
    assert len(month) == 6 and employed in ("Ja", "Nej") and earnings.endswith(",0")


def test_the_export_validates_to_the_contract_tables_of_the_same_study(
    export, study, tmp_path
) -> None:
    params = load_params(export["params"])
    read = load_study(params.data.sources())
    contract = synth.write(study, tmp_path / "contract")
    truth = load_study({"participants": contract["participants"], "monthly": contract["monthly"]})
    pd.testing.assert_frame_equal(read.participants, truth.participants)
    pd.testing.assert_frame_equal(read.monthly, truth.monthly)
    assert read.monthly["earnings"].sum() == study.tables()["monthly"]["earnings"].sum()


def test_validate_prints_the_mapping_it_applied(export, study, capsys) -> None:
    assert main(["validate", "--params", str(export["params"])]) == 0
    out = capsys.readouterr().out
    p = study.tables()["participants"]
    n_female = int((p["sex"] == "female").sum())
    expected = [
        "participants: read deltagare.csv as CSV with separator ';' (detected from the header)",
        "encoding Windows-1252 (detected: the file is not UTF-8)",
        "participants: columns mapped (contract \u2190 file): person_id \u2190 Löpnummer, "
        "group \u2190 Grupp,",
        f"sex (Kvinna \u2192 female, Man \u2192 male; {len(p)} rows)",
        "participants: months written YYYYMM read as YYYY-MM in start_month, end_month.",
        "monthly: read manadsdata.csv as CSV with separator ';' (parameter file); decimal comma "
        "(parameter file).",
        "employed (Ja \u2192 1, Nej \u2192 0;",
        "monthly: months written YYYYMM read as YYYY-MM in month.",
        "The input tables meet the data contract",
    ]
    for line in expected:
        assert line in out, line
    assert n_female > 0


def test_a_code_the_parameter_file_does_not_map_is_listed_with_its_count(
    export, study, tmp_path, capsys
) -> None:
    doc = yaml.safe_load(PARAMS.read_text("utf-8"))
    del doc["data"]["participants"]["recode"]["education"]["Okänd"]
    folder = tmp_path / "site"
    shutil.copytree(export["params"].parent, folder)
    (folder / "params.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")

    assert main(["validate", "--params", str(folder / "params.yaml")]) == 3
    err = capsys.readouterr().err
    n_unknown = int((study.tables()["participants"]["education"] == "unknown").sum())
    assert n_unknown > 0
    assert (f"column education: values are not in the allowed set: 'Okänd' ({n_unknown} "
            f"row{'s' if n_unknown != 1 else ''})") in err  # fmt: skip
    assert "recode: {education: {<code>: primary_or_less}}" in err
    assert "Traceback" not in err


def test_a_decimal_comma_read_with_a_point_gets_a_hint(export, tmp_path, capsys) -> None:
    doc = yaml.safe_load(PARAMS.read_text("utf-8"))
    doc["data"]["monthly"]["decimal"] = "."
    folder = tmp_path / "site"
    shutil.copytree(export["params"].parent, folder)
    (folder / "params.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")

    assert main(["validate", "--params", str(folder / "params.yaml")]) == 3
    err = capsys.readouterr().err
    assert "column earnings: values are not numbers [rule number]" in err
    assert "if it is a decimal comma, set data.monthly: {path: ..., decimal: ','}" in err


# --- evaluation init: the parameter file guessed from the export ----------------------------


def test_init_guesses_a_parameter_file_that_reads_the_export(export, study, tmp_path, capsys):
    folder = tmp_path / "site"
    shutil.copytree(export["params"].parent, folder)
    (folder / "params.yaml").unlink()
    target = tmp_path / "guessed.yaml"

    assert main(["init", str(folder), "--out", str(target)]) == 0
    out = capsys.readouterr().out
    assert "participants: deltagare.csv (9 of 9 required columns recognised, 12 renamed, " in out
    assert "monthly: manadsdata.csv (4 of 4 required columns recognised" in out
    text = target.read_text("utf-8")
    guessed = yaml.safe_load(text)
    committed = yaml.safe_load(PARAMS.read_text("utf-8"))
    for table in ("participants", "monthly"):
        assert guessed["data"][table]["columns"] == committed["data"][table]["columns"]
        got = guessed["data"][table]["recode"]
        want = {c: {k: str(v) for k, v in m.items()}
                for c, m in committed["data"][table]["recode"].items()}  # fmt: skip
        assert got == want
    assert guessed["data"]["survey"] is None
    # only names and codes: no person's value is written
    people = study.tables()["participants"]
    for value in [*people["person_id"], *people["origin_region"].unique(), *people["municipality"]
                  .dropna().unique()]:  # fmt: skip
        assert str(value) not in text

    # the guessed file reads the export as the contract's tables of the same study
    contract = synth.write(study, tmp_path / "contract")
    read = load_study(load_params(target).data.sources())
    truth = load_study({"participants": contract["participants"], "monthly": contract["monthly"]})
    pd.testing.assert_frame_equal(read.participants, truth.participants)
    pd.testing.assert_frame_equal(read.monthly, truth.monthly)


def test_init_marks_codes_it_does_not_know_and_never_overwrites(export, tmp_path, capsys):
    folder = tmp_path / "site"
    folder.mkdir()
    p = pd.read_csv(export["participants"], sep=";", encoding="cp1252", dtype=str)
    p.loc[p.index[:3], "Kön"] = "Annat"
    p.rename(columns={"Födelseår": "Årtal"}).to_csv(folder / "deltagare.csv", sep=";",
                                                    index=False, encoding="cp1252")  # fmt: skip
    shutil.copyfile(export["monthly"], folder / "manadsdata.csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n", "utf-8")
    (folder / "broken.xlsx").write_bytes(b"not a workbook")
    target = tmp_path / "guessed.yaml"

    assert main(["init", str(folder), "--out", str(target)]) == 0
    out = capsys.readouterr().out
    assert "participants: deltagare.csv (8 of 9 required columns recognised" in out
    assert "2 TODO" in out and "not used: notes.csv" in out and "not used: broken.xlsx" in out
    text = target.read_text("utf-8")
    assert (
        "# TODO sex: codes not recognised, map them in recode (allowed: female, male): Annat"
        in (text)
    )
    assert "# TODO required columns not found: birth_year" in text
    assert "# kept, not contract columns: Årtal" in text

    before = target.read_text("utf-8")
    assert main(["init", str(folder), "--out", str(target)]) == 2
    assert "exists; it is left as it is" in capsys.readouterr().err
    assert target.read_text("utf-8") == before
    assert main(["init", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_init_has_help() -> None:
    from evaluation.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["init"]
    text = sub.format_help()
    assert "DATA_DIR" in text and "--out" in text and "--force" in text and "TODO" in text


@pytest.mark.slow
def test_the_export_runs_and_gives_the_numbers_of_the_contract_files(
    tmp_path, finished_run, make_params
) -> None:
    """The whole study on the export equals the run on the contract's files (same data)."""
    from evaluation.pipeline.run import run_study

    english, params_path = finished_run
    doc = yaml.safe_load(Path(params_path).read_text("utf-8"))
    sizes = doc["synthetic"]
    same = synth.generate(doc["seed"], n_mentored=sizes["n_mentored"],
                          n_comparison=sizes["n_comparison"])  # fmt: skip
    files = write_swedish_export(tmp_path, same)
    contract = synth.write(same, tmp_path / "contract")
    export_doc = yaml.safe_load(PARAMS.read_text("utf-8"))
    doc["data"] = {
        **export_doc["data"],
        **{t: str(contract[t]) for t in ("survey", "sessions", "mentors")},
    }
    doc.pop("synthetic")
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    assert files["participants"].parent == path.parent

    run = run_study(path, tmp_path / "outputs", echo=lambda *a, **k: None, render=False)
    got = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    want = json.loads((english.run_dir / "results.json").read_text("utf-8"))
    assert got["effects"] == want["effects"]
    assert got["headline"] == want["headline"]


if __name__ == "__main__":  # write an export: python tests/data/test_swedish_export.py OUT_DIR
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "swedish_export")
    made = synth.generate(SEED, n_mentored=N_MENTORED, n_comparison=N_COMPARISON)
    for name, file in write_swedish_export(out, made).items():
        print(f"{name:>12}: {file}")
