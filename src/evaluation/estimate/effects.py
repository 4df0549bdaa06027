"""The study's effect estimation as steps the effects notebook calls.

Orchestration over :func:`~evaluation.estimate.att.estimate_all`: which sample, which
estimators and options (from the parameter file), subgroups and the women-men difference,
the weighted bootstrap of IPW/AIPW, the Romano-Wolf adjusted p-values of the headline
family, the conditional randomisation test of the headline, and the table of estimates
(the effects chapter, :mod:`evaluation.chapters.effects`, publishes them; the forest plot is
:func:`evaluation.plots.effects.forest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evaluation.design.propensity import DesignError, fit_propensity
from evaluation.design.study import TREATMENT, category_support, matching_options
from evaluation.errors import EvaluationError
from evaluation.estimate.att import (
    BootstrapWeights,
    WeightedBootstrap,
    covariate_matrix,
    estimate_all,
    estimate_att,
    weighted_bootstrap_family,
    with_bootstrap_se,
)
from evaluation.estimate.inference import (
    RandomisationResult,
    conditional_poisson_assignments,
    randomisation_pvalue,
)
from evaluation.estimate.multiplicity import (
    REPRESENTATION_RTOL,
    RomanoWolf,
    matching_representation,
    representation_draws,
    romano_wolf,
)
from evaluation.estimate.randomisation import MatchingRerun, RerunFailed
from evaluation.estimate.results import EffectResult, compare


@dataclass(frozen=True)
class EffectsSpec:
    """What to estimate, from the parameter file's ``design`` and ``estimation`` sections."""

    covariates: tuple[str, ...]
    exact: str | None
    estimators: tuple[str, ...]
    matching: dict[str, Any]
    headline_estimator: str
    headline_outcome: str
    level: float = 0.95

    @classmethod
    def from_params(cls, design: Mapping[str, Any], estimation: Mapping[str, Any]) -> EffectsSpec:
        """Build the spec from the two parameter sections (as injected into notebooks)."""
        m = estimation["matching"]
        opts = matching_options(m, design.get("exact"))
        opts["bias_adjust"] = bool(m["bias_correction"])
        opts["se"] = m.get("se", "ai2006")
        return cls(
            covariates=tuple(design["covariates"]),
            exact=design.get("exact"),
            estimators=tuple(estimation["estimators"]),
            matching=opts,
            headline_estimator=estimation["headline"]["estimator"],
            headline_outcome=estimation["headline"]["outcome"],
            level=float(estimation.get("level", 0.95)),
        )

    def options(self) -> dict[str, dict[str, Any]]:
        """Per-method options for :func:`estimate_all`."""
        return {"matching": dict(self.matching)}


def analysis_sample(
    covariates: pd.DataFrame, outcomes: pd.DataFrame, design: pd.DataFrame
) -> pd.DataFrame:
    """Join covariates, outcomes and the design decisions; keep the trimmed sample.

    Every join is one-to-one on ``person_id`` and must match every person (checked).
    """
    for name, frame in (("covariates", covariates), ("outcomes", outcomes), ("design", design)):
        if frame["person_id"].duplicated().any():
            raise EvaluationError(f"the {name} hand-over has duplicate person_id values")
    n = len(covariates)
    data = covariates.merge(outcomes, on="person_id", how="inner", validate="one_to_one")
    data = data.merge(design, on="person_id", how="inner", validate="one_to_one")
    if len(data) != n or len(outcomes) != n or len(design) != n:
        raise EvaluationError(
            f"the hand-over files do not cover the same persons ({n} with covariates, "
            f"{len(outcomes)} with outcomes, {len(design)} with design decisions, {len(data)} "
            "in all three)"
        )
    return data.loc[data["keep"]].sort_values("person_id", kind="mergesort").reset_index(drop=True)


def withheld_reason(result: EffectResult, min_cell: int) -> str | None:
    """Why an estimate may not be published (rests on fewer than ``min_cell`` persons)."""
    if result.n_treated < min_cell or result.n_control < min_cell:
        return (
            f"{result.estimator} on {result.outcome} ({result.subgroup}) rests on fewer than "
            f"{min_cell} persons in a group and is withheld"
        )
    return None


def supported(frame: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """The rows inside category support (see :class:`~evaluation.design.study.CategorySupport`).

    Applied to every estimation sample (an outcome's observed rows, a subgroup, a permuted
    assignment), since each can lose the only mentored person of a category.
    """
    keep = category_support(frame, covariates).keep
    return frame if bool(keep.all()) else frame.loc[keep.to_numpy()]


def estimate_study(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    spec: EffectsSpec,
    *,
    failed: dict[tuple[str, str], str] | None = None,
) -> list[EffectResult]:
    """Every estimator on every outcome (outcomes outer, estimators inner).

    With ``failed`` (a dict), an estimator other than the headline's whose own step has no
    solution on an outcome's sample (no entropy-balancing weights exist there) is left out
    and its reason kept under ``(outcome, estimator)``; the headline estimator's failure is
    always raised (the report is about it).
    """
    out: list[EffectResult] = []
    for outcome in outcomes:
        sample = supported(data.loc[data[outcome].notna()], spec.covariates)
        lost: dict[tuple[str, str], str] = {}
        out += estimate_all(
            sample,
            TREATMENT,
            [outcome],
            list(spec.covariates),
            list(spec.estimators),
            options=spec.options(),
            level=spec.level,
            failed=None if failed is None else lost,
        )
        if (outcome, spec.headline_estimator) in lost:
            raise DesignError(lost[(outcome, spec.headline_estimator)])
        if failed is not None:
            failed.update(lost)
    return out


def headline_estimate(data: pd.DataFrame, outcome: str, spec: EffectsSpec) -> EffectResult:
    """The headline estimator alone on one outcome.

    Each estimator is estimated on each outcome on its own (:func:`estimate_study`), so this
    is the number :func:`estimate_study` gives for it among all of them, without the others.
    """
    (result,) = estimate_study(
        data, [outcome], replace(spec, estimators=(spec.headline_estimator,))
    )
    return result


#: Estimators whose SE the weighted bootstrap (propensity model refitted per draw) checks.
BOOTSTRAPPED = ("ipw", "aipw")


@dataclass(frozen=True)
class StudyBootstrap:
    """Weighted-bootstrap draws of the weighting estimators, jointly over outcomes.

    Attributes
    ----------
    draws
        ``(outcome, estimator)`` → :class:`~evaluation.estimate.att.WeightedBootstrap`.
    weights
        The person weights every draw used (rows: positions in the analysis sample), shared
        by all outcomes so that their draws are joint (see
        :mod:`evaluation.estimate.multiplicity`).
    use_when_ratio_above
        The rule of :func:`~evaluation.estimate.att.with_bootstrap_se`.
    """

    draws: dict[tuple[str, str], WeightedBootstrap]
    weights: BootstrapWeights
    use_when_ratio_above: float


def bootstrap_study(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    spec: EffectsSpec,
    *,
    draws: int,
    use_when_ratio_above: float,
    rng: np.random.Generator,
    scheme: str = "exponential",
) -> StudyBootstrap:
    """The weighted bootstrap of IPW and AIPW on every outcome of :func:`estimate_study`.

    On the same samples as :func:`estimate_study` (same rows, same propensity and outcome
    models), with one set of person weights for all outcomes.

    Parameters
    ----------
    data
        The analysis sample (:func:`analysis_sample`; unique index). Not modified.
    outcomes
        Outcome columns.
    spec
        What :func:`estimate_study` estimates; only its IPW and AIPW are bootstrapped.
    draws, scheme
        Number of draws and the person weights (:class:`~evaluation.estimate.att.BootstrapWeights`).
    use_when_ratio_above
        Kept with the draws for :func:`apply_bootstrap`.
    rng
        ``evaluation.rng.stream(seed, "weighted_bootstrap")``.
    """
    if not data.index.is_unique:
        raise EvaluationError("the analysis sample needs a unique index for the bootstrap")
    weights = BootstrapWeights.draw(len(data), draws, rng, scheme)  # type: ignore[arg-type]
    methods = [m for m in spec.estimators if m in BOOTSTRAPPED]
    # outcomes observed for the same persons share the sample, the propensity fit and each
    # draw's refit (evaluation.estimate.att.weighted_bootstrap_family)
    groups: dict[bytes, list[str]] = {}
    for outcome in outcomes if methods else ():
        rows = supported(data.loc[data[outcome].notna()], spec.covariates).index
        groups.setdefault(data.index.get_indexer(rows).tobytes(), []).append(outcome)
    out: dict[tuple[str, str], WeightedBootstrap] = {}
    for names in groups.values():
        sample = supported(data.loc[data[names[0]].notna()], spec.covariates)
        rows = data.index.get_indexer(sample.index)
        fit = fit_propensity(sample, TREATMENT, list(spec.covariates))
        ys = sample[names].to_numpy(dtype=float)
        d = sample[TREATMENT].to_numpy(dtype=float)
        x = covariate_matrix(sample, spec.covariates, None, fit)
        for method in methods:
            boots = weighted_bootstrap_family(
                ys, d, fit.design.to_numpy(), fit.pscore.to_numpy(), weights,
                x=x if method == "aipw" else None, rows=rows,
            )  # fmt: skip
            out.update({(name, method): b for name, b in zip(names, boots, strict=True)})
    return StudyBootstrap(out, weights, float(use_when_ratio_above))


def apply_bootstrap(results: Sequence[EffectResult], boot: StudyBootstrap) -> list[EffectResult]:
    """The results with the bootstrap SE beside the sandwich where one was bootstrapped.

    The bootstrap SE is shown where the rule picks it
    (:func:`~evaluation.estimate.att.with_bootstrap_se`); other results pass unchanged.
    """
    out = []
    for r in results:
        b = boot.draws.get((r.outcome, r.estimator)) if r.subgroup == "all" else None
        out.append(r if b is None else with_bootstrap_se(
            r, b, use_when_ratio_above=boot.use_when_ratio_above))  # fmt: skip
    return out


@dataclass(frozen=True)
class SubgroupEffects:
    """Estimates by subgroup, and the subgroups withheld (too few persons)."""

    results: list[EffectResult]
    withheld: dict[str, str] = field(default_factory=dict)


def estimate_by_sex(
    data: pd.DataFrame, outcome: str, spec: EffectsSpec, *, min_cell: int
) -> SubgroupEffects:
    """The headline estimator (and the naive difference) on one outcome, women and men apart.

    ``sex`` is dropped from the covariates within a subgroup (it is constant there). A
    subgroup with fewer than ``min_cell`` mentored or comparison persons is not estimated.
    """
    covs = [c for c in spec.covariates if c != "sex"]
    methods = list(dict.fromkeys(["naive", spec.headline_estimator]))
    results: list[EffectResult] = []
    withheld: dict[str, str] = {}
    for sex in ("female", "male"):
        sub = supported(data.loc[(data["sex"] == sex) & data[outcome].notna()], covs)
        n_t = int((sub[TREATMENT] == 1).sum())
        n_c = int((sub[TREATMENT] == 0).sum())
        if n_t < min_cell or n_c < min_cell:
            withheld[f"sex={sex}"] = f"fewer than {min_cell} persons in a group"
            continue
        got = estimate_all(
            sub, TREATMENT, [outcome], covs, methods, options=spec.options(),
            level=spec.level, subgroup=f"sex={sex}",
        )  # fmt: skip
        for r in got:
            why = withheld_reason(r, min_cell)
            if why:
                withheld[f"sex={sex}:{r.estimator}"] = why
            else:
                results.append(r)
    return SubgroupEffects(results=results, withheld=withheld)


@dataclass(frozen=True)
class SexDifference:
    """Women minus men: the difference of the two subgroup estimates of one estimator.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value
        The difference and its Wald inference (normal).
    estimator, outcome, level
        What was compared.
    se_method
        How ``se`` was obtained.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    estimator: str
    outcome: str
    level: float
    se_method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def sex_difference(by_sex: SubgroupEffects, estimator: str) -> SexDifference | None:
    """Test whether the effect differs between women and men (``H0: ATT_w = ATT_m``).

    :func:`estimate_by_sex` estimates each sex on its own persons: the propensity model,
    the matching (or weighting) and the outcome model are fitted within the sex, and the
    comparison persons of one sex are never used for the other. The two estimates therefore
    rest on disjoint, independently sampled persons, and the SE of their difference is
    ``sqrt(se_w^2 + se_m^2)`` whatever each SE is (Abadie-Imbens, sandwich, bootstrap); the
    interval and p-value are normal (Wald). ``None`` when either estimate was withheld
    (too few persons), so nothing is published that the withheld group's size could be
    worked out from.
    """
    found = {r.subgroup: r for r in by_sex.results if r.estimator == estimator}
    w, m = found.get("sex=female"), found.get("sex=male")
    if w is None or m is None:
        return None
    diff = EffectResult.from_normal(
        estimate=w.estimate - m.estimate, se=float(np.hypot(w.se, m.se)), level=w.level,
        outcome=w.outcome, estimator=estimator, estimand="ATT(women) - ATT(men)",
        n_treated=0, n_control=0, persons=_joint_persons(w, m),
    )  # fmt: skip
    return SexDifference(
        estimate=diff.estimate, se=diff.se, ci_low=diff.ci_low, ci_high=diff.ci_high,
        p_value=diff.p_value, estimator=estimator, outcome=w.outcome, level=w.level,
        se_method=f"difference of independent subgroup estimates: sqrt(se_w^2 + se_m^2) of "
        f"{w.se_method} (women) and {m.se_method} (men)",
    )  # fmt: skip


def _joint_persons(a: EffectResult, b: EffectResult) -> tuple[np.ndarray, np.ndarray] | None:
    """The treated and the control persons of two estimates together (``None`` if unknown)."""
    if a.persons is None or b.persons is None:
        return None
    return (np.concatenate([a.persons[0], b.persons[0]]),
            np.concatenate([a.persons[1], b.persons[1]]))  # fmt: skip


def headline_family(
    data: pd.DataFrame,
    results: Sequence[EffectResult],
    outcomes: Sequence[str],
    spec: EffectsSpec,
    boot: StudyBootstrap,
) -> RomanoWolf | None:
    """Romano-Wolf adjusted p-values of the headline estimator over ``outcomes``.

    The joint draws come from ``boot``: the weighted bootstrap itself for IPW and AIPW, a
    multiplier bootstrap of the estimator's first-order decomposition for matching (see
    :mod:`evaluation.estimate.multiplicity`). ``None`` for another headline estimator (no
    joint resampling is implemented for it). Each family member's full-sample value must
    equal the estimate in ``results`` (checked), so the p-values belong to the estimates
    the report shows.
    """
    est = spec.headline_estimator
    shown = {r.outcome: r for r in results if r.estimator == est and r.subgroup == "all"}
    if est in BOOTSTRAPPED and all((o, est) in boot.draws for o in outcomes):
        columns = [boot.draws[o, est].estimates for o in outcomes]
        values = [boot.draws[o, est].estimate for o in outcomes]
        method = boot.draws[outcomes[0], est].method
    elif est == "matching":
        columns, values = [], []
        for o in outcomes:
            sample = supported(data.loc[data[o].notna()], spec.covariates)
            rep = matching_representation(sample, o, spec.covariates, spec.options()["matching"])
            rows = data.index.get_indexer(sample.index)
            columns.append(representation_draws(rep, boot.weights, rows))
            values.append(rep.estimate)
        method = (f"multiplier bootstrap of the matching estimator's Abadie-Imbens (2006) "
                  f"decomposition ({boot.weights.draws} draws, multipliers W - 1 from "
                  f"{boot.weights.scheme} person weights, matches held fixed)")  # fmt: skip
    else:
        return None
    for o, v in zip(outcomes, values, strict=True):
        r = shown.get(o)
        if r is None or abs(v - r.estimate) > REPRESENTATION_RTOL * (1 + abs(r.estimate)):
            raise EvaluationError(f"the joint draws of {est} on {o} do not reproduce its estimate")
    return romano_wolf(values, np.column_stack(columns), list(outcomes), method=method)


#: The assignment mechanism of the headline's randomisation test, in words.
HEADLINE_MECHANISM = (
    "each person mentored with the probability the propensity-score model gives them, "
    "the number mentored in each start quarter as observed (conditional Poisson sampling)"
)


def randomisation_headline(
    data: pd.DataFrame, spec: EffectsSpec, *, n_draws: int, rng: np.random.Generator
) -> RandomisationResult:
    """Conditional randomisation test of the headline estimate.

    The study assumes selection on observables: given the covariates, who was mentored is
    as if drawn at random with the probability the propensity score gives (the same logit
    the estimators use). The test takes that assumption as its assignment mechanism:
    assignments are redrawn with each person's estimated probability, holding the number
    mentored in each start quarter (``spec.exact``) at its observed value (conditional
    Poisson sampling, :func:`~evaluation.estimate.inference.conditional_poisson_assignments`),
    and on each draw the *whole* headline estimator is rerun, the propensity model refitted,
    the matching and the bias correction redone (:class:`~evaluation.estimate.randomisation.
    MatchingRerun` for matching; :func:`~evaluation.estimate.att.estimate_att` otherwise).
    Under the sharp null that mentoring changed no one's outcome, the outcomes are fixed and
    the observed estimate is one draw from the same distribution, so the p-value is the
    share of draws at least as far from zero (two-sided).

    Why this and not a permutation within start quarters: permuting labels treats every
    person in a quarter as equally likely to be mentored, which contradicts the design
    (selection on observables) and over-rejects (8 % at 5 % in simulation). Why not
    permutations within fine propensity-score strata or matched sets: with about fifty
    mentored the strata stay coarse (or the sets overlap, matching with replacement), and
    within-stratum differences in the score then bias the test. Redrawing from the fitted
    score is the conditional randomisation test of Candes et al. (2018) with the propensity
    model of Rosenbaum (1984) and Branson and Bind (2019); it is exact if the propensity
    model is right and approximate because it is estimated, so its level is shown by
    simulation (``bench/inference_study.py``), not assumed. It is *not* an exact test.
    """
    outcome = spec.headline_outcome
    sample = supported(data.loc[data[outcome].notna()], spec.covariates).reset_index(drop=True)
    options = spec.options().get(spec.headline_estimator, {})
    d_obs = sample[TREATMENT].to_numpy() == 1
    fit = fit_propensity(sample, TREATMENT, list(spec.covariates))
    strata = None if spec.exact is None else sample[spec.exact].to_numpy()
    draws = conditional_poisson_assignments(
        fit.linear_predictor.to_numpy(), d_obs, strata, n_draws=n_draws, rng=rng
    )
    statistic = _headline_statistic(sample, spec, options)
    return randomisation_pvalue(
        statistic, d_obs, draws, mechanism=HEADLINE_MECHANISM, strata=spec.exact,
        failure=(RerunFailed, DesignError),
    )  # fmt: skip


def randomisation_record(result: RandomisationResult, *, n_persons: int) -> dict[str, Any]:
    """What ``results.json`` keeps of the headline's randomisation test."""
    return {
        "p_value": result.p_value,
        "n_draws": result.n_draws,
        "n_failed": result.n_failed,
        "observed": result.observed,
        "n_persons": int(n_persons),
        "test": "conditional randomisation",
        "null": result.null,
        "mechanism": result.mechanism,
        "strata": result.strata,
    }


def _headline_statistic(sample: pd.DataFrame, spec: EffectsSpec, options: dict[str, Any]):
    """The headline estimator as a function of the assignment vector."""
    if spec.headline_estimator == "matching":
        try:
            rerun = MatchingRerun.prepare(
                sample, outcome=spec.headline_outcome, covariates=spec.covariates, **options
            )
        except ValueError:
            rerun = None
        if rerun is not None:
            return rerun.rerun

    def statistic(d: np.ndarray) -> float:
        frame = supported(sample.assign(**{TREATMENT: d.astype(int)}), spec.covariates)
        return estimate_att(
            frame, treatment=TREATMENT, outcome=spec.headline_outcome,
            covariates=list(spec.covariates), method=spec.headline_estimator,
            level=spec.level, **options,
        ).estimate  # fmt: skip

    return statistic


#: How a standard error was obtained, by the start of :attr:`EffectResult.se_method`: the
#: key of its label in the report's text catalogue (``se_<key>``, English and Swedish).
SE_LABELS = (
    ("weighted bootstrap", "bootstrap_ps"),
    ("Abadie-Imbens (2016)", "ai2016"),
    ("Abadie-Imbens (2006)", "ai2006"),
    ("M-estimation sandwich (estimated propensity score)", "sandwich_ps"),
    ("M-estimation sandwich (both models estimated)", "sandwich_dr"),
    ("M-estimation sandwich (estimated balancing weights)", "sandwich_bal"),
    ("M-estimation sandwich", "sandwich_or"),
    ("HC3", "hc3"),
    ("Welch", "welch"),
    ("pooled", "pooled"),
)


def se_label_key(result: EffectResult) -> str:
    """The catalogue key (without ``se_``) saying how ``result.se`` was obtained.

    ``"other"`` for a method this table does not know yet (the report then says so rather
    than guessing); ``tests/estimate/test_se_labels.py`` fails when an estimator's label is
    missing here.
    """
    for prefix, key in SE_LABELS:
        if result.se_method.startswith(prefix):
            return key
    return "other"


def se_labels(results: Sequence[EffectResult], outcome: str) -> dict[str, str]:
    """Estimator -> how its standard error was obtained, for one outcome (subgroup all)."""
    return {r.estimator: se_label_key(r) for r in results
            if r.outcome == outcome and r.subgroup == "all"}  # fmt: skip


def effects_table(results: Sequence[EffectResult]) -> pd.DataFrame:
    """A narrow table of estimates for the report and CSV (rounded; no specification)."""
    cols = ["outcome", "estimator", "subgroup", "estimate", "se", "ci_low", "ci_high",
            "p_value", "n_treated", "n_control"]  # fmt: skip
    frame = compare(list(results))
    if frame.empty:
        return pd.DataFrame(columns=cols).set_index(["outcome", "estimator", "subgroup"])
    frame = frame[cols].copy()
    for c in ("estimate", "se", "ci_low", "ci_high"):
        frame[c] = frame[c].astype(float).round(4)
    frame["p_value"] = frame["p_value"].astype(float).round(4)
    return frame.set_index(["outcome", "estimator", "subgroup"])
