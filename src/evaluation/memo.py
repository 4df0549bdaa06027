"""Content-addressed memos for the work after the notebooks: same bytes in, same bytes out.

A cached rerun executes no notebook, yet it used to spend most of its time re-rendering the
reviewers' notebook pages and re-scanning files that had not changed. Both are pure functions
of their input bytes (and of the code and versions that process them), so their results are
kept under ``<work>/cache/memo/<kind>/<sha256>`` (the private work folder):

* ``html``: a notebook's HTML page, keyed by the notebook's bytes and the nbconvert version;
* ``clean``: an empty marker that a file's bytes passed the identifier scan against a given
  set of identifiers with the scanner's code (a hit is never memoised: it raises).

A memo is written to a temporary name and renamed into place, so a killed run leaves no
half-written entry; each kind keeps its most recently used :data:`KEEP` entries. Each entry
begins with the SHA-256 of its bytes: an entry damaged since (or written by an earlier
version) is a miss and is removed, so that a changed memo is never published. Memos live in
the private work folder's cache (:mod:`evaluation.pipeline.workdir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

#: Entries kept per kind (oldest used removed first).
KEEP = 2000
#: What every entry begins with, before the SHA-256 of its bytes and a newline.
_HEADER = b"sha256:"


def key(*parts: bytes | str) -> str:
    """SHA-256 over the parts, each length-prefixed (no two part lists share a key)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class Memo:
    """One kind of memo in a cache folder; ``None`` folder: nothing is memoised."""

    def __init__(self, folder: Path | None, kind: str) -> None:
        self.folder = None if folder is None else Path(folder) / "memo" / kind

    def get(self, k: str) -> bytes | None:
        """The memoised bytes, or ``None``; a hit refreshes the entry's time of use.

        An entry whose bytes do not match the SHA-256 it begins with is removed: a miss.
        """
        if self.folder is None:
            return None
        path = self.folder / k
        try:
            stored = path.read_bytes()
        except OSError:
            return None
        head, _, data = stored.partition(b"\n")
        if head != _HEADER + hashlib.sha256(data).hexdigest().encode():
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def put(self, k: str, data: bytes = b"") -> None:
        """Store ``data`` under ``k`` atomically, after the SHA-256 of its bytes."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".tmp-{k[:16]}-{os.getpid()}-{time.monotonic_ns()}"
        tmp.write_bytes(_HEADER + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
        os.replace(tmp, self.folder / k)

    def prune(self, keep: int = KEEP) -> int:
        """Remove all but the ``keep`` most recently used entries; return how many went."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        entries: list[tuple[float, Path]] = []
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime, path))
        gone = 0
        for _, path in sorted(entries, reverse=True)[keep:]:
            with contextlib.suppress(OSError):
                path.unlink()
                gone += 1
        return gone


def fingerprint(values: Iterable[str]) -> str:
    """A key part for a set of strings (order-free)."""
    return key(*sorted(set(values)))
