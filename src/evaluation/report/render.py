"""Render the funders' report (HTML, PDF, DOCX), the reviewers' notebooks and the index page.

The report is a Jinja2 template filled from the run's ``results.json`` only: it never
recomputes. Its text comes from the text catalogue (:mod:`evaluation.text`); which sentence
of the catalogue applies is decided in :mod:`evaluation.report.sentences`; every number is
looked up through :class:`~evaluation.report.numbers.Numbers`, which raises on a key the
results do not hold. The Jinja environment is strict (``StrictUndefined``), so a template key
left unfilled fails the run instead of printing a blank.

In the templates: ``t(key, **fields)`` renders a sentence of the catalogue (or a
:class:`~evaluation.report.sentences.Sentence`, or a list of them), ``cat(name, value)``
is a category value's label, ``say`` holds the decisions and ``num`` the numbers.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from markupsafe import Markup

from evaluation.memo import Memo, key
from evaluation.report.numbers import (
    VERBATIM_COLUMNS,
    Numbers,
    ReportKeyError,
    fmt_number,
    localise_numbers,
)
from evaluation.report.sentences import Sentence, Sentences
from evaluation.text import Catalogue, catalogue

__all__ = [
    "VERBATIM_COLUMNS",
    "Numbers",
    "ReportKeyError",
    "fmt_number",
    "localise_numbers",
    "index_page",
    "make_environment",
    "render_html",
    "report_context",
]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"


def make_environment() -> jinja2.Environment:
    """The strict Jinja environment of the report."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


#: Every chapter of the study report in order; optional ones (``templates/chapters/<name>``)
#: appear when the notebook named here ran (its results are in ``results.json``).
CHAPTERS: tuple[tuple[str, str | None], ...] = (
    ("summary", None),
    ("programme", None),
    ("data", None),
    ("design", None),
    ("effects", None),
    ("timing", "04_timing"),
    ("bottomup", "05_bottomup"),
    ("model", "05_bottomup"),
    ("robustness", "06_robustness"),
    ("costs", "07_costs"),
    ("limitations", None),
    ("appendix", None),
)


def chapters(results: dict[str, Any]) -> list[str]:
    """The report's chapters, in order, that this run's results can fill."""
    ran = {e["notebook"] for e in results.get("exhibits", [])}
    return [name for name, notebook in CHAPTERS if notebook is None or notebook in ran]


def optional_chapters(results: dict[str, Any]) -> list[str]:
    """The optional chapters (own template file) present in this run."""
    fixed = {name for name, notebook in CHAPTERS if notebook is None}
    return [c for c in chapters(results) if c not in fixed]


def report_context(
    results: dict[str, Any],
    language: str,
    run_dir: Path,
    env: jinja2.Environment | None = None,
    texts: Catalogue | None = None,
) -> dict[str, Any]:
    """What every report template is rendered with: ``t``, ``cat``, ``say``, ``num``, ``r``.

    Parameters
    ----------
    results
        The run's ``results.json``.
    language
        The report's language.
    run_dir
        The run folder (figures are read from it).
    env
        The Jinja environment (default: :func:`make_environment`).
    texts
        The language's catalogue (default: :func:`evaluation.text.catalogue`).
    """
    env = env or make_environment()
    texts = texts if texts is not None else catalogue(language)
    num = Numbers(results, language, run_dir, texts)
    say = Sentences(num)

    def cat(name: str, value: Any, default: str | None = None) -> str:
        return texts.category(name, value, default=default)

    def t(what: str | Sentence | list[Sentence] | tuple[Sentence, ...], /, **fields: Any) -> Markup:
        if isinstance(what, list | tuple):
            return Markup(" ").join(t(s, **fields) for s in what)
        if isinstance(what, Sentence):
            return t(what.key, **{**what.fields, **fields})
        values = {k: _field(v, t) for k, v in fields.items()}
        snippet = env.from_string(texts[what])
        return Markup(snippet.render(num=num, r=results, t=t, cat=cat, say=say, **values).strip())

    return {
        "t": t,
        "cat": cat,
        "char": texts.characteristic,
        "say": say,
        "num": num,
        "r": results,
        "lang": language,
        "skipped": results.get("skipped", {}),
    }


def _field(value: Any, t: Callable[..., Markup]) -> Any:
    """A sentence's field: a sentence (or a list of them) is rendered first."""
    if isinstance(value, Sentence):
        return t(value)
    if isinstance(value, list) and value and all(isinstance(v, Sentence) for v in value):
        return [t(v) for v in value]
    return value


def render_html(results: dict[str, Any], language: str, run_dir: Path) -> str:
    """The report as one self-contained HTML page (figures inlined, no code)."""
    env = make_environment()
    context = report_context(results, language, run_dir, env)
    template = env.get_template(f"{results['kind']}.html.j2")
    return template.render(
        **context,
        chapters=chapters(results),
        optional_chapters=optional_chapters(results),
        exhibits=results.get("exhibits", []),
        provenance=results["provenance"],
    )


def render_pdf(html_text: str, out: Path, base_url: Path, memo_dir: Path | None = None) -> Path:
    """The same report as PDF (A4), via WeasyPrint.

    The page is self-contained (figures inlined), so the PDF is a function of its text and
    the WeasyPrint version: with ``memo_dir`` a page rendered before gets its PDF back (a
    rerun from the cache renders the same page; see :mod:`evaluation.memo`).
    """
    memo = Memo(memo_dir, "pdf")
    k = key("pdf", version("weasyprint"), html_text)
    pdf = memo.get(k)
    if pdf is None:
        from weasyprint import HTML

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        logging.getLogger("fontTools").setLevel(logging.ERROR)
        pdf = HTML(string=html_text, base_url=str(base_url)).write_pdf()
        memo.put(k, pdf)
        memo.prune(keep=50)
    out.write_bytes(pdf)
    return out


#: The language of the Word document's text (its proofing), by the report's language.
DOCX_LANGUAGE = {"en": "en-GB", "sv": "sv-SE"}


def render_docx(
    html_text: str,
    out: Path,
    *,
    language: str,
    reference: Path | str | None = None,
    computed: str | None = None,
    memo_dir: Path | None = None,
) -> Path:
    """The same report as a Word document, converted from the HTML page by pandoc.

    Funders' templates are Word: ``reference`` (``report.docx_reference``) is a Word file
    whose styles the document takes (pandoc's reference document). Pandoc is the binary the
    ``pypandoc-binary`` wheel ships, run in its sandbox (it reads the page from its input and
    the reference document, nothing else: no network). The page is self-contained (figures
    are PNG data URIs), so the document is a function of the page, the reference document,
    the language and pandoc's version; its date is when the numbers were computed
    (``computed``, ISO 8601), so the same run gives the same bytes, and with ``memo_dir`` a
    page converted before gets its document back (:mod:`evaluation.memo`).
    """
    from pypandoc import get_pandoc_path, get_pandoc_version

    ref = None if reference is None else Path(reference)
    ref_bytes = b"" if ref is None else ref.read_bytes()
    lang = DOCX_LANGUAGE.get(language, language)
    memo = Memo(memo_dir, "docx")
    k = key("docx", get_pandoc_version(), html_text, ref_bytes, lang, computed or "")
    docx = memo.get(k)
    if docx is None:
        command = [get_pandoc_path(), "--sandbox", "--from", "html", "--to", "docx",
                   "--metadata", f"lang={lang}", "--output", "-"]  # fmt: skip
        if ref is not None:
            command.append(f"--reference-doc={ref}")
        env = dict(os.environ)
        if computed:
            env["SOURCE_DATE_EPOCH"] = str(int(datetime.fromisoformat(computed).timestamp()))
        done = subprocess.run(command, input=html_text.encode("utf-8"), capture_output=True,
                              env=env, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"pandoc could not write the Word report (exit {done.returncode}): "
                f"{done.stderr.decode('utf-8', 'replace').strip()[:500]}"
                + ("; is report.docx_reference a Word (.docx) file?" if ref else "")
            )
        docx = done.stdout
        memo.put(k, docx)
        memo.prune(keep=50)
    out.write_bytes(docx)
    return out


#: nbconvert's "lab" page without the scripts it would load from a CDN (require.js, MathJax,
#: mermaid, the widgets manager): the reviewers' pages must open offline.
NOTEBOOK_PAGE = TEMPLATES / "nbconvert" / "notebook_page.html.j2"


def render_notebooks(run_dir: Path, memo_dir: Path | None = None) -> list[Path]:
    """The executed notebooks as HTML *with* code, for reviewers; self-contained, offline.

    Figures are inline and the page loads nothing from the network (:data:`NOTEBOOK_PAGE`):
    an evaluator's secure environment has no internet. With ``memo_dir`` (the runner's cache
    folder) a notebook whose exact bytes were rendered before by the same nbconvert and page
    template gets that page back instead of a new conversion (a notebook reused from the
    cache is byte-identical; see :mod:`evaluation.memo`).
    """
    memo = Memo(memo_dir, "html")
    exporter = None
    out = []
    page = NOTEBOOK_PAGE.read_bytes()
    for nb_path in sorted((run_dir / "notebooks").glob("*.ipynb")):
        raw = nb_path.read_bytes()
        k = key("lab-offline", version("nbconvert"), page, raw)
        body = memo.get(k)
        if body is None:
            if exporter is None:  # imported only when a page must be made (slow import)
                import nbconvert

                exporter = nbconvert.HTMLExporter(
                    template_name="lab",
                    extra_template_paths=[str(NOTEBOOK_PAGE.parent)],
                    template_file=NOTEBOOK_PAGE.name,
                )
            text, _ = exporter.from_notebook_node(nbformat.reads(raw.decode("utf-8"), as_version=4))
            body = text.encode("utf-8")
            memo.put(k, body)
        target = nb_path.with_suffix(".html")
        target.write_bytes(body)
        out.append(target)
    memo.prune()
    return out


def index_page(run_dir: Path, results: dict[str, Any], language: str) -> str:
    """The run's index page for reviewers: the report, the notebooks, tables and figures.

    Its annex is the list of exhibits: every table, figure and number, the notebook and
    function that made it and its files (the report points to it).
    """
    env = make_environment()

    def files(folder: str) -> list[str]:
        return sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / folder).glob("*"))

    return env.get_template("index.html.j2").render(
        **report_context(results, language, run_dir, env),
        exhibits=results.get("exhibits", []),
        reports=files("report"),
        notebooks=files("notebooks"),
        tables=files("tables"),
        figures=files("figures"),
    )


def render_index(run_dir: Path, results: dict[str, Any], language: str) -> Path:
    """Write the run's index page (:func:`index_page`) as ``index.html``."""
    path = run_dir / "index.html"
    path.write_text(index_page(run_dir, results, language), "utf-8")
    return path


def render_all(
    run_dir: Path, results: dict[str, Any], params: Any, memo_dir: Path | None = None
) -> Path:
    """Render everything for a finished set of results; return the HTML report's path.

    ``memo_dir``: the runner's cache folder, for the notebooks' pages (see
    :func:`render_notebooks`).
    """
    language = params.study.language
    report_dir = run_dir / "report"
    report_dir.mkdir(exist_ok=True)
    page = render_html(results, language, run_dir)
    html_path = report_dir / f"report_{language}.html"
    html_path.write_text(page, "utf-8")
    if "pdf" in params.report.formats:
        render_pdf(page, report_dir / f"report_{language}.pdf", report_dir, memo_dir)
    if "docx" in params.report.formats:
        computed = (results["provenance"].get("computed") or {}).get("until")
        render_docx(page, report_dir / f"report_{language}.docx", language=language,
                    reference=params.report.docx_reference, computed=computed,
                    memo_dir=memo_dir)  # fmt: skip
    render_notebooks(run_dir, memo_dir)
    render_index(run_dir, results, language)
    return html_path
