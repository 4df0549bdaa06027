"""The run's inputs: make the synthetic study if asked, validate, find the identifiers to scan for."""

from __future__ import annotations

import fcntl
import gc
from pathlib import Path
from typing import Any

from evaluation import synth
from evaluation.config import AnyParams, Params
from evaluation.data.contract import load_study
from evaluation.data.sample_flow import SampleRule
from evaluation.errors import ParamsError, RunError


def ensure_synthetic(params: AnyParams) -> list[str]:
    """Generate the synthetic study into the data paths if asked and missing."""
    if not isinstance(params, Params):
        return []
    syn = params.synthetic
    if syn is None or not syn.generate_if_missing:
        return []
    target = Path(params.data.participants).parent
    target.mkdir(parents=True, exist_ok=True)
    # runs started together must not write (or read) the same files at once
    with (target / ".generate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _generate_missing(params, target)


def _generate_missing(params: Params, target: Path) -> list[str]:
    syn = params.synthetic
    assert syn is not None
    named = {k: Path(v) for k, v in params.data.tables().items() if v is not None}
    missing = {k: p for k, p in named.items() if not p.exists()}
    if not missing:
        return []
    present = sorted(set(named) - set(missing))
    if present:
        # some files exist: generating would overwrite them, and a missing one is most
        # likely a mistyped path, not a request for synthetic data
        raise ParamsError(
            "Some data files named in the parameter file do not exist: "
            + ", ".join(f"data.{k} = {p}" for k, p in missing.items())
            + f". The others ({', '.join('data.' + k for k in present)}) do, so no synthetic "
            "data are generated (that would overwrite them). Correct the path(s); to "
            "generate the synthetic study anew, delete all of its files first."
        )
    wrong = {k: p for k, p in named.items() if p != target / f"{k}.{syn.format}"}
    if wrong:
        raise ParamsError(
            "The synthetic study is generated as <folder>/<table>."
            f"{syn.format} (synthetic.format), but "
            + ", ".join(f"data.{k} names {p.name}" for k, p in wrong.items())
            + f". Point them at {target}/<table>.{syn.format}, or set "
            "synthetic.generate_if_missing: false and give existing files."
        )

    study = synth.generate(params.seed, n_mentored=syn.n_mentored, n_comparison=syn.n_comparison)
    written = synth.write(study, target, fmt=syn.format)
    expected = {k: Path(v) for k, v in params.data.tables().items() if v is not None}
    for table, path in expected.items():
        if Path(written[table]) != path:
            raise RunError(
                f"The synthetic study was written to {written[table]}, but data.{table} names "
                f"{path}. Point data.{table} at the generated file."
            )
    return [str(p) for p in written.values()]


def validate_inputs(params: AnyParams) -> Any:
    """Check the input tables against the contract, and what the design needs of them.

    The same check for ``evaluation validate`` and before any notebook of a run starts: the
    tables as the parameter file names them (sheet included), the survey's items of
    ``bottomup.factors`` (other survey columns are kept, not used), and enough mentored
    persons who can be analysed (``design.min_mentored``, ``outcomes.min_pre_months``).
    """
    if not isinstance(params, Params):
        return None

    settings = validation_settings(params)
    return load_study(
        params.data.sources(),
        survey_items=settings["survey_items"],
        sample=SampleRule(settings["min_mentored"], settings["min_pre_months"]),
    )


def validation_settings(params: AnyParams) -> dict[str, Any]:
    """What the input validation depends on besides the files' content (for its cache key)."""
    if not isinstance(params, Params):
        return {}
    return {
        "reading": {
            name: {k: v for k, v in source.items() if k != "path"}
            for name, source in params.data.sources().items()
            if source is not None
        },
        "survey_items": params.bottomup.items(),
        "min_mentored": params.design.min_mentored,
        "min_pre_months": params.outcomes.min_pre_months,
    }


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc), e.g. after validating large tables.

    The runner holds no tables while the notebooks run; without this its resident size would
    stay at the validation's peak (GiB at register scale) beside every kernel's.
    """
    import ctypes

    gc.collect()
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()  # Parquet buffers live in Arrow's pool
    except (ImportError, AttributeError):
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
