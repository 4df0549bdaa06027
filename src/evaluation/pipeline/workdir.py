"""The private work folder: where a run keeps person-level data, beside the input data.

A run reads person-level tables and writes person-level intermediate files (the analysis
data, the design, the monthly panel) that its notebooks hand to each other, and it keeps them
in its notebook cache. None of that may live under the output folder, which holds what may be
copied out after output checking. It lives in the run's **work folder**, by default
``.evaluation-work/`` in the folder of the participants table (``data/raw/.evaluation-work``
for data in ``data/raw``), so that it sits where the data owner already allows person-level
data; ``--work-dir`` chooses another folder. Runs without person-level inputs (the LaLonde
benchmark reads public data from PyPI packages, a pooling study reads the sites' aggregate
bundles) keep theirs beside the parameter file.

Inside it::

    cache/            the notebook cache (entries, memo/, validated/)   pipeline/cache.py
    scratch/<run>/    a running run's intermediate files, deleted at its end
    verify/<name>/    a running `evaluation verify`'s re-executed run, deleted at its end
    errors/           details of internal errors (exit 70)
    .locks/           who holds scratch/ and verify/ folders          pipeline/locks.py

Folders are created ``0700`` (owner only), whatever the process's umask; the command line
also sets the umask to ``0o077``, so that every file in them is ``0600``. A run or verify
that is killed leaves its folder behind; the next run or verify using the same work folder
deletes it (:func:`evaluation.pipeline.locks.clean_private`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from evaluation.config import AnyParams, Params
from evaluation.errors import ParamsError

#: The work folder's name beside the data (or the parameter file).
WORK_FOLDER = ".evaluation-work"
#: Sub-folders of the work folder.
CACHE, SCRATCH, VERIFY, ERRORS = "cache", "scratch", "verify", "errors"
#: Mode of every private folder: owner only.
PRIVATE_MODE = 0o700
#: The umask the command line sets for the commands that read or write study data.
PRIVATE_UMASK = 0o077


def default_work_dir(params: AnyParams, params_dir: Path) -> Path:
    """``.evaluation-work`` beside the participants table (a study) or the parameter file."""
    if isinstance(params, Params):
        return Path(params.data.participants).resolve().parent / WORK_FOLDER
    return Path(params_dir).resolve() / WORK_FOLDER


def resolve_work_dir(
    params: AnyParams, params_dir: Path, out_root: Path | None, chosen: Path | str | None = None
) -> Path:
    """The work folder of a run: ``chosen`` (``--work-dir``) or the default; never under ``out_root``.

    Raises
    ------
    ParamsError
        The work folder would lie inside the output folder (exit 2).
    """
    work = Path(chosen).resolve() if chosen is not None else default_work_dir(params, params_dir)
    if out_root is not None:
        out = Path(out_root).resolve()
        if work == out or out in work.parents:
            how = "--work-dir names" if chosen is not None else "the default (beside the data) is"
            raise ParamsError(
                f"the private work folder must not lie inside the output folder: {how} {work}, "
                f"inside --out {out}. Person-level data never live under the outputs; give "
                "--work-dir a folder outside it (for example beside the input data)."
            )
    return work


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents below an existing folder) as ``0700``; return it.

    An existing folder of this user is set to ``0700`` as well (one made by an earlier
    version, or under a looser umask); a folder of another user is left as it is.
    """
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_MODE)
        except FileExistsError:  # made by a concurrent run in between
            pass
    info = path.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
        path.chmod(PRIVATE_MODE)
    return path


def ensure(work: Path) -> Path:
    """The work folder and its sub-folders, created private; return the work folder."""
    private_dir(work)
    for sub in (CACHE, SCRATCH, VERIFY):
        private_dir(work / sub)
    return work
