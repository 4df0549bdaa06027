"""Monte Carlo of the study's estimators: bias and CI coverage on many generated studies.

One replication generates a synthetic study (:func:`evaluation.synth.generate`) and
runs on it the exact chain the notebooks run: ``build_analysis`` (notebook 01), the split
into design and outcome columns, the outcome-blind ``study_design`` and its hand-over
(notebook 02), ``analysis_sample`` and ``estimate_study`` (notebook 03). Each estimate is
compared with the generator's exact sample ATT over *all* mentored persons (the study's
target) and also with the exact ATT over the mentored persons the estimator actually used
(after category support, trimming and, for matching, the caliper), so that the estimand
shift caused by dropping mentored persons can be told apart from estimator bias.

:func:`simulate_study` returns plain rows (one per outcome x estimator);
:func:`simulate_many` runs many replications, in worker processes if asked, with seeds that
depend only on the replication number; :func:`summarise` turns the rows of many replications into bias, RMSE and coverage with
their Monte Carlo standard errors (Morris, White and Crowther 2019). The command-line
driver is ``bench/montecarlo_study.py``; a fast version runs in
``tests/estimate/test_montecarlo_study.py``.

References
----------
Morris, T. P., White, I. R. and Crowther, M. J. (2019). Using simulation studies to
evaluate statistical methods. *Statistics in Medicine* 38(11), 2074-2102.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from evaluation.config import outcome_names
from evaluation.data.outcomes import MENTORED, build_outcomes
from evaluation.design import study_design
from evaluation.design.matching import match_nearest
from evaluation.design.propensity import fit_propensity
from evaluation.design.sample import build_analysis
from evaluation.design.study import TREATMENT
from evaluation.errors import EvaluationError
from evaluation.estimate.effects import (
    EffectsSpec,
    analysis_sample,
    estimate_study,
    supported,
)
from evaluation.rng import stream
from evaluation.synth import EffectSpec, SyntheticStudy, generate

#: Columns of the analysis frame that notebook 01 writes to the outcome file besides the
#: outcomes named by :func:`~evaluation.config.outcome_names`.
EXTRA_OUTCOME_COLUMNS = ("months_to_job", "job_found", "months_after")

#: Matcher options among :attr:`EffectsSpec.matching` (the rest go to ``matching_att``).
_MATCH_KEYS = ("k", "replace", "caliper", "exact", "ties", "metric", "order", "tie_tol")

#: Tolerance of the check that the per-person effects average to the generator's truth.
_TRUTH_RTOL = 1e-9


def replication_seed(base_seed: int, rep: int) -> int:
    """The generator seed of replication ``rep``: independent of how reps are scheduled.

    Parameters
    ----------
    base_seed
        The Monte Carlo's seed (non-negative integer).
    rep
        Replication number, 0-based.

    Returns
    -------
    int
        A 32-bit seed from ``SeedSequence([base_seed, rep])``.
    """
    return int(np.random.SeedSequence([int(base_seed), int(rep)]).generate_state(1)[0])


def split_frame(frame: pd.DataFrame, horizons: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the analysis frame into the design and outcome hand-overs, as notebook 01 does.

    Parameters
    ----------
    frame
        ``AnalysisData.frame``.
    horizons
        The study's horizons.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(design columns, person_id and outcome columns)``.
    """
    outcome_cols = [*outcome_names(list(horizons)), *EXTRA_OUTCOME_COLUMNS]
    design_cols = [c for c in frame.columns if c not in outcome_cols]
    return frame[design_cols], frame[["person_id", *outcome_cols]]


def unit_effects(study: SyntheticStudy, horizons: Sequence[int], pre_months: int) -> pd.DataFrame:
    """Each mentored person's outcome under mentoring minus under no mentoring.

    Both outcomes are built with :func:`~evaluation.data.outcomes.build_outcomes` from the
    generator's two potential panels, so their mean is the generator's ``truth["att"]``
    (checked).

    Parameters
    ----------
    study
        A generated study (with ``potential``).
    horizons, pre_months
        The outcome definitions (as passed to ``generate``).

    Returns
    -------
    pandas.DataFrame
        Index ``person_id`` (the mentored), one float column per outcome.
    """
    parts = study.participants
    persons = parts.loc[parts["group"] == MENTORED].reset_index(drop=True)
    pot = study.potential
    pot = pot.loc[pot["person_id"].isin(persons["person_id"])]
    arms = []
    for arm in (1, 0):
        monthly = pd.DataFrame(
            {
                "person_id": pot["person_id"],
                "month": pot["month"],
                "employed": pot[f"employed_{arm}"],
                "earnings": pot[f"earnings_{arm}"],
            }
        )
        arms.append(build_outcomes(persons, monthly, tuple(horizons), int(pre_months)))
    names = outcome_names(list(horizons))
    diff = (arms[0][names] - arms[1][names]).set_axis(persons["person_id"].to_numpy())
    diff.index.name = "person_id"
    truth = study.truth["att"]
    for name in names:
        if not np.isclose(diff[name].mean(), truth[name], rtol=_TRUTH_RTOL, atol=1e-12):
            raise EvaluationError(
                f"per-person effects on {name} average to {diff[name].mean()}, not the "
                f"generator's truth {truth[name]}"
            )
    return diff


def mentored_used(
    data: pd.DataFrame, outcome: str, spec: EffectsSpec, estimator: str
) -> np.ndarray:
    """The ``person_id`` of the mentored persons an estimator used for one outcome.

    The estimation sample is the one :func:`~evaluation.estimate.effects.estimate_study`
    uses (observed outcome, inside category support). Matching uses only the mentored it
    matched: the propensity refit and the matching of
    :func:`~evaluation.estimate.att.estimate_att` are repeated here to find them.

    Parameters
    ----------
    data
        The analysis sample (``analysis_sample``).
    outcome, estimator
        Which estimate.
    spec
        The effects specification.

    Returns
    -------
    numpy.ndarray
        Person identifiers.
    """
    sample = supported(data.loc[data[outcome].notna()], spec.covariates)
    if estimator != "matching":
        return sample.loc[sample[TREATMENT] == 1, "person_id"].to_numpy()
    fit = fit_propensity(sample, TREATMENT, list(spec.covariates))
    opts = {k: v for k, v in spec.matching.items() if k in _MATCH_KEYS}
    m = match_nearest(sample, TREATMENT, distance=fit.linear_predictor, **opts)
    matched = pd.unique(m.pairs["treated"])
    return sample.loc[matched, "person_id"].to_numpy()


def simulate_study(
    seed: int,
    *,
    n_comparison: int,
    params_sections: Mapping[str, Any],
    effect: EffectSpec | None = None,
    outcomes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Generate one study and run the notebooks' chain on it; one row per estimate.

    Parameters
    ----------
    seed
        Seed of the generator and of the pseudo-start stream (as the study's ``seed``).
    n_comparison
        Size of the comparison pool to generate.
    params_sections
        The parameter file's sections as injected into the notebooks
        (``Params.notebook_parameters()``): ``outcomes``, ``design``, ``estimation`` and,
        if present, ``synthetic.n_mentored``.
    effect
        The true effect; ``None`` for the default :class:`EffectSpec`.
    outcomes
        Outcomes to estimate; ``None`` for all outcomes of the horizons.

    Returns
    -------
    list of dict
        Per outcome and estimator: ``seed``, ``outcome``, ``estimator``, ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``truth`` (exact ATT over all mentored),
        ``truth_used`` (over the mentored the estimator used), ``n_mentored``,
        ``n_mentored_used``, ``n_trimmed_mentored`` (removed by category support and
        trimming in the design), ``n_control``, ``covered`` and ``covered_used``.
    """
    out_p, design, estimation = (
        params_sections["outcomes"], params_sections["design"], params_sections["estimation"]
    )  # fmt: skip
    horizons, pre_months = list(out_p["horizons"]), int(out_p["pre_months"])
    n_mentored = int((params_sections.get("synthetic") or {}).get("n_mentored", 50))
    study = generate(
        seed,
        n_mentored=n_mentored,
        n_comparison=n_comparison,
        effect=EffectSpec() if effect is None else effect,
        horizons=tuple(horizons),
        pre_months=pre_months,
    )
    truth = unit_effects(study, horizons, pre_months)

    # notebook 01
    analysis = build_analysis(
        study.participants,
        study.monthly,
        horizons=horizons,
        pre_months=pre_months,
        min_pre_months=int(out_p["min_pre_months"]),
        rng=stream(seed, "pseudo_starts"),
    )
    covs, outs = split_frame(analysis.frame, horizons)
    # notebook 02 (blind to outcomes)
    dsg = study_design(
        covs, covariates=design["covariates"], design=design, matching=estimation["matching"]
    )
    # notebook 03
    data = analysis_sample(covs, outs, dsg.hand_over())
    spec = EffectsSpec.from_params(design, estimation)
    names = list(outcomes) if outcomes is not None else outcome_names(horizons)
    results = estimate_study(data, names, spec)

    n_trimmed = dsg.category_support.n_removed_treated + dsg.support.n_trimmed_treated
    rows = []
    for r in results:
        used = mentored_used(data, r.outcome, spec, r.estimator)
        if len(used) != r.n_treated:
            raise EvaluationError(
                f"{r.estimator} on {r.outcome} used {r.n_treated} mentored, but repeating its "
                f"sample selection finds {len(used)}: montecarlo.mentored_used is out of date"
            )
        t_all = float(truth[r.outcome].mean())
        t_used = float(truth.loc[used, r.outcome].mean())
        rows.append(
            {
                "seed": int(seed),
                "outcome": r.outcome,
                "estimator": r.estimator,
                "estimate": r.estimate,
                "se": r.se,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "truth": t_all,
                "truth_used": t_used,
                "n_mentored": int(len(truth)),
                "n_mentored_used": int(r.n_treated),
                "n_trimmed_mentored": int(n_trimmed),
                "n_control": int(r.n_control),
                "covered": bool(r.ci_low <= t_all <= r.ci_high),
                "covered_used": bool(r.ci_low <= t_used <= r.ci_high),
            }
        )
    return rows


def _replication(rep: int, *, base_seed: int, **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    """Replication ``rep`` (a top-level function, so that worker processes can run it)."""
    rows = simulate_study(replication_seed(base_seed, rep), **kwargs)
    return rep, [{"rep": rep, **row} for row in rows]


def simulate_many(
    base_seed: int,
    reps: int,
    *,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`simulate_study` for replications ``0 .. reps - 1``.

    Replication ``r`` uses :func:`replication_seed` ``(base_seed, r)``, and the rows are put
    in replication order, so the result does not depend on ``jobs``.

    Parameters
    ----------
    base_seed
        The Monte Carlo's seed.
    reps
        Number of replications.
    jobs
        Worker processes (:class:`concurrent.futures.ProcessPoolExecutor`); 1 runs in this
        process.
    progress
        Called as ``progress(done, reps)`` after each replication.
    **kwargs
        Passed to :func:`simulate_study` (``n_comparison``, ``params_sections``, ``effect``,
        ``outcomes``).

    Returns
    -------
    pandas.DataFrame
        The rows of every replication with a ``rep`` column.
    """
    task = partial(_replication, base_seed=int(base_seed), **kwargs)
    results: dict[int, list[dict[str, Any]]] = {}

    def collect(rep: int, rows: list[dict[str, Any]]) -> None:
        results[rep] = rows
        if progress is not None:
            progress(len(results), reps)

    if jobs <= 1:
        for rep in range(reps):
            collect(*task(rep))
    else:
        with ProcessPoolExecutor(max_workers=int(jobs)) as pool:
            for fut in as_completed([pool.submit(task, rep) for rep in range(reps)]):
                collect(*fut.result())
    return pd.DataFrame([row for rep in sorted(results) for row in results[rep]])


def summarise(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and coverage per outcome and estimator, with Monte Carlo SEs.

    Bias is the mean of ``estimate - truth`` where ``truth`` is each replication's exact
    sample ATT over all mentored; ``bias_used`` and ``coverage_used`` use the ATT over the
    mentored the estimator used instead. Monte Carlo SEs (Morris et al. 2019):
    ``sd(error) / sqrt(reps)`` for bias and ``sqrt(c (1 - c) / reps)`` for coverage ``c``.

    Parameters
    ----------
    rows
        Rows of :func:`simulate_study`, from any number of replications.

    Returns
    -------
    pandas.DataFrame
        Index ``(outcome, estimator)`` in order of first appearance; columns ``reps``,
        ``mean_estimate``, ``mean_truth``, ``bias``, ``mc_se_bias``, ``rmse``,
        ``coverage``, ``mc_se_coverage``, ``mean_ci_width``, ``sd_error`` (SD of
        ``estimate - truth``), ``mean_se``, ``mean_n_used``, ``bias_used``,
        ``coverage_used``.
    """
    tab = pd.DataFrame(list(rows)) if not isinstance(rows, pd.DataFrame) else rows
    tab = tab.assign(
        error=tab["estimate"] - tab["truth"],
        error_used=tab["estimate"] - tab["truth_used"],
        width=tab["ci_high"] - tab["ci_low"],
    )
    g = tab.groupby(["outcome", "estimator"], sort=False)
    out = pd.DataFrame(
        {
            "reps": g.size(),
            "mean_estimate": g["estimate"].mean(),
            "mean_truth": g["truth"].mean(),
            "bias": g["error"].mean(),
            "mc_se_bias": g["error"].std(ddof=1) / np.sqrt(g.size()),
            "rmse": np.sqrt(g["error"].apply(lambda e: float(np.mean(np.square(e))))),
            "coverage": g["covered"].mean(),
            "mc_se_coverage": np.nan,
            "mean_ci_width": g["width"].mean(),
            "sd_error": g["error"].std(ddof=1),
            "mean_se": g["se"].mean(),
            "mean_n_used": g["n_mentored_used"].mean(),
            "bias_used": g["error_used"].mean(),
            "coverage_used": g["covered_used"].mean(),
        }
    )
    c = out["coverage"].astype(float)
    out["mc_se_coverage"] = np.sqrt(c * (1.0 - c) / out["reps"])
    return out
