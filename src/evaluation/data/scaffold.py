"""``evaluation init DATA_DIR``: a first parameter file for the files an evaluator has.

Every table file of the folder is read (a sample of its rows), matched to a contract table by
its columns, and each of its columns to a contract column by its name, in English or in the
Swedish of the usual exports (``Löpnummer``, ``Kön``, ``Månad``...). The codes of the columns
with a closed list of values (sex, group, education, Swedish level, 0/1 columns, survey wave,
mentor background) are matched to the contract's values where a usual code is recognised
(``Kvinna`` to ``female``, ``Ja`` to ``1``). The result is written as a commented parameter
file: what was recognised, what was guessed and what is left to the evaluator, who checks it
and runs ``evaluation validate``. Nothing is guessed silently: every guess is in the file.

Only column names and the codes of closed code lists are written into the file, never
another value of the data; a code shaped like an identity number is never written.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.data.columns import COLUMNS, REQUIRED_TABLES, TABLES
from evaluation.data.contract.parse import pin_shaped
from evaluation.data.contract.rules import (
    BACKGROUNDS,
    EDUCATION_LEVELS,
    GROUPS,
    SEXES,
    SWEDISH_LEVELS,
    WAVES,
)
from evaluation.data.io import (
    SUPPORTED_FORMATS,
    TableSource,
    UnreadableTableError,
    as_text,
    csv_dialect,
    read_source,
)

#: Rows read of each file to recognise it (its codes are taken from these rows).
SAMPLE_ROWS = 20_000

#: Names a column of each contract column goes by (compared folded: lower case, å/ä/ö as
#: a/a/o, only letters and digits).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person_id": ("person_id", "personid", "id", "lopnummer", "lopnr", "lop_nr", "lnr",
                  "personlopnummer", "deltagar_id", "deltagarid", "pid"),
    "group": ("group", "grupp", "deltagartyp", "kategori"),
    "start_month": ("start_month", "startmanad", "start", "startdatum", "inskrivning",
                    "inskrivningsmanad", "startman"),
    "end_month": ("end_month", "slutmanad", "slut", "slutdatum", "utskrivning",
                  "utskrivningsmanad", "avslutsmanad"),
    "birth_year": ("birth_year", "fodelsear", "fodar", "fodelse_ar", "birthyear"),
    "sex": ("sex", "gender", "kon"),
    "origin_region": ("origin_region", "ursprungsregion", "ursprung", "fodelseregion",
                      "region", "fodelseland"),
    "arrival_year": ("arrival_year", "invandringsar", "ankomstar", "invar", "inv_ar"),
    "education": ("education", "utbildning", "utbildningsniva", "utb", "utbniva"),
    "swedish_level": ("swedish_level", "sfiniva", "sfi", "svenskniva", "svenskaniva",
                      "svenskkunskaper"),
    "municipality": ("municipality", "kommun", "hemkommun"),
    "mentor_id": ("mentor_id", "mentor", "mentorid", "mentor_nr", "mentornr"),
    "month": ("month", "manad", "period", "ar_manad", "armanad"),
    "employed": ("employed", "sysselsatt", "forvarvsarbetande", "i_arbete", "arbete"),
    "earnings": ("earnings", "arbetsinkomst", "inkomst", "lon", "loneinkomst"),
    "in_education": ("in_education", "i_utbildning", "studerar", "iutbildning"),
    "wave": ("wave", "vag", "omgang", "matning"),
    "date": ("date", "datum", "motesdatum", "tradatum"),
    "minutes": ("minutes", "minuter", "tid", "langd", "moteslangd"),
    "background": ("background", "bakgrund"),
    "same_field": ("same_field", "samma_bransch", "sammabransch", "samma_yrke", "sammayrke"),
}  # fmt: skip

#: Words in a file name that say which table it holds.
FILE_HINTS: dict[str, tuple[str, ...]] = {
    "participants": ("participant", "deltagare", "person"),
    "monthly": ("monthly", "manad", "register", "panel"),
    "survey": ("survey", "enkat"),
    "sessions": ("session", "moten", "traff"),
    "mentors": ("mentors", "mentorer"),
}

#: Usual codes of the closed code lists (folded like column names), to the contract's value.
CODES: dict[str, dict[str, str]] = {
    "group": {"mentor": "mentored", "mentorskap": "mentored", "deltagare": "mentored",
              "mentorsdeltagare": "mentored", "insats": "mentored", "behandlad": "mentored",
              "treated": "mentored", "jamforelse": "comparison", "jamforelsegrupp": "comparison",
              "kontroll": "comparison", "kontrollgrupp": "comparison", "control": "comparison"},
    "sex": {"kvinna": "female", "k": "female", "kvinnor": "female", "f": "female",
            "woman": "female", "man": "male", "m": "male", "man_": "male", "men": "male"},
    "education": {"forgymnasial": "primary_or_less", "grundskola": "primary_or_less",
                  "forgymnasial_utbildning": "primary_or_less", "primary": "primary_or_less",
                  "gymnasial": "secondary", "gymnasium": "secondary",
                  "eftergymnasial": "post_secondary", "hogskola": "post_secondary",
                  "universitet": "post_secondary", "okand": "unknown", "uppgift_saknas":
                  "unknown", "saknas": "unknown"},
    "swedish_level": {"ingen": "none", "inga": "none", "sfi_paborjad": "sfi_started",
                      "paborjad_sfi": "sfi_started", "pagaende_sfi": "sfi_started",
                      "sfi_pagaende": "sfi_started", "sfi_avslutad": "sfi_completed",
                      "avslutad_sfi": "sfi_completed", "sfi_klar": "sfi_completed",
                      "flytande": "fluent"},
    "wave": {"baslinje": "baseline", "fore": "baseline", "start": "baseline",
             "uppfoljning": "follow_up", "efter": "follow_up", "followup": "follow_up"},
    "background": {"inrikes_fodd": "native", "svensk": "native", "sverige": "native",
                   "utrikes_fodd": "migrant", "invandrad": "migrant", "utlandsk": "migrant"},
    "binary": {"ja": "1", "j": "1", "yes": "1", "y": "1", "sant": "1", "true": "1",
               "nej": "0", "n": "0", "no": "0", "falskt": "0", "false": "0"},
}  # fmt: skip

#: The contract's values of each closed code list.
ALLOWED: dict[str, tuple[str, ...]] = {
    "group": GROUPS,
    "sex": SEXES,
    "education": EDUCATION_LEVELS,
    "swedish_level": SWEDISH_LEVELS,
    "wave": WAVES,
    "background": BACKGROUNDS,
    "employed": ("0", "1"),
    "in_education": ("0", "1"),
    "same_field": ("0", "1"),
}
_BINARY = frozenset({"employed", "in_education", "same_field"})


def fold(name: object) -> str:
    """A name or code as compared: lower case, accents dropped, words joined by ``_``."""
    text = unicodedata.normalize("NFKD", str(name).strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


_FOLDED_SYNONYMS = {
    contract: {fold(s) for s in names} | {fold(s).replace("_", "") for s in names}
    for contract, names in SYNONYMS.items()
}


@dataclass(frozen=True)
class TableGuess:
    """What ``init`` made of one file: its table, column map, recodes and what is left.

    Attributes
    ----------
    table
        The contract table (``None``: not recognised).
    path
        The file.
    columns
        Contract column → the file's column, for the columns whose names differ.
    recode
        Column (contract name) → the file's code → the contract's value.
    missing
        Required contract columns of the table not found in the file.
    unknown_codes
        Column → codes of a closed code list that are neither allowed nor recognised.
    extra
        The file's columns that are no contract column (kept: they may be covariates).
    score
        How many contract columns were recognised.
    """

    table: str | None
    path: Path
    columns: dict[str, str] = field(default_factory=dict)
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    unknown_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    score: int = 0


def match_columns(names: list[str], table: str) -> dict[str, str]:
    """Contract column → the file's column, for each contract column of ``table`` found."""
    found: dict[str, str] = {}
    taken: set[str] = set()
    for contract, _ in COLUMNS[table]:
        for name in names:
            key = fold(name)
            if name in taken:
                continue
            if (
                key == contract
                or key in _FOLDED_SYNONYMS.get(contract, ())
                or (key.replace("_", "") in _FOLDED_SYNONYMS.get(contract, ()))
            ):
                found[contract] = name
                taken.add(name)
                break
    return found


def guess_recode(column: str, values: pd.Series) -> tuple[dict[str, str], tuple[str, ...]]:
    """The file's codes of a closed code list → contract values, and the codes not recognised.

    Codes shaped like an identity number are neither mapped nor listed.
    """
    allowed = ALLOWED[column]
    codes = CODES["binary"] if column in _BINARY else CODES.get(column, {})
    distinct = pd.Series(pd.unique(values.dropna().astype("str").str.strip()), dtype="str")
    distinct = distinct[(distinct != "") & ~pin_shaped(distinct)]
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for code in distinct:
        if code.lower() in allowed or _as_binary(code, column):
            continue
        target = codes.get(fold(code)) or codes.get(fold(code).replace("_", ""))
        if target is None and fold(code) in allowed:
            target = fold(code)
        if target is not None:
            mapping[code] = target
        else:
            unknown.append(code)
    return dict(sorted(mapping.items())), tuple(sorted(unknown))


def _as_binary(code: str, column: str) -> bool:
    if column not in _BINARY:
        return False
    try:
        return float(code.replace(",", ".")) in (0.0, 1.0)
    except ValueError:
        return False


def guess_table(path: Path, *, rows: int = SAMPLE_ROWS) -> TableGuess:
    """Read a sample of ``path`` and guess its table, column map and recodes."""
    frame = read_sample(path, rows)
    names = [str(c) for c in frame.columns]
    scores = {}
    for table in TABLES:
        found = match_columns(names, table)
        required = [c for c, needed in COLUMNS[table] if needed]
        hit = sum(c in found for c in required)
        hinted = any(h in fold(path.stem) for h in FILE_HINTS[table])
        scores[table] = (hit / len(required) + (0.5 if hinted else 0.0), found, hit)
    table = max(TABLES, key=lambda t: (scores[t][0], -TABLES.index(t)))
    score, found, hit = scores[table]
    if hit == 0 and score < 0.5:
        return TableGuess(None, path, extra=tuple(names))
    required = [c for c, needed in COLUMNS[table] if needed]
    columns = {c: n for c, n in found.items() if n.strip().lower() != c}
    recode: dict[str, dict[str, str]] = {}
    unknown: dict[str, tuple[str, ...]] = {}
    for contract, name in found.items():
        if contract in ALLOWED:
            mapping, left = guess_recode(contract, frame[name])
            if mapping:
                recode[contract] = mapping
            if left:
                unknown[contract] = left
    return TableGuess(
        table=table,
        path=path,
        columns=columns,
        recode=recode,
        missing=tuple(c for c in required if c not in found),
        unknown_codes=unknown,
        extra=tuple(n for n in names if n not in found.values()),
        score=hit,
    )


def read_sample(path: Path, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The file's first ``rows`` rows, as text columns with the file's own names.

    CSV files are read with their dialect detected (:func:`evaluation.data.io.csv_dialect`);
    other formats whole, as the study would read them.
    """
    if path.suffix.lower() != ".csv":
        frame = read_source(path, table=_table_by_name(path)).frame.head(rows)
        return pd.DataFrame({name: as_text(frame[name]) for name in frame.columns})
    dialect = csv_dialect(path, _table_by_name(path), TableSource(path))
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return pd.read_csv(path, sep=dialect.sep, dtype=str, nrows=rows,
                               encoding=encoding, keep_default_na=False,
                               na_values=[""])  # fmt: skip
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _table_by_name(path: Path) -> str:
    for table, hints in FILE_HINTS.items():
        if any(h in fold(path.stem) for h in hints):
            return table
    return "participants"


def table_files(folder: Path) -> list[Path]:
    """The files of ``folder`` (not its subfolders) in a format the study reads, by name."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUPPORTED_FORMATS and not p.name.startswith(".")
    )  # fmt: skip


def guess_study(folder: Path) -> dict[str, TableGuess | None]:
    """Each contract table → the file that holds it best (``None``: no file recognised).

    A file goes to the table whose required columns it matches best; of two files for the
    same table the one with more recognised columns wins, the other is listed unassigned.
    """
    guesses = [_guess_or_none(p) for p in table_files(folder)]
    chosen: dict[str, TableGuess | None] = dict.fromkeys(TABLES)
    for guess in sorted(guesses, key=lambda g: -g.score):
        if guess.table is not None and chosen[guess.table] is None:
            chosen[guess.table] = guess
    return chosen


def _guess_or_none(path: Path) -> TableGuess:
    """The guess for a file; a file that cannot be read is left unassigned (listed)."""
    try:
        return guess_table(path)
    except UnreadableTableError:
        return TableGuess(None, path)


def unassigned(folder: Path, chosen: Mapping[str, TableGuess | None]) -> list[Path]:
    """The table files of the folder that no table was given."""
    used = {g.path for g in chosen.values() if g is not None}
    return [p for p in table_files(folder) if p not in used]


def _yaml_text(value: str) -> str:
    """A YAML scalar that reads back as the text ``value``."""
    if re.fullmatch(r"[A-Za-zÅÄÖåäöÉéÜü_][\w\-åäöÅÄÖéÉüÜ]*", value) and value.lower() not in {
        "yes", "no", "on", "off", "true", "false", "null", "y", "n", "ja", "nej",
    }:  # fmt: skip
        return value
    return "'" + value.replace("'", "''") + "'"


#: The programme block, commented out: validate reads the data without it, a run refuses until
#: it is filled in (nothing of a programme is assumed; params/default.yaml has a full one).
PROGRAMME_TEMPLATE = (
    "# TODO before a run: the programme the report describes (uncomment and fill in)",
    "# programme:",
    "#   name: My programme",
    "#   funder: {en: European Social Fund, sv: Europeiska socialfonden}",
    "#   period: {start: 2017-06, end: 2019-12}     # months the programme ran",
    "#   participants_planned: 50",
    "#   budget: 1000000                            # in study.currency",
    "#   esf_indicators: false                      # true: ESF-funded (the ESF indicators)",
    "#   aims: {en: What it did and set out to do., sv: Vad det gjorde och ville uppnå.}",
)


def parameter_file(folder: Path, target: Path, chosen: Mapping[str, TableGuess | None]) -> str:
    """The commented parameter file for the guessed tables (paths relative to ``target``)."""
    base = target.resolve().parent
    lines = [
        "# Written by `evaluation init` from the files it found. Check every guess below, then",
        f"# run: evaluation validate --params {target.name}",
        "# Every key not written here has its default: see params/default.yaml for all keys.",
        "seed: 20170601                 # the one seed of every random draw",
        "",
        "study:",
        "  name: My programme           # TODO: the programme's name",
        "  site: My site                # TODO: where it ran",
        "  language: sv                 # en | sv: the language of the report",
        "  synthetic: false",
        "",
        *PROGRAMME_TEMPLATE,
        "",
        "data:",
    ]
    for table in TABLES:
        guess = chosen.get(table)
        if guess is None:
            need = "REQUIRED: no file was recognised" if table in REQUIRED_TABLES else "optional"
            lines.append(f"  {table}: null{' ' * max(1, 22 - len(table))}# {need}")
            continue
        rel = os.path.relpath(guess.path.resolve(), base)
        lines.append(f"  {table}:")
        lines.append(f"    path: {_yaml_text(rel)}")
        if guess.columns:
            lines.append("    columns:                     # contract name: the file's column "
                         "(recognised by name)")  # fmt: skip
            for contract, name in guess.columns.items():
                lines.append(f"      {contract}: {_yaml_text(name)}")
        if guess.recode:
            lines.append("    recode:                      # the file's code: the contract's "
                         "value (guessed: check)")  # fmt: skip
            for column, mapping in guess.recode.items():
                pairs = ", ".join(f"{_yaml_text(k)}: {_yaml_text(v)}" for k, v in mapping.items())
                lines.append(f"      {column}: {{{pairs}}}")
        for column, codes in guess.unknown_codes.items():
            shown = ", ".join(_yaml_text(c) for c in codes[:10])
            lines.append(f"    # TODO {column}: codes not recognised, map them in recode "
                         f"(allowed: {', '.join(ALLOWED[column])}): {shown}")  # fmt: skip
        if guess.missing:
            lines.append(f"    # TODO required columns not found: {', '.join(guess.missing)} "
                         "(name the file's columns in columns:)")  # fmt: skip
        if guess.extra:
            lines.append(f"    # kept, not contract columns: {', '.join(guess.extra)}")
    left = unassigned(folder, chosen)
    if left:
        lines.append("# files not used (no table recognised, or a second file for a table): "
                     + ", ".join(p.name for p in left))  # fmt: skip
    return "\n".join(lines) + "\n"
