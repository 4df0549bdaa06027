"""The ESF common result indicators on employment, as ESF defines them, and their effects.

**The indicators.** Regulation (EU) No 1304/2013 (the ESF Regulation), Annex I, lists among
the *common immediate result indicators for participants* "participants in employment,
including self-employment, upon leaving" (CR04) and among the *common longer-term result
indicators for participants* "participants in employment, including self-employment, six
months after leaving" (CR06); all data broken down by gender. The Commission's guidance
(European Commission, DG EMPL, *Programming period 2014-2020. Monitoring and Evaluation of
European Cohesion Policy. European Social Fund. Guidance document*, 2015/2018, with its
Annex D on data collection, and the SFC2014 support portal's answers) sets the reference
period of the immediate indicators to the four weeks (28 days) after leaving, and measures
the longer-term ones six months after leaving. Both count *leavers*: a participant still in
the operation is not counted.

On the study's monthly data (``employed`` = employed or self-employed at any time in the
month, CONTRACT.md) with ``end_month`` the last month in the programme,
:data:`~evaluation.data.outcomes.LEAVING_OUTCOMES` defines

* ``employed_at_leaving``: employed in the month after ``end_month`` (the four weeks after
  leaving),
* ``employed_after_leaving_m6``: employed in month ``end_month + 6``.

"Employed six months after *start*" (``employed_m6``) is a different outcome: with mentoring
lasting months, it is often read while the person is still mentored. It stays an ordinary
outcome of the study.

**The counterfactual.** The effect on an indicator is an ATT: for mentored person ``i``
with start ``s_i`` and ``L_i`` months from start to leaving, ``Y_i(1) - Y_i(0)`` read in
the same calendar month ``s_i + L_i + a`` (``a`` = 1 or 6). A comparison person has no
leaving date. Each is given the months-to-leaving of the *nearest mentored person*: the one
closest on the design's propensity-score logit within the same exact-matching cell (start
quarter), or in the whole sample if the cell has no mentored leaver
(:func:`counterfactual_leaving`). A comparison person is thus followed as long after their
(pseudo) start as the mentored person most like them stayed in mentoring, and then ``a``
months more. For matching, whose comparison persons are those nearest to each mentored
person on the same score in the same cell, this is (up to ties with another mentored
person nearby) the matched mentored person's own leaving time; other estimators use the
same outcome column. The assumption beyond the design's own (selection on observables):
given the covariates, how long a mentored person stayed says nothing about the employment
they would have had without mentoring. The synthetic generator draws the length of
mentoring independently, so its truth (``truth.json``, ``att.employed_after_leaving_m6``)
is the estimand exactly.

A site whose participants table has no ``end_month`` (the column is optional), or where no
mentored person in the analysis has one, has no leavers: the indicators are not computed,
and the report says why.

References
----------
Regulation (EU) No 1304/2013 of the European Parliament and of the Council of 17 December
2013 on the European Social Fund, OJ L 347, 20.12.2013, p. 470, Annex I.
European Commission (2018). Monitoring and Evaluation of European Cohesion Policy, European
Social Fund, Guidance document (August 2018), section 3.1 and Annex D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.data.outcomes import leaving_outcomes, months_to_leaving
from evaluation.design.study import TREATMENT
from evaluation.estimate.att import estimate_all
from evaluation.estimate.effects import (
    EffectsSpec,
    SubgroupEffects,
    estimate_by_sex,
    supported,
    withheld_reason,
)
from evaluation.estimate.results import EffectResult

#: The immediate and the longer-term indicator (keys of ``LEAVING_OUTCOMES``).
IMMEDIATE, LONGER_TERM = "employed_at_leaving", "employed_after_leaving_m6"
#: The indicators in the order the report shows them.
INDICATORS = (IMMEDIATE, LONGER_TERM)

#: How the comparison persons' leaving time is set (for the report and ``results.json``).
COUNTERFACTUAL_RULE = (
    "a comparison person is given the months from start to leaving of the nearest mentored "
    "leaver on the design's propensity-score logit within the same exact-matching cell (the "
    "whole sample if the cell has none) and is read the same months after their (pseudo) "
    "start"
)


def counterfactual_leaving(
    treated: np.ndarray, leaving: np.ndarray, score: np.ndarray, cell: np.ndarray | None = None
) -> np.ndarray:
    """Months from start to leaving for everyone: own for the mentored, borrowed otherwise.

    A comparison person gets the months-to-leaving of the mentored person with a known
    leaving time nearest to them on ``score`` within their ``cell`` (the whole sample when
    the cell has none); equally near mentored persons are broken towards the lower score,
    then the earlier row. A mentored person keeps their own value (NaN if unknown: not a
    leaver, not counted).

    Parameters
    ----------
    treated
        1 mentored / 0 comparison, one per person.
    leaving
        Months from start to leaving (NaN where unknown; comparison persons' values are
        ignored).
    score
        The design's propensity-score logit.
    cell
        The exact-matching cell of each person (``None``: one cell).

    Returns
    -------
    numpy.ndarray
        ``float64`` months from start to leaving; NaN everywhere if no mentored person has
        a known leaving time.
    """
    treated = np.asarray(treated) == 1
    leaving = np.asarray(leaving, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    out = np.where(treated, leaving, np.nan)
    donors = np.flatnonzero(treated & np.isfinite(leaving))
    if len(donors) == 0:
        return out
    cells = np.zeros(len(score), dtype=np.int64) if cell is None else pd.factorize(
        pd.Series(cell).astype(str))[0]  # fmt: skip
    everyone = _nearest(donors, score)
    for c in np.unique(cells[~treated]):
        rows = np.flatnonzero(~treated & (cells == c))
        in_cell = donors[cells[donors] == c]
        pick = _nearest(in_cell, score) if len(in_cell) else everyone
        out[rows] = leaving[pick(score[rows])]
    return out


def _nearest(donors: np.ndarray, score: np.ndarray):
    """A function: scores -> the row of the nearest donor (ties: lower score, earlier row)."""
    order = donors[np.lexsort((donors, score[donors]))]
    s = score[order]

    def pick(x: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(s, x)
        lo = np.clip(pos - 1, 0, len(s) - 1)
        hi = np.clip(pos, 0, len(s) - 1)
        take_hi = np.abs(s[hi] - x) < np.abs(x - s[lo])
        return order[np.where(take_hi, hi, lo)]

    return pick


@dataclass(frozen=True)
class LeavingOutcomes:
    """The ESF indicator outcomes of every analysed person.

    Attributes
    ----------
    frame
        ``person_id``, ``months_to_leaving`` (own for the mentored, borrowed for comparison
        persons: :func:`counterfactual_leaving`) and one column per indicator
        (:data:`INDICATORS`).
    n_leavers
        Mentored persons with a leaving month (0: the indicators cannot be computed).
    """

    frame: pd.DataFrame
    n_leavers: int

    @property
    def available(self) -> bool:
        """Whether any mentored person left (has an ``end_month``)."""
        return self.n_leavers > 0


def build_leaving_outcomes(
    persons: pd.DataFrame,
    monthly: pd.DataFrame,
    score: pd.Series | np.ndarray,
    exact: str | None,
) -> LeavingOutcomes:
    """The ESF indicators as outcomes of the analysed persons (see the module docstring).

    Parameters
    ----------
    persons
        One row per analysed person: ``person_id``, ``treated``, ``start_month`` (the pseudo
        start for comparison persons), ``end_month`` (optional) and the ``exact`` column.
        Not modified.
    monthly
        The monthly panel (``person_id``, ``month``, ``employed``).
    score
        The design's propensity-score logit, one per row of ``persons``.
    exact
        The exact-matching column (``design.exact``) or ``None``.
    """
    own = months_to_leaving(persons)
    treated = persons[TREATMENT].to_numpy()
    leaving = counterfactual_leaving(
        treated, own, np.asarray(score, dtype=np.float64),
        None if exact is None else persons[exact].to_numpy(),
    )  # fmt: skip
    built = leaving_outcomes(persons[["person_id", "start_month"]], monthly, leaving)
    frame = built.assign(months_to_leaving=leaving)[["person_id", "months_to_leaving",
                                                     *INDICATORS]]  # fmt: skip
    return LeavingOutcomes(frame, int(np.sum((treated == 1) & np.isfinite(own))))


@dataclass(frozen=True)
class IndicatorCounts:
    """The gross ESF indicators: mentored leavers, and those of them in employment.

    Attributes
    ----------
    leavers, employed
        ``(indicator, group)`` -> the ``person_id`` of the mentored leavers whose month is
        observed, and of those employed in it; ``group`` is a key of :data:`GROUPS`.
    """

    leavers: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    employed: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


#: The groups of the gross indicators (ESF data are broken down by gender), named as the
#: subgroups of the estimates are.
GROUPS = {"sex=female": "female", "sex=male": "male", "all": None}


def indicator_counts(frame: pd.DataFrame) -> IndicatorCounts:
    """Who counts in each gross indicator, by sex: the ESF monitoring count itself.

    Parameters
    ----------
    frame
        ``person_id``, ``treated``, ``sex`` and the indicator columns
        (:func:`build_leaving_outcomes`).
    """
    mentored = frame.loc[frame[TREATMENT] == 1]
    out = IndicatorCounts()
    for name in INDICATORS:
        observed = mentored.loc[mentored[name].notna()]
        for group, sex in GROUPS.items():
            rows = observed if sex is None else observed.loc[observed["sex"] == sex]
            out.leavers[name, group] = rows["person_id"].astype(str).to_numpy()
            out.employed[name, group] = rows.loc[rows[name] == 1, "person_id"].astype(
                str).to_numpy()  # fmt: skip
    return out


def estimate_indicators(
    data: pd.DataFrame, spec: EffectsSpec, *, min_cell: int, outcomes: Sequence[str] = INDICATORS
) -> SubgroupEffects:
    """The naive difference and the headline estimator on each indicator: all, women, men.

    ``data`` is the analysis sample with the indicator columns. Women and men are estimated
    apart, each with its own design (:func:`~evaluation.estimate.effects.estimate_by_sex`);
    an estimate resting on fewer than ``min_cell`` persons in a group is withheld.
    """
    methods = list(dict.fromkeys(["naive", spec.headline_estimator]))
    results: list[EffectResult] = []
    withheld: dict[str, str] = {}
    for outcome in outcomes:
        sample = supported(data.loc[data[outcome].notna()], spec.covariates)
        n_t = int((sample[TREATMENT] == 1).sum())
        if n_t < min_cell or len(sample) - n_t < min_cell:
            withheld["all"] = f"fewer than {min_cell} persons in a group"
        else:
            for r in estimate_all(sample, TREATMENT, [outcome], list(spec.covariates), methods,
                                  options=spec.options(), level=spec.level):  # fmt: skip
                why = withheld_reason(r, min_cell)
                if why:
                    withheld[f"all:{r.estimator}"] = why
                else:
                    results.append(r)
        by_sex = estimate_by_sex(data, outcome, spec, min_cell=min_cell)
        results += by_sex.results
        withheld.update(by_sex.withheld)
    return SubgroupEffects(results=results, withheld=withheld)
