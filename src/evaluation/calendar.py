"""Calendar months as integers: the one place the study turns months into numbers and back.

A month ``'YYYY-MM'`` is the integer ``year * 12 + month - 1`` (its *month number*), so the
difference of two month numbers is the number of months between them, ``n // 12`` is the
year and ``n % 12 // 3`` the quarter (0..3). Every module of the package (the data
contract, the outcomes, the pseudo starts, the synthetic generator, the placebo designs)
and the notebooks use these functions; there is no second definition.

One dtype and one error behaviour:

* :func:`month_index` returns a nullable ``Int32`` Series (missing where the label is
  missing) and raises :class:`ValueError` for a label that is not ``'YYYY-MM'``: it reads
  *validated* months (the data contract accepts and normalises other spellings first), so a
  malformed label here is a bug, not bad input.
* :func:`month_codes` is the same as a plain ``int32`` array with :data:`NO_MONTH` (-1)
  where missing, for vectorised code.
* The labelling functions take month numbers and treat negative numbers as missing.

This module imports nothing of the package: every layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

#: Month number standing for "no month" in :func:`month_codes` and the labelling functions.
NO_MONTH = -1

#: A month label as the study stores it (after validation).
MONTH_PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"

_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def month_index(s: pd.Series | Sequence[str] | np.ndarray) -> pd.Series:
    """Turn ``'YYYY-MM'`` labels into integer month numbers ``year * 12 + month - 1``.

    Parameters
    ----------
    s
        Month labels (text, categorical or object); missing values are allowed.

    Returns
    -------
    pandas.Series
        Nullable ``Int32``; missing where the input is missing. Same index as ``s`` if it
        is a Series.

    Raises
    ------
    ValueError
        A non-missing value is not of the form ``YYYY-MM``.

    Notes
    -----
    Parsing is done once per distinct label and broadcast with the factorisation codes,
    so tens of millions of rows cost about one hashing pass.
    """
    codes = month_codes(s)
    index = s.index if isinstance(s, pd.Series) else None
    values = pd.arrays.IntegerArray(codes, codes == NO_MONTH)
    return pd.Series(values, index=index, name=getattr(s, "name", None))


def month_codes(s: pd.Series | Sequence[str] | np.ndarray) -> np.ndarray:
    """Month numbers as ``int32``, :data:`NO_MONTH` where missing (see :func:`month_index`).

    Parameters
    ----------
    s
        Month labels ``'YYYY-MM'``; missing values are allowed.

    Returns
    -------
    numpy.ndarray
        ``int32``, one per value of ``s``.

    Raises
    ------
    ValueError
        A non-missing value is not of the form ``YYYY-MM``.
    """
    ser = s if isinstance(s, pd.Series) else pd.Series(np.asarray(s, dtype=object))
    codes, uniques = pd.factorize(ser, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.full(len(codes), NO_MONTH, dtype=np.int32)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.strip()
    ok = text.str.fullmatch(MONTH_PATTERN).to_numpy(dtype=bool)
    if not ok.all():
        bad = text[~ok].head(3).tolist()
        raise ValueError(f"month values must look like 'YYYY-MM'; found {bad}")
    values = (
        text.str.slice(0, 4).astype(np.int32) * 12 + text.str.slice(5, 7).astype(np.int32) - 1
    ).to_numpy(dtype=np.int32)
    if codes.min() >= 0:
        return values[codes]
    out = np.full(len(codes), NO_MONTH, dtype=np.int32)
    valid = codes >= 0
    out[valid] = values[codes[valid]]
    return out


def month_number(label: str) -> int:
    """The month number of one ``'YYYY-MM'`` label (a scalar :func:`month_index`).

    Parameters
    ----------
    label
        A month such as ``'2018-03'``.

    Returns
    -------
    int
        ``year * 12 + month - 1``.

    Raises
    ------
    ValueError
        The label is not of the form ``YYYY-MM``.
    """
    return int(month_codes([label])[0])


def month_label(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Turn integer month numbers (see :func:`month_index`) back into ``'YYYY-MM'``.

    Parameters
    ----------
    index
        Month numbers; negative values mean missing.

    Returns
    -------
    numpy.ndarray
        Object array of labels, ``None`` where missing.
    """
    return _label_months(index, lambda u: f"{u // 12:04d}-{u % 12 + 1:02d}")


def quarter_label(index: Sequence[int] | np.ndarray) -> np.ndarray:
    """Turn integer month numbers into calendar quarters such as ``'2018Q2'``.

    Parameters
    ----------
    index
        Month numbers (see :func:`month_index`); negative values mean missing.

    Returns
    -------
    numpy.ndarray
        Object array of labels, ``None`` where missing.
    """
    return _label_months(index, lambda u: f"{u // 12:04d}Q{u % 12 // 3 + 1}")


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Number of days of each (year, calendar month 1..12), leap years included.

    Parameters
    ----------
    year, month
        Whole numbers of the same shape; months outside 1..12 are clipped into it.

    Returns
    -------
    numpy.ndarray
        ``int64`` days.
    """
    month = np.asarray(month, dtype="int64")
    year = np.asarray(year, dtype="int64")
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return _DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)


def first_day(month: Sequence[int] | np.ndarray) -> np.ndarray:
    """First day of each month number, as ``datetime64[D]``.

    Parameters
    ----------
    month
        Month numbers (see :func:`month_index`).

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]``.
    """
    months = (np.asarray(month, dtype=np.int64) - 1970 * 12).astype("datetime64[M]")
    return months.astype("datetime64[D]")


def _label_months(index: Sequence[int] | np.ndarray, label: Callable[[int], str]) -> np.ndarray:
    """Label month numbers (each distinct month formatted once); ``None`` where negative."""
    idx = np.asarray(index, dtype=np.int64)
    out = np.full(idx.shape, None, dtype=object)
    valid = idx >= 0
    if valid.any():
        uniq, inverse = np.unique(idx[valid], return_inverse=True)
        out[valid] = np.array([label(int(u)) for u in uniq], dtype=object)[inverse]
    return out
