"""Time to the first job: weighted Kaplan-Meier curves and the Cox hazard ratio.

``months_to_job`` is the first month after start with employment, censored at the end of
the person's coverage (``job_found = 0``). Both estimators take person weights, so the
matched comparison group (matching weights) stands in for the mentored persons'
counterfactual.

References
----------
Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
*Journal of the American Statistical Association* 53(282), 457-481.
Cox, D. R. (1972). Regression models and life-tables. *JRSS B* 34(2), 187-220.
Breslow, N. (1974). Covariance analysis of censored survival data. *Biometrics* 30, 89-99.
Lin, D. Y. & Wei, L. J. (1989). The robust inference for the Cox proportional hazards
model. *Journal of the American Statistical Association* 84(408), 1074-1078.
Austin, P. C. & Small, D. S. (2014). The use of bootstrapping when using propensity-score
matching without replacement: a simulation study. *Statistics in Medicine* 33(24),
4306-4319.
Rubin, D. B. (1981). The Bayesian bootstrap. *Annals of Statistics* 9(1), 130-134.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.design.matching import match_nearest
from evaluation.design.study import matching_options
from evaluation.estimate.att import robust_scale


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier survival curve.

    Attributes
    ----------
    table
        One row per distinct event time: ``time``, ``at_risk`` and ``events`` (weighted),
        ``persons_at_risk`` and ``persons_events`` (unweighted counts, for disclosure
        control), ``survival``, ``se`` (Greenwood), ``ci_low``, ``ci_high`` (log-log).
    """

    table: pd.DataFrame

    def survival_at(self, times: np.ndarray) -> np.ndarray:
        """The survival curve evaluated at ``times`` (right-continuous step function)."""
        t = self.table["time"].to_numpy()
        s = np.concatenate([[1.0], self.table["survival"].to_numpy()])
        return s[np.searchsorted(t, np.asarray(times, dtype=np.float64), side="right")]


def kaplan_meier(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray | None = None, level: float = 0.95
) -> KaplanMeier:
    """Weighted Kaplan-Meier estimate of the survival function.

    At each event time ``t``: ``S(t) = prod_{s <= t} (1 - d_s / n_s)`` with weighted
    events ``d`` and weighted persons at risk ``n`` (those with ``time >= t``; a person
    censored at ``t`` is at risk at ``t``). Greenwood's variance
    ``S^2 sum d / (n (n - d))`` and a log-log interval.

    Parameters
    ----------
    time
        Event or censoring times.
    event
        1 for an event (a job found), 0 for censoring.
    weights
        Person weights (``None``: 1).
    level
        Confidence level of the interval.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=np.float64)
    w = np.ones_like(time) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(time) & np.isfinite(event) & (w > 0)
    time, event, w = time[ok], event[ok], w[ok]
    times = np.unique(time[event == 1])
    # persons with time >= t: total minus those who left before t
    order = np.sort(time)
    cum_w = np.concatenate([[0.0], np.cumsum(w[np.argsort(time, kind="stable")])])
    left = np.searchsorted(order, times, side="left")
    at_risk = w.sum() - cum_w[left]
    persons_at_risk = len(time) - left
    pos = np.searchsorted(times, time[event == 1])
    events = np.bincount(pos, weights=w[event == 1], minlength=len(times))
    persons_events = np.bincount(pos, minlength=len(times))
    surv = np.cumprod(1.0 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        green = np.cumsum(events / (at_risk * (at_risk - events)))
        se = surv * np.sqrt(green)
        q = float(stats.norm.ppf(0.5 + level / 2))
        loglog = np.sqrt(green) / np.log(surv)
        lo = surv ** np.exp(-q * loglog)
        hi = surv ** np.exp(q * loglog)
    return KaplanMeier(
        pd.DataFrame(
            {
                "time": times,
                "at_risk": at_risk,
                "events": events,
                "persons_at_risk": persons_at_risk,
                "persons_events": persons_events,
                "survival": surv,
                "se": se,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    )


def disclosure_steps(km: KaplanMeier, grid: np.ndarray, min_cell: int) -> pd.DataFrame:
    """The curve at grid times, keeping a point only where it rests on enough persons.

    A grid time is shown when at least ``min_cell`` persons had their event since the
    previous point shown and at least ``min_cell`` were still at risk without it after the
    last event time before it, so no step of a published curve reveals fewer than
    ``min_cell`` persons' event times, and the persons of the group without the event by a
    point (its complement in the group's published size) are never fewer than ``min_cell``.

    Returns
    -------
    pandas.DataFrame
        ``time`` and ``survival`` of the points shown (starting at time 0, survival 1).
    """
    t = km.table["time"].to_numpy()
    ev = np.concatenate([[0], np.cumsum(km.table["persons_events"].to_numpy())])
    # persons still at risk without the event just after each event time (those at risk
    # then, less those who had it then); before the first event time, everyone at risk
    risk = km.table["persons_at_risk"].to_numpy()
    left = risk - km.table["persons_events"].to_numpy()
    rows, last = [(0.0, 1.0)], 0
    for g in np.asarray(grid, dtype=np.float64):
        k = np.searchsorted(t, g, side="right")
        at_risk = left[k - 1] if k > 0 else (risk[0] if len(risk) else 0)
        if ev[k] - ev[last] >= min_cell and at_risk >= min_cell:
            rows.append((float(g), float(km.survival_at(np.array([g]))[0])))
            last = k
    return pd.DataFrame(rows, columns=["time", "survival"])


class StepPoint(NamedTuple):
    """A published point of a step curve: the time and the survival there."""

    time: float
    survival: float


def last_point(points: pd.DataFrame, time: float) -> StepPoint | None:
    """The last published point at or before ``time`` other than the start (``None``: none).

    What a reader of the published step curve sees at ``time``: the curve stays at its last
    point until the next.
    """
    shown = points.loc[(points["time"] >= 1) & (points["time"] <= time)]
    if shown.empty:
        return None
    last = shown.iloc[-1]
    return StepPoint(float(last["time"]), float(last["survival"]))


def step_shares(points: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The published points of several curves as one table of shares with the event.

    Parameters
    ----------
    points
        Per group, the points of :func:`disclosure_steps` (``time``, ``survival``).

    Returns
    -------
    pandas.DataFrame
        Index ``month`` (the times of any group's points, as whole months), one column per
        group: ``1 - survival`` where the group's curve has a point, missing elsewhere.
    """
    cols = {g: pd.Series(1.0 - p["survival"].to_numpy(),
                         index=p["time"].to_numpy().astype(np.int64))
            for g, p in points.items()}  # fmt: skip
    out = pd.DataFrame(cols)
    out.index.name = "month"
    return out.sort_index()


@dataclass(frozen=True)
class CoxFit:
    """A Cox proportional-hazards fit (Breslow ties).

    Attributes
    ----------
    params, se
        Log hazard ratios and their standard errors (robust sandwich when weighted or
        clustered, model-based otherwise).
    se_method
        ``"model"`` or ``"robust"``.
    n, events
        Persons and events used.
    """

    params: np.ndarray
    se: np.ndarray
    se_method: str
    n: int
    events: int

    def hazard_ratio(self, level: float = 0.95) -> pd.DataFrame:
        """Hazard ratios with Wald intervals (on the log scale) and p-values."""
        q = float(stats.norm.ppf(0.5 + level / 2))
        return pd.DataFrame(
            {
                "hazard_ratio": np.exp(self.params),
                "ci_low": np.exp(self.params - q * self.se),
                "ci_high": np.exp(self.params + q * self.se),
                "p_value": 2 * stats.norm.sf(np.abs(self.params / self.se)),
            }
        )


def _breslow(beta, x, time, event, w, order, first):
    """Weighted Breslow log partial likelihood pieces: score residuals and information."""
    eta = x @ beta
    r = w * np.exp(eta - eta.max())
    # risk sets: persons sorted by descending time; cumulative sums over the sorted rows,
    # read at the last row of each tied time (first[k] = end of the tie block)
    xs, rs = x[order], r[order]
    s0 = np.cumsum(rs)[first]
    s1 = np.cumsum(rs[:, None] * xs, axis=0)[first]
    s2 = np.cumsum(rs[:, None, None] * xs[:, :, None] * xs[:, None, :], axis=0)[first]
    return s0, s1, s2, r


def cox_ph(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    robust: bool | None = None,
    tol: float = 1e-10,
    max_iter: int = 50,
) -> CoxFit:
    """Fit a weighted Cox model by Newton-Raphson on the Breslow partial likelihood.

    Parameters
    ----------
    time, event
        Times and event indicators (1 event, 0 censored).
    x
        Covariates, shape ``(n, p)`` (no constant), e.g. the mentoring indicator.
    weights
        Person weights (``None``: 1). With weights the robust (Lin & Wei 1989) sandwich
        is used, since the model-based information treats weights as frequencies.
    robust
        Force (``True``) or switch off (``False``) the sandwich; default: only if weighted.
    tol, max_iter
        Newton-Raphson settings.

    Returns
    -------
    CoxFit
        Unweighted and model-based, the estimate and SE equal ``statsmodels`` ``PHReg``
        with ``ties="breslow"``.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).reshape(len(time), -1)
    w = np.ones_like(time) if weights is None else np.asarray(weights, dtype=np.float64)
    robust = weights is not None if robust is None else robust
    ok = np.isfinite(time) & np.isfinite(event) & np.isfinite(x).all(axis=1) & (w > 0)
    time, event, x, w = time[ok], event[ok], x[ok], w[ok]
    order = np.argsort(-time, kind="stable")
    ts = time[order]
    # index (in sorted order) of the last person whose time >= each person's time
    first_of = np.searchsorted(-ts, -ts, side="right") - 1
    pos = np.empty(len(time), dtype=np.int64)
    pos[order] = first_of[np.arange(len(time))]
    ev = event == 1
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        s0, s1, s2, r = _breslow(beta, x, time, event, w, order, pos[ev])
        xbar = s1 / s0[:, None]
        score = (w[ev][:, None] * (x[ev] - xbar)).sum(axis=0)
        info = (
            w[ev][:, None, None] * (s2 / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])
        ).sum(axis=0)
        step = np.linalg.solve(info, score)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise RuntimeError("the Cox model did not converge")
    s0, s1, s2, r = _breslow(beta, x, time, event, w, order, pos[ev])
    xbar = s1 / s0[:, None]
    info = (
        w[ev][:, None, None] * (s2 / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])
    ).sum(axis=0)
    inv = np.linalg.inv(info)
    if not robust:
        return CoxFit(beta, np.sqrt(np.diag(inv)), "model", int(len(time)), int(ev.sum()))
    # score residuals (Lin & Wei 1989): own event term minus the exposure to the events of
    # others while at risk, accumulated over event times (no person x event matrix)
    et = time[ev]
    up = np.argsort(et, kind="stable")
    a_cum = np.cumsum((w[ev] / s0)[up])
    b_cum = np.cumsum(((w[ev] / s0)[:, None] * xbar)[up], axis=0)
    k = np.searchsorted(et[up], time, side="right") - 1
    a = np.where(k >= 0, a_cum[np.maximum(k, 0)], 0.0)
    b = np.where((k >= 0)[:, None], b_cum[np.maximum(k, 0)], 0.0)
    u = -(r / w)[:, None] * (x * a[:, None] - b)
    u[ev] += x[ev] - xbar
    u = u * w[:, None]
    cov = inv @ (u.T @ u) @ inv
    return CoxFit(beta, np.sqrt(np.diag(cov)), "robust", int(len(time)), int(ev.sum()))


@dataclass(frozen=True)
class MatchedSetBootstrap:
    """Bootstrap draws of a Cox log hazard ratio on a matched sample, by matched set.

    Attributes
    ----------
    params
        Log hazard ratio (first covariate) of each draw; NaN where the fit failed.
    se
        IQR / 1.349 of the finite draws (:func:`~evaluation.estimate.att.robust_scale`).
    n_failed
        Draws whose Cox fit did not converge.
    method
        How the draws were made (for ``se_method``).
    """

    params: np.ndarray
    se: float
    n_failed: int
    method: str

    def interval(self, estimate: float, level: float = 0.95) -> dict[str, float]:
        """Hazard-ratio interval and p-value of a log hazard ratio with the bootstrap SE.

        A Wald interval on the log scale, ``exp(estimate ± z * se)``, and the two-sided
        normal p-value of ``estimate / se``.
        """
        z = float(stats.norm.ppf(0.5 + level / 2))
        return {"ci_low": float(np.exp(estimate - z * self.se)),
                "ci_high": float(np.exp(estimate + z * self.se)),
                "p_value": float(2 * stats.norm.sf(abs(estimate) / self.se))}  # fmt: skip


def matched_set_pairs(
    persons: pd.DataFrame, *, matching: Mapping[str, Any], exact: str | None
) -> pd.DataFrame:
    """The design stage's matched sets, matched again from its hand-over.

    Matching is deterministic: the same trimmed persons, score and options give the same
    sets. The matching weights this gives are checked against the hand-over's
    ``match_weight``, so the sets are those of the design stage.

    Parameters
    ----------
    persons
        The trimmed persons (one row each, in the design stage's order by ``person_id``):
        ``person_id``, ``treated``, ``logit`` (the propensity logit), ``match_weight`` and
        the ``exact`` column.
    matching, exact
        The parameter file's ``estimation.matching`` and ``design.exact``.

    Returns
    -------
    pandas.DataFrame
        One row per (mentored, comparison) link: ``treated`` and ``control`` (ids) and the
        pair ``weight`` (input of :func:`pair_rows`).

    Raises
    ------
    ValueError
        If matching again does not give back the hand-over's matching weights.
    """
    rows = persons.reset_index(drop=True)
    m = match_nearest(rows, "treated", distance=rows["logit"],
                      **matching_options(matching, exact))  # fmt: skip
    if not np.allclose(m.weights.to_numpy(), rows["match_weight"].to_numpy()):
        raise ValueError("matching again on the trimmed persons does not reproduce the design "
                         "stage's weights")  # fmt: skip
    t, c, w = m.pair_positions
    ids = rows["person_id"].to_numpy()
    return pd.DataFrame({"treated": ids[t], "control": ids[c], "weight": w})


def pair_rows(pairs: pd.DataFrame, person_id: pd.Series
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Row positions of the pairs among ``person_id``.

    Pairs with a person missing are left out; the result is the ``pairs`` argument of
    :func:`cox_matched_set_bootstrap`.
    """
    pos = pd.Index(person_id.to_numpy())
    keep = pairs["treated"].isin(pos) & pairs["control"].isin(pos)
    sp = pairs.loc[keep]
    return pos.get_indexer(sp["treated"]), pos.get_indexer(sp["control"]), sp["weight"].to_numpy()


def cox_matched_set_bootstrap(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
    *,
    draws: int = 999,
) -> MatchedSetBootstrap:
    """Weighted bootstrap of the matched-sample Cox model that resamples matched sets.

    A matched set is a mentored person and their matches. Draw ``b`` gives set ``i`` the
    weight ``W_bi ~ Exp(1)`` (Bayesian bootstrap, Rubin 1981); the mentored person's weight is
    ``W_bi`` and a comparison person's weight is recomputed as ``sum_i W_bi w_ij`` over the
    sets they belong to (``w_ij`` the pair weight, so ``W = 1`` gives back the matching
    weights). The Cox model is refitted with these weights.

    Why sets and not persons: with matching with replacement a comparison person serves
    several mentored persons, so the matched sets overlap and persons are not independent
    units of the matched sample; resampling sets carries a shared comparison person's
    weight with every set that uses them, which is the dependence the robust (Lin-Wei)
    sandwich of :func:`cox_ph` ignores when it treats the matching weights as fixed. Why not
    re-match in each draw: a bootstrap of the matching itself is not valid (Abadie and
    Imbens 2008); Austin and Small (2014) found that resampling matched sets, the match
    held fixed, gives standard errors close to the true sampling variability for hazard
    ratios after propensity-score matching. Exponential weights keep every set in every draw,
    so no draw loses all persons with an event.

    Parameters
    ----------
    time, event, x
        As for :func:`cox_ph`, one row per person of the matched sample.
    pairs
        ``(treated, control, weight)`` row positions and pair weights
        (:attr:`~evaluation.design.matching.Matching.pair_positions` in this row order).
    rng
        Random generator (``evaluation.rng.stream(seed, ...)``).
    draws
        Number of draws.
    """
    time = np.asarray(time, dtype=np.float64)
    tp, cp, w = (np.asarray(a) for a in pairs)
    sets, set_of_pair = np.unique(tp, return_inverse=True)
    n = len(time)
    out = np.full(draws, np.nan)
    for b in range(draws):
        ws = rng.standard_exponential(len(sets))
        weight = np.zeros(n)
        weight[sets] = ws
        weight += np.bincount(cp, weights=ws[set_of_pair] * w, minlength=n)
        try:
            out[b] = cox_ph(time, event, x, weight, robust=False).params[0]
        except (RuntimeError, np.linalg.LinAlgError):
            continue
    ok = np.isfinite(out)
    return MatchedSetBootstrap(
        params=out, se=robust_scale(out[ok]), n_failed=int((~ok).sum()),
        method=f"bootstrap of matched sets ({draws} draws, exponential weights per set, "
        "comparison persons' weights recomputed from their sets; SE = IQR / 1.349)",
    )  # fmt: skip
