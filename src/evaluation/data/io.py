"""Read and write the study's input tables in the five formats of the data contract.

One verb per direction: :func:`read_table` turns a file into a :class:`pandas.DataFrame`
with lower-case column names and the identifier and month columns as text;
:func:`write_table` writes a frame so that :func:`read_table` gives it back. Neither checks
the content: that is :mod:`evaluation.data.contract`.

Formats, chosen by the file extension (case-insensitive):

``.csv``
    UTF-8 (a byte-order mark is accepted), comma-separated, header row; a row with more
    fields than the header is refused. Every column is read as text; only an empty field
    is missing (``NA``, ``None`` are kept as text). Columns other than identifiers and
    months whose values all parse as numbers become numeric, unless a value has a leading
    zero (a code such as ``0180``).
``.parquet``
    As stored.
``.xlsx``
    The sheet named like the table if there is one, else the first sheet.
``.dta``
    Stata; value labels become their text, Stata dates become dates.
``.sav``
    SPSS (via pyreadstat); value labels become their text.

Identifier and month columns (:data:`TEXT_COLUMNS`) are always returned as text: numbers
are written without a decimal part (``123.0`` becomes ``'123'``) and dates as
``'YYYY-MM-DD'`` (Excel often turns ``2018-03`` into a date). Leading zeros survive only if
the file kept them (CSV and text cells always do). Stata and SPSS cannot store a missing
text value; their empty strings are read as missing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.errors import ContractError

#: File extensions that the study reads and writes.
SUPPORTED_FORMATS = (".csv", ".parquet", ".xlsx", ".dta", ".sav")

#: Columns read as text in every format: identifiers, months and dates.
TEXT_COLUMNS = frozenset(
    {"person_id", "mentor_id", "start_month", "end_month", "month", "date", "municipality"}
)

_DIGITS = re.compile(r"\d{6}(?:\d{2})?[-+ ]?\d{4}")

_ADVICE = {
    ".csv": "save it again as CSV, UTF-8, comma-separated, with one header row",
    ".parquet": "export it again as Parquet",
    ".xlsx": "save it again from Excel as .xlsx (Excel Workbook)",
    ".dta": "save it again from Stata (any version 13 or later)",
    ".sav": "save it again from SPSS as .sav",
}


class UnreadableTableError(ContractError):
    """A table's file is missing, of an unknown format or cannot be parsed.

    Parameters
    ----------
    file
        The path as given.
    table
        The contract table the file was meant to hold (``"participants"``, ...).
    problem
        What went wrong, in one sentence.
    advice
        What the user should do.
    """

    def __init__(self, file: str, table: str, problem: str, advice: str) -> None:
        self.file = file
        self.table = table
        self.problem = problem
        self.advice = advice
        super().__init__(f"Table {table} ({file}): {problem} What to do: {advice}.")

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str]]:
        return type(self), (self.file, self.table, self.problem, self.advice)


def read_table(path: str | os.PathLike[str], *, table: str) -> pd.DataFrame:
    """Read one input table, whatever its format.

    Parameters
    ----------
    path
        The file; its extension chooses the format (see the module docstring).
    table
        The contract table it holds, used in error messages and to pick an Excel sheet.

    Returns
    -------
    pandas.DataFrame
        Column names lower-cased and stripped, :data:`TEXT_COLUMNS` as text (``str``
        dtype), a default ``RangeIndex`` in file order. Values are not validated.

    Raises
    ------
    UnreadableTableError
        The file is missing, has an unsupported extension or cannot be parsed
        (a :class:`~evaluation.errors.ContractError`, exit code 3).
    """
    file = str(path)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise UnreadableTableError(
            file,
            table,
            f"the extension {path.suffix or '(none)'!r} is not a supported format.",
            f"provide the table as one of {', '.join(SUPPORTED_FORMATS)} and point the "
            "parameter file at it",
        )
    if not path.is_file():
        where = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UnreadableTableError(
            file,
            table,
            f"the file {where} (working directory {Path.cwd()}).",
            "check the path in the parameter file (relative paths are read from the "
            "working directory)",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = _READERS[suffix](path, table)
    except UnreadableTableError:
        raise
    except UnicodeDecodeError:
        raise UnreadableTableError(
            file,
            table,
            "the file is not valid UTF-8 text (perhaps saved as Latin-1/Windows-1252).",
            "save it again as CSV UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')",
        ) from None
    except Exception as err:  # noqa: BLE001 - every parser failure means the same to a user
        raise UnreadableTableError(
            file,
            table,
            f"the file cannot be read as {suffix} ({type(err).__name__}: {_first_line(err)}).",
            _ADVICE[suffix],
        ) from None
    frame.columns = normalise_column_names(frame.columns)
    _refuse_semicolons(frame, file, table, suffix)
    return _text_columns_as_text(frame).reset_index(drop=True)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table so that :func:`read_table` reads the same contract back.

    Parameters
    ----------
    df
        The table; its index is not written. It is not modified.
    path
        Target file; the extension chooses the format. Parent folders are created.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ContractError
        The extension is not one of :data:`SUPPORTED_FORMATS`.

    Notes
    -----
    Stata and SPSS have no missing text value: missing text is written as ``''`` (read
    back as missing). Nullable integers become floats there and in Excel; the contract
    turns them back into integers.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise ContractError(
            f"Cannot write {path}: the extension {path.suffix or '(none)'!r} is not a "
            f"supported format. What to do: use one of {', '.join(SUPPORTED_FORMATS)}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = df.reset_index(drop=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="data")
    elif suffix == ".dta":
        _for_stat_package(frame).to_stata(path, write_index=False, version=118)
    else:
        import pyreadstat

        pyreadstat.write_sav(_for_stat_package(frame), str(path))
    return path


def read_handed_over_panel(
    path: str | os.PathLike[str], person_ids: pd.Series | np.ndarray | list[str] | None = None
) -> pd.DataFrame:
    """The validated monthly rows that the data notebook handed over (scratch Parquet).

    Notebook 01 validates the monthly table once and writes the rows of the persons in the
    analysis; later notebooks read only the persons they need (a filter pushed into the
    Parquet reader, so a register-sized panel is never held whole). Rows keep the file's
    order (by person, then month, as validated).
    """
    if person_ids is None:
        return pd.read_parquet(path)
    ids = pd.unique(pd.Series(person_ids, dtype="str").to_numpy())
    return pd.read_parquet(path, filters=[("person_id", "in", list(ids))])


def normalise_column_names(columns: pd.Index) -> pd.Index:
    """Lower-case and strip column names (``' Person_ID'`` becomes ``'person_id'``).

    Parameters
    ----------
    columns
        Column labels; non-text labels are converted to text first.

    Returns
    -------
    pandas.Index
        The normalised names, in the same order (duplicates are kept, not renamed).
    """
    return pd.Index([str(c).strip().lower() for c in columns], dtype=object)


def as_text(series: pd.Series) -> pd.Series:
    """Convert a column to text the way an identifier or month should read.

    Parameters
    ----------
    series
        Any column: text, integers, floats, dates, categoricals or mixed objects.

    Returns
    -------
    pandas.Series
        ``str`` dtype, same index; missing stays missing. Integral numbers lose the
        decimal part (``123.0`` becomes ``'123'``); dates at midnight become
        ``'YYYY-MM-DD'``, other date-times ``'YYYY-MM-DD HH:MM:SS'``.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = as_text(pd.Series(series.cat.categories))
        codes = series.cat.codes.to_numpy()
        values = categories.to_numpy(dtype=object)[codes]
        values[codes < 0] = None
        return pd.Series(values, index=series.index, dtype="str", name=series.name)
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
        series.dtype
    ):
        return series.astype("str")
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("Int8").astype("str").where(series.notna())
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _datetimes_as_text(series)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return _numbers_as_text(series)
    if isinstance(series.dtype, pd.PeriodDtype):
        return series.astype("str").where(series.notna())
    return _objects_as_text(series)


# --- readers -------------------------------------------------------------------------


def _read_csv(path: Path, table: str) -> pd.DataFrame:
    # The Arrow parser is fast and strict: a row with more fields than the header is an
    # error (the default parser would silently shift it into the index).
    frame = pd.read_csv(
        path,
        dtype=str,
        encoding="utf-8-sig",
        sep=",",
        keep_default_na=False,
        na_values=[""],
        engine="pyarrow",
    )
    frame.columns = _unmangle(frame.columns)
    for i, name in enumerate(frame.columns):
        if str(name).strip().lower() not in TEXT_COLUMNS:
            frame.isetitem(i, _numeric_if_lossless(frame.iloc[:, i]))
    return frame


def _read_parquet(path: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def _read_xlsx(path: Path, table: str) -> pd.DataFrame:
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(s) for s in book.sheet_names]
        matches = [s for s in names if s.strip().lower() == table]
        sheet = matches[0] if matches else names[0]
        return book.parse(sheet)


def _read_dta(path: Path, table: str) -> pd.DataFrame:
    try:
        frame = pd.read_stata(path, convert_categoricals=True, convert_dates=True)
    except ValueError:  # value labels that are not unique: read the codes instead
        frame = pd.read_stata(path, convert_categoricals=False, convert_dates=True)
    return _empty_text_as_missing(frame)


def _read_sav(path: Path, table: str) -> pd.DataFrame:
    import pyreadstat

    frame, _ = pyreadstat.read_sav(str(path), apply_value_formats=True)
    return _empty_text_as_missing(frame)


_READERS = {
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".xlsx": _read_xlsx,
    ".dta": _read_dta,
    ".sav": _read_sav,
}


# --- helpers -------------------------------------------------------------------------


def _first_line(err: BaseException) -> str:
    """The first line of a parser's message, without anything like an identity number."""
    text = str(err).strip().splitlines()
    return _DIGITS.sub("<digits withheld>", text[0][:200]) if text else "no detail"


def _unmangle(columns: pd.Index) -> pd.Index:
    """Undo the parser's renaming of a repeated header name ('a', 'a.1' back to 'a', 'a').

    The contract then reports the repeated name instead of silently using the first.
    """
    names = [str(c) for c in columns]
    present = set(names)
    out = []
    for name in names:
        base, dot, suffix = name.rpartition(".")
        out.append(base if dot and suffix.isdigit() and base in present else name)
    return pd.Index(out, dtype=object)


def _refuse_semicolons(frame: pd.DataFrame, file: str, table: str, suffix: str) -> None:
    if suffix == ".csv" and len(frame.columns) == 1 and ";" in frame.columns[0]:
        raise UnreadableTableError(
            file,
            table,
            "the header has a single column containing ';' - the file seems to be "
            "semicolon-separated.",
            "save it again comma-separated (in Excel: 'CSV UTF-8 (comma delimited)')",
        )


def _text_columns_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    names = [
        i
        for i, c in enumerate(frame.columns)
        if c in TEXT_COLUMNS and frame.dtypes.iloc[i] != "str"
    ]
    if not names:
        return frame
    frame = frame.copy(deep=False)  # copy-on-write: the columns are not copied
    for i in names:
        frame.isetitem(i, as_text(frame.iloc[:, i]))
    return frame


def _numeric_if_lossless(series: pd.Series) -> pd.Series:
    """Text column from a CSV to numbers, when every value is a number and none a code.

    Done with Arrow casts (vectorised, strict): integers if every value parses as one,
    else floats; unchanged text if any value does not parse, is ``nan`` or has a leading
    zero (``0180`` is a code, not 180).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(pa.array(series, type=pa.large_string()))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.large_string()), text)
    if text.null_count == len(text):
        return series
    if pc.any(pc.match_substring_regex(text, r"^[+-]?0\d")).as_py():
        return series
    for target in (pa.int64(), pa.float64()):
        try:
            numbers = pc.cast(text, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if target == pa.float64() and pc.any(pc.is_nan(numbers)).as_py():
            return series
        if target == pa.int64() and numbers.null_count:
            return pd.Series(pd.array(numbers, dtype="Int64"), index=series.index, name=series.name)
        values = numbers.to_numpy(zero_copy_only=False)
        return pd.Series(values, index=series.index, name=series.name)
    return series


def _empty_text_as_missing(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if pd.api.types.is_string_dtype(column.dtype):
            frame.isetitem(i, column.mask(column.astype("str") == ""))
    return frame


def _numbers_as_text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("Int64").astype("str").where(series.notna()).rename(series.name)
    arr = series.to_numpy(dtype="float64", na_value=np.nan)
    integral = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2**63)
    out = pd.Series(arr, index=series.index, name=series.name).astype("str")
    if integral.any():
        out[integral] = arr[integral].astype("int64").astype(str).astype(object)
    return out.where(~np.isnan(arr))


def _datetimes_as_text(series: pd.Series) -> pd.Series:
    stamps = pd.Series(pd.to_datetime(series), index=series.index)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    midnight = stamps.dt.normalize() == stamps
    out = stamps.dt.strftime("%Y-%m-%d %H:%M:%S")
    out = out.where(~midnight, stamps.dt.strftime("%Y-%m-%d"))
    return out.where(stamps.notna()).astype("str").rename(series.name)


def _objects_as_text(series: pd.Series) -> pd.Series:
    """Mixed objects (Excel cells, pyreadstat dates): convert by the kind of value."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in {"string", "empty"}:
        return series.astype("str").where(series.notna())
    if kind in {"datetime", "datetime64", "date"}:
        return _datetimes_as_text(pd.to_datetime(series))
    if kind in {"integer", "floating", "mixed-integer-float", "decimal", "boolean"}:
        return _numbers_as_text(pd.to_numeric(series))
    return series.map(_one_as_text, na_action="ignore").astype("str").where(series.notna())


def _one_as_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return as_text(pd.Series([value], dtype="datetime64[us]")).iloc[0]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _for_stat_package(frame: pd.DataFrame) -> pd.DataFrame:
    """Stata and SPSS: no missing text, no nullable integers, no booleans."""
    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if pd.api.types.is_bool_dtype(column.dtype):
            out.isetitem(i, column.astype("float64"))
        elif pd.api.types.is_string_dtype(column.dtype) or isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            out.isetitem(i, as_text(column).fillna("").astype(object))
        elif pd.api.types.is_extension_array_dtype(column.dtype) and pd.api.types.is_numeric_dtype(
            column.dtype
        ):
            out.isetitem(i, column.astype("float64"))
    return out
