"""Verify a finished run: re-execute it from its recorded parameters and compare every number.

``evaluation verify RUN_FOLDER`` reads the run's ``params.yaml`` and ``results.json``,
refuses if any input file's SHA-256 differs from the one recorded (the run could not be
reproduced from other data), re-executes every notebook (no cache) into the private work
folder (:mod:`evaluation.pipeline.workdir`; person-level data never go to the system's
temporary folder), and compares ``results.json`` value by value: everything except ``provenance``
(effects, headline, numbers, tables, skipped analyses and the exhibit registry). Integers,
strings, booleans and missing values must be equal; floating-point numbers must agree to
:data:`REL_TOL` relative (:data:`ABS_TOL` absolute for numbers that are zero up to rounding).
There is no exception: values that measure the machine rather than the study (wall times,
speed-ups, processes seen) are kept in ``provenance``, never among the results.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.config import Params, PoolingParams, parse_params
from evaluation.errors import EvaluationError
from evaluation.pipeline import locks, provenance, workdir
from evaluation.pipeline.run import run_study

#: Floats must agree to this relative tolerance ...
REL_TOL = 1e-9
#: ... or to this absolute one (a difference of rounding noise around zero).
ABS_TOL = 1e-12
#: Top-level keys of results.json that are not compared: the run's own record (times, the
#: machine, cache flags, wall times measured by the notebooks).
NOT_COMPARED = ("provenance",)
#: Fields that name an entry of a list (an effect, an exhibit) in a difference's path.
_LABEL_FIELDS = ("outcome", "estimator", "subgroup", "key")


class InputsChangedError(EvaluationError):
    """An input file of the run is missing or differs from the one the run recorded."""

    exit_code = 6


@dataclass(frozen=True)
class Difference:
    """One value that did not reproduce."""

    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.old!r} -> {self.new!r}"


@dataclass(frozen=True)
class Verification:
    """The outcome of re-executing a run."""

    run_dir: Path
    differences: tuple[Difference, ...]
    compared: int
    seconds: float
    rerun_dir: Path | None = None

    @property
    def reproduced(self) -> bool:
        """``True`` when every compared value agreed."""
        return not self.differences


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool) or type(old) is not type(new):
        return type(old) is type(new) and old == new
    if isinstance(old, float):
        return math.isclose(old, new, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return old == new


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict):
        parts = [f"{f}={item[f]}" for f in _LABEL_FIELDS if isinstance(item.get(f), str)]
        if parts:
            return f"[{index}: {', '.join(parts)}]"
    return f"[{index}]"


def _walk(old: Any, new: Any, path: str) -> Iterator[Difference | bool]:
    """Compare two JSON values leaf by leaf.

    Yields a :class:`Difference` per disagreement and ``True`` per value that agreed.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield Difference(sub, old[key], "(missing)")
            elif key not in old:
                yield Difference(sub, "(missing)", new[key])
            else:
                yield from _walk(old[key], new[key], sub)
    elif isinstance(old, list) and isinstance(new, list):
        for i, (o, n) in enumerate(zip(old, new, strict=False)):
            yield from _walk(o, n, path + _label(o, i))
        if len(old) != len(new):
            yield Difference(f"{path} (length)", len(old), len(new))
    elif isinstance(old, dict | list) or isinstance(new, dict | list):
        yield Difference(path, old, new)
    else:
        yield True if _same_scalar(old, new) else Difference(path, old, new)


def compare_results(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[Difference], int]:
    """Every value of two ``results.json`` contents outside ``provenance``, compared.

    Returns
    -------
    differences, compared
        The values that disagree (path to the value, old, new) and how many leaf values were
        compared.
    """
    keep_old = {k: v for k, v in old.items() if k not in NOT_COMPARED}
    keep_new = {k: v for k, v in new.items() if k not in NOT_COMPARED}
    found = list(_walk(keep_old, keep_new, ""))
    return [d for d in found if isinstance(d, Difference)], len(found)


def recorded_params(run_dir: Path) -> tuple[str, Path, Path]:
    """The run's parameter text, its original file and the folder its relative paths meant."""
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    prov = results["provenance"]
    text = (run_dir / "params.yaml").read_text("utf-8")
    params_file = Path(prov["params_file"])
    base = Path(prov.get("params_dir") or params_file.resolve().parent)
    return text, params_file, base


def check_inputs(run_dir: Path) -> None:
    """Refuse (:class:`InputsChangedError`) if an input differs from what the run recorded."""
    text, params_file, base = recorded_params(run_dir)
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    recorded = results["provenance"]["inputs"]
    params = parse_params(text, source=params_file, base=base)
    if isinstance(params, Params):
        tables = params.data.tables()
        missing = {k: p for k, p in tables.items() if p is not None and not Path(p).is_file()}
        now = provenance.input_hashes({k: (None if k in missing else p) for k, p in tables.items()})
    elif isinstance(params, PoolingParams):
        files = params.input_files()
        missing = {k: p for k, p in files.items() if p is not None and not Path(p).is_file()}
        now = provenance.input_hashes({k: (None if k in missing else p) for k, p in files.items()})
    else:
        missing, now = {}, provenance.package_data_inputs()
    problems = [f"  - {k}: {p} is missing" for k, p in missing.items()]
    for name in sorted(set(recorded) | set(now)):
        if name in missing:
            continue
        was, is_ = recorded.get(name), now.get(name)
        if (was or {}).get("sha256") != (is_ or {}).get("sha256"):
            shown = (is_ or was or {}).get("file", name)
            problems.append(
                f"  - {name} ({shown}): SHA-256 was {(was or {}).get('sha256', 'absent')}, "
                f"is now {(is_ or {}).get('sha256', 'absent')}"
            )
    if problems:
        raise InputsChangedError(
            f"Cannot verify {run_dir.name}: its input data changed since it ran:\n"
            + "\n".join(problems)
            + "\nA run can only be reproduced from the data it was run on. Restore those files "
            "(or run the study anew on the new data)."
        )


def verify_run(
    run_dir: Path | str,
    *,
    keep: Path | None = None,
    work_dir: Path | str | None = None,
    echo: Any = lambda *a, **k: None,
) -> Verification:
    """Re-execute a run from its recorded parameters and data; compare its results.

    Parameters
    ----------
    run_dir
        A finished run folder (with ``params.yaml`` and ``results.json``).
    keep
        Keep the re-executed run under this folder (default: it is made in the private work
        folder and removed).
    work_dir
        The private work folder (default: as a run of these parameters, beside the data;
        :mod:`evaluation.pipeline.workdir`). The re-execution's person-level scratch and,
        without ``keep``, the re-executed run live there; a verify that is killed leaves them
        for the next run or verify to delete.
    echo
        Progress lines of the re-execution.

    Raises
    ------
    InputsChangedError
        If an input file is missing or its SHA-256 changed.
    """
    run_dir = Path(run_dir).resolve()
    for needed in ("params.yaml", "results.json"):
        if not (run_dir / needed).is_file():
            raise EvaluationError(f"{run_dir / needed} not found: give a finished run folder.")
    check_inputs(run_dir)
    text, params_file, base = recorded_params(run_dir)
    params = parse_params(text, source=params_file, base=base)
    work = workdir.resolve_work_dir(params, base, keep, work_dir)
    workdir.ensure(work)
    for line in locks.clean_private(work):
        echo(f"[tidy] {line}")
    reservation = locks.reserve_private(work, f"verify-{run_dir.name}")
    private = workdir.private_dir(work / workdir.VERIFY / reservation.name)
    try:
        copy = private / "params" / params_file.name  # the same stem: the same run name
        copy.parent.mkdir()
        copy.write_text(text, "utf-8")
        out = keep if keep is not None else private / "outputs"
        rerun = run_study(copy, out, render=False, echo=echo, force=True, base_dir=base,
                          work_dir=work)  # fmt: skip
        old = json.loads((run_dir / "results.json").read_text("utf-8"))
        new = json.loads((rerun.run_dir / "results.json").read_text("utf-8"))
        differences, compared = compare_results(old, new)
        return Verification(run_dir, tuple(differences), compared, rerun.seconds,
                            rerun.run_dir if keep is not None else None)  # fmt: skip
    finally:
        shutil.rmtree(private, ignore_errors=True)
        reservation.release()


def report_lines(result: Verification) -> list[str]:
    """What ``evaluation verify`` prints."""
    if result.reproduced:
        return [f"reproduced: {result.compared} values of {result.run_dir.name}/results.json "
                f"agree (floats to {REL_TOL:g} relative); re-executed in "
                f"{result.seconds:.0f} s"]  # fmt: skip
    lines = [
        f"NOT reproduced: {len(result.differences)} of {result.compared} values differ "
        "(path: old -> new):"
    ]
    lines += [f"  {d}" for d in result.differences]
    return lines
