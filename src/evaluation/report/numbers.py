"""Strict access to a run's results for the report, in the report's language.

:class:`Numbers` is what the templates call ``num``: every number the report prints is looked
up through it, and it raises :class:`ReportKeyError` when the results do not hold what is
asked, so a report cannot print a number that the run did not produce. Table cells are
translated by looking their value up in the catalogue's map of their column
(:data:`CELL_CATEGORIES`), never by rewriting text.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from evaluation.disclosure.audit import is_hidden
from evaluation.errors import RunError
from evaluation.text import Catalogue, catalogue
from evaluation.text.numbers import MissingNumberError, format_number, level_percent


class ReportKeyError(RunError):
    """The report asked for a number that the results do not hold."""


def fmt_number(value: float, language: str, decimals: int = 0) -> str:
    """A number in the report's language: ``12,345.6`` (en) or ``12 345,6`` (sv)."""
    try:
        return format_number(value, language, decimals)
    except MissingNumberError as exc:
        raise ReportKeyError(str(exc)) from None


#: Columns of the tables in the report whose cells are identifiers (file names, function
#: names, notebook names): shown exactly as written, never translated or reformatted.
VERBATIM_COLUMNS = frozenset(
    {"file", "files", "made_by", "notebook", "path", "key", "extra_columns"}
)

#: The catalogue category of each text column of a table the report shows with
#: :meth:`Numbers.table`: a cell is the label of its value in that category. ``characteristic``
#: is a characteristic of the persons, optionally with a category value (``sex: female``),
#: labelled by :meth:`~evaluation.text.Catalogue.characteristic`.
CELL_CATEGORIES: dict[tuple[str, str], str] = {
    ("input_tables", "table"): "input_table",
    ("input_tables", "status"): "input_status",
    ("sample_flow", "step"): "flow_step",
    ("sample_flow", "kind"): "flow_kind",
    ("sample_flow", "reason"): "flow_reason",
    ("trimming", "step"): "trimming_step",
    ("descriptives", "variable"): "characteristic",
    ("lalonde_published", "comparison"): "lalonde_sample",
    ("lalonde_published", "quantity"): "lalonde_quantity",
    ("lalonde_published", "published"): "lalonde_published",
    ("lalonde_published", "source"): "lalonde_source",
}

#: A number as the tables' producers write it (``3050``, ``78,186.14``, ``-0.5``): not part of
#: an identifier (``goal_1``, ``2017Q3``, ``participants.csv``) or a date (``2017-09``).
_NUMBER = re.compile(
    r"(?<![\w.,/\-\u2212])(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?![\w]|[.,/:\-]\d)"
)
_LETTER = re.compile(r"[^\W\d_]")


def localise_numbers(text: str, language: str) -> str:
    """The numbers inside a table cell's text in the report's number format.

    ``32.12 (6.53)`` becomes ``32,12 (6,53)`` in Swedish, ``78,186.14`` becomes
    ``78 186`` (en: ``78,186``): amounts of a thousand or more are shown whole, since
    their decimals carry no information for the reader (kronor, persons), and grouped as the
    report's text groups them (``3,050`` / ``3 050``). A plain four-digit whole number in a
    cell that also holds words (``Wahba (1999, 2002)``) is left as written: beside words it is
    as likely a year as a count.
    """
    words = _LETTER.search(text) is not None

    def one(m: re.Match[str]) -> str:
        if words and not m["sign"] and not m["frac"] and len(m["int"]) == 4:
            return m[0]
        value = float(m["int"].replace(",", "") + ("." + m["frac"] if m["frac"] else ""))
        return _fmt_cell_number(-value if m["sign"] else value, len(m["frac"] or ""), language)

    return _NUMBER.sub(one, text)


def _fmt_cell_number(value: float, decimals: int, language: str) -> str:
    """A table cell's number: whole from a thousand on, otherwise with its own decimals."""
    return fmt_number(value, language, 0 if abs(value) >= 1000 else decimals)


#: A statistic withheld by disclosure control (:func:`evaluation.disclosure.rules.withheld_label`).
_WITHHELD = re.compile(r"withheld \(n<(\d+)\)")


def display_labels(
    labels: Mapping[str, Mapping[str, Any]], language: str
) -> dict[str, dict[str, str]]:
    """The run's own display labels (``report.labels``) in one language.

    A label given as one text serves every language; one given per language serves those it
    names (the others fall back to the catalogue, or the value itself).
    """
    out: dict[str, dict[str, str]] = {}
    for category, values in labels.items():
        for value, label in values.items():
            text = label if isinstance(label, str) else label.get(language)
            if text is not None:
                out.setdefault(category, {})[value] = text
    return out


class Numbers:
    """Strict access to the results for the templates.

    Every method raises :class:`ReportKeyError` when the results do not hold what is asked,
    so a report cannot print a number that the run did not produce.

    Parameters
    ----------
    results
        The run's ``results.json``.
    language
        The report's language.
    run_dir
        The run folder (figures are read from it).
    texts
        The language's catalogue (default: :func:`evaluation.text.catalogue`).
    """

    def __init__(
        self,
        results: dict[str, Any],
        language: str,
        run_dir: Path,
        texts: Catalogue | None = None,
    ) -> None:
        self.results = results
        self.language = language
        self.run_dir = run_dir
        self.texts = texts if texts is not None else catalogue(language)
        self.labels = display_labels(results.get("labels", {}), language)
        self.used: set[str] = set()

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
            return self.hidden(value)
        return fmt_number(float(value), self.language, 0)

    def count(self, value: Any) -> str:
        """A count given as a value (an effect's ``n_treated``), grouped like every number.

        A withheld count (``..``, ``<5``) is shown as its label (:meth:`hidden`).
        """
        if isinstance(value, str):
            return self.hidden(value)
        return fmt_number(float(value), self.language, 0)

    def x(self, key: str, decimals: int = 1) -> str:
        """A number with decimals (a value the disclosure audit hid: its label)."""
        value = self.raw(key)
        if isinstance(value, str) and is_hidden(value):
            return self.hidden(value)
        return fmt_number(float(value), self.language, decimals)

    def hidden(self, value: str) -> Markup:
        """How a value hidden by disclosure control reads: ``<5``, ``..``, or withheld (n<5).

        Escaped here, so not again by the template (``&lt;5``).
        """
        withheld = _WITHHELD.fullmatch(value.strip())
        text = self.texts.format("disclosure_withheld", k=withheld.group(1)) if withheld else value
        return Markup(html.escape(text))

    def text(self, key: str) -> str:
        """A registered text value (a month, a name)."""
        return html.escape(str(self.raw(key)))

    def pp(self, value: float, decimals: int = 1, signed: bool = True) -> str:
        """A share difference in percentage points (a hidden value: its label)."""
        if isinstance(value, str) and is_hidden(value):
            return self.hidden(value)
        s = fmt_number(100 * float(value), self.language, decimals)
        if signed and value > 0:
            s = "+" + s
        return s

    def money(self, value: float, signed: bool = False) -> str:
        """An amount in the study's currency (whole units; ``signed``: ``+`` when positive).

        An amount the disclosure audit hid (it gives a hidden count away) is shown as its
        label (``..``).
        """
        if isinstance(value, str) and is_hidden(value):
            return self.hidden(value)
        s = fmt_number(float(value), self.language, 0)
        if signed and round(float(value)) > 0:
            s = "+" + s
        return s

    def g(self, key: str) -> str:
        """A registered number with as many decimals as it has (``0.1``, ``0.05``; at most 4)."""
        value = float(self.raw(key))
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        decimals = len(text.partition(".")[2])
        return fmt_number(value, self.language, decimals)

    def month(self, yyyy_mm: str) -> str:
        """A month (``2018-03``) as the report's language writes it (``March 2018``, ``mars 2018``)."""
        m = re.fullmatch(r"(\d{4})-(\d{2})", str(yyyy_mm))
        if m is None:
            raise ReportKeyError(f"'{yyyy_mm}' is not a month (YYYY-MM)")
        name = self.texts.category("month", m[2])
        return self.texts.format("format.month", month=name, year=m[1])

    def quarter(self, label: str) -> str:
        """A calendar quarter (``2017Q3``) as the report's language writes it (sv ``2017K3``)."""
        m = re.fullmatch(r"(\d{4})Q([1-4])", str(label))
        if m is None:
            return html.escape(str(label))
        return self.texts.format("format.quarter", year=m[1], quarter=m[2])

    def country(self) -> str:
        """The study's country (``study.country``) by name; a code the catalogue lacks as is."""
        code = self.results["study"]["country"]
        return self.texts.category("country", code, default=code)

    def programme(self, field: str) -> str:
        """A text of the programme block (``name``, ``funder``, ``aims``, ``logic``).

        In the report's language, as the parameter file gives it.
        """
        block = self.results.get("programme")
        if block is None or field not in block:
            raise ReportKeyError(f"the report asks for programme.{field}, which the results lack")
        value = block[field]
        if isinstance(value, dict):
            if self.language not in value:
                raise ReportKeyError(
                    f"programme.{field} has no text in '{self.language}', the report's language"
                )
            value = value[self.language]
        return str(value)

    def currency(self) -> str:
        """The study's currency as the report's language names it (``SEK``; sv: ``kronor``).

        A currency code the catalogue does not name is shown as the code.
        """
        code = self.results["study"]["currency"]
        return self.texts.category("currency", code, default=code)

    def unit(self, outcome: str, value: float, signed: bool = True) -> str:
        """A value on an outcome's scale with its unit (``+20,3 procentenheter``)."""
        return self._unit_value(outcome, value, signed).strip()

    def level(self) -> str:
        """The confidence level of the intervals shown, ``95 %`` (the run's ``estimation.level``).

        Read from the headline, else from the effects (which must agree): never a fixed 95.
        """
        headline = self.results.get("headline") or {}
        levels = (
            {headline["level"]}
            if "level" in headline
            else {e["level"] for e in self.results.get("effects", []) if "level" in e}
        )
        if len(levels) != 1:
            raise ReportKeyError(f"the results give no single confidence level ({sorted(levels)})")
        return f"{level_percent(levels.pop(), self.language)} %"

    def p(self, value: float) -> str:
        """A p-value (one the disclosure audit hid -- it gives a hidden count away -- its label)."""
        if value is None:
            raise ReportKeyError("a p-value is missing in the results")
        if isinstance(value, str) and is_hidden(value):
            return self.hidden(value)
        if value < 0.001:
            return "< " + fmt_number(0.001, self.language, 3)
        return fmt_number(float(value), self.language, 3)

    def outcome_label(self, outcome: str) -> str:
        """The outcome's name in the report's language (``employed_m12`` → text)."""
        return self.texts.category("outcome", outcome)

    def _unit_value(self, outcome: str, value: float, signed: bool) -> str:
        if outcome.startswith("employed_"):  # a share: by horizon, or the ESF indicators
            return self.pp(value, 1, signed) + " " + self.texts["unit_pp"]
        if outcome.startswith("earnings_"):
            s = self.money(value)
            s = ("+" + s) if signed and value > 0 else s
            return s + " " + self.currency()
        s = fmt_number(float(value), self.language, 2)
        s = ("+" + s) if signed and value > 0 else s
        return s + " " + self.texts.strings.get("unit_" + outcome.split("_")[0], "")

    def est(self, e: dict[str, Any]) -> str:
        """An effect's estimate with its unit (percentage points, currency, months)."""
        return self._unit_value(e["outcome"], e["estimate"], True).strip()

    def ci(self, e: dict[str, Any]) -> str:
        """An effect's confidence interval with its unit."""
        lo = self._unit_value(e["outcome"], e["ci_low"], False).strip()
        hi = self._unit_value(e["outcome"], e["ci_high"], False).strip()
        return f"{lo} {self.texts['to']} {hi}"

    def people(self, e: dict[str, Any], value: float | None = None) -> str:
        """An effect on a share turned into persons among the treated (rounded)."""
        if not isinstance(e["n_treated"], int):
            raise ReportKeyError(
                f"the report turns the {e['estimator']} effect on {e['outcome']} into persons, "
                f"but its number of treated persons is withheld ({e['n_treated']!r})"
            )
        v = e["estimate"] if value is None else value
        return fmt_number(round(v * e["n_treated"]), self.language, 0)

    # --- tables --------------------------------------------------------------------------
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
            # escape() leaves a cell already escaped (a hidden value's Markup, '<5') as it is
            cells = "".join(f"<td>{escape(self.table_cell(key, c, r[c]))}</td>" for c in cols)
            body.append(f"<tr>{cells}</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        return (
            f'<table class="exhibit" id="tab-{key}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def column(self, name: str) -> str:
        """A table's column header in the report's language (strict: ``col_<name>``)."""
        key = f"col_{name}"
        if key not in self.texts:
            raise ReportKeyError(f"no column label '{key}' in the {self.language} texts")
        return self.texts[key]

    def cell(self, value: Any) -> str:
        """A table cell's numbers in the report's number format (:func:`localise_numbers`).

        Whole numbers and decimals are formatted; text is left as it is, except for the
        numbers inside it. Words are translated by :meth:`table_cell`, never here.
        """
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return ""
            frac = repr(float(value)).partition(".")[2] if isinstance(value, float) else ""
            decimals = 0 if not frac.isdigit() or frac == "0" else len(frac)
            return _fmt_cell_number(float(value), decimals, self.language)
        return localise_numbers(str(value), self.language)

    def table_cell(self, table: str, column: str, value: Any) -> str:
        """One cell of a registered table, in the report's language.

        Identifiers (:data:`VERBATIM_COLUMNS`) are shown as they are; a column with a
        category (:data:`CELL_CATEGORIES`) shows its value's label; every other cell is a
        number, or text made of numbers (``32.12 (6.53)``, ``<5``), put in the report's
        number format.

        Raises
        ------
        ReportKeyError
            If a cell of a column without a category holds words: the table needs an entry
            in :data:`CELL_CATEGORIES` and its values a label in the catalogue.
        """
        if value is None:
            return ""
        if column in VERBATIM_COLUMNS:
            return str(value)
        if isinstance(value, str) and is_hidden(value):
            return self.hidden(value)
        category = CELL_CATEGORIES.get((table, column))
        if category == "characteristic":
            label = self.texts.characteristic(str(value), self.labels)
            return localise_numbers(label, self.language)
        if category is not None and isinstance(value, str):
            return self.texts.category(category, value)
        if isinstance(value, str) and _LETTER.search(value):
            raise ReportKeyError(
                f"table '{table}', column '{column}': the cell {value!r} is text, but the "
                "column has no category to translate it (evaluation.report.numbers."
                "CELL_CATEGORIES and the catalogue's categories)"
            )
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
