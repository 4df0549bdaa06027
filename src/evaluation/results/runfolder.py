"""What makes a folder a finished run of ``evaluation run`` (for the commands that read one)."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.errors import RunError


def finished_run_folder(
    folder: Path, needs: tuple[str, ...] = ("results.json", "params.yaml")
) -> Path:
    """``folder`` if it holds a finished run of ``evaluation run``; else one clear error.

    The commands that read a run folder (``verify``, ``exhibits``, ``export``) call this first;
    ``needs`` are the files the command reads.

    Raises
    ------
    RunError
        The folder is missing or not a folder, its run failed (``status.json``: the stage and
        the first line of the message), or it lacks a file of ``needs``.
    """
    give = "Give a finished run folder of `evaluation run` (for example outputs/default-latest)."
    if not folder.exists():
        raise RunError(f"{folder}: no such run folder. {give}")
    if not folder.is_dir():
        raise RunError(f"{folder}: not a folder. {give}")
    status_file = folder / "status.json"
    if status_file.is_file():
        try:
            info = json.loads(status_file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            info = {}
        info = info if isinstance(info, dict) else {}
        if info.get("status") != "succeeded":
            where = f" at stage '{info['stage']}'" if info.get("stage") else ""
            first = str(info.get("message", "")).splitlines()[:1]
            raise RunError(
                f"{folder}: this run {info.get('status') or 'did not finish'}{where} "
                f"(status.json)" + (f":\n  {first[0]}" if first else "") + "\nOnly a run that "
                "succeeded can be used: fix the cause and rerun `evaluation run --params ...`, "
                "or give the last good run (<out>/<params>-latest)."
            )
    missing = [name for name in needs if not (folder / name).is_file()]
    if missing:
        raise RunError(f"{folder}: no {' / '.join(missing)}, so not a finished run folder. {give}")
    return folder
