"""The machinery that checks one table: its violations and its normalised columns.

A :class:`TableCheck` holds one table as read (column names normalised), collects every
:class:`~evaluation.data.contract.rules.Violation` found in it and the normalised columns;
its methods check one kind of column each (a key, text, a category, a month or date, a
number, a 0/1 column) and the relations between rows (duplicated keys, references to other
tables). Which columns of which table are checked how is in
:mod:`evaluation.data.contract.tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.data.columns import REQUIRED_TABLES
from evaluation.data.contract.parse import (
    Parsed,
    clean_text,
    display_value,
    duplicated_keys,
    factorized_text,
    parse_months,
    parse_numbers,
    pin_shaped,
    take_values,
)
from evaluation.data.contract.rules import SHOW_ROWS, Violation
from evaluation.data.io import normalise_column_names


@dataclass(frozen=True)
class Key:
    """An identifier column: values, codes into the distinct values (-1: missing)."""

    values: pd.Series
    codes: np.ndarray
    uniques: pd.Index


#: Distinct offending values listed in a message of a closed code list (the rest counted).
SHOW_DISTINCT = 8


def distinct_values(text: pd.Series, bad: np.ndarray) -> str:
    """``: 'Kvinna' (1203 rows), 'Man' (1180 rows)`` for the offending values of a code list.

    Only for columns with a closed list of codes (categories, 0/1): their values are codes,
    not a person's data. Values shaped like an identity number are counted, never shown.
    """
    if not bad.any():
        return ""
    counts = text[bad].value_counts(dropna=False)
    shown = []
    for value, count in counts.iloc[:SHOW_DISTINCT].items():
        label = display_value(value)
        shown.append(f"{'(a value not shown)' if label is None else label} ({count} "
                     f"row{'s' if count != 1 else ''})")  # fmt: skip
    more = len(counts) - len(shown)
    tail = f" and {more} more distinct value{'s' if more != 1 else ''}" if more > 0 else ""
    return f": {', '.join(shown)}{tail}"


class TableCheck:
    """Collects the violations and the normalised columns of one table."""

    def __init__(self, table: str, file: str, frame: pd.DataFrame) -> None:
        self.table = table
        self.file = file
        self.violations: list[Violation] = []
        raw = frame.reset_index(drop=True)
        raw.columns = normalise_column_names(frame.columns)
        for name in raw.columns[raw.columns.duplicated()].unique():
            self.add(
                name,
                "duplicate_column_names",
                f"{int((raw.columns == name).sum())} columns have this name after "
                "lower-casing and stripping",
                "one column per name",
            )
        self.raw = raw.loc[:, ~raw.columns.duplicated()] if self.violations else raw
        self.n = len(raw)
        self.out: dict[str, pd.Series] = {}
        self.items: list[str] = []  # survey only

    def add(
        self,
        column: str | None,
        rule: str,
        problem: str,
        expected: str,
        mask: np.ndarray | None = None,
        *,
        rows: np.ndarray | None = None,
    ) -> None:
        """Record a violation of ``rule``.

        Offending rows are given by ``mask``, or by ``rows`` in display order; neither means
        a problem with the column itself. A violation names its rows by number, never by
        their content: a message about a confidential extract is itself an output.
        """
        picked = np.array([], dtype=np.int64)
        count = 0
        if rows is not None or mask is not None:
            positions = np.asarray(rows) if rows is not None else np.flatnonzero(mask)
            count = len(positions)
            if count == 0:
                return
            picked = positions[: 2 * SHOW_ROWS if rule == "duplicate_key" else SHOW_ROWS]
        self.violations.append(
            Violation(
                file=self.file,
                table=self.table,
                column=column,
                rule=rule,
                problem=problem,
                expected=expected,
                rows=tuple(int(r) + 1 for r in picked),
                count=count,
            )
        )

    def require(self, names: Sequence[str]) -> None:
        """Required columns present; participants and monthly not empty."""
        found = ", ".join(map(str, self.raw.columns[:20]))
        if self.raw.shape[1] > 20:
            found += ", ..."
        for name in names:
            if name not in self.raw.columns:
                self.add(
                    name,
                    "required_column",
                    "the column is missing",
                    f"a column {name!r} (columns found: {found or 'none'})",
                )
        if self.n == 0 and self.table in REQUIRED_TABLES:
            self.add(None, "empty_table", "the table has no data rows", "at least one row")

    def has(self, name: str) -> bool:
        """Whether the table has the column ``name`` (after normalising names)."""
        return name in self.raw.columns

    def required(self, name: str, missing: np.ndarray) -> None:
        """Refuse the rows where a required value is empty (values are never shown)."""
        self.add(
            name,
            "required_value",
            "required values are empty",
            "a value in every row",
            missing,
        )

    def key(self, name: str, *, required: bool) -> Key | None:
        """An identifier column: stripped text, refused if shaped like an identity number.

        Returns the values and their codes (-1 where missing), for key and reference checks.
        """
        if not self.has(name):
            return None
        raw = self.raw[name]
        codes, uniques, clean = factorized_text(raw)
        if required:
            self.required(name, codes < 0)
        self.refuse_identity_numbers(
            name, codes, pin_shaped(uniques),
            "values are shaped like a Swedish personal identity number (personnummer or "
            "samordningsnummer)",
            "a pseudonymous key that is not an identity number",
        )  # fmt: skip
        self.out[name] = raw if clean and raw.dtype == "str" else take_values(uniques, codes)
        return Key(self.out[name], codes, uniques)

    def refuse_identity_numbers(
        self, name: str, codes: np.ndarray, bad: np.ndarray, problem: str, expected: str
    ) -> None:
        """Refuse the rows whose value holds an identity number; the values are never shown.

        ``codes`` maps each row to its distinct value (-1: missing), ``bad`` flags the
        distinct values.
        """
        if bad.any():
            self.add(name, "personal_identity_number", problem, expected,
                     (codes >= 0) & bad[np.maximum(codes, 0)])  # fmt: skip

    def text(self, name: str, *, required: bool) -> None:
        """A free-text column: stripped, empty is missing."""
        if self.has(name):
            values = clean_text(self.raw[name])
            if required:
                self.required(name, values.isna().to_numpy())
            self.out[name] = values

    def category(self, name: str, allowed: Sequence[str]) -> pd.Series | None:
        """A required category column: lower-cased, refused outside ``allowed``."""
        if not self.has(name):
            return None
        text = clean_text(self.raw[name])
        values = text.str.lower()
        self.required(name, text.isna().to_numpy())
        bad = (text.notna() & ~values.isin(allowed)).to_numpy()
        self.add(
            name,
            "category",
            "values are not in the allowed set" + distinct_values(text, bad),
            "one of " + ", ".join(allowed) + self.recode_hint(name, allowed[0]),
            bad,
        )
        self.out[name] = values.where(~bad)
        return self.out[name]

    def month(self, name: str, *, required: bool, day: bool = False) -> Parsed | None:
        """A month column (``YYYY-MM``), or with ``day`` a date column (``YYYY-MM-DD``)."""
        if not self.has(name):
            return None
        parsed = parse_months(self.raw[name], day_required=day)
        if required:
            self.required(name, parsed.missing)
        if day:
            self.add(
                name, "date_format", "values are not valid dates", "a date YYYY-MM-DD", parsed.bad
            )
        else:
            self.add(
                name,
                "month_format",
                "values are not valid months",
                "a month YYYY-MM (or a date YYYY-MM-DD; YYYYMM is read when every value of the "
                "column has that form)",
                parsed.bad,
            )
        self.out[name] = parsed.values
        return parsed

    def number(self, name: str, *, required: bool, integer: bool) -> np.ndarray | None:
        """Parsed numbers (NaN where missing or malformed); not stored in ``out``."""
        if not self.has(name):
            return None
        parsed = parse_numbers(self.raw[name], integer=integer)
        if required:
            self.required(name, parsed.missing)
        comma = ""
        if parsed.bad.any() and clean_text(self.raw[name])[parsed.bad].str.contains(",").any():
            comma = (f"; some hold a comma: if it is a decimal comma, set data.{self.table}: "
                     "{path: ..., decimal: ','} in the parameter file")  # fmt: skip
        if integer:
            self.add(name, "integer", "values are not whole numbers",
                     "a whole number" + comma, parsed.bad)  # fmt: skip
        else:
            self.add(
                name, "number", "values are not numbers", "a number, such as 12500.5" + comma,
                parsed.bad,
            )  # fmt: skip
        return parsed.numbers

    def binary(self, name: str, *, required: bool) -> None:
        """A 0/1 column, stored as ``int8`` (``Int8`` where values may be missing)."""
        raw = self.raw.get(name)
        if raw is not None and isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biu":
            # Fast path for a register extract: integers, nothing missing.
            array = raw.to_numpy()
            bad = (array != 0) & (array != 1)
            if not bad.any():
                integers = array.astype("int8", copy=False)
                self.out[name] = pd.Series(
                    integers if required else pd.arrays.IntegerArray(integers, array != array)
                )
                return
        if raw is None:
            return
        parsed = parse_numbers(raw, integer=False)
        if required:
            self.required(name, parsed.missing)
        values = parsed.numbers
        bad = parsed.bad | (~np.isnan(values) & (values != 0) & (values != 1))
        self.add(
            name,
            "binary_0_1",
            "values are not 0 or 1" + distinct_values(clean_text(raw), bad),
            "0 or 1" + self.recode_hint(name, "1"),
            bad,
        )
        missing = np.isnan(values) | bad
        integers = np.where(missing, 0, values).astype("int8")
        if required and not missing.any():
            self.out[name] = pd.Series(integers)
        else:
            self.out[name] = pd.Series(pd.arrays.IntegerArray(integers, missing))

    def recode_hint(self, name: str, example: str) -> str:
        """How to map a site's own codes of a closed code list (the parameter file's recode)."""
        return (f" (a site's own codes can be mapped in the parameter file: data.{self.table}: "
                f"{{path: ..., recode: {{{name}: {{<code>: {example}}}}}}})")  # fmt: skip

    def duplicates(self, column: str, key: np.ndarray, valid: np.ndarray) -> None:
        """Rows that share an int64 ``key`` (rows not ``valid`` do not take part)."""
        dup = duplicated_keys(key, valid)
        if dup.any():
            rows = np.flatnonzero(dup)
            rows = rows[np.argsort(pd.factorize(key[rows])[0], kind="stable")]
            label = f"({column})" if ", " in column else column
            self.add(
                column,
                "duplicate_key",
                f"the same {label} occurs in more than one row",
                f"one row per {label}",
                rows=rows,
            )

    def known(
        self,
        name: str,
        codes: np.ndarray,
        uniques: pd.Index,
        reference: pd.Index | None,
        rule: str,
        problem: str,
        expected: str,
    ) -> None:
        """Values (given by their codes into the distinct values) that are in ``reference``."""
        if reference is None:
            return
        unknown = reference.get_indexer(uniques) < 0  # reference is unique; faster than isin
        if unknown.any():
            mask = (codes >= 0) & unknown[np.maximum(codes, 0)]
            distinct = int(unknown.sum())
            problem = f"{problem} ({distinct} distinct value{'s' if distinct > 1 else ''})"
            self.add(name, rule, problem, expected, mask)

    def frame(self, order: Sequence[str]) -> pd.DataFrame:
        """Contract columns in ``order`` (those present), then every other column unchanged."""
        data = {name: self.out[name] for name in order if name in self.out}
        data.update({name: self.out[name] for name in self.out if name not in data})
        for name in self.raw.columns:
            if name not in data:
                data[name] = self.raw[name]
        return pd.DataFrame(data, index=pd.RangeIndex(self.n), copy=False)
