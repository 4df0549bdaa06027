"""The programme is a parameter: the block, its checks, and no programme written into the code.

Tolerances: none (parameter validation and text scans).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from evaluation.config import Params, load_params
from evaluation.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "params" / "default.yaml"

#: What names BottomUp Integration or its figures. None of it may be written into the text
#: catalogue, the report's templates or the code; the default parameter file carries it.
DEFAULT_PROGRAMME = re.compile(
    r"BottomUp Integration|3\D?254\D?321|\bfifty\b|femtio|June 2017|December 2019|juni 2017"
    r"|december 2019|2017-06|2019-12"
)


def _doc() -> dict:
    return yaml.safe_load(DEFAULT.read_text("utf-8"))


def _load(tmp_path: Path, doc: dict) -> Params:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return load_params(path, check_files=False)


def test_the_default_file_describes_the_programme():
    p = load_params(DEFAULT, check_files=False)
    prog = p.programme
    assert prog.name == "BottomUp Integration" and prog.esf_indicators
    assert (prog.budget, prog.participants_planned) == (3_254_321, 50)
    assert (prog.period.start, prog.period.end) == ("2017-06", "2019-12")
    assert prog.text("funder", "sv") == "Europeiska socialfonden"
    assert prog.text("logic", "en").startswith("A mentor who knows")
    # the model itself names no programme: the study's name is required, and the programme
    # block has no default (a run refuses without it; reading the data does not need it)
    assert Params.model_fields["study"].is_required()
    assert Params.model_fields["programme"].default is None


def test_an_old_file_with_the_budget_under_report_is_told_where_it_went(tmp_path):
    doc = _doc()
    doc["report"]["budget_sek"] = 3_254_321
    doc["report"]["planned_participants"] = 50
    with pytest.raises(ParamsError) as exc:
        _load(tmp_path, doc)
    msg = str(exc.value)
    assert "report.budget_sek has moved to programme.budget" in msg
    assert "report.planned_participants has moved to programme.participants_planned" in msg
    del doc["programme"]
    del doc["report"]["budget_sek"], doc["report"]["planned_participants"]
    params = _load(tmp_path, doc)
    assert params.programme is None
    with pytest.raises(ParamsError, match=r"no programme block.*add a programme: block"):
        params.require_programme("site.yaml")


def test_a_text_needs_the_report_language(tmp_path):
    doc = _doc()
    doc["study"]["language"] = "sv"
    doc["programme"]["aims"] = {"en": "It gave newcomers a mentor."}
    with pytest.raises(ParamsError, match=r"programme.aims has no text in 'sv'"):
        _load(tmp_path, doc)
    doc["programme"]["aims"] = "Ett språk för alla."  # one text serves every language
    assert _load(tmp_path, doc).programme.text("aims", "en") == "Ett språk för alla."


def test_the_budget_is_in_the_study_currency(tmp_path):
    doc = _doc()
    doc["programme"]["currency"] = "EUR"
    with pytest.raises(ParamsError, match=r"programme.currency \(EUR\) must be study.currency"):
        _load(tmp_path, doc)


def test_the_period_runs_forward(tmp_path):
    doc = _doc()
    doc["programme"]["period"] = {"start": "2019-12", "end": "2017-06"}
    with pytest.raises(ParamsError, match="ends"):
        _load(tmp_path, doc)
    doc["programme"]["period"] = {"start": "2019-13", "end": "2020-01"}
    with pytest.raises(ParamsError, match="programme.period.start"):
        _load(tmp_path, doc)


def test_the_logic_can_come_from_a_file_per_language(tmp_path):
    doc = _doc()
    del doc["programme"]["logic"]
    (tmp_path / "logic_en.txt").write_text("Mentors open doors.\n", "utf-8")
    (tmp_path / "logic_sv.txt").write_text("Mentorer öppnar dörrar.\n", "utf-8")
    doc["programme"]["logic_file"] = {"en": "logic_en.txt", "sv": "logic_sv.txt"}
    p = _load(tmp_path, doc)  # relative to the parameter file's folder
    texts = p.programme.report_texts()
    assert texts["logic"] == {"en": "Mentors open doors.", "sv": "Mentorer öppnar dörrar."}
    doc["programme"]["logic"] = "Both."
    with pytest.raises(ParamsError, match="logic or programme.logic_file, not both"):
        _load(tmp_path, doc)
    del doc["programme"]["logic"]
    doc["programme"]["logic_file"] = {"en": "nowhere.txt", "sv": "logic_sv.txt"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    with pytest.raises(ParamsError, match=r"programme.logic_file: file\(s\) not found: en: "):
        load_params(path)


def test_notebooks_still_find_the_budget_under_report():
    """Notebook 06 reads ``report["budget_sek"]``: the runner hands it the programme's."""
    sections = load_params(DEFAULT, check_files=False).notebook_parameters()
    assert sections["report"]["budget_sek"] == 3_254_321
    assert sections["report"]["planned_participants"] == 50
    assert sections["programme"]["name"] == "BottomUp Integration"


def test_display_labels_sit_beside_the_report_not_the_data(tmp_path):
    doc = _doc()
    doc["report"]["labels"] = {"origin_region": {"Irak": {"en": "Iraq", "sv": "Irak"}}}
    p = _load(tmp_path, doc)
    assert p.report.labels["origin_region"]["Irak"] == {"en": "Iraq", "sv": "Irak"}


@pytest.mark.parametrize(
    "folder", ["src/evaluation/text", "src/evaluation/report", "src/evaluation/config.py"]
)
def test_no_programme_is_written_into_the_text_or_the_code(folder):
    base = ROOT / folder
    files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
    found = []
    for path in files:
        if path.suffix not in (".py", ".yaml", ".j2", ".css"):
            continue
        for i, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if DEFAULT_PROGRAMME.search(line):
                found.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert found == []


def test_every_site_file_describes_its_own_programme():
    for path in sorted((ROOT / "params" / "benchmarks" / "sites").glob("*.yaml")):
        if path.name == "sites.yaml":
            continue
        p = load_params(path, check_files=False)
        assert p.programme.name != "BottomUp Integration", path.name
        assert p.programme.budget != 3_254_321, path.name


def test_a_run_without_a_programme_block_is_refused_before_anything_is_written(tmp_path):
    from evaluation.pipeline.run import run_study

    doc = _doc()
    del doc["programme"]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    with pytest.raises(ParamsError, match="no programme block"):
        run_study(path, tmp_path / "outputs", echo=lambda *a, **k: None)
    assert not (tmp_path / "outputs").exists()
