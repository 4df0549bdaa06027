"""Reuse of executed notebooks whose inputs have not changed.

A notebook's cache key is a SHA-256 over everything that can change what it computes:

* its own source (the jupytext ``.py`` file),
* the parameter values it is given (those its parameters cell names; data paths reduced to
  file names, their content being covered by the next item; any other value naming a file,
  such as a specification grid, with the file's SHA-256),
* the SHA-256 of every input table (or of the package data a benchmark reads),
* the package's code: every ``src/evaluation/**/*.py`` (the report's templates and texts are
  used only when rendering, which every run does anew), and the versions of the packages
  that make the numbers,
* the keys of the notebooks upstream of it (those that write what it reads).

An entry, ``<out>/.cache/<key>/``, holds the executed notebook, its ``results/<name>.json``,
the tables and figures it registered, and the scratch artefacts it wrote. The scratch
artefacts are person-level: like the raw data they stay on the evaluator's machine and never
enter a run folder. Entries are written to a temporary folder and renamed into place, so a
crashed or concurrent run never leaves a half-written entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.pipeline.notebooks import NotebookSpec
from evaluation.pipeline.provenance import file_sha256

#: The package whose code is part of every key.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Entries kept per notebook (the most recently used); older ones are removed after a run.
KEEP_PER_NOTEBOOK = 4
#: Entries used (or half-written folders touched) this recently are never removed: a run
#: going on at the same time may be copying from them.
GRACE_SECONDS = 600
#: Name of the cache folder under the output root.
CACHE = ".cache"


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def code_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the path and bytes of every Python file of the package."""
    h = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        h.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _with_file_hashes(value: Any, folder: Path) -> Any:
    """Strings that name a file (absolute, or relative to where the notebook runs) -> + SHA-256."""
    if isinstance(value, dict):
        return {k: _with_file_hashes(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_file_hashes(v, folder) for v in value]
    if isinstance(value, str) and value and len(value) < 4096:
        path = Path(value) if Path(value).is_absolute() else folder / value
        with contextlib.suppress(OSError):
            if path.is_file():
                return {"file": value, "sha256": file_sha256(path)}
    return value


def _file_name(table: Any) -> Any:
    """A data table's path as its file name; the long form keeps its reading options."""
    if table is None:
        return None
    if isinstance(table, dict):
        return {**table, "path": Path(table["path"]).name}
    return Path(table).name


def _used_parameters(spec: NotebookSpec, sections: Mapping[str, Any]) -> dict[str, Any]:
    """The values the notebook is given; data paths as file names, other files as hashes."""
    from evaluation.pipeline.execute import injected_parameters

    used = injected_parameters(spec, sections)
    if isinstance(used.get("data"), dict):
        used["data"] = {k: _file_name(v) for k, v in used["data"].items()}
    return _with_file_hashes(used, spec.path.parent)


def notebook_keys(
    specs: Sequence[NotebookSpec],
    upstream: Mapping[str, Sequence[str]],
    sections: Mapping[str, Any],
    inputs: Mapping[str, Any],
    versions: Mapping[str, str],
) -> dict[str, str]:
    """The cache key of each notebook (``specs`` in an order where upstream comes first)."""
    common = {"code": code_hash(), "inputs": inputs, "versions": versions}
    keys: dict[str, str] = {}
    for spec in specs:
        keys[spec.name] = _sha(
            {
                **common,
                "notebook": spec.name,
                "source": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
                "parameters": _used_parameters(spec, sections),
                "upstream": [keys[u] for u in upstream[spec.name]],
            }
        )
    return keys


def validation_key(inputs: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    """Key of an input validation: the inputs' hashes, the package's code and versions."""
    return _sha({"validation": True, "code": code_hash(), "inputs": inputs, "versions": versions})


def was_validated(out_root: Path, key: str) -> bool:
    """Whether these inputs passed the data contract under this code before."""
    return (out_root / CACHE / "validated" / key).is_file()


def mark_validated(out_root: Path, key: str) -> None:
    """Record that these inputs passed the data contract under this code."""
    folder = out_root / CACHE / "validated"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")


def _registered_files(results_file: Path) -> list[str]:
    part = json.loads(results_file.read_text("utf-8"))
    return sorted({f for e in part["exhibits"] for f in e.get("files", ())})


def entry(out_root: Path, key: str) -> Path:
    """The folder of a cache entry."""
    return out_root / CACHE / key


def lookup(out_root: Path, key: str) -> Path | None:
    """The complete entry for ``key``, or ``None``."""
    folder = entry(out_root, key)
    return folder if (folder / "meta.json").is_file() else None


def store(
    out_root: Path,
    key: str,
    spec: NotebookSpec,
    run_dir: Path,
    scratch_dir: Path,
    run: str,
    times: dict[str, str] | None = None,
) -> Path:
    """Copy an executed notebook's outputs into the cache (atomically); return the entry.

    ``times``: when it was executed (``executed_at``, ``executed_until``, UTC), kept so that
    a run reusing it can say when its numbers were computed.
    """
    final = entry(out_root, key)
    if final.exists():
        return final
    tmp = out_root / CACHE / f".tmp-{key[:16]}-{os.getpid()}-{time.monotonic_ns()}"
    results_rel = f"results/{spec.stem}.json"
    files = [results_rel, *_registered_files(run_dir / results_rel)]
    try:
        for rel in files:
            (tmp / "run" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / rel, tmp / "run" / rel)
        nb = f"notebooks/{spec.stem}.ipynb"
        (tmp / "run" / "notebooks").mkdir(parents=True, exist_ok=True)
        shutil.copy2(run_dir / nb, tmp / "run" / nb)
        (tmp / "scratch").mkdir()
        for name in spec.writes:
            shutil.copy2(scratch_dir / name, tmp / "scratch" / name)
        meta = {"notebook": spec.name, "key": key, "run": run, "files": [*files, nb],
                "scratch": list(spec.writes), "created": time.time(), **(times or {})}  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        try:
            os.rename(tmp, final)
        except OSError:  # another run stored the same key first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def restore(folder: Path, run_dir: Path, scratch_dir: Path) -> dict[str, Any]:
    """Copy a cache entry into a run folder and its scratch folder; return its metadata."""
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    for rel in meta["files"]:
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / "run" / rel, run_dir / rel)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    for name in meta["scratch"]:
        shutil.copy2(folder / "scratch" / name, scratch_dir / name)
    with contextlib.suppress(OSError):
        os.utime(folder / "meta.json")  # last used: what pruning keeps
    return meta


def prune(out_root: Path, keep: int = KEEP_PER_NOTEBOOK) -> list[str]:
    """Remove all but the ``keep`` most recently used entries of each notebook."""
    root = out_root / CACHE
    if not root.is_dir():
        return []
    by_notebook: dict[str, list[tuple[float, Path]]] = {}
    for meta in root.glob("*/meta.json"):
        try:
            name = json.loads(meta.read_text("utf-8"))["notebook"]
            used = meta.stat().st_mtime
        except (OSError, ValueError, KeyError):
            continue
        by_notebook.setdefault(name, []).append((used, meta.parent))
    removed = []
    now = time.time()
    for entries in by_notebook.values():
        for used, folder in sorted(entries, reverse=True)[keep:]:
            if used < now - GRACE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
    for tmp in root.glob(".tmp-*"):  # left by a run killed while storing
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < now - GRACE_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
    return removed
