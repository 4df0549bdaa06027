"""Read and write the study's input tables in the five formats of the data contract.

One verb per direction: :func:`read_table` turns a file into a :class:`pandas.DataFrame`
with lower-case column names and the identifier and month columns as text;
:func:`write_table` writes a frame so that :func:`read_table` gives it back. Neither checks
the content: that is :mod:`evaluation.data.contract`.

A table is named by its path, or by a :class:`TableSource`: the path and how to read it (for
now the Excel ``sheet``; the parameter file's long form ``data: participants: {path: ...,
sheet: ...}``). :func:`read_source` also says which sheet it read, and why.

No message of a reader shows a cell's value or a line of the file: a parser's own message
(which often quotes the offending line) is never passed on; the file, the table, the row
number and what was expected are.

Formats, chosen by the file extension (case-insensitive):

``.csv``
    UTF-8 (a byte-order mark is accepted), comma-separated, header row; a row with more or
    fewer fields than the header is refused, naming its row and line number. Every column is
    read as text; only an empty field is missing (``NA``, ``None`` are kept as text).
    Columns other than identifiers and months whose values all parse as numbers become
    numeric, unless a value has a leading zero (a code such as ``0180``). Cells of any size
    are read (a row longer than the fast parser's block, a few MB, is read by the slower
    one).
``.parquet``
    As stored.
``.xlsx``
    The sheet chosen in the parameter file (``sheet``); else the workbook's only sheet;
    else the sheet named like the table; else the one sheet whose first row holds every
    required column of the table (:data:`~evaluation.data.columns.COLUMNS`). Several such
    sheets, or none, are refused with the list of sheets: the table is never read from a
    sheet picked by position.
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

import csv
import datetime as dt
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.columns import required_columns
from evaluation.errors import ContractError

#: File extensions that the study reads and writes.
SUPPORTED_FORMATS = (".csv", ".parquet", ".xlsx", ".dta", ".sav")

#: Columns read as text in every format: identifiers, months and dates.
TEXT_COLUMNS = frozenset(
    {"person_id", "mentor_id", "start_month", "end_month", "month", "date", "municipality"}
)

#: A CSV parser's "row has the wrong number of fields" message (its end quotes the row).
_FIELD_COUNT = re.compile(r"Expected (\d+) columns, got (\d+)")

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


@dataclass(frozen=True)
class TableSource:
    """Where one input table is, and how to read it.

    Parameters
    ----------
    path
        The file; its extension chooses the format.
    sheet
        Excel only: the sheet to read (default: see the module docstring).
    """

    path: Path
    sheet: str | None = None

    #: The reading options a source may carry besides ``path``.
    OPTIONS = ("sheet",)

    @classmethod
    def of(cls, spec: TableSource | Mapping[str, Any] | str | os.PathLike[str]) -> TableSource:
        """A source from a path, a mapping ``{path: ..., sheet: ...}`` or a source.

        Raises
        ------
        ValueError
            A mapping without ``path`` or with an option that is not in :data:`OPTIONS`.
        """
        if isinstance(spec, TableSource):
            return spec
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"path", *cls.OPTIONS})
            if "path" not in spec or unknown:
                raise ValueError(
                    f"a table source is a path or a mapping with 'path' and the options "
                    f"{', '.join(cls.OPTIONS)}; got the keys {sorted(spec)}"
                )
            sheet = spec.get("sheet")
            return cls(Path(spec["path"]), None if sheet is None else str(sheet))
        return cls(Path(spec))


@dataclass(frozen=True)
class ReadTable:
    """A table as read, with the Excel sheet it came from.

    Attributes
    ----------
    frame
        The table (see :func:`read_table`).
    sheet
        The sheet read from an Excel workbook; ``None`` for other formats.
    why
        Why that sheet (for the validation output); ``None`` for other formats.
    """

    frame: pd.DataFrame
    sheet: str | None = None
    why: str | None = None


def read_table(
    source: TableSource | Mapping[str, Any] | str | os.PathLike[str], *, table: str
) -> pd.DataFrame:
    """Read one input table, whatever its format.

    Parameters
    ----------
    source
        The file (its extension chooses the format, see the module docstring), or a
        :class:`TableSource` or mapping ``{path: ..., sheet: ...}`` with reading options.
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
    return read_source(source, table=table).frame


def read_source(
    source: TableSource | Mapping[str, Any] | str | os.PathLike[str], *, table: str
) -> ReadTable:
    """Read one input table and say which Excel sheet it came from (see :func:`read_table`).

    Parameters
    ----------
    source
        The file, or a :class:`TableSource` (or mapping) with reading options.
    table
        The contract table it holds.

    Returns
    -------
    ReadTable
        The frame, and for a workbook the sheet read and why.

    Raises
    ------
    UnreadableTableError
        As :func:`read_table`.
    """
    source = TableSource.of(source)
    path = source.path
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise UnreadableTableError(
            file,
            table,
            f"the extension {path.suffix or '(none)'!r} is not a supported format.",
            f"provide the table as one of {', '.join(SUPPORTED_FORMATS)} and point the "
            "parameter file at it",
        )
    if source.sheet is not None and suffix != ".xlsx":
        raise UnreadableTableError(
            file,
            table,
            f"a sheet ({source.sheet!r}) is chosen, but only an Excel workbook (.xlsx) has "
            f"sheets and this file is {suffix}.",
            f"remove 'sheet' from data.{table} in the parameter file",
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
    sheet = why = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".xlsx":
                frame, sheet, why = _read_xlsx(path, table, source.sheet)
            else:
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
        # The parser's own message is not shown: it often quotes a line or a cell of the file.
        where = f", sheet {sheet!r}" if sheet is not None else ""
        raise UnreadableTableError(
            file,
            table,
            f"the file cannot be read as {suffix}{where} (the reader stopped with "
            f"{type(err).__name__}; its message is not shown, as it may quote the file).",
            _ADVICE[suffix],
        ) from None
    frame.columns = normalise_column_names(frame.columns)
    _refuse_semicolons(frame, file, table, suffix)
    return ReadTable(_text_columns_as_text(frame).reset_index(drop=True), sheet, why)


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
    options = {
        "dtype": str,
        "encoding": "utf-8-sig",
        "sep": ",",
        "keep_default_na": False,
        "na_values": [""],
    }
    try:
        frame = pd.read_csv(path, engine="pyarrow", **options)
    except pd.errors.EmptyDataError:
        raise UnreadableTableError(
            str(path), table, "the file cannot be read as .csv: it is empty (no header row).",
            "check that the right file was exported; " + _ADVICE[".csv"],
        ) from None  # fmt: skip
    except pd.errors.ParserError as err:
        if "straddl" not in str(err):  # not "a row is longer than Arrow's block"
            raise _csv_parse_error(path, table, err) from None
        # A row longer than the Arrow parser's block (a cell of a few MB): the C parser reads
        # any size but fills short rows silently, so the rows are checked first.
        _refuse_ragged_rows(path, table)
        frame = pd.read_csv(path, engine="c", index_col=False, **options)
    frame.columns = _unmangle(frame.columns)
    for i, name in enumerate(frame.columns):
        if str(name).strip().lower() not in TEXT_COLUMNS:
            frame.isetitem(i, _numeric_if_lossless(frame.iloc[:, i]))
    return frame


def _csv_rows(path: Path) -> Iterator[tuple[int, int, int]]:
    """(data row number, line number where it ends, number of fields) of each CSV row.

    Blank lines are skipped, as the parsers do; a quoted field may span lines. Only the
    counts are kept, never a value.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a cell of any size (the parsers read them too)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            row = 0
            for fields in reader:
                if not fields:
                    continue
                yield row, reader.line_num, len(fields)
                row += 1
    finally:
        csv.field_size_limit(limit)


def _ragged_row(path: Path) -> tuple[int, int, int, int] | None:
    """The first data row whose field count differs from the header's, or ``None``.

    Returns
    -------
    tuple or None
        (data row number, line number, fields in that row, fields in the header).
    """
    header = None
    for row, line, fields in _csv_rows(path):
        if header is None:
            header = fields
        elif fields != header:
            return row, line, fields, header
    return None


def _refuse_ragged_rows(path: Path, table: str) -> None:
    ragged = _ragged_row(path)
    if ragged is not None:
        raise _field_count_error(path, table, *ragged)


def _field_count_error(
    path: Path, table: str, row: int, line: int, fields: int, header: int
) -> UnreadableTableError:
    hint = ""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline()
    if ";" in first and header == 1:
        hint = " The header holds ';' but no ',': the file seems to be semicolon-separated."
    elif fields < header:
        hint = (
            " A quotation mark that is not closed, or a line break inside a cell, can cause this."
        )
    return UnreadableTableError(
        str(path),
        table,
        f"the file cannot be read as .csv: data row {row} (line {line} of the file) has "
        f"{fields} field{'s' if fields != 1 else ''} where the header has {header}.{hint}",
        "make every row have as many comma-separated fields as the header (a value holding "
        "a comma must be in quotation marks); " + _ADVICE[".csv"],
    )


def _csv_parse_error(path: Path, table: str, err: Exception) -> UnreadableTableError:
    """The parser's error as a message with row and line numbers and no content of the file."""
    if _FIELD_COUNT.search(str(err)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ragged = _ragged_row(path)
        if ragged is not None:
            return _field_count_error(path, table, *ragged)
    return UnreadableTableError(
        str(path),
        table,
        f"the file cannot be read as .csv (the CSV parser stopped with {type(err).__name__}; "
        "its message is not shown, as it may quote the file).",
        _ADVICE[".csv"],
    )


def _read_parquet(path: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def _read_xlsx(path: Path, table: str, sheet: str | None) -> tuple[pd.DataFrame, str, str]:
    """The table's sheet (see the module docstring), its name, and why it was chosen."""
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(s) for s in book.sheet_names]
        listed = ", ".join(repr(n) for n in names)
        if sheet is not None:
            if sheet not in names:
                raise UnreadableTableError(
                    str(path), table, f"the workbook has no sheet {sheet!r} (its sheets: {listed}).",
                    f"set data.{table}.sheet in the parameter file to one of its sheets",
                )  # fmt: skip
            return _sheet(book, sheet), sheet, "chosen in the parameter file"
        if len(names) == 1:
            return _sheet(book, names[0]), names[0], "the workbook's only sheet"
        named = [n for n in names if n.strip().lower() == table]
        if named:
            return _sheet(book, named[0]), named[0], f"the sheet named like the table {table!r}"
        needed = required_columns(table)
        holding = [n for n in names if set(needed) <= set(_header(book, n))]
        if len(holding) == 1:
            return _sheet(book, holding[0]), holding[0], (
                f"the only sheet whose first row has the columns {', '.join(needed)}"
            )  # fmt: skip
        choose = (
            f"choose the sheet in the parameter file: data: {table}: {{path: {path.name}, "
            "sheet: <sheet name>}"
        )
        if holding:
            raise UnreadableTableError(
                str(path), table,
                f"the workbook's sheets {', '.join(repr(n) for n in holding)} all have the "
                f"columns of {table} in their first row, so which one holds the table is not "
                f"clear (its sheets: {listed}).", choose,
            )  # fmt: skip
        raise UnreadableTableError(
            str(path), table,
            f"none of the workbook's sheets ({listed}) is named {table!r} or has the columns "
            f"{', '.join(needed)} in its first row.",
            f"put the header of the table in the first row of its sheet, or {choose}",
        )  # fmt: skip


def _sheet(book: pd.ExcelFile, sheet: str) -> pd.DataFrame:
    """One sheet as a table; a repeated header name stays repeated (see :func:`_unmangle`)."""
    frame = book.parse(sheet)
    frame.columns = _unmangle(frame.columns)
    return frame


def _header(book: pd.ExcelFile, sheet: str) -> list[str]:
    """A sheet's column names as the contract compares them (stripped, lower case)."""
    return list(normalise_column_names(book.parse(sheet, nrows=0).columns))


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


#: The reader of each format but Excel (whose sheet is chosen by :func:`_read_xlsx`).
_READERS = {
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".dta": _read_dta,
    ".sav": _read_sav,
}


# --- helpers -------------------------------------------------------------------------


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
