"""Reservations that survive a crash: a run's name is a lock file held while it runs.

A run reserves its name by linking an already-locked file to ``<out>/.locks/<run>.lock``
(``os.link`` fails if the name is taken, so two runs started in the same second cannot both
get it) and holds an exclusive ``flock`` on it until it has finished. The kernel releases the
lock when the process dies, however it dies (SIGKILL included), so the next run can tell a
dead run's leftovers from those of a run still going: a lock it can take belongs to nobody.

Two places hold such reservations:

* the output folder (:func:`reserve`, :func:`clean_stale`): a dead run's partial folder
  ``.incomplete/<run>`` is kept as ``<run>-failed`` (marked ``interrupted``);
* the private work folder (:func:`reserve_private`, :func:`clean_private`; see
  :mod:`evaluation.pipeline.workdir`): a dead run's person-level ``scratch/<name>`` and a
  killed ``verify``'s ``verify/<name>`` are deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Folder names under the output root (and, ``LOCKS``, under the work folder).
LOCKS, INCOMPLETE = ".locks", ".incomplete"
#: Where earlier versions kept person-level scratch folders, under the output root: a dead
#: run's is still deleted.
OLD_SCRATCH = ".scratch"
#: Reserved folders under the private work folder: a run's scratch, a verify's re-execution.
PRIVATE = ("scratch", "verify")


@dataclass
class RunLock:
    """An exclusive, crash-released reservation of one run name under an output root."""

    out_root: Path
    name: str
    _fd: int = field(default=-1, repr=False)

    @property
    def path(self) -> Path:
        """The lock file, ``<out>/.locks/<name>.lock``."""
        return self.out_root / LOCKS / f"{self.name}.lock"

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd < 0:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = -1


def _locked_temp(folder: Path) -> tuple[int, Path]:
    """A new file in ``folder``, exclusively locked, holding this process's pid and host."""
    tmp = folder / f".new-{os.getpid()}-{time.monotonic_ns()}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    os.write(fd, json.dumps(info).encode())
    return fd, tmp


def reserve(out_root: Path, base: str) -> RunLock:
    """Reserve the first free run name ``base``, ``base-2``, ... atomically.

    A name is free when no lock, no finished or failed run folder and no partial folder has
    it. The lock file appears already locked, so no other run can mistake it for a dead one.
    """
    return _reserve(out_root, base, lambda name: (
        out_root / name, out_root / f"{name}-failed", out_root / INCOMPLETE / name,
        out_root / OLD_SCRATCH / name))  # fmt: skip


def reserve_private(work: Path, base: str) -> RunLock:
    """Reserve a name for ``scratch/<name>`` and ``verify/<name>`` in a private work folder.

    Several output folders may share one work folder, so the name is reserved here too
    (``base``, ``base-2``, ...); the folders themselves are made by the caller.
    """
    return _reserve(work, base, lambda name: tuple(work / sub / name for sub in PRIVATE))


def _reserve(out_root: Path, base: str, taken_by: Callable[[str], tuple[Path, ...]]) -> RunLock:
    locks = out_root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    fd, tmp = _locked_temp(locks)
    try:
        i = 1
        while True:
            name = base if i == 1 else f"{base}-{i}"
            i += 1
            if any(p.exists() for p in taken_by(name)):
                continue
            try:
                os.link(tmp, locks / f"{name}.lock")
            except FileExistsError:
                continue
            return RunLock(out_root, name, fd)
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink()


def _owner_is_dead(lock_file: Path) -> int | None:
    """If nobody holds ``lock_file``, take it and return its descriptor; else ``None``."""
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _mark_interrupted(partial: Path, out_root: Path) -> Path:
    """Keep a dead run's partial folder as ``<run>-failed``, marked interrupted."""
    status = {
        "status": "failed",
        "stage": "interrupted",
        "message": "the run's process died before it finished (killed, or the machine stopped); "
        "found and marked by a later run",
    }
    (partial / "status.json").write_text(json.dumps(status, indent=2) + "\n", "utf-8")
    target = out_root / f"{partial.name}-failed"
    if target.exists():
        shutil.rmtree(partial, ignore_errors=True)
        return target
    os.replace(partial, target)
    return target


def _tidy(root: Path, folders: tuple[str, ...],
          tidy_one: Callable[[str], list[str] | None]) -> list[str]:  # fmt: skip
    """Call ``tidy_one(name)`` for every dead reservation under ``root``; the lines it returns.

    A name is dead when its lock can be taken (its process is gone) or when one of its
    ``folders`` has no lock file at all (a process that died while leaving, or an older
    version). ``tidy_one`` returns ``None`` when another process tidied the name first.
    """
    done: list[str] = []
    locks = root / LOCKS
    names: set[str] = set()
    for sub in folders:
        if (root / sub).is_dir():
            names |= {p.name for p in (root / sub).iterdir()}
    if locks.is_dir():
        names |= {p.name[: -len(".lock")] for p in locks.glob("*.lock")}
    for name in sorted(names):
        lock_file = locks / f"{name}.lock"
        fd = None
        if lock_file.exists():
            fd = _owner_is_dead(lock_file)
            if fd is None:
                continue  # alive (or it just finished and took its lock away)
        try:
            lines = tidy_one(name)
            if lines is None:
                continue
            done += lines
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    lock_file.unlink()
        finally:
            if fd is not None:
                os.close(fd)
    if locks.is_dir():
        for tmp in locks.glob(".new-*"):  # a process killed while reserving its name
            fd = _owner_is_dead(tmp)
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.close(fd)
    return done


def clean_stale(out_root: Path) -> list[str]:
    """Tidy the leftovers of dead runs under an output folder; what was done, one line each.

    Runs still going are never touched.
    """

    def tidy(name: str) -> list[str] | None:
        lines = []
        partial = out_root / INCOMPLETE / name
        if partial.is_dir():
            try:
                kept = _mark_interrupted(partial, out_root)
            except FileNotFoundError:  # another run tidied it at the same moment
                return None
            lines.append(f"a dead run's partial folder kept as {kept.name} (marked interrupted)")
        scratch = out_root / OLD_SCRATCH / name
        if scratch.is_dir():
            shutil.rmtree(scratch, ignore_errors=True)
            lines.append(f"a dead run's person-level scratch folder {name} deleted")
        return lines

    return _tidy(out_root, (INCOMPLETE, OLD_SCRATCH), tidy)


def clean_private(work: Path) -> list[str]:
    """Delete what dead runs and killed verifies left in a private work folder.

    Their ``scratch/<name>`` (person-level) and ``verify/<name>`` folders go; those of runs
    still going are never touched. Returns what was done, one line each.
    """

    def tidy(name: str) -> list[str]:
        lines = []
        for sub, what in (("scratch", "a dead run's person-level scratch folder"),
                          ("verify", "a killed verify's re-executed run")):  # fmt: skip
            folder = work / sub / name
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                lines.append(f"{what} {name} deleted (from {work})")
        return lines

    return _tidy(work, PRIVATE, tidy)
