"""Among the mentored: how outcomes go with the dose of mentoring and with the mentor.

Mentoring dose (number of meetings, minutes) and mentor traits (same occupational field,
migrant background) were not assigned at random: persons who meet their mentor more often may
differ in ways that also drive employment. Everything here is an **association**, estimated
in the regression estimator with treatment interactions
(:func:`~evaluation.bottomup.moderation.modified_att`): the comparison group supplies the
untreated outcome given the covariates, and the interaction terms describe how the mentored's
outcome, beyond that, goes with the dose or trait. Standard errors are clustered by mentor
(mentees of one mentor share the mentor's traits) with the small-cluster CR2 variance and
Bell-McCaffrey t critical values (:func:`~evaluation.bottomup.moderation.cluster_robust_cr2`;
each comparison person is a cluster of their own); the analyses need
:data:`MIN_MENTORS` mentors.

* :func:`dose_curve`: the ATT within bins of the dose (a binned dose-response curve,
  Hirano and Imbens 2004 in spirit, without a generalised propensity score).
* :func:`dose_slopes`: a linear spline with one knot: the slope per meeting below and above
  the knot; "rising then plateau" means a positive slope below and a smaller one above.
* :func:`associations`: one interaction per feature, with a multiplicity correction.

References
----------
Hirano, K. and Imbens, G. W. (2004). The propensity score with continuous treatments. In
Gelman, A. and Meng, X.-L. (eds.), *Applied Bayesian Modeling and Causal Inference from
Incomplete-Data Perspectives*, 73-84. Wiley.
Harrell, F. E. (2015). *Regression Modeling Strategies*, 2nd ed., Section 2.4.3 (linear
splines). Springer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.bottomup.moderation import MIN_MENTORS, TREATMENT, adjust_pvalues, modified_att
from evaluation.design.propensity import design_matrix

__all__ = ["MIN_MENTORS", "associations", "attach", "dose_curve", "dose_slopes", "mentoring_dose"]


def mentoring_dose(sessions: pd.DataFrame, mentors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each mentored person's dose of mentoring, and their mentor's traits.

    Parameters
    ----------
    sessions
        The contract's ``sessions`` table (``person_id``, ``mentor_id``, ``date``,
        ``minutes``); not modified.
    mentors
        The ``mentors`` table, or ``None``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id``: ``meetings``, ``minutes_total``, ``minutes_per_meeting``,
        ``mentor_id`` (the mentor of most meetings; ties: the first in text order) and, with
        ``mentors``, ``same_field`` (0/1) and ``migrant_mentor`` (0/1).
    """
    s = sessions.assign(person_id=sessions["person_id"].astype(str),
                        mentor_id=sessions["mentor_id"].astype(str))  # fmt: skip
    g = s.groupby("person_id", sort=True)
    out = pd.DataFrame({"meetings": g.size(), "minutes_total": g["minutes"].sum()})
    out["minutes_per_meeting"] = out["minutes_total"] / out["meetings"]
    main = (s.groupby(["person_id", "mentor_id"]).size().rename("n").reset_index()
            .sort_values(["person_id", "n", "mentor_id"], ascending=[True, False, True])
            .drop_duplicates("person_id").set_index("person_id")["mentor_id"])  # fmt: skip
    out["mentor_id"] = main.reindex(out.index)
    if mentors is not None:
        m = mentors.assign(mentor_id=mentors["mentor_id"].astype(str)).set_index("mentor_id")
        out["same_field"] = m["same_field"].reindex(out["mentor_id"]).to_numpy(dtype=float)
        out["migrant_mentor"] = (
            m["background"].reindex(out["mentor_id"]).eq("migrant").to_numpy(dtype=float)
        )
    return out


def attach(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """Join person-level columns (indexed by ``person_id``) onto ``frame``; ``extra`` wins.

    Columns of ``frame`` that ``extra`` also has (e.g. ``mentor_id`` from participants) are
    replaced. Persons missing from ``extra`` get missing values. Neither input is modified.
    """
    base = frame.drop(columns=[c for c in extra.columns if c in frame.columns])
    ids = base["person_id"].astype(str)
    joined = extra.reindex(ids.to_numpy())
    joined.index = base.index
    return pd.concat([base, joined], axis=1)


def _prepare(frame: pd.DataFrame, outcome: str, covariates: Sequence[str], needed: Sequence[str]):
    treated = frame[TREATMENT] == 1
    ok = frame[outcome].notna() & (~treated | frame[list(needed)].notna().all(axis=1))
    data = frame.loc[ok]
    d = (data[TREATMENT] == 1).to_numpy()
    x = design_matrix(data, list(covariates)).frame.to_numpy()
    y = data[outcome].to_numpy(dtype=float)
    return data, d, x, y


def _clusters(data: pd.DataFrame, d: np.ndarray, cluster: str | None) -> np.ndarray | None:
    if cluster is None:
        return None
    own = "person:" + data["person_id"].astype(str)
    return np.where(d, "cluster:" + data[cluster].astype(str), own)


@dataclass(frozen=True)
class DoseCurve:
    """The ATT within bins of the dose.

    Attributes
    ----------
    bins
        One row per bin (index: label): ``n_treated``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``p_value``, ``withheld`` (fewer than ``min_cell`` mentored).
    dose, outcome, se_method, level
        What was analysed and how.
    """

    bins: pd.DataFrame
    dose: str
    outcome: str
    se_method: str
    level: float


def dose_curve(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    dose: str,
    edges: Sequence[float],
    *,
    min_cell: int,
    cluster: str | None = None,
    level: float = 0.95,
) -> DoseCurve:
    """ATT in each bin ``(edges[j], edges[j+1]]`` of the dose (interaction with bin dummies).

    Parameters
    ----------
    frame
        Mentored and comparison persons with ``treated``, the outcome, the covariates and the
        dose (mentored only); not modified.
    outcome, covariates, dose
        Column names.
    edges
        Increasing bin edges; doses outside them are left out.
    min_cell
        A bin with fewer mentored persons is withheld (not estimated).
    cluster
        Column of cluster labels of the mentored (e.g. ``mentor_id``) or ``None`` (HC3).
    level
        Confidence level.

    Returns
    -------
    DoseCurve
    """
    data, d, x, y = _prepare(frame, outcome, covariates, [dose])
    edges = [float(e) for e in edges]
    labels = [f"{int(np.floor(a)) + 1}-{int(b)}" if float(a).is_integer() and b.is_integer()
              else f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip
    binned = pd.cut(data[dose], bins=edges, labels=labels, right=True)
    inside = (~d) | binned.notna().to_numpy()
    data, d, x, y, binned = data[inside], d[inside], x[inside], y[inside], binned[inside]
    counts = binned[d].value_counts().reindex(labels, fill_value=0)
    used = [lab for lab in labels if counts[lab] >= min_cell]
    if not used:  # no bin has min_cell mentored: every bin withheld, nothing to fit
        bins = pd.DataFrame(np.nan, index=pd.Index(labels, name="term"),
                            columns=["estimate", "se", "ci_low", "ci_high", "p_value"])  # fmt: skip
        se_method = ""
    else:
        keep = (~d) | binned.isin(used).to_numpy()
        dummies = np.column_stack([(binned[keep] == lab).to_numpy(float) for lab in used])
        fit = modified_att(y[keep], d[keep], x[keep], dummies, names=used,
                           cluster=_clusters(data[keep], d[keep], cluster), level=level)  # fmt: skip
        bins, se_method = fit.terms.reindex(labels), fit.se_method
    bins.insert(0, "n_treated", counts.astype(int))
    bins["withheld"] = counts < min_cell
    return DoseCurve(bins=bins, dose=dose, outcome=outcome, se_method=se_method, level=level)


@dataclass(frozen=True)
class DoseSlopes:
    """A linear spline in the dose with one knot.

    Attributes
    ----------
    below, above
        Slope per unit of dose below and above the knot: ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``p_value``.
    knot
        The knot.
    n_below, n_above
        Mentored persons at or below, and above, the knot.
    dose, outcome, se_method, level
        What was analysed and how.
    """

    below: pd.Series
    above: pd.Series
    knot: float
    n_below: int
    n_above: int
    dose: str
    outcome: str
    se_method: str
    level: float

    @property
    def rising_then_flat(self) -> bool:
        """Slope below the knot positive and larger than the slope above."""
        return bool(self.below["estimate"] > 0 and self.below["estimate"] > self.above["estimate"])


def dose_slopes(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    dose: str,
    knot: float,
    *,
    cluster: str | None = None,
    level: float = 0.95,
) -> DoseSlopes:
    """Slopes of the ATT in the dose below and above ``knot`` (linear spline interaction).

    Parameters
    ----------
    frame
        As in :func:`dose_curve`; not modified.
    outcome, covariates, dose
        Column names.
    knot
        Where the slope may change.
    cluster
        Cluster column of the mentored, or ``None``.
    level
        Confidence level.

    Returns
    -------
    DoseSlopes
    """
    data, d, x, y = _prepare(frame, outcome, covariates, [dose])
    v = data[dose].to_numpy(dtype=float)
    low = np.minimum(v, knot)
    high = np.maximum(v - knot, 0.0)
    m = np.column_stack([np.ones(len(v)), low - low[d].mean(), high - high[d].mean()])
    fit = modified_att(y, d, x, m, names=["att", "below", "above"],
                       cluster=_clusters(data, d, cluster), level=level)  # fmt: skip
    return DoseSlopes(
        below=fit.terms.loc["below"], above=fit.terms.loc["above"], knot=float(knot),
        n_below=int((v[d] <= knot).sum()), n_above=int((v[d] > knot).sum()), dose=dose,
        outcome=outcome, se_method=fit.se_method, level=level,
    )  # fmt: skip


def associations(
    frame: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str],
    features: Mapping[str, float],
    *,
    cluster: str | None = None,
    correction: str = "holm",
    level: float = 0.95,
) -> pd.DataFrame:
    """How the mentored's outcome, beyond the comparison-based prediction, goes with features.

    Each feature gets its own regression with the interaction ``d * (feature - mean) /
    unit``; its coefficient is the difference in the ATT per ``unit`` of the feature (for a 0/1
    feature with unit 1: with minus without). P-values are corrected across the features.

    Parameters
    ----------
    frame
        As in :func:`dose_curve`, with one column per feature; not modified.
    outcome, covariates
        Column names.
    features
        Feature column → unit (e.g. ``{"meetings": 5, "same_field": 1}``).
    cluster
        Cluster column of the mentored, or ``None``.
    correction
        ``"holm"``, ``"bonferroni"``, ``"fdr_bh"`` or ``"none"``.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Index: feature; ``unit``, ``n_treated``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``p_value``, ``p_adjusted``.
    """
    rows = {}
    for feature, unit in features.items():
        data, d, x, y = _prepare(frame, outcome, covariates, [feature])
        v = data[feature].to_numpy(dtype=float)
        centred = (v - v[d].mean()) / float(unit)
        m = np.column_stack([np.ones(len(v)), centred])
        fit = modified_att(y, d, x, m, names=["att", feature],
                           cluster=_clusters(data, d, cluster), level=level)  # fmt: skip
        row = fit.terms.loc[feature].to_dict()
        rows[feature] = {"unit": float(unit), "n_treated": fit.n_treated, **row}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "feature"
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), correction)
    return out
