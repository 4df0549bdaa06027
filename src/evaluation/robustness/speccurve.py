"""A specification curve: the headline question under every defensible set of choices.

Simonsohn, Simmons and Nelson (2020) ask to estimate the effect under every combination of
defensible analytic choices and to show all estimates, sorted, with the choices beneath.
The grid lives in a YAML file (``params/specifications.yaml``, validated by
:class:`GridFile`): horizons (outcome ``employed_m{h}``), estimators, named covariate sets,
trimming rules and, for matching, neighbours and calipers. Each specification reruns the
design (category support, propensity score, trimming) and the estimator from the
person-level data, so specifications are independent and run in parallel across processes
(:class:`concurrent.futures.ProcessPoolExecutor`); the same function runs them one by one
for the timing comparison.

References
----------
Simonsohn, U., Simmons, J. P. and Nelson, L. D. (2020). Specification curve analysis.
*Nature Human Behaviour* 4, 1208-1214.
Steegen, S., Tuerlinckx, F., Gelman, A. and Vanpaemel, W. (2016). Increasing transparency
through a multiverse analysis. *Perspectives on Psychological Science* 11(5), 702-712.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from evaluation.design.propensity import fit_propensity, trim_common_support
from evaluation.design.study import TREATMENT, TRIMMING_RULES, category_support
from evaluation.errors import ParamsError
from evaluation.estimate.att import estimate_att
from evaluation.estimate.effects import supported
from evaluation.specgrid import (  # noqa: F401  (the grid's model, re-exported)
    Grid,
    GridFile,
    MatchingGrid,
    Specification,
    expand,
    read_grid,
)


@dataclass(frozen=True)
class SpecResult:
    """The estimate of one specification (NaN and ``error`` set if it could not be made).

    ``persons``: the ids of the treated and the control persons the estimate rests on (those
    ``n_treated`` and ``n_control`` count; ``None`` if the data have no ``person_id`` or the
    specification failed). Person-level: brought back from the worker process for the
    disclosure audit, never put in the table.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    pid: int
    error: str | None = None
    persons: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def row(self) -> dict[str, Any]:
        """The table's fields (everything but the persons)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "persons"}


def estimate_specification(
    frame: pd.DataFrame,
    spec: Specification,
    covariates: Sequence[str],
    *,
    exact: str | None,
    level: float = 0.95,
    bias_adjust: bool = True,
) -> SpecResult:
    """Design and estimate one specification from the person-level data.

    As the study: persons in a category only one group has are set aside, the propensity
    score is fitted and the trimming rule applied on everyone; then the rows with the
    outcome observed (and still inside category support) are estimated on.

    Parameters
    ----------
    frame
        All analysed persons with ``treated``, the covariates, the exact cell and the outcome.
    spec
        The specification.
    covariates
        The covariate set's columns.
    exact
        Exact-matching column (matching only).
    level
        Confidence level.
    bias_adjust
        Abadie-Imbens bias adjustment of matching.

    Returns
    -------
    SpecResult
    """
    try:
        covs = list(covariates)
        inside = frame.loc[category_support(frame, covs).keep.to_numpy()]
        fit = fit_propensity(inside, TREATMENT, covs)
        keep = trim_common_support(
            fit.pscore, inside[TREATMENT], rule=TRIMMING_RULES[spec.trimming]
        )
        sample = inside.loc[keep.keep.to_numpy()]
        sample = supported(sample.loc[sample[spec.outcome].notna()], covs)
        opts: dict[str, Any] = {}
        if spec.estimator == "matching":
            opts = {"k": spec.neighbours, "replace": True, "caliper": spec.caliper,
                    "exact": exact, "bias_adjust": bias_adjust}  # fmt: skip
        r = estimate_att(
            sample, treatment=TREATMENT, outcome=spec.outcome, covariates=covs,
            method=spec.estimator, level=level, **opts,
        )  # fmt: skip
        return SpecResult(r.estimate, r.se, r.ci_low, r.ci_high, r.p_value, r.n_treated,
                          r.n_control, os.getpid(), persons=r.persons)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one failing specification must not stop the grid
        nan = float("nan")
        return SpecResult(
            nan, nan, nan, nan, nan, 0, 0, os.getpid(), f"{type(exc).__name__}: {exc}"
        )


# --- running the grid --------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(frame: pd.DataFrame, grid: Grid, options: dict[str, Any]) -> None:
    _WORKER.update(frame=frame, grid=grid, options=options)


def _run_index(i: int) -> tuple[int, SpecResult]:
    grid: Grid = _WORKER["grid"]
    spec = grid.specifications[i]
    covs = grid.covariate_sets[spec.covariate_set]
    return i, estimate_specification(_WORKER["frame"], spec, covs, **_WORKER["options"])


@dataclass(frozen=True)
class SpecCurve:
    """All specifications' estimates and how long the grid took.

    ``table`` is the result; ``wall_seconds`` and ``processes_seen`` measure the machine and
    differ from one run to the next: record them with
    :meth:`~evaluation.results.recorder.Recorder.measured` (the run's provenance), never
    among the results.

    Attributes
    ----------
    table
        One row per specification: the choices, then the estimate and its inference.
    persons
        Per row of ``table``: the treated and the control persons its ``n_treated`` and
        ``n_control`` count (``None`` where unknown). Person-level: for the disclosure audit.
    wall_seconds
        Wall-clock time of the whole grid (pool start included).
    workers
        Processes used (1: one by one in this process).
    processes_seen
        Distinct process ids that returned results.
    """

    table: pd.DataFrame
    wall_seconds: float
    workers: int
    processes_seen: int
    persons: tuple[tuple[np.ndarray, np.ndarray] | None, ...] = field(
        default=(), repr=False, compare=False
    )


def run_grid(
    frame: pd.DataFrame,
    grid: Grid,
    *,
    exact: str | None,
    level: float = 0.95,
    bias_adjust: bool = True,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> SpecCurve:
    """Estimate every specification of the grid, in ``workers`` processes (1: one by one).

    Parameters
    ----------
    frame
        Person-level data (covariates, ``treated``, exact cell, outcomes); not modified.
    grid
        Output of :func:`read_grid`.
    exact, level, bias_adjust
        As in :func:`estimate_specification`.
    workers
        Number of processes; 1 runs in this process.
    progress
        Called with ``(done, total)`` after each specification.

    Returns
    -------
    SpecCurve
    """
    missing = {c for covs in grid.covariate_sets.values() for c in covs} - set(frame.columns)
    missing |= {s.outcome for s in grid.specifications} - set(frame.columns)
    if missing:
        raise ParamsError(f"the specification grid names columns the data lack: {sorted(missing)}")
    options = {"exact": exact, "level": level, "bias_adjust": bias_adjust}
    n = len(grid.specifications)
    results: dict[int, SpecResult] = {}
    t0 = time.perf_counter()
    if workers <= 1:
        _init_worker(frame, grid, options)
        for i in range(n):
            results[i] = _run_index(i)[1]
            if progress:
                progress(len(results), n)
        _WORKER.clear()
    else:
        with ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(frame, grid, options)
        ) as pool:
            for fut in as_completed([pool.submit(_run_index, i) for i in range(n)]):
                i, res = fut.result()
                results[i] = res
                if progress:
                    progress(len(results), n)
    wall = time.perf_counter() - t0
    rows = [{**asdict(grid.specifications[i]), **results[i].row()} for i in range(n)]
    table = pd.DataFrame(rows)
    table.insert(0, "outcome", [s.outcome for s in grid.specifications])
    table["neighbours"] = table["neighbours"].astype("Int64")
    return SpecCurve(
        table=table.drop(columns="pid"),
        wall_seconds=wall,
        workers=max(1, int(workers)),
        processes_seen=int(table["pid"].nunique()),
        persons=tuple(results[i].persons for i in range(n)),
    )


def progress_printer(total: int, parts: int = 6) -> Callable[[int, int], None]:
    """A ``progress`` callback for :func:`run_grid`: a line about every ``total / parts`` specs.

    Prints the specifications done and the seconds since the callback was made (long work
    shows progress; the seconds measure the machine and are printed, never recorded).
    """
    step = max(1, int(total) // parts)
    t0 = time.perf_counter()

    def progress(done: int, n: int) -> None:
        if done % step == 0 or done == n:
            print(f"specifications done: {done}/{n}  ({time.perf_counter() - t0:.1f} s)",
                  flush=True)  # fmt: skip

    return progress


@dataclass(frozen=True)
class SpecSummary:
    """How the specifications agree with the headline.

    Attributes
    ----------
    n_specifications, n_failed
        Specifications in the grid, and those that could not be estimated.
    share_same_sign
        Share of estimated specifications whose estimate has the headline's sign.
    share_significant
        Share significant at ``alpha`` (two-sided) with the headline's sign.
    share_significant_any
        Share significant at ``alpha`` in either direction.
    median, low, high
        Median, smallest and largest estimate.
    """

    n_specifications: int
    n_failed: int
    share_same_sign: float
    share_significant: float
    share_significant_any: float
    median: float
    low: float
    high: float


def summarise(table: pd.DataFrame, reference: float, alpha: float = 0.05) -> SpecSummary:
    """Agreement of the specifications with a reference estimate (the headline)."""
    ok = table.loc[table["estimate"].notna()]
    sign = np.sign(reference) if reference != 0 else 1.0
    same = np.sign(ok["estimate"]) == sign
    sig = ok["p_value"] < alpha
    nan = float("nan")
    return SpecSummary(
        n_specifications=len(table),
        n_failed=int(len(table) - len(ok)),
        share_same_sign=float(same.mean()) if len(ok) else nan,
        share_significant=float((same & sig).mean()) if len(ok) else nan,
        share_significant_any=float(sig.mean()) if len(ok) else nan,
        median=float(ok["estimate"].median()) if len(ok) else nan,
        low=float(ok["estimate"].min()) if len(ok) else nan,
        high=float(ok["estimate"].max()) if len(ok) else nan,
    )
