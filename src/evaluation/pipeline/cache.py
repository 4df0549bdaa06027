"""Reuse of executed notebooks whose inputs have not changed, checked before it is used.

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

An entry, ``<cache>/<key>/``, holds the executed notebook, its ``results/<name>.json``, the
tables and figures it registered, and the scratch artefacts it wrote. The scratch artefacts
are person-level: the cache lives in the run's private work folder beside the input data
(:mod:`evaluation.pipeline.workdir`), never under the output folder. Entries are written to a
temporary folder and renamed into place, so a crashed or concurrent run never leaves a
half-written entry.

Every file's SHA-256 is recorded in the entry's ``meta.json`` when it is stored and checked
as it is copied out (:func:`restore`): a file deleted or changed since (a damaged disk, an
edit by hand) raises :class:`CacheDamaged`, and the runner removes the entry and executes the
notebook again, so that a damaged entry is never published and never fails a run.
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
#: Bytes read at a time when a file is copied and hashed.
_CHUNK = 1 << 20


class CacheDamaged(Exception):  # noqa: N818 - a state of the entry, handled by the runner
    """A cache entry's files are not those stored: one is missing or its SHA-256 changed.

    ``what`` says which file and how (``results/02_design.json changed``).
    """

    def __init__(self, folder: Path, what: str) -> None:
        super().__init__(f"cache entry {folder.name} is damaged: {what}")
        self.folder = folder
        self.what = what


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


def _used_parameters(spec: NotebookSpec, injected: Mapping[str, Any]) -> dict[str, Any]:
    """The values the notebook is given; data paths as file names, other files as hashes."""
    used = dict(injected)
    if isinstance(used.get("data"), dict):
        used["data"] = {k: _file_name(v) for k, v in used["data"].items()}
    return _with_file_hashes(used, spec.path.parent)


def notebook_keys(
    specs: Sequence[NotebookSpec],
    upstream: Mapping[str, Sequence[str]],
    parameters: Mapping[str, Mapping[str, Any]],
    inputs: Mapping[str, Any],
    versions: Mapping[str, str],
) -> dict[str, str]:
    """The cache key of each notebook (``specs`` in an order where upstream comes first).

    ``parameters``: per notebook, the values it is given
    (:attr:`~evaluation.pipeline.notebooks.PreparedNotebook.parameters`).
    """
    common = {"code": code_hash(), "inputs": inputs, "versions": versions}
    keys: dict[str, str] = {}
    for spec in specs:
        keys[spec.name] = _sha(
            {
                **common,
                "notebook": spec.name,
                "source": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
                "parameters": _used_parameters(spec, parameters[spec.name]),
                "upstream": [keys[u] for u in upstream[spec.name]],
            }
        )
    return keys


def validation_key(inputs: Mapping[str, Any], versions: Mapping[str, str]) -> str:
    """Key of an input validation: the inputs' hashes, the package's code and versions."""
    return _sha({"validation": True, "code": code_hash(), "inputs": inputs, "versions": versions})


def was_validated(cache_dir: Path, key: str) -> bool:
    """Whether these inputs passed the data contract under this code before."""
    return (cache_dir / "validated" / key).is_file()


def mark_validated(cache_dir: Path, key: str) -> None:
    """Record that these inputs passed the data contract under this code."""
    folder = cache_dir / "validated"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")


def _registered_files(results_file: Path) -> list[str]:
    part = json.loads(results_file.read_text("utf-8"))
    return sorted({f for e in part["exhibits"] for f in e.get("files", ())})


def _copy_hashed(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst`` (created with the process's umask); the SHA-256 of the bytes."""
    h = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(_CHUNK):
            h.update(chunk)
            fout.write(chunk)
    return h.hexdigest()


def entry(cache_dir: Path, key: str) -> Path:
    """The folder of a cache entry."""
    return cache_dir / key


def lookup(cache_dir: Path, key: str) -> Path | None:
    """The entry for ``key`` if one was stored, or ``None`` (its files are checked on restore)."""
    folder = entry(cache_dir, key)
    return folder if (folder / "meta.json").is_file() else None


def store(
    cache_dir: Path,
    key: str,
    spec: NotebookSpec,
    run_dir: Path,
    scratch_dir: Path,
    run: str,
    times: dict[str, str] | None = None,
) -> Path:
    """Copy an executed notebook's outputs into the cache (atomically); return the entry.

    The SHA-256 of every file copied is recorded in the entry's ``meta.json`` (``sha256``,
    by path inside the entry). ``times``: when it was executed (``executed_at``,
    ``executed_until``, UTC), kept so that a run reusing it can say when its numbers were
    computed.
    """
    final = entry(cache_dir, key)
    if final.exists():
        return final
    tmp = cache_dir / f".tmp-{key[:16]}-{os.getpid()}-{time.monotonic_ns()}"
    results_rel = f"results/{spec.stem}.json"
    nb = f"notebooks/{spec.stem}.ipynb"
    files = [results_rel, *_registered_files(run_dir / results_rel), nb]
    try:
        sha = {f"run/{rel}": _copy_hashed(run_dir / rel, tmp / "run" / rel) for rel in files}
        (tmp / "scratch").mkdir(parents=True, exist_ok=True)
        # the declared hand-over files, and the notebook's disclosure ledger if it kept one
        ledger = f"ledger/{spec.stem}.npz"
        private = [*spec.writes, *([ledger] if (scratch_dir / ledger).is_file() else [])]
        for name in private:
            sha[f"scratch/{name}"] = _copy_hashed(scratch_dir / name, tmp / "scratch" / name)
        meta = {"notebook": spec.name, "key": key, "run": run, "files": files,
                "scratch": private, "sha256": sha, "created": time.time(),
                **(times or {})}  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        try:
            os.rename(tmp, final)
        except OSError:  # another run stored the same key first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise CacheDamaged(folder, "meta.json unreadable") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), dict):
        raise CacheDamaged(folder, "no checksums recorded")
    return meta


def _restore_one(folder: Path, stored: str, target: Path, expected: str | None) -> None:
    """Copy one stored file out of the entry, checking its SHA-256 as it is read."""
    shown = stored.removeprefix("run/")
    if expected is None:
        raise CacheDamaged(folder, f"{shown} has no recorded checksum")
    try:
        got = _copy_hashed(folder / stored, target)
    except FileNotFoundError:
        raise CacheDamaged(folder, f"{shown} missing") from None
    if got != expected:
        target.unlink(missing_ok=True)  # never leave the changed bytes in the run
        raise CacheDamaged(folder, f"{shown} changed")


def restore(folder: Path, run_dir: Path, scratch_dir: Path) -> dict[str, Any]:
    """Copy a cache entry into a run folder and its scratch folder; return its metadata.

    Raises
    ------
    CacheDamaged
        A file of the entry is missing or is not the one stored (its SHA-256 differs from
        the one recorded in ``meta.json``). The files copied so far are removed again.
    """
    meta = _read_meta(folder)
    copied: list[Path] = []
    try:
        for rel in meta["files"]:
            copied.append(run_dir / rel)
            _restore_one(folder, f"run/{rel}", run_dir / rel, meta["sha256"].get(f"run/{rel}"))
        scratch_dir.mkdir(parents=True, exist_ok=True)
        for name in meta["scratch"]:
            copied.append(scratch_dir / name)
            _restore_one(folder, f"scratch/{name}", scratch_dir / name,
                         meta["sha256"].get(f"scratch/{name}"))  # fmt: skip
    except CacheDamaged:
        for path in copied:
            path.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        os.utime(folder / "meta.json")  # last used: what pruning keeps
    return meta


def remove(folder: Path) -> None:
    """Remove an entry (a damaged one): renamed away first, so no run copies half of it."""
    gone = folder.with_name(f".tmp-gone-{folder.name[:16]}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(folder, gone)
    except OSError:  # already removed (or replaced) by another run
        return
    shutil.rmtree(gone, ignore_errors=True)


def prune(cache_dir: Path, keep: int = KEEP_PER_NOTEBOOK) -> list[str]:
    """Remove all but the ``keep`` most recently used entries of each notebook."""
    root = cache_dir
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
