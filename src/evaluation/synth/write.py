"""Write a generated study: the five contract tables and ``truth.json``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evaluation.synth.generate import SyntheticStudy


def write(study: SyntheticStudy, out_dir: str | Path, fmt: str = "csv") -> dict[str, Path]:
    """Write the five contract tables and ``truth.json``.

    Parameters
    ----------
    study
        From :func:`generate`.
    out_dir
        Folder; created if missing. Existing files of the same names are replaced.
    fmt
        ``'csv'`` (UTF-8, comma, LF line ends, empty = missing) or ``'parquet'``.

    Returns
    -------
    dict of str to pathlib.Path
        ``{table: path}`` for the five tables, plus ``'truth'``. The truth file is not a
        contract input: it is only the known answer for tests and benchmarks.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in study.tables().items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        else:
            frame.to_parquet(path, index=False)
        paths[name] = path
    truth_path = out / "truth.json"
    truth_path.write_text(
        json.dumps(study.truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["truth"] = truth_path
    return paths


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (for determinism checks).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
