"""Vectorised parsing of the contract's columns: text, keys, months, dates, numbers.

Every parser works on the distinct values of a column where it can (a key or month column of
millions of rows costs one factorisation) and returns the normalised values with masks of
the missing and the malformed rows; the checks (:mod:`evaluation.data.contract.check`) turn
those masks into violations. Identity-number shapes are recognised here too, so that no
message ever shows one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.calendar import days_in_month
from evaluation.data.io import as_text

_PIN = r"^(?P<century>\d{2})?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})[-+ ]?(?P<serial>\d{4})$"
_PIN_SHAPE = r"\d{6}(?:\d{2})?[-+ ]?\d{4}"
#: Anything shaped like an identity number inside a longer text.
PIN_ANYWHERE = re.compile(r"(?<!\d)\d{6}(?:\d{2})?[-+ ]?\d{4}(?!\d)")
_MONTH = r"^(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)?$"
_DATE = r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"


@dataclass(frozen=True)
class Parsed:
    """A parsed column: normalised values, numbers (month index for months) and masks."""

    values: pd.Series
    numbers: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    months: np.ndarray | None = None  # int64 month index, -1 where missing or bad


def clean_text(series: pd.Series) -> pd.Series:
    """Text with surrounding whitespace stripped; empty is missing."""
    values = as_text(series.reset_index(drop=True)).str.strip()
    return values.where(values != "").astype("str")


def factorized_text(series: pd.Series) -> tuple[np.ndarray, pd.Index, bool]:
    """Codes (-1 for missing) and distinct values of a text column, after stripping.

    Only the distinct values are stripped, so a key column of millions of rows costs one
    factorisation. The flag is true when stripping changed nothing.
    """
    raw_codes, raw_uniques = pd.factorize(series.reset_index(drop=True))
    stripped = clean_text(pd.Series(raw_uniques, dtype=object))
    norm_codes, uniques = pd.factorize(stripped)
    if len(uniques) == len(raw_uniques) and (norm_codes == np.arange(len(norm_codes))).all():
        clean = bool(
            (stripped.to_numpy(dtype=object) == np.asarray(raw_uniques, dtype=object)).all()
        )
        return raw_codes, pd.Index(uniques, dtype="str"), clean  # no remapping needed
    # Code -1 (missing) picks the appended -1: one pass over the rows.
    return np.append(norm_codes, -1)[raw_codes], pd.Index(uniques, dtype="str"), False


def take_values(uniques: pd.Index | pd.Series, codes: np.ndarray) -> pd.Series:
    """Values at ``codes`` (missing where -1), as a ``str`` Series."""
    array = pd.array(np.asarray(uniques, dtype=object), dtype="str")
    return pd.Series(array.take(codes, allow_fill=True), dtype="str")


def display_value(value: object) -> str | None:
    """A value as shown in a message; ``None`` for an identity-number-shaped value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "empty"
    text = str(value).strip()
    if PIN_ANYWHERE.search(text):  # conservative: any identity-number-like digits
        return None
    return repr(text if len(text) <= 40 else text[:37] + "...")


def pin_shaped(values: pd.Series | pd.Index) -> np.ndarray:
    """True where a text value is a plausible Swedish personnummer or samordningsnummer.

    Shapes YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDD-NNNN and YYYYMMDDNNNN (a space
    as separator too), where the month is 1..12 and the day exists in that month, or is
    the day + 60 (samordningsnummer); with a century, the year is 1800 to this year. The
    check digit is not required, so a mistyped number is refused as well.
    """
    values = pd.Series(np.asarray(values, dtype=object), dtype="str")
    candidates = values.str.fullmatch(_PIN_SHAPE).to_numpy(dtype=bool, na_value=False)
    result = np.zeros(len(values), dtype=bool)
    if not candidates.any():
        return result
    parts = values[candidates].str.extract(_PIN)
    century = pd.to_numeric(parts["century"]).to_numpy(dtype="float64", na_value=np.nan)
    yy = parts["yy"].astype("int64").to_numpy()
    mm = parts["mm"].astype("int64").to_numpy()
    dd = parts["dd"].astype("int64").to_numpy()
    dd = np.where(dd > 60, dd - 60, dd)
    has_century = ~np.isnan(century)
    # Without a century, 29 February is plausible whenever yy is divisible by 4 (2000 leap).
    year = np.where(has_century, np.nan_to_num(century) * 100 + yy, 2000 + yy).astype("int64")
    year_ok = ~has_century | ((year >= 1800) & (year <= dt.date.today().year))
    in_month = (mm >= 1) & (mm <= 12) & (dd >= 1) & (dd <= days_in_month(year, mm))
    result[candidates] = year_ok & in_month
    return result


def parse_months(series: pd.Series, *, day_required: bool) -> Parsed:
    """Months as 'YYYY-MM' (or dates as 'YYYY-MM-DD'); ``numbers`` is the month index.

    Parsed on the distinct values only: a column of millions of rows with a few hundred
    distinct months costs one factorisation.
    """
    series = series.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(
        series.dtype, pd.PeriodDtype
    ):
        series = as_text(series)
    codes, uniques, clean = factorized_text(series)
    text = pd.Series(uniques, dtype="str")
    parts = text.str.extract(_DATE if day_required else _MONTH)
    year = pd.to_numeric(parts["y"]).to_numpy(dtype="float64", na_value=np.nan)
    month = pd.to_numeric(parts["m"]).to_numpy(dtype="float64", na_value=np.nan)
    day = pd.to_numeric(parts["d"]).to_numpy(dtype="float64", na_value=np.nan)
    ok = ~np.isnan(year) & (month >= 1) & (month <= 12)
    with_day = ok & ~np.isnan(day)
    if with_day.any():
        ok[with_day] = (day[with_day] >= 1) & (
            day[with_day] <= days_in_month(year[with_day], month[with_day])
        )
    labels = text.str.slice(0, 10 if day_required else 7).where(ok)
    index = np.where(ok, np.nan_to_num(year) * 12 + np.nan_to_num(month) - 1, np.nan)
    # Code -1 (missing) picks the appended last element: NaN, not bad.
    numbers = np.append(index, np.nan)[codes]
    months = np.append(np.where(ok, np.nan_to_num(index), -1).astype("int64"), -1)[codes]
    bad = np.append(~ok & text.notna().to_numpy(), False)[codes]
    if clean and ok.all() and series.dtype == "str" and (labels == text).all():
        values = series  # already normalised: no copy
    else:
        values = take_values(labels, codes)
    return Parsed(values, numbers, codes < 0, bad, months)


def parse_numbers(series: pd.Series, *, integer: bool) -> Parsed:
    """Numbers as float64 (NaN where missing or bad); ``values`` is the same as a Series."""
    series = series.reset_index(drop=True)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biu":  # no missing values
        values = series.to_numpy().astype("float64")
        none = np.zeros(len(values), dtype=bool)
        return Parsed(pd.Series(values), values, none, none)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        bad = np.isinf(values)
    else:
        text = clean_text(series)
        missing = text.isna().to_numpy()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = (np.isnan(values) & ~missing) | np.isinf(values)
    if integer:
        with np.errstate(invalid="ignore"):
            bad |= np.isfinite(values) & (np.floor(values) != values)
    if bad.any():
        values = np.where(bad, np.nan, values)
    return Parsed(pd.Series(values), values, missing, bad)


def duplicated_keys(key: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """All rows whose int64 key occurs more than once among the valid rows.

    Fast paths: strictly increasing keys (an extract sorted by key) need no hashing, and
    a sort finds that there are no duplicates at all before any row is marked.
    """
    sub = key[valid]
    dup = np.zeros(len(key), dtype=bool)
    if len(sub) < 2 or bool((sub[1:] > sub[:-1]).all()):
        return dup
    ordered = np.sort(sub)
    if not (ordered[1:] == ordered[:-1]).any():
        return dup
    dup[valid] = pd.Series(sub).duplicated(keep=False).to_numpy()
    return dup
