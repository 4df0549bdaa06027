"""The study run end to end in Swedish (``study.language: sv``): the report speaks Swedish.

One whole run on the small test pool (:func:`tests.conftest.write_params`), every notebook
executed in Swedish, the report rendered to HTML and PDF. The English catalogue is the
reference for what must not appear: no fragment of an English sentence that Swedish does not
share, no English-only word in a table cell, no English alt text. Tables have decimal commas.
The language changes no number: the run's effects equal the English run's.

Tolerances: none; the numbers are compared exactly (same seed, same data, same code).
"""

from __future__ import annotations

import html
import json
import re

import pytest

from evaluation.text import catalogue

pytestmark = pytest.mark.slow

#: Tables of identifiers (function, file and notebook names), not of words.
IDENTIFIER_TABLES = ("tab-exhibits", "tab-provenance")
#: A cell that is a file name or a dotted identifier (``participants.csv``).
_IDENTIFIER = re.compile(r"^[\w/.-]+\.\w+$")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[a-z_]+\}|<[^>]+>", re.S)


@pytest.fixture(scope="module")
def swedish_run(tmp_path_factory, make_params):
    from evaluation.pipeline.run import run_study

    folder = tmp_path_factory.mktemp("study_sv")
    # English; --language sv makes the Swedish variant
    params = make_params(folder, **{"report.formats": ["html", "pdf", "docx"]})
    return run_study(params, folder / "outputs", echo=lambda *a, **k: None, language="sv")


@pytest.fixture(scope="module")
def page(swedish_run):
    return (swedish_run.run_dir / "report" / "report_sv.html").read_text("utf-8")


def _visible(page: str) -> str:
    page = re.sub(r"<img[^>]*>|<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _english_fragments() -> set[str]:
    """Runs of three or more words of the English catalogue that no Swedish text shares."""
    swedish = " ".join(v for _, v in catalogue("sv").texts())
    out = set()
    for _, text in catalogue("en").texts():
        for part in _JINJA.split(text):
            for piece in re.split(r"[.;:()\"“”]", part):
                piece = re.sub(r"\s+", " ", piece).strip(" ,")
                if len(piece.split()) >= 3 and piece not in swedish:
                    out.add(piece)
    return out


def _english_words() -> set[str]:
    """Words (four letters or more) of the English catalogue that no Swedish text has."""

    def words(texts):
        return {
            w.lower() for _, v in texts for w in re.findall(r"[^\W\d_]{4,}", _JINJA.sub(" ", v))
        }

    return words(catalogue("en").texts()) - words(catalogue("sv").texts())


def test_the_run_renders_a_swedish_report(swedish_run, page):
    report = swedish_run.run_dir / "report"
    assert (report / "report_sv.pdf").stat().st_size > 10_000
    assert not (report / "report_en.html").exists()
    assert '<html lang="sv">' in page
    sv = catalogue("sv")
    text = _visible(page)
    for key in ("h_summary", "h_design", "h_limitations", "h_appendix"):
        assert sv[key] in text
    index = (swedish_run.run_dir / "index.html").read_text("utf-8")
    assert sv["index_title"] in index


def test_no_english_sentence_in_the_swedish_report(swedish_run, page):
    from pypdf import PdfReader

    fragments = _english_fragments()
    assert len(fragments) > 300  # the check has something to look for
    text = _visible(page)
    assert sorted(f for f in fragments if f in text) == []
    pdf = swedish_run.run_dir / "report" / "report_sv.pdf"
    pdf_text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages))
    assert sorted(f for f in fragments if f in pdf_text) == []
    # the Word report: the same page, Swedish proofing
    import docx

    word = docx.Document(str(swedish_run.run_dir / "report" / "report_sv.docx"))
    assert word.core_properties.language == "sv-SE"
    word_text = re.sub(r"\s+", " ", " ".join(p.text for p in word.paragraphs))
    assert len(word_text) > 10_000
    assert sorted(f for f in fragments if f in word_text) == []


def test_no_english_word_in_a_swedish_table_cell(page):
    english = _english_words()
    tables = re.findall(r'<table[^>]*id="([^"]+)"(.*?)</table>', page, flags=re.S)
    assert len(tables) > 10
    found = []
    for table_id, body in tables:
        if table_id in IDENTIFIER_TABLES:
            continue
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, flags=re.S):
            text = html.unescape(re.sub(r"<[^>]+>", " ", cell)).strip()
            if _IDENTIFIER.match(text):
                continue
            found += [
                (table_id, text) for w in re.findall(r"[^\W\d_]{4,}", text) if w.lower() in english
            ]
    assert found == []


def test_swedish_tables_have_decimal_commas(page):
    tables = re.findall(r'<table[^>]*id="([^"]+)"(.*?)</table>', page, flags=re.S)
    commas = 0
    for table_id, body in tables:
        if table_id in IDENTIFIER_TABLES:
            continue
        text = _visible(body)
        assert not re.search(r"\d\.\d", text), table_id
        commas += len(re.findall(r"\d,\d", text))
    assert commas > 50


def test_figures_have_swedish_alt_texts(swedish_run, page):
    sv, en = catalogue("sv").section("figure"), catalogue("en").section("figure")

    def heads(labels):
        return {re.split(r"\{", v)[0][:40] for k, v in labels.items() if k.startswith("alt_")}

    alts = [html.unescape(a) for a in re.findall(r'<img [^>]*alt="([^"]*)"', page)]
    assert len(alts) >= 10
    for alt in alts:
        assert any(alt.startswith(h) for h in heads(sv)), alt
        assert not any(alt.startswith(h) for h in heads(en)), alt
    exhibits = json.loads((swedish_run.run_dir / "results.json").read_text("utf-8"))["exhibits"]
    assert {e["alt"] for e in exhibits if e["kind"] == "figure"} >= set(alts)


def test_the_language_changes_no_number(swedish_run, finished_run):
    english, _ = finished_run
    sv = json.loads((swedish_run.run_dir / "results.json").read_text("utf-8"))
    en = json.loads((english.run_dir / "results.json").read_text("utf-8"))
    assert sv["effects"] == en["effects"]
    assert sv["headline"] == en["headline"]
    skip = {"timing_spec_curve"}  # wall times
    assert {k: v for k, v in sv["numbers"].items() if k not in skip} == {
        k: v for k, v in en["numbers"].items() if k not in skip
    }


def test_the_run_records_the_language_it_ran_with(swedish_run):
    """``--language sv`` on an English parameter file: the run's params.yaml says sv."""
    import yaml

    text = (swedish_run.run_dir / "params.yaml").read_text("utf-8")
    assert yaml.safe_load(text)["study"]["language"] == "sv"
    assert "--set study.language=sv" in text
