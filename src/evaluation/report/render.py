"""Render the funders' report (HTML, PDF), the reviewers' notebooks and the index page.

The report is a Jinja2 template filled from the run's ``results.json`` only: it never
recomputes. Text comes from the language files (``i18n/en.yaml``, ``i18n/sv.yaml``); every
number is looked up through :class:`Numbers`, which raises on a key the results do not hold,
and the Jinja environment is strict (``StrictUndefined``), so a template key left unfilled
fails the run instead of printing a blank.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from evaluation.errors import RunError

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
I18N = HERE / "i18n"


class ReportKeyError(RunError):
    """The report asked for a number that the results do not hold."""


def load_strings(language: str) -> dict[str, str]:
    """The sentences and labels of one language.

    ``i18n/<lang>.yaml`` holds the report's frame; each optional chapter brings its own
    ``i18n/<chapter>.<lang>.yaml``. A key defined twice is an error.
    """
    strings = yaml.safe_load((I18N / f"{language}.yaml").read_text("utf-8"))
    for path in sorted(I18N.glob(f"*.{language}.yaml")):
        part = yaml.safe_load(path.read_text("utf-8")) or {}
        clash = set(part) & set(strings)
        if clash:
            raise ReportKeyError(f"{path.name} redefines text keys {sorted(clash)}")
        strings.update(part)
    return strings


def fmt_number(value: float, language: str, decimals: int = 0) -> str:
    """A number in the report's language: ``12,345.6`` (en) or ``12 345,6`` (sv)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise ReportKeyError("a number in the report is missing (None/NaN) in the results")
    text = f"{value:,.{decimals}f}"
    if language == "sv":
        text = text.replace(",", "\u202f").replace(".", ",").replace("-", "\u2212")
    return text


#: Columns of the tables in the report whose cells are identifiers (file names, function
#: names, notebook names): shown exactly as written, never translated or reformatted.
VERBATIM_COLUMNS = frozenset(
    {"file", "files", "made_by", "notebook", "path", "key", "extra_columns"}
)

#: A number as the tables' producers write it (``3050``, ``78,186.14``, ``-0.5``): not part of
#: an identifier (``goal_1``, ``2017Q3``, ``participants.csv``) or a date (``2017-09``).
_NUMBER = re.compile(
    r"(?<![\w.,/\-\u2212])(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?![\w]|[.,/:\-]\d)"
)


def localise_numbers(text: str, language: str) -> str:
    """The numbers inside a table cell's text in the report's number format.

    ``32.12 (6.53)`` becomes ``32,12 (6,53)`` in Swedish, ``78,186.14`` becomes
    ``78 186`` (en: ``78,186``): amounts of a thousand or more are shown whole, since
    their decimals carry no information for the reader (kronor, persons). A plain
    four-digit whole number (``2019``, ``3050``) is left as written: in running text it is
    as likely a year as a count, and both languages allow it ungrouped.
    """

    def one(m: re.Match[str]) -> str:
        if not m["sign"] and not m["frac"] and len(m["int"]) == 4:
            return m[0]
        value = float(m["int"].replace(",", "") + ("." + m["frac"] if m["frac"] else ""))
        return _fmt_cell_number(-value if m["sign"] else value, len(m["frac"] or ""), language)

    return _NUMBER.sub(one, text)


def _fmt_cell_number(value: float, decimals: int, language: str) -> str:
    """A table cell's number: whole from a thousand on, otherwise with its own decimals."""
    return fmt_number(value, language, 0 if abs(value) >= 1000 else decimals)


class Numbers:
    """Strict access to the results for the templates.

    Every method raises :class:`ReportKeyError` when the results do not hold what is asked,
    so a report cannot print a number that the run did not produce.
    """

    def __init__(
        self,
        results: dict[str, Any],
        language: str,
        run_dir: Path,
        strings: dict[str, str] | None = None,
    ) -> None:
        self.results = results
        self.language = language
        self.run_dir = run_dir
        self.strings = strings if strings is not None else load_strings(language)
        self.used: set[str] = set()
        self._phrases = _compile_phrases(self.strings.get("phrases", {}))

    # --- raw lookups ---------------------------------------------------------------------
    def raw(self, key: str) -> Any:
        """A registered number (``results["numbers"][key]``, dotted keys go deeper)."""
        value = _dotted(self.results["numbers"], key, "number", "the results")
        self.used.add(key.split(".")[0])
        return value

    def measured(self, key: str) -> Any:
        """A value measured on the machine that ran the notebooks (a wall time, processes seen).

        Such values are kept in ``results["provenance"]["measured"]`` (dotted keys go deeper),
        never among the results, which are the same on every machine.
        """
        measured = self.results.get("provenance", {}).get("measured", {})
        return _dotted(measured, key, "measured value", "the run's provenance")

    def measured_n(self, key: str) -> str:
        """A whole measured value (see :meth:`measured`)."""
        return fmt_number(float(self.measured(key)), self.language, 0)

    def measured_x(self, key: str, decimals: int = 1) -> str:
        """A measured value with decimals (see :meth:`measured`)."""
        return fmt_number(float(self.measured(key)), self.language, decimals)

    def has(self, key: str) -> bool:
        """Whether a number is registered (for optional chapters)."""
        return key in self.results["numbers"]

    def effect(self, outcome: str, estimator: str, subgroup: str = "all") -> dict[str, Any]:
        """One entry of ``effects``."""
        hits = [
            e
            for e in self.results["effects"]
            if e["outcome"] == outcome
            and e["estimator"] == estimator
            and e.get("subgroup", "all") == subgroup
        ]
        if len(hits) != 1:
            raise ReportKeyError(
                f"the report asks for the {estimator} effect on {outcome} ({subgroup}); the "
                f"results hold {len(hits)} such entries"
            )
        return hits[0]

    # --- formatted -----------------------------------------------------------------------
    def n(self, key: str) -> str:
        """A count (a suppressed count is shown as registered, e.g. ``<5``)."""
        value = self.raw(key)
        if isinstance(value, str):  # escaped here, so not again by the template ('&lt;5')
            return Markup(html.escape(value))
        return fmt_number(float(value), self.language, 0)

    def x(self, key: str, decimals: int = 1) -> str:
        """A number with decimals."""
        return fmt_number(float(self.raw(key)), self.language, decimals)

    def text(self, key: str) -> str:
        """A registered text value (a month, a name)."""
        return html.escape(str(self.raw(key)))

    def pp(self, value: float, decimals: int = 1, signed: bool = True) -> str:
        """A share difference in percentage points."""
        s = fmt_number(100 * float(value), self.language, decimals)
        if signed and value > 0:
            s = "+" + s
        return s

    def money(self, value: float, signed: bool = False) -> str:
        """An amount in the study's currency (whole units; ``signed``: ``+`` when positive)."""
        s = fmt_number(float(value), self.language, 0)
        if signed and round(float(value)) > 0:
            s = "+" + s
        return s

    def unit(self, outcome: str, value: float, signed: bool = True) -> str:
        """A value on an outcome's scale with its unit (``+20,3 procentenheter``)."""
        return self._unit_value(outcome, value, signed).strip()

    def p(self, value: float) -> str:
        """A p-value."""
        if value is None:
            raise ReportKeyError("a p-value is missing in the results")
        if value < 0.001:
            return "< " + fmt_number(0.001, self.language, 3)
        return fmt_number(float(value), self.language, 3)

    def outcome_label(self, outcome: str) -> str:
        """The outcome's name in the report's language (``employed_m12`` → text)."""
        for prefix, key in (
            ("employed_m", "label_employed_m"),
            ("months_employed_", "label_months_employed"),
            ("earnings_", "label_earnings"),
        ):
            if outcome.startswith(prefix) and outcome[len(prefix):].isdigit():
                return self.strings[key].format(k=int(outcome[len(prefix):]))
        label_key = f"label_{outcome}"
        if label_key not in self.strings:
            raise ReportKeyError(f"no label for outcome '{outcome}' in the {self.language} texts")
        return self.strings[label_key]

    def _unit_value(self, outcome: str, value: float, signed: bool) -> str:
        if outcome.startswith("employed_m"):
            return self.pp(value, 1, signed) + " " + self.strings["unit_pp"]
        if outcome.startswith("earnings_"):
            s = self.money(value)
            s = ("+" + s) if signed and value > 0 else s
            return s + " " + self.results["study"]["currency"]
        s = fmt_number(float(value), self.language, 2)
        s = ("+" + s) if signed and value > 0 else s
        return s + " " + self.strings.get("unit_" + outcome.split("_")[0], "")

    def est(self, e: dict[str, Any]) -> str:
        """An effect's estimate with its unit (percentage points, currency, months)."""
        return self._unit_value(e["outcome"], e["estimate"], True).strip()

    def ci(self, e: dict[str, Any]) -> str:
        """An effect's confidence interval with its unit."""
        lo = self._unit_value(e["outcome"], e["ci_low"], False).strip()
        hi = self._unit_value(e["outcome"], e["ci_high"], False).strip()
        return f"{lo} {self.strings['to']} {hi}"

    def people(self, e: dict[str, Any], value: float | None = None) -> str:
        """An effect on a share turned into persons among the treated (rounded)."""
        if not isinstance(e["n_treated"], int):
            raise ReportKeyError(
                f"the report turns the {e['estimator']} effect on {e['outcome']} into persons, "
                f"but its number of treated persons is withheld ({e['n_treated']!r})"
            )
        v = e["estimate"] if value is None else value
        return fmt_number(round(v * e["n_treated"]), self.language, 0)

    def table(self, key: str, caption: str = "") -> str:
        """A registered table (already disclosure-controlled) as HTML."""
        if key not in self.results["tables"]:
            raise ReportKeyError(f"the report asks for table '{key}', which the results lack")
        rows = self.results["tables"][key]
        if not rows:
            return ""
        cols = list(rows[0].keys())
        head = "".join(f"<th>{html.escape(self.column(c))}</th>" for c in cols)
        body = []
        for r in rows:
            cells = "".join(f"<td>{html.escape(self.table_cell(c, r[c]))}</td>" for c in cols)
            body.append(f"<tr>{cells}</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        return (
            f'<table class="exhibit" id="tab-{key}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def column(self, name: str) -> str:
        """A table's column header in the report's language (strict: ``col_<name>``)."""
        key = f"col_{name}"
        if key not in self.strings:
            raise ReportKeyError(f"no column label '{key}' in the {self.language} texts")
        return self.strings[key]

    def cell(self, value: Any) -> str:
        """A table cell's text in the report's language.

        The language's phrase translations are applied and its numbers are put in the
        report's number format (:func:`localise_numbers`).
        """
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return ""
            frac = repr(float(value)).partition(".")[2] if isinstance(value, float) else ""
            decimals = 0 if not frac.isdigit() or frac == "0" else len(frac)
            return _fmt_cell_number(float(value), decimals, self.language)
        text = str(value)
        for pattern, replacement in self._phrases:
            text = pattern.sub(replacement, text)
        return localise_numbers(text, self.language)

    def table_cell(self, column: str, value: Any) -> str:
        """One cell of a registered table.

        Identifiers (:data:`VERBATIM_COLUMNS`) are shown as they are, everything else goes
        through :meth:`cell`.
        """
        if value is None:
            return ""
        if column in VERBATIM_COLUMNS:
            return str(value)
        return self.cell(value)

    def identifier(self, text: Any) -> Markup:
        """An identifier (file, function, exhibit key), escaped, that wraps only between parts.

        Break opportunities (``<wbr>``) follow ``.``, ``_`` and ``/``, so that a narrow column
        wraps it between its parts and never inside a word.
        """
        escaped = html.escape(str(text))
        return Markup(re.sub(r"([._/])(?=\w)", r"\1<wbr>", escaped))

    def figure(self, key: str, caption: str = "") -> str:
        """A registered figure, inlined as PNG with its alt text."""
        hits = [e for e in self.results["exhibits"] if e["key"] == key and e["kind"] == "figure"]
        if len(hits) != 1:
            raise ReportKeyError(f"the report asks for figure '{key}', which the results lack")
        ex = hits[0]
        png = next(f for f in ex["files"] if f.endswith(".png"))
        data = base64.b64encode((self.run_dir / png).read_bytes()).decode("ascii")
        cap = html.escape(caption or ex["title"])
        return (
            f'<figure id="fig-{key}"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(ex["alt"])}"><figcaption>{cap}</figcaption></figure>'
        )


def _dotted(values: dict[str, Any], key: str, what: str, where: str) -> Any:
    """``values[a][b]`` for the key ``a.b``; :class:`ReportKeyError` naming it if absent."""
    value: Any = values
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ReportKeyError(f"the report asks for {what} '{key}', which {where} lack")
        value = value[part]
    return value


def _compile_phrases(phrases: dict[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """Phrase translations for table cells: ``{n}`` in a phrase stands for a whole number.

    Longest phrases first, whole-cell or word-bounded, so that a short phrase never rewrites
    part of a longer one.
    """
    out = []
    for source in sorted(phrases, key=len, reverse=True):
        pattern = re.escape(source).replace(re.escape("{n}"), r"(?P<n>\d+)")
        replacement = phrases[source].replace("{n}", r"\g<n>")
        # not inside an identifier: never next to a letter, digit, "_" or "/", and not
        # before ".x" (a file name's extension, a dotted name)
        out.append((re.compile(rf"(?<![\w/]){pattern}(?![\w/]|\.\w)"), replacement))
    return out


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
    ("costs", "06_robustness"),
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


def render_html(results: dict[str, Any], language: str, run_dir: Path) -> str:
    """The report as one self-contained HTML page (figures inlined, no code)."""
    env = make_environment()
    strings = load_strings(language)
    num = Numbers(results, language, run_dir, strings)

    def t(key: str, **kwargs: Any) -> str:
        if key not in strings:
            raise ReportKeyError(f"no text '{key}' in the {language} language file")
        snippet = env.from_string(strings[key])
        return Markup(snippet.render(num=num, r=results, t=t, **kwargs).strip())

    template = env.get_template(f"{results['kind']}.html.j2")
    return template.render(
        t=t,
        num=num,
        chapters=chapters(results),
        optional_chapters=optional_chapters(results),
        r=results,
        lang=language,
        skipped=results.get("skipped", {}),
        exhibits=results.get("exhibits", []),
        provenance=results["provenance"],
    )


def render_pdf(html_text: str, out: Path, base_url: Path, memo_dir: Path | None = None) -> Path:
    """The same report as PDF (A4), via WeasyPrint.

    The page is self-contained (figures inlined), so the PDF is a function of its text and
    the WeasyPrint version: with ``memo_dir`` a page rendered before gets its PDF back (a
    rerun from the cache renders the same page; see :mod:`evaluation.pipeline.memo`).
    """
    import logging
    from importlib.metadata import version

    from evaluation.pipeline.memo import Memo, key

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


#: nbconvert's "lab" page without the scripts it would load from a CDN (require.js, MathJax,
#: mermaid, the widgets manager): the reviewers' pages must open offline.
NOTEBOOK_PAGE = TEMPLATES / "nbconvert" / "notebook_page.html.j2"


def render_notebooks(run_dir: Path, memo_dir: Path | None = None) -> list[Path]:
    """The executed notebooks as HTML *with* code, for reviewers; self-contained, offline.

    Figures are inline and the page loads nothing from the network (:data:`NOTEBOOK_PAGE`):
    an evaluator's secure environment has no internet. With ``memo_dir`` (the runner's cache
    folder) a notebook whose exact bytes were rendered before by the same nbconvert and page
    template gets that page back instead of a new conversion (a notebook reused from the
    cache is byte-identical; see :mod:`evaluation.pipeline.memo`).
    """
    from importlib.metadata import version

    from evaluation.pipeline.memo import Memo, key

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
                import nbformat

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


def render_index(run_dir: Path, results: dict[str, Any], language: str) -> Path:
    """The run's index page linking the report, the notebooks, tables and figures."""
    env = make_environment()
    strings = load_strings(language)
    page = env.get_template("index.html.j2").render(
        s=strings,
        lang=language,
        r=results,
        reports=sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "report").glob("*")),
        notebooks=sorted(
            p.relative_to(run_dir).as_posix() for p in (run_dir / "notebooks").glob("*")
        ),
        tables=sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "tables").glob("*")),
        figures=sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "figures").glob("*")),
    )
    path = run_dir / "index.html"
    path.write_text(page, "utf-8")
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
    render_notebooks(run_dir, memo_dir)
    render_index(run_dir, results, language)
    return html_path
