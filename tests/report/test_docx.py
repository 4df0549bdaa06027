"""The Word report (``report.formats: docx``): the same page as the HTML report, in Word.

Read back with python-docx: every heading of the HTML page is a heading of the document, in
order; every table and figure is there; the summary's sentences are there word for word. A
funder's template (``report.docx_reference``) gives the document its styles. The same run
gives the same bytes; the identifier scan reads a Word document's text (a .docx is a zip, so
read as bytes an identifier in it could not be found); a template that is not a Word file is
refused before the run.

Tolerances: none (text compared exactly after whitespace is normalised).
"""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import zipfile

import docx
import pytest
from pypandoc import get_pandoc_path

from evaluation.config import load_params
from evaluation.disclosure.privacy import file_text, scan_text
from evaluation.errors import ParamsError
from evaluation.report.render import render_docx


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def _html_headings(page: str) -> list[str]:
    body = page[page.index("<body") :]
    return [_text(h) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", body, re.S)]


@pytest.fixture(scope="module")
def report(finished_run):
    run, _ = finished_run
    folder = run.run_dir / "report"
    page = (folder / "report_en.html").read_text("utf-8")
    return run, page, folder / "report_en.docx"


def test_the_run_writes_a_word_report_with_every_heading_table_and_figure(report):
    run, page, path = report
    assert path.is_file()
    doc = docx.Document(str(path))
    headings = [p.text.strip() for p in doc.paragraphs if p.style.name.startswith("Heading")]
    wanted = _html_headings(page)
    assert len(wanted) > 20
    # the page's headings, in order (pandoc puts the page's <title> before them, as Title)
    assert headings == wanted
    assert len(doc.tables) == page.count("<table")
    assert len(doc.inline_shapes) == len(re.findall(r"<img\b", page))
    assert len(doc.inline_shapes) > 10
    assert doc.core_properties.language == "en-GB"
    # the summary, sentence by sentence
    summary = page[page.index('id="summary"') :]
    summary = summary[: summary.index("</section>")]
    words = re.sub(r"\s+", " ", "\n".join(p.text for p in doc.paragraphs))
    for para in re.findall(r"<p[^>]*>(.*?)</p>", summary, re.S):
        assert _text(para) in words


def test_the_run_folder_lists_the_word_report(report):
    run, _, path = report
    index = (run.run_dir / "index.html").read_text("utf-8")
    assert 'href="report/report_en.docx"' in index


def test_the_same_page_gives_the_same_bytes_and_a_template_gives_its_styles(report, tmp_path):
    run, page, path = report
    computed = json.loads((run.run_dir / "results.json").read_text())["provenance"]["computed"]
    again = render_docx(page, tmp_path / "again.docx", language="en", computed=computed["until"])
    assert again.read_bytes() == path.read_bytes()
    # a funder's template: pandoc's own reference document with Heading 1 in another colour
    ref = subprocess.run([get_pandoc_path(), "--print-default-data-file", "reference.docx"],
                         capture_output=True, check=True).stdout  # fmt: skip
    template = _restyled(ref, "Heading1", "C0FFEE")
    (tmp_path / "funder.docx").write_bytes(template)
    styled = render_docx(page, tmp_path / "styled.docx", language="en",
                         reference=tmp_path / "funder.docx", computed=computed["until"])  # fmt: skip
    heading = docx.Document(str(styled)).styles["Heading 1"]
    assert str(heading.font.color.rgb) == "C0FFEE"
    assert str(docx.Document(str(path)).styles["Heading 1"].font.color.rgb) != "C0FFEE"


def _restyled(reference: bytes, style_id: str, rgb: str) -> bytes:
    """The reference document with one style's colour changed."""
    src = zipfile.ZipFile(io.BytesIO(reference))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/styles.xml":
                xml = data.decode("utf-8")
                start = xml.index(f'w:styleId="{style_id}"')
                end = xml.index("</w:style>", start)
                part = re.sub(r'<w:color w:val="[0-9A-Fa-f]{6}"', f'<w:color w:val="{rgb}"',
                              xml[start:end])  # fmt: skip
                assert part != xml[start:end]
                data = (xml[:start] + part + xml[end:]).encode("utf-8")
            z.writestr(item, data)
    return out.getvalue()


def test_the_identifier_scan_reads_a_word_document(tmp_path):
    page = "<html><body><h1>Report</h1><p>Persons: <b>P0</b>0123 and Q-77 and 19121212-1212</p>"
    path = render_docx(page + "</body></html>", tmp_path / "leak.docx", language="sv")
    text = file_text(path)
    assert "P00123" in text  # written in two runs (bold and not): found whole
    assert scan_text(text, {"P00123"}) == ["input identifier", "personal identity number shape"]
    assert scan_text(text, {"X99999"}) == ["personal identity number shape"]
    # read as bytes, the compressed document hides it
    raw = path.read_bytes().decode("utf-8", "replace")
    assert "P00123" not in raw


def test_a_template_that_is_not_a_word_file_is_refused_before_the_run(tmp_path, make_params):
    params = make_params(tmp_path, **{"report.docx_reference": "funder.dotx"})
    (tmp_path / "funder.dotx").write_text("not a docx", "utf-8")
    with pytest.raises(ParamsError, match=r"report\.docx_reference .*funder\.dotx.* not a \.docx"):
        load_params(params)
