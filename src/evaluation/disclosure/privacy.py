"""The identifier scan: no person identifier may reach any file of a run folder.

Every file of the run folder is read as text (HTML, JSON, CSV, notebooks with their
metadata, SVG, the log; PDF through its extracted text) and searched for

* every ``person_id`` (and ``mentor_id``) of the input, as a whole token, and
* anything shaped like a Swedish personal identity or co-ordination number.

A hit fails the run (:class:`~evaluation.errors.DisclosureError`) and names the file and the
kind of hit, never the identifier itself.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from evaluation.errors import DisclosureError
from evaluation.memo import Memo, fingerprint, key

#: YYMMDD-NNNN, YYMMDD+NNNN, YYYYMMDD-NNNN, YYYYMMDDNNNN (month 01-12, day 01-31 or 61-91),
#: not inside a longer token and not the digits of a decimal number (0.2312210415).
PIN_PATTERN = re.compile(
    r"(?<![0-9A-Za-z.,])(?:19|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
    r"[-+]?[0-9]{4}(?![0-9A-Za-z]|[.,][0-9])"
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
#: Identifiers shorter than this cannot be told from ordinary numbers and words.
MIN_SCANNABLE = 4
_BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".parquet"}


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(path: Path) -> str:
    """The text of a Word document: every XML part but the images, tags removed.

    A .docx is a zip: read as bytes it is compressed, and an identifier in it could not be
    found. The text of the body, headers, footers, notes, comments and document properties
    is searched.
    """
    with zipfile.ZipFile(path) as z:
        parts = [z.read(n).decode("utf-8", "replace") for n in sorted(z.namelist())
                 if n.endswith((".xml", ".rels"))]  # fmt: skip
    return "\n".join(_XML_TAG.sub(" ", _RUN_TAG.sub("", part)) for part in parts)


#: Tags of a run of text and its formatting: removed without a space, so that a word Word
#: split into runs (or pandoc wrote in several) is searched whole.
_RUN_TAG = re.compile(r"</?w:(?:r|t|rPr|rStyle|b|bCs|i|iCs|u|vertAlign|noProof|lang|sz|szCs|"
                      r"color|rFonts|smallCaps|strike)\b[^>]*>")  # fmt: skip
#: Every other tag ends a word (paragraphs, cells, properties).
_XML_TAG = re.compile(r"<[^>]*>")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")


def _without_notebook_images(text: str) -> str:
    """A notebook's JSON with the base64 image data of its outputs removed."""
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in [m for m in data if m.startswith("image/") and m != "image/svg+xml"]:
                data[mime] = ""
    return json.dumps(nb)


def file_text(path: Path) -> str | None:
    """The searchable text of a file, or ``None`` for binary images.

    Base64-encoded images (inlined in HTML as data URIs, or in a notebook's outputs) are
    removed first: their bytes are not text, and by chance they contain short tokens that
    look like identifiers. The images themselves are drawn from aggregates.
    """
    suffix = path.suffix.lower()
    if suffix in _BINARY_SUFFIXES:
        return None
    if suffix == ".pdf":
        return _pdf_text(path)
    if suffix == ".docx":
        return _docx_text(path)
    text = path.read_bytes().decode("utf-8", errors="replace")
    if suffix == ".ipynb":
        text = _without_notebook_images(text)
    return _DATA_URI.sub("data:", text)


def scan_text(text: str, ids: set[str]) -> list[str]:
    """Kinds of identifier found in a text (``"person_id"``, ``"personal identity number"``)."""
    kinds = []
    if ids and any(tok in ids for tok in _TOKEN.findall(text)):
        kinds.append("input identifier")
    if PIN_PATTERN.search(text):
        kinds.append("personal identity number shape")
    return kinds


def scan_run_folder(
    run_dir: Path,
    participants: pd.DataFrame | None,
    *,
    mentor_ids: Iterable[str] = (),
    memo_dir: Path | None = None,
) -> int:
    """Scan every file below ``run_dir``; raise on a hit, return the number of files scanned.

    With ``memo_dir`` (the runner's cache folder) a file whose exact bytes already passed
    this scan, against the same identifiers and with the same scanner code, is not read
    again (see :mod:`evaluation.memo`); a hit is never memoised.
    """
    ids = set() if participants is None else {str(x) for x in participants["person_id"].dropna()}
    ids |= {str(x) for x in mentor_ids}
    ids = {i for i in ids if len(i) >= MIN_SCANNABLE}
    memo = Memo(memo_dir, "clean")
    scanner = key(Path(__file__).read_bytes(), fingerprint(ids))
    hits: list[str] = []
    n = 0
    for path in sorted(p for p in Path(run_dir).rglob("*") if p.is_file()):
        if path.suffix.lower() in _BINARY_SUFFIXES:
            continue
        n += 1
        k = key(scanner, path.read_bytes()) if memo.folder is not None else ""
        if k and memo.get(k) is not None:
            continue
        text = file_text(path)
        if text is None:
            continue
        found = scan_text(text, ids)
        for kind in found:
            hits.append(f"  - {path.relative_to(run_dir)}: {kind}")
        if not found and k:
            memo.put(k)
    memo.prune()
    if hits:
        raise DisclosureError(
            "The identifier scan found person identifiers in the run's outputs:\n"
            + "\n".join(hits)
            + "\nOutputs must hold aggregates only. Find the table, figure or print that shows "
            "person-level rows and aggregate it."
        )
    return n
