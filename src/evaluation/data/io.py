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
    A header row and fields separated by ``,`` ``;`` tab or ``|`` (detected from the header,
    or the table's ``sep``); UTF-8 (a byte-order mark is accepted), else Windows-1252 (or
    the table's ``encoding``); a decimal comma where every number of a column has one and the
    file is not comma-separated (or the table's ``decimal``), as a Swedish Excel export
    writes them. A row with more or fewer fields than the header is refused, naming its row
    and line number. Every column is
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

Every format: the table's ``columns`` map renames the file's columns to the contract's, its
``recode`` map turns the file's codes into the contract's values (``Kvinna`` to
``female``), and a month column whose every value is written ``YYYYMM`` is read as
``YYYY-MM``; :attr:`ReadTable.notes` say what was applied (``evaluation validate`` prints
them).

Identifier and month columns (:data:`TEXT_COLUMNS`) are always returned as text: numbers
are written without a decimal part (``123.0`` becomes ``'123'``) and dates as
``'YYYY-MM-DD'`` (Excel often turns ``2018-03`` into a date). Leading zeros survive only if
the file kept them (CSV and text cells always do). Stata and SPSS cannot store a missing
text value; their empty strings are read as missing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
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
    ".csv": "save it again as CSV with one header row (any of the separators , ; tab |; or "
    "set data.<table>.sep, .decimal and .encoding in the parameter file)",
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
    sep
        CSV only: the field separator (default: detected from the header line, one of
        ``,`` ``;`` tab ``|``).
    decimal
        CSV only: the decimal mark, ``.`` or ``,`` (default: ``,`` in a file that is not
        comma-separated, as a Swedish Excel export is, else ``.``). A column is read with a
        decimal comma only when every value in it has that form (``22397,0``, ``1 250,50``).
    encoding
        CSV only: the text encoding (default: UTF-8, a byte-order mark accepted; a file that
        is not valid UTF-8 is read as Windows-1252, which covers Latin-1's letters).
    columns
        Contract column ← the file's column (``{person_id: Löpnummer}``); names compare
        case-insensitively, stripped. Columns not named keep their own names.
    recode
        Column (its contract name) → the file's code → the contract's value
        (``{sex: {Kvinna: female, Man: male}}``); codes compare case-insensitively, stripped;
        a code mapped to ``None`` becomes missing; values not in the map are left as they
        are (the contract then says which are not allowed).
    """

    path: Path
    sheet: str | None = None
    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    columns: Mapping[str, str] | None = None
    recode: Mapping[str, Mapping[str, str | None]] | None = None

    #: The reading options a source may carry besides ``path``.
    OPTIONS = ("sheet", "sep", "decimal", "encoding", "columns", "recode")
    #: The options of CSV files only.
    CSV_OPTIONS = ("sep", "decimal", "encoding")

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
            text = {k: None if spec.get(k) is None else str(spec[k])
                    for k in ("sheet", "sep", "decimal", "encoding")}  # fmt: skip
            columns = spec.get("columns")
            recode = spec.get("recode")
            return cls(
                Path(spec["path"]),
                **text,
                columns=None if not columns else {str(k): str(v) for k, v in columns.items()},
                recode=None if not recode else {
                    str(c): {code_text(k): None if v is None else code_text(v)
                             for k, v in codes.items()}
                    for c, codes in recode.items()
                },
            )  # fmt: skip
        return cls(Path(spec))


def code_text(value: object) -> str:
    """A code of a recode map as text: ``1`` and ``1.0`` as ``'1'``, ``True`` as ``'1'``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


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
    notes
        How the file was read and mapped (dialect, column map, recodes, month form), one
        sentence each, for the validation output; never a value of the file.
    """

    frame: pd.DataFrame
    sheet: str | None = None
    why: str | None = None
    notes: tuple[str, ...] = ()


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
    given_csv = [k for k in TableSource.CSV_OPTIONS if getattr(source, k) is not None]
    if given_csv and suffix != ".csv":
        raise UnreadableTableError(
            file,
            table,
            f"{', '.join(given_csv)} {'is an option' if len(given_csv) == 1 else 'are options'}"
            f" of CSV files, and this file is {suffix}.",
            f"remove {', '.join(given_csv)} from data.{table} in the parameter file",
        )
    sheet = why = None
    notes: list[str] = []
    dialect = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".xlsx":
                frame, sheet, why = _read_xlsx(path, table, source.sheet)
            elif suffix == ".csv":
                dialect = csv_dialect(path, table, source)
                frame = _read_csv(path, table, dialect)
                if "encoding_note" in frame.attrs:
                    dialect = replace(dialect, notes=(*dialect.notes, frame.attrs["encoding_note"]))
            else:
                frame = _READERS[suffix](path, table)
    except UnreadableTableError:
        raise
    except UnicodeDecodeError:
        raise UnreadableTableError(
            file,
            table,
            f"the file is not valid {source.encoding or 'UTF-8'} text (the parameter file sets "
            "its encoding).",
            "set data.<table>.encoding to the file's encoding (e.g. utf-8, cp1252, latin-1), "
            "or leave it out to have it detected",
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
    if dialect is not None and dialect.notes:
        notes.append(f"{table}: read {path.name} as CSV with {'; '.join(dialect.notes)}.")
    if source.columns:
        frame, note = _map_columns(frame, source.columns, file, table)
        notes.append(note)
    if source.recode:
        frame, note = _recode(frame, source.recode, file, table)
        notes.append(note)
    if dialect is not None:
        frame = _csv_numbers(frame, dialect.decimal)
    frame = _text_columns_as_text(frame)
    frame, months = _compact_months_as_months(frame)
    if months:
        notes.append(f"{table}: months written YYYYMM read as YYYY-MM in {', '.join(months)}.")
    return ReadTable(frame.reset_index(drop=True), sheet, why, tuple(notes))


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


#: Field separators a CSV header is searched for, most usual first (ties go to the first).
SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
#: A number with a decimal comma, digit groups optionally separated by (non-breaking) spaces.
_DECIMAL_COMMA = r"^[+-]?(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:,\d+)?$"
#: Months written YYYYMM (a register's usual form).
_COMPACT_MONTH = r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])$"
#: Columns that hold months (not dates): YYYYMM is read as YYYY-MM in them.
MONTH_COLUMNS = frozenset({"start_month", "end_month", "month"})


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is read: separator, decimal mark and encoding, and what was detected.

    ``encoding`` ``None`` means: UTF-8 (a byte-order mark accepted), else Windows-1252.
    ``notes`` say, for the validation output, what was detected or chosen.
    """

    sep: str = ","
    decimal: str = "."
    encoding: str | None = None
    notes: tuple[str, ...] = ()


def csv_dialect(path: Path, table: str, source: TableSource) -> CsvDialect:
    """The dialect of a CSV file: the options given, the rest detected from its header line.

    The separator is the candidate of :data:`SEPARATORS` found most often in the header
    (outside quotation marks); the decimal mark is ``,`` unless the file is comma-separated.
    """
    notes = []
    codec = None
    if source.encoding is not None:
        try:
            codec = codecs.lookup(source.encoding).name
        except LookupError:
            raise UnreadableTableError(
                str(path), table, f"the encoding {source.encoding!r} is not known.",
                f"set data.{table}.encoding to utf-8, cp1252 or latin-1 (or leave it out to "
                "have it detected)",
            ) from None  # fmt: skip
    sep = source.sep
    if sep is not None:
        if sep == "\\t":
            sep = "\t"
        if len(sep) != 1 or sep in '"\r\n':
            raise UnreadableTableError(
                str(path), table, f"the separator {sep!r} is not one character.",
                f"set data.{table}.sep to one of {', '.join(_SEP_NAMES.values())}",
            )  # fmt: skip
        if sep != ",":
            notes.append(f"separator {_SEP_NAMES.get(sep, repr(sep))} (parameter file)")
    else:
        with path.open(encoding=source.encoding or "utf-8-sig", errors="replace") as handle:
            header = re.sub(r'"[^"]*"', "", handle.readline())
        counts = {c: header.count(c) for c in SEPARATORS}
        sep = max(SEPARATORS, key=lambda c: (counts[c], -SEPARATORS.index(c)))
        if counts[sep] == 0:
            sep = ","
        if sep != ",":
            notes.append(f"separator {_SEP_NAMES[sep]} (detected from the header)")
    decimal = source.decimal
    if decimal is not None:
        if decimal not in (".", ","):
            raise UnreadableTableError(
                str(path), table, f"the decimal mark {decimal!r} is neither '.' nor ','.",
                f"set data.{table}.decimal to '.' or ','",
            )  # fmt: skip
        if decimal == ",":
            notes.append("decimal comma (parameter file)")
    else:
        decimal = "." if sep == "," else ","
        if decimal == ",":
            notes.append("decimal comma where a column's numbers all have one (the file is "
                         "not comma-separated)")  # fmt: skip
    encoding = source.encoding
    if encoding is not None:
        notes.append(f"encoding {encoding} (parameter file)")
        # UTF-8 through Python's codec: a byte-order mark is dropped, bad bytes are an error
        encoding = "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else encoding
    return CsvDialect(sep, decimal, encoding, tuple(notes))


def _read_csv(path: Path, table: str, dialect: CsvDialect | None = None) -> pd.DataFrame:
    """A CSV file as text columns (numbers are converted after the column map and recodes).

    Without an encoding in the dialect, UTF-8 is tried first, then Windows-1252 (a
    Latin-1 export of Excel); the latter is added to the dialect's notes via the frame's
    ``attrs['encoding_note']``.
    """
    dialect = dialect or CsvDialect()
    try:
        frame = _parse_csv(path, table, dialect, dialect.encoding or "utf-8-sig")
    except UnicodeDecodeError:
        if dialect.encoding is not None:
            raise
        encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
        frame = _parse_csv(path, table, dialect, encoding)
        frame.attrs["encoding_note"] = (
            f"encoding {'Windows-1252' if encoding == 'cp1252' else 'Latin-1'} "
            "(detected: the file is not UTF-8)"
        )
    frame.columns = _unmangle(frame.columns)
    return frame


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes in ``encoding`` (read in blocks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _parse_csv(path: Path, table: str, dialect: CsvDialect, encoding: str) -> pd.DataFrame:
    # The Arrow parser is fast and strict: a row with more fields than the header is an
    # error (the default parser would silently shift it into the index).
    options = {
        "dtype": str,
        "encoding": encoding,
        "sep": dialect.sep,
        "keep_default_na": False,
        "na_values": [""],
    }
    try:
        return pd.read_csv(path, engine="pyarrow", **options)
    except pd.errors.EmptyDataError:
        raise UnreadableTableError(
            str(path), table, "the file cannot be read as .csv: it is empty (no header row).",
            "check that the right file was exported; " + _ADVICE[".csv"],
        ) from None  # fmt: skip
    except pd.errors.ParserError as err:
        if "straddl" not in str(err):  # not "a row is longer than Arrow's block"
            raise _csv_parse_error(path, table, err, dialect, encoding) from None
        # A row longer than the Arrow parser's block (a cell of a few MB): the C parser reads
        # any size but fills short rows silently, so the rows are checked first.
        _refuse_ragged_rows(path, table, dialect, encoding)
        return pd.read_csv(path, engine="c", index_col=False, **options)


def _csv_numbers(frame: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Columns other than identifiers and months as numbers where every value is one.

    With a decimal comma, a column whose values all have that form (``22397,0``,
    ``1 250,5``, ``3``) is read with it; any other column as with a decimal point.
    """
    frame = frame.copy(deep=False)
    for i, name in enumerate(frame.columns):
        if str(name) in TEXT_COLUMNS:
            continue
        column = frame.iloc[:, i]
        if decimal == ",":
            column = _decimal_comma(column)
        frame.isetitem(i, _numeric_if_lossless(column))
    return frame


def _decimal_comma(series: pd.Series) -> pd.Series:
    """The column with decimal commas as points, if every value is such a number; else as is."""
    text = as_text(series).str.strip()
    present = text.notna() & (text != "")
    if not present.any():
        return series
    values = text[present]
    if not values.str.contains(",", regex=False).any():
        return series
    if not values.str.fullmatch(_DECIMAL_COMMA).all():
        return series
    converted = values.str.replace(r"[ \u00a0\u202f]", "", regex=True).str.replace(",", ".")
    out = series.astype(object).copy()
    out[present] = converted
    return out


def _compact_months_as_months(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Month columns written YYYYMM (every value) as YYYY-MM; the columns converted."""
    converted = []
    for i, name in enumerate(frame.columns):
        if name not in MONTH_COLUMNS:
            continue
        text = frame.iloc[:, i]
        if not pd.api.types.is_string_dtype(text.dtype):
            continue
        codes, uniques = pd.factorize(text.str.strip())
        if len(uniques) == 0:
            continue
        distinct = pd.Series(uniques, dtype="str")
        if not distinct.str.fullmatch(_COMPACT_MONTH).all():
            continue
        months = distinct.str.slice(0, 4) + "-" + distinct.str.slice(4, 6)
        array = pd.array(months.to_numpy(dtype=object), dtype="str")
        if not converted:
            frame = frame.copy(deep=False)
        frame.isetitem(i, pd.Series(array.take(codes, allow_fill=True), dtype="str"))
        converted.append(str(name))
    return frame, converted


def _map_columns(
    frame: pd.DataFrame, columns: Mapping[str, str], file: str, table: str
) -> tuple[pd.DataFrame, str]:
    """The file's columns renamed to the contract's (``columns``: contract ← file)."""
    present = list(frame.columns)
    wanted = {str(src).strip().lower(): str(dst).strip().lower() for dst, src in columns.items()}
    missing = [src for dst, src in columns.items() if str(src).strip().lower() not in present]
    if missing:
        raise UnreadableTableError(
            file, table,
            f"the column map names {'columns' if len(missing) > 1 else 'a column'} the file "
            f"does not have: {', '.join(repr(m) for m in missing)} (its columns: "
            f"{', '.join(present)}).",
            f"correct data.{table}.columns in the parameter file (contract name: the file's "
            "column)",
        )  # fmt: skip
    frame = frame.copy(deep=False)
    frame.columns = pd.Index([wanted.get(c, c) for c in present], dtype=object)
    shown = ", ".join(f"{dst} \u2190 {src}" for dst, src in columns.items())
    return frame, f"{table}: columns mapped (contract \u2190 file): {shown}."


def _recode(
    frame: pd.DataFrame, recode: Mapping[str, Mapping[str, str | None]], file: str, table: str
) -> tuple[pd.DataFrame, str]:
    """Codes of the file as the contract's values, per column (see :class:`TableSource`).

    Only the distinct values are compared, so a register-sized column costs one
    factorisation.
    """
    frame = frame.copy(deep=False)
    done = []
    for column, mapping in recode.items():
        name = str(column).strip().lower()
        if name not in frame.columns:
            raise UnreadableTableError(
                file, table,
                f"the recode map names the column {column!r}, which the table does not have "
                f"(its columns, after the column map: {', '.join(map(str, frame.columns))}).",
                f"name a column of the table in data.{table}.recode (its contract name)",
            )  # fmt: skip
        i = list(frame.columns).index(name)
        codes, uniques = pd.factorize(as_text(frame.iloc[:, i]).str.strip())
        keys = {str(k).strip().casefold(): v for k, v in mapping.items()}
        folded = [str(u).casefold() for u in uniques]
        hit = np.array([f in keys for f in folded], dtype=bool)
        values = np.array([keys[f] if h else u for f, h, u in
                           zip(folded, hit, uniques, strict=True)], dtype=object)  # fmt: skip
        array = pd.array(values, dtype="str")
        frame.isetitem(i, pd.Series(array.take(codes, allow_fill=True), dtype="str"))
        rows = int(hit[codes[codes >= 0]].sum()) if len(codes) else 0
        pairs = ", ".join(f"{k} \u2192 {'missing' if v is None else v}" for k, v in mapping.items())
        done.append(f"{name} ({pairs}; {rows} row{'s' if rows != 1 else ''})")
    return frame, f"{table}: values recoded: {'; '.join(done)}."


def _csv_rows(
    path: Path, sep: str = ",", encoding: str = "utf-8-sig"
) -> Iterator[tuple[int, int, int]]:
    """(data row number, line number where it ends, number of fields) of each CSV row.

    Blank lines are skipped, as the parsers do; a quoted field may span lines. Only the
    counts are kept, never a value.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a cell of any size (the parsers read them too)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=sep)
            row = 0
            for fields in reader:
                if not fields:
                    continue
                yield row, reader.line_num, len(fields)
                row += 1
    finally:
        csv.field_size_limit(limit)


def _ragged_row(
    path: Path, sep: str = ",", encoding: str = "utf-8-sig"
) -> tuple[int, int, int, int] | None:
    """The first data row whose field count differs from the header's, or ``None``.

    Returns
    -------
    tuple or None
        (data row number, line number, fields in that row, fields in the header).
    """
    header = None
    for row, line, fields in _csv_rows(path, sep, encoding):
        if header is None:
            header = fields
        elif fields != header:
            return row, line, fields, header
    return None


def _refuse_ragged_rows(path: Path, table: str, dialect: CsvDialect, encoding: str) -> None:
    ragged = _ragged_row(path, dialect.sep, encoding)
    if ragged is not None:
        raise _field_count_error(path, table, dialect, *ragged)


def _field_count_error(
    path: Path, table: str, dialect: CsvDialect, row: int, line: int, fields: int, header: int
) -> UnreadableTableError:
    hint = ""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = handle.readline()
    name = _SEP_NAMES.get(dialect.sep, repr(dialect.sep))
    if dialect.sep == "," and ";" in first and header == 1:
        hint = (" The header holds ';' but no ',': the file seems to be semicolon-separated "
                f"(set data.{table}.sep: ';' in the parameter file, or leave sep out to have "
                "it detected).")  # fmt: skip
    elif fields > header and dialect.decimal == "," and dialect.sep == ",":
        hint = " A decimal comma inside a comma-separated file splits a number in two."
    elif fields < header:
        hint = (
            " A quotation mark that is not closed, or a line break inside a cell, can cause this."
        )
    return UnreadableTableError(
        str(path),
        table,
        f"the file cannot be read as .csv: data row {row} (line {line} of the file) has "
        f"{fields} field{'s' if fields != 1 else ''} where the header has {header} (separator "
        f"{name}).{hint}",
        f"make every row have as many {name}-separated fields as the header (a value holding "
        "the separator must be in quotation marks); " + _ADVICE[".csv"],
    )


def _csv_parse_error(
    path: Path, table: str, err: Exception, dialect: CsvDialect, encoding: str
) -> UnreadableTableError:
    """The parser's error as a message with row and line numbers and no content of the file."""
    if _FIELD_COUNT.search(str(err)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ragged = _ragged_row(path, dialect.sep, encoding)
        if ragged is not None:
            return _field_count_error(path, table, dialect, *ragged)
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
            "semicolon-separated, but the parameter file sets sep: ','.",
            f"set data.{table}.sep: ';' in the parameter file (or leave sep out to have it "
            "detected)",
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
