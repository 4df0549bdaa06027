"""The report: strict templates, both languages, the PDF's chapters, a real browser.

A number the results lack cannot be rendered; every text key exists in both languages; the
HTML opens in headless Chromium with every image loaded and no console error.
"""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest

from evaluation.report.render import (
    Numbers,
    ReportKeyError,
    chapters,
    fmt_number,
    render_html,
    render_pdf,
)
from evaluation.text import TextKeyError, catalogue

CHROMIUM = shutil.which("chromium")
LANGUAGES = ("en", "sv")


@pytest.fixture(scope="module")
def results(finished_run):
    run, _ = finished_run
    return run, json.loads((run.run_dir / "results.json").read_text("utf-8"))


def test_swedish_table_cells_are_looked_up_by_their_column(results):
    run, res = results
    num = Numbers(res, "sv", run.run_dir)
    step = "excluded: fewer than 12 months of coverage before start"
    assert num.table_cell("sample_flow", "step", step) == (
        "utesluten: färre än 12 månader med uppgifter före start"
    )
    assert num.table_cell("descriptives", "variable", "sex: female") == "kön: kvinna"
    assert num.table_cell("descriptives", "variable", "origin_region: Syria") == (
        "ursprungsregion: Syrien"
    )
    # a region the catalogue does not know is the data owner's own coding: shown as it is
    assert num.table_cell("descriptives", "variable", "origin_region: Atlantis") == (
        "ursprungsregion: Atlantis"
    )
    html = render_html(res, "sv", run.run_dir)
    for english in ("persons in the analysis data", "before trimming", "coverage ends before"):
        assert english not in html


def test_a_table_cell_without_a_label_is_an_error_not_english(results):
    run, res = results
    num = Numbers(res, "sv", run.run_dir)
    with pytest.raises(TextKeyError, match="flow_step"):
        num.table_cell("sample_flow", "step", "excluded: a step nobody labelled")
    with pytest.raises(TextKeyError, match="education"):  # a closed category of the contract
        num.table_cell("descriptives", "variable", "education: doctorate")
    with pytest.raises(ReportKeyError, match="no category"):  # words in an unmapped column
        num.table_cell("a_new_table", "comment", "kept as is")
    assert num.table_cell("a_new_table", "share", "22 (44.0 %)") == "22 (44,0 %)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_report_renders_with_every_key_filled(results, language):
    run, res = results
    html = render_html(res, language, run.run_dir)
    assert "{{" not in html and "}}" not in html and "{%" not in html
    assert "None" not in re.sub(r"<[^>]+>", " ", html)
    for chapter in chapters(res):
        assert f'id="{chapter}"' in html
    if language == "sv":
        assert "Sammanfattning" in html and "procentenheter" in html and "å" in html


def test_a_number_the_results_lack_cannot_be_rendered(results):
    run, res = results
    broken = copy.deepcopy(res)
    del broken["numbers"]["n_mentored"]
    with pytest.raises(ReportKeyError, match="n_mentored"):
        render_html(broken, "en", run.run_dir)
    num = Numbers(res, "en", run.run_dir)
    with pytest.raises(ReportKeyError):
        num.effect("employed_m12", "no_such_estimator")
    with pytest.raises(ReportKeyError):
        num.table("no_such_table")


def test_headline_sentence_quotes_the_headline_effect(results):
    run, res = results
    html = render_html(res, "en", run.run_dir)
    h = res["headline"]
    assert f"{100 * h['estimate']:+.1f} percentage points" in html
    assert f"{100 * h['ci_low']:.1f} percentage points to" in html


def test_swedish_number_format():
    assert fmt_number(3254321, "sv") == "3\u202f254\u202f321"
    assert fmt_number(-0.125, "sv", 3) == "\u22120,125"
    assert fmt_number(3254321.5, "en", 1) == "3,254,321.5"


@pytest.mark.parametrize("language", LANGUAGES)
def test_pdf_has_every_chapter(results, tmp_path, language):
    from pypdf import PdfReader

    run, res = results
    html = render_html(res, language, run.run_dir)
    pdf = render_pdf(html, tmp_path / f"r_{language}.pdf", run.run_dir / "report")
    text = " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    text = re.sub(r"\s+", " ", text)
    strings = catalogue(language)
    for chapter in chapters(res):
        heading = strings[f"h_{chapter}"].split(":")[0]
        assert heading in text, f"{language}: chapter '{heading}' missing from the PDF"
    if language == "sv":
        assert "Begränsningar" in text  # Swedish characters survive into the PDF text


def test_run_folder_has_pdf_and_notebook_html(results):
    run, _ = results
    assert (run.run_dir / "report" / "report_en.pdf").stat().st_size > 10_000
    for nb in (run.run_dir / "notebooks").glob("*.ipynb"):
        html = nb.with_suffix(".html").read_text("utf-8")
        assert "jp-InputArea" in html, "reviewers' notebooks must show the code"


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (make test installs it)"
)
def test_report_in_headless_chromium(results, tmp_path):
    from playwright.sync_api import sync_playwright

    run, _ = results
    report = run.run_dir / "report" / "report_en.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url[:80]}"))
        page.goto(report.as_uri())
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({ok: e.complete && e.naturalWidth > 0, alt: e.alt}))"
        )
        # not into the run folder: other tests compare it with a rerun, file by file
        shot = tmp_path / "screenshot_en.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert problems == []
    assert len(images) >= 4
    assert all(i["ok"] for i in images), "an image did not load"
    assert all(len(i["alt"]) > 20 for i in images), "every figure needs alt text"
    assert shot.stat().st_size > 50_000
