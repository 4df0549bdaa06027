"""Run reservations that survive a crash: a run's name is a lock file held while it runs.

A run reserves its name by linking an already-locked file to ``<out>/.locks/<run>.lock``
(``os.link`` fails if the name is taken, so two runs started in the same second cannot both
get it) and holds an exclusive ``flock`` on it until it has finished. The kernel releases the
lock when the process dies, however it dies (SIGKILL included), so the next run can tell a
dead run's leftovers (``.incomplete/<run>``, ``.scratch/<run>``) from those of a run still
going: a lock it can take belongs to nobody. Dead runs' partial folders are kept as
``<run>-failed`` (marked ``interrupted``); their person-level scratch folders are deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Folder names under the output root.
LOCKS, INCOMPLETE, SCRATCH = ".locks", ".incomplete", ".scratch"


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
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    os.write(fd, json.dumps(info).encode())
    return fd, tmp


def reserve(out_root: Path, base: str) -> RunLock:
    """Reserve the first free run name ``base``, ``base-2``, ... atomically.

    A name is free when no lock, no finished or failed run folder and no partial folder has
    it. The lock file appears already locked, so no other run can mistake it for a dead one.
    """
    locks = out_root / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    fd, tmp = _locked_temp(locks)
    try:
        i = 1
        while True:
            name = base if i == 1 else f"{base}-{i}"
            i += 1
            taken = (
                out_root / name,
                out_root / f"{name}-failed",
                out_root / INCOMPLETE / name,
                out_root / SCRATCH / name,
            )
            if any(p.exists() for p in taken):
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


def clean_stale(out_root: Path) -> list[str]:
    """Tidy the leftovers of dead runs under ``out_root``; return what was done, one line each.

    A run is dead when its lock can be taken (its process is gone) or when its partial or
    scratch folder has no lock file at all (a run that died while leaving, or an older
    version). Runs still going are never touched.
    """
    done: list[str] = []
    locks = out_root / LOCKS
    names: set[str] = set()
    for sub in (INCOMPLETE, SCRATCH):
        if (out_root / sub).is_dir():
            names |= {p.name for p in (out_root / sub).iterdir()}
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
            partial = out_root / INCOMPLETE / name
            if partial.is_dir():
                try:
                    kept = _mark_interrupted(partial, out_root)
                except FileNotFoundError:  # another run tidied it at the same moment
                    continue
                done.append(f"a dead run's partial folder kept as {kept.name} (marked interrupted)")
            scratch = out_root / SCRATCH / name
            if scratch.is_dir():
                shutil.rmtree(scratch, ignore_errors=True)
                done.append(f"a dead run's person-level scratch folder {name} deleted")
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    lock_file.unlink()
        finally:
            if fd is not None:
                os.close(fd)
    if locks.is_dir():
        for tmp in locks.glob(".new-*"):  # a run killed while reserving its name
            fd = _owner_is_dead(tmp)
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.close(fd)
    return done
