"""The synthetic default study: a seeded generator that knows every potential outcome.

:func:`generate` draws a BottomUp-Integration-like study (newly arrived migrants in a
Swedish region, rolling mentoring starts 2017-09..2019-06, a register-style monthly
panel from 24 months before to 36 months after each start) and returns the five contract
tables, the panel of both potential outcomes and the truth. :func:`write` saves the tables
and ``truth.json``. The data-generating process, with every formula and parameter value,
is described in ``data/README.md``; the constants below are the single source of the
numbers.

Design points:

* **Selection on observables only.** The mentored are drawn from different covariate
  distributions than the comparison pool (more post-secondary education and Swedish,
  more recent arrival, more women), but untreated employment depends on the covariates,
  time in Sweden, calendar time and person-level noise that is independent of group.
  Matching on the observables is therefore consistent; the naive difference is not.
* **Common random numbers.** Both potential outcomes of a person-month compare the same
  uniform draw ``U`` with ``p0`` and ``p1 = clip(p0 + tau)``, so ``Y1 >= Y0`` wherever the
  effect is positive and ``Y1 = Y0`` before start. ``U`` is a Gaussian copula of an AR(1)
  process, which makes employment come in spells.
* **Reproducible and scalable.** One :class:`numpy.random.SeedSequence` per component
  (mentored persons, comparison persons, identifiers, mentors, sessions, survey), so the
  mentored sample and the truth do not change with ``n_comparison``. Loops run over
  calendar months or items, never over persons; panels are ``int8``/``int32`` arrays
  with categorical keys.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evaluation.data.outcomes import (
    COMPARISON,
    DEFAULT_HORIZONS,
    DEFAULT_PRE_MONTHS,
    MENTORED,
    build_outcomes,
    month_index,
    month_label,
)

#: Version of the data-generating process; bump when any draw or parameter changes.
GENERATOR_VERSION = "1.1.0"

#: The five contract tables written by :func:`write`, in order.
TABLES = ("participants", "monthly", "survey", "sessions", "mentors")

ORIGINS = (
    "Syria",
    "Afghanistan",
    "Eritrea",
    "Somalia",
    "Iraq",
    "Other Africa",
    "Other Asia",
    "Europe outside EU",
)
EDUCATION = ("primary_or_less", "secondary", "post_secondary", "unknown")
SWEDISH = ("none", "sfi_started", "sfi_completed", "fluent")
FACTORS = ("goal", "barrier", "network", "efficacy")

#: Covariate distributions by group: the selection on observables.
COVARIATES: dict[str, dict[str, Any]] = {
    "female": {MENTORED: 0.56, COMPARISON: 0.44},
    "age_beta": {MENTORED: (2.0, 3.6), COMPARISON: (2.0, 3.0)},  # age = 20 + 40 * Beta
    "origin": {
        MENTORED: (0.30, 0.16, 0.12, 0.08, 0.10, 0.08, 0.10, 0.06),
        COMPARISON: (0.30, 0.15, 0.12, 0.11, 0.10, 0.09, 0.08, 0.05),
    },
    "education": {MENTORED: (0.16, 0.30, 0.46, 0.08), COMPARISON: (0.42, 0.30, 0.18, 0.10)},
    "swedish_level": {
        MENTORED: (0.02, 0.20, 0.48, 0.30),
        COMPARISON: (0.26, 0.42, 0.24, 0.08),
    },
    # years between arrival and start year: 0, 1, 2, 3, 4, 5+ (clipped to 2013..2018)
    "years_since_arrival": {
        MENTORED: (0.12, 0.28, 0.28, 0.16, 0.10, 0.06),
        COMPARISON: (0.08, 0.20, 0.25, 0.20, 0.15, 0.12),
    },
}

#: Untreated monthly employment: logit p0 = sum of these terms (see data/README.md).
EMPLOYMENT: dict[str, Any] = {
    "intercept": -1.70,
    "education": (-0.50, 0.0, 0.50, -0.30),
    "swedish_level": (-1.00, -0.40, 0.25, 0.90),
    "female": -0.70,
    "age_centre": 32.0,
    "age_slope": -0.03,  # per year of |age - centre|
    "origin": (0.0, 0.05, 0.15, -0.30, -0.10, 0.0, 0.15, 0.35),
    "years_in_sweden_slope": 0.40,  # per year since arrival, capped
    "years_in_sweden_cap": 6.0,
    "registration_dip": {-3: -0.3, -2: -0.5, -1: -0.7, 0: -0.8},  # by month since start
    "calendar": {("2020-03", "2020-12"): -0.40, ("2021-01", "2021-06"): -0.15},
    "person_sd": 1.1,
    "copula_rho": 0.92,
}

#: Monthly earnings when employed: lognormal around a person-specific median (SEK).
EARNINGS: dict[str, Any] = {
    "median": 18_500.0,
    "education": (-0.08, 0.0, 0.15, -0.03),
    "swedish_level": (-0.08, -0.04, 0.0, 0.08),
    "female": -0.08,
    "years_in_sweden_slope": 0.03,
    "person_sd": 0.22,
    "month_sd": 0.28,
}

#: Mentoring: meetings, their length and timing, mentors.
MENTORING: dict[str, Any] = {
    "meetings": (5, 25),  # uniform integers, inclusive
    "duration_months": (6, 12),  # uniform integers, capped at the project end
    "minutes_median": 60.0,
    "minutes_sd": 0.35,
    "minutes_range": (15, 180),
    "mentees_per_mentor": 3,  # n_mentors = ceil(n_mentored / 3); each mentor 1..5 mentees
    "max_mentees": 5,
    "mentor_migrant_share": 0.40,
    "mentor_same_field_share": 0.35,
}

#: Latent survey factors (goal, barrier, network, efficacy): correlation at baseline.
FACTOR_CORRELATION = np.array(
    [
        [1.00, -0.20, 0.30, 0.40],
        [-0.20, 1.00, -0.30, -0.35],
        [0.30, -0.30, 1.00, 0.35],
        [0.40, -0.35, 0.35, 1.00],
    ]
)

#: Survey items (the instrument ``data/instruments/survey_v1.csv``): name -> (factor,
#: reverse-coded, loading, threshold shift, item non-response probability). A larger shift
#: makes agreement rarer; the barrier shifts order how often each barrier is reported.
SURVEY_ITEMS: dict[str, tuple[str, bool, float, float, float]] = {
    "goal_1": ("goal", False, 0.80, -0.4, 0.05),  # a clear goal for work in Sweden
    "goal_2": ("goal", False, 0.75, -0.2, 0.05),  # work in the occupation trained for
    "goal_3": ("goal", False, 0.65, 0.0, 0.05),  # knows the steps to the goal
    "barrier_1": ("barrier", False, 0.70, -0.7, 0.05),  # Swedish language
    "barrier_2": ("barrier", True, 0.65, -0.4, 0.05),  # credentials recognised (reversed)
    "barrier_3": ("barrier", False, 0.60, 0.3, 0.10),  # discrimination
    "barrier_4": ("barrier", True, 0.55, 0.7, 0.05),  # care/health allow work (reversed)
    "barrier_5": ("barrier", False, 0.70, -0.1, 0.05),  # no contacts at workplaces
    "network_1": ("network", False, 0.80, 0.2, 0.05),
    "network_2": ("network", False, 0.75, 0.3, 0.05),
    "network_3": ("network", True, 0.65, 0.0, 0.05),
    "efficacy_1": ("efficacy", False, 0.80, -0.2, 0.05),
    "efficacy_2": ("efficacy", False, 0.75, 0.0, 0.05),
    "efficacy_3": ("efficacy", False, 0.70, 0.1, 0.05),
    "mentor_1": ("mentor", False, 0.80, -0.6, 0.04),  # trust (follow-up only)
    "mentor_2": ("mentor", False, 0.70, -0.2, 0.04),  # met as often as needed
    "mentor_3": ("mentor", False, 0.80, -0.1, 0.04),  # usefulness
    "mentor_4": ("mentor", True, 0.60, 0.1, 0.04),  # meetings off the point (reversed)
}

#: Survey factors asked at follow-up only (no baseline answers).
FOLLOW_UP_ONLY = ("mentor",)

#: Survey process: Likert cut points, change to follow-up, attrition, the mentor relationship.
SURVEY: dict[str, Any] = {
    "cuts": (-1.5, -0.5, 0.4, 1.3),
    "follow_up_change": {"goal": 0.0, "barrier": -0.20, "network": 0.30, "efficacy": 0.20},
    "follow_up_noise_sd": 0.5,
    "attrition_intercept": -1.5,  # P(no follow-up) = expit(-1.5 - 0.5 * efficacy)
    "attrition_efficacy": -0.5,
    # latent mentor relationship M = 0.45 z(meetings) + 0.50 (same_field - 0.35)
    #                               + 0.20 network + 0.80 e  (no effect on outcomes)
    "mentor_meetings": 0.45,
    "mentor_same_field": 0.50,
    "mentor_network": 0.20,
    "mentor_noise_sd": 0.80,
}


@dataclass(frozen=True)
class EffectSpec:
    """The true effect of mentoring on the monthly employment probability.

    For a mentored person ``i`` in month ``r`` after start the probability of employment
    rises from ``p0`` to ``p1 = clip(p0 + tau_ir, 0, 1)`` with

    * ``tau = 0`` for ``r <= 0`` (no anticipation),
    * ``tau = lock_in`` for ``1 <= r < onset`` (lock-in while mentoring starts),
    * ``tau = a_sex * dose(n_i) * max(0, 1 + network_slope * f_i)`` for ``r >= onset``,

    where ``a_sex = size +/- sex_difference / 2`` (women +, men -), ``n_i`` is the number
    of mentoring meetings, ``dose(n) = (1 - exp(-n / dose_scale)) / c`` with ``c`` its
    mean over the meeting distribution (a saturating curve with mean 1), and ``f_i`` the
    standardised latent network factor at baseline.

    Parameters
    ----------
    size
        Mean of the women's and the men's effect, in probability units (0.10 = 10 pp).
    sex_difference
        Women's minus men's effect (0.06: women +13 pp, men +7 pp).
    onset
        First month after start with the full effect.
    lock_in
        Effect in months ``1 .. onset - 1`` (negative: a lock-in dip).
    dose_scale
        Meetings at which the dose curve reaches 63 % of its plateau.
    network_slope
        Relative change of the effect per standard deviation of the network factor.
    null
        If true every effect is zero (same selection, same draws): the null study.
    """

    size: float = 0.10
    sex_difference: float = 0.06
    onset: int = 4
    lock_in: float = -0.03
    dose_scale: float = 6.0
    network_slope: float = 0.30
    null: bool = False

    def __post_init__(self) -> None:
        if self.onset < 1:
            raise ValueError("EffectSpec.onset must be at least 1")
        if self.dose_scale <= 0:
            raise ValueError("EffectSpec.dose_scale must be positive")

    @property
    def effect_women(self) -> float:
        """Population effect for women from ``onset`` on (probability units)."""
        return 0.0 if self.null else self.size + self.sex_difference / 2

    @property
    def effect_men(self) -> float:
        """Population effect for men from ``onset`` on (probability units)."""
        return 0.0 if self.null else self.size - self.sex_difference / 2

    def dose(self, meetings: np.ndarray) -> np.ndarray:
        """Effect multiplier by number of meetings (mean 1 over the meeting distribution).

        Parameters
        ----------
        meetings
            Number of meetings per person.

        Returns
        -------
        numpy.ndarray
            ``(1 - exp(-n / dose_scale)) / c``.
        """
        lo, hi = MENTORING["meetings"]
        support = np.arange(lo, hi + 1)
        norm = float(np.mean(1.0 - np.exp(-support / self.dose_scale)))
        return (1.0 - np.exp(-np.asarray(meetings, dtype=np.float64) / self.dose_scale)) / norm

    def amplitude(
        self, female: np.ndarray, meetings: np.ndarray, network: np.ndarray
    ) -> np.ndarray:
        """Each person's effect from ``onset`` on (probability units).

        Parameters
        ----------
        female
            Boolean per person.
        meetings
            Number of mentoring meetings per person.
        network
            Standardised latent network factor at baseline.

        Returns
        -------
        numpy.ndarray
            ``a_sex * dose(meetings) * max(0, 1 + network_slope * network)``.
        """
        a_sex = np.where(female, self.effect_women, self.effect_men)
        modifier = np.maximum(0.0, 1.0 + self.network_slope * np.asarray(network))
        return a_sex * self.dose(meetings) * modifier

    def path(self, rel_month: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
        """The effect ``tau`` for persons x months since start.

        Parameters
        ----------
        rel_month
            Months since start (1-D).
        amplitude
            Per-person amplitude from :meth:`amplitude` (1-D).

        Returns
        -------
        numpy.ndarray
            Shape ``(len(amplitude), len(rel_month))``.
        """
        rel = np.asarray(rel_month)
        if self.null:
            return np.zeros((len(amplitude), len(rel)))
        lock = np.where((rel >= 1) & (rel < self.onset), self.lock_in, 0.0)
        on = (rel >= self.onset).astype(np.float64)
        return lock[None, :] + np.asarray(amplitude)[:, None] * on[None, :]


@dataclass(frozen=True)
class SiteSpec:
    """Where and when the synthetic study takes place.

    Parameters
    ----------
    region
        Region name (documentation only).
    municipalities
        ``(name, share)`` pairs; the same shares for both groups.
    first_start, last_start
        Range of start (and eligibility) months, ``'YYYY-MM'``; starts are uniform over it.
    project_end
        Last month of mentoring (end months are capped here).
    months_before, months_after
        Panel coverage around each person's start month.
    missing_start_share
        Share of comparison persons whose ``start_month`` is left empty.
    """

    region: str = "Västra Götaland"
    municipalities: tuple[tuple[str, float], ...] = (
        ("Göteborg", 0.46),
        ("Borås", 0.14),
        ("Trollhättan", 0.11),
        ("Uddevalla", 0.09),
        ("Skövde", 0.08),
        ("Lidköping", 0.06),
        ("Alingsås", 0.06),
    )
    first_start: str = "2017-09"
    last_start: str = "2019-06"
    project_end: str = "2019-12"
    months_before: int = 24
    months_after: int = 36
    missing_start_share: float = 0.07

    @property
    def rel_months(self) -> np.ndarray:
        """Months relative to start covered by the panel (``-24 .. 36``)."""
        return np.arange(-self.months_before, self.months_after + 1, dtype=np.int16)


@dataclass(frozen=True)
class LabourMarket:
    """A partner site's labour market relative to the default study's (pooled studies).

    Only given for the synthetic partner sites of a pooling demonstration; without it
    (``generate(..., market=None)``, the default) the default study is drawn unchanged.

    Parameters
    ----------
    employment_shift
        Added to the logit of every person's untreated monthly employment probability
        (negative: a weaker labour market, fewer in work without mentoring).
    earnings_scale
        Monthly earnings are multiplied by this: amounts in the site's currency per SEK.
    currency
        ISO code of the site's earnings (recorded in the truth file).
    """

    employment_shift: float = 0.0
    earnings_scale: float = 1.0
    currency: str = "SEK"

    def __post_init__(self) -> None:
        if not self.earnings_scale > 0:
            raise ValueError("LabourMarket.earnings_scale must be positive")


@dataclass(frozen=True)
class SyntheticStudy:
    """A generated study: the contract tables, the potential outcomes and the truth.

    Attributes
    ----------
    participants, monthly, survey, sessions, mentors
        The five contract tables (CONTRACT.md), sorted on their unique keys. In
        ``monthly`` (and ``potential``) ``person_id`` and ``month`` are categoricals of
        text, to keep tens of millions of rows small.
    potential
        Every person-month with ``rel_month`` and both potential outcomes
        ``employed_0``, ``employed_1``, ``earnings_0``, ``earnings_1``. Observed data are
        the ``_1`` columns for the mentored and the ``_0`` columns for the comparison.
    truth
        The true effects and the settings (see :func:`generate`); JSON-serialisable.
    """

    participants: pd.DataFrame
    monthly: pd.DataFrame
    survey: pd.DataFrame
    sessions: pd.DataFrame
    mentors: pd.DataFrame
    potential: pd.DataFrame
    truth: dict[str, Any] = field(repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five contract tables by name."""
        return {name: getattr(self, name) for name in TABLES}


# --- generation ------------------------------------------------------------------------


def generate(
    seed: int,
    *,
    n_mentored: int = 50,
    n_comparison: int = 3000,
    effect: EffectSpec = EffectSpec(),  # noqa: B008 - frozen, immutable default
    site: SiteSpec = SiteSpec(),  # noqa: B008 - frozen, immutable default
    horizons: tuple[int, ...] = DEFAULT_HORIZONS,
    pre_months: int = DEFAULT_PRE_MONTHS,
    market: LabourMarket | None = None,
) -> SyntheticStudy:
    """Generate the synthetic default study.

    Parameters
    ----------
    seed
        Non-negative integer; the same seed gives the same study, byte for byte.
    n_mentored, n_comparison
        Number of mentored persons and of comparison persons.
    effect
        The true effect (:class:`EffectSpec`; ``EffectSpec(null=True)`` for none).
    site
        Region, calendar and coverage (:class:`SiteSpec`).
    horizons, pre_months
        Outcome definitions used for the truth (passed to ``build_outcomes``).
    market
        A partner site's labour market (:class:`LabourMarket`); ``None`` for the default
        study's (then nothing is drawn differently).

    Returns
    -------
    SyntheticStudy
        Tables, potential outcomes and ``truth``. ``truth`` holds the exact ATT of every
        outcome of :func:`~evaluation.data.outcomes.build_outcomes` (overall and by sex),
        the realised and the expected monthly effect path, the population effect
        parameters, the naive mentored-minus-comparison difference on the observed data
        and its bias, comparison employment at 12 months, and the seed and version.
    """
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    if n_mentored < 1 or n_comparison < 1:
        raise ValueError("n_mentored and n_comparison must be at least 1")
    streams = dict(
        zip(
            ("mentored", "comparison", "ids", "mentors", "sessions", "survey"),
            np.random.SeedSequence(int(seed)).spawn(6),
            strict=True,
        )
    )
    rng = {name: np.random.default_rng(ss) for name, ss in streams.items()}
    n = n_mentored + n_comparison
    # person k (mentored first, then comparison) gets identifier number rank[k] + 1 and
    # sits at row rank[k] of every person-sorted table
    rank = rng["ids"].permutation(n)
    rows_m, rows_c = rank[:n_mentored], rank[n_mentored:]

    people_m = _draw_people(rng["mentored"], n_mentored, MENTORED, site)
    people_c = _draw_people(rng["comparison"], n_comparison, COMPARISON, site)
    people = {k: _place(people_m[k], people_c[k], rows_m, rows_c) for k in people_m}
    treated = np.zeros(n, dtype=bool)
    treated[rows_m] = True

    panel = _Panel.allocate(n, len(site.rel_months))
    expected_m = _draw_panel(rng["mentored"], people_m, rows_m, panel, effect, site, market)
    _draw_panel(rng["comparison"], people_c, rows_c, panel, effect, site, market)

    width = max(6, len(str(n)))
    numbers = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)
    person_ids = ("P" + numbers).to_numpy(dtype=object)
    mentoring = _draw_mentoring(rng["mentors"], rng["sessions"], people, treated, site)
    participants = _participants_table(person_ids, people, treated, mentoring, site)
    monthly, potential = _panel_tables(person_ids, people["start"], treated, panel, site)
    sessions = _sessions_table(person_ids, mentoring, rng["sessions"])
    survey = _survey_table(person_ids, people, treated, mentoring, rng["survey"])

    truth = _truth(
        seed=int(seed),
        participants=participants,
        monthly=monthly,
        panel=panel,
        treated=treated,
        people=people,
        expected_m=expected_m,
        rows_m=rows_m,
        effect=effect,
        site=site,
        horizons=tuple(horizons),
        pre_months=int(pre_months),
    )
    if market is not None:
        truth["labour_market"] = asdict(market)
    return SyntheticStudy(
        participants=participants,
        monthly=monthly,
        survey=survey,
        sessions=sessions,
        mentors=mentoring["mentors"],
        potential=potential,
        truth=truth,
    )


def _place(a: np.ndarray, b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Interleave two groups' per-person arrays into identifier order."""
    out = np.empty((len(rows_a) + len(rows_b),) + a.shape[1:], dtype=a.dtype)
    out[rows_a] = a
    out[rows_b] = b
    return out


def _month_number(label: str) -> int:
    return int(label[:4]) * 12 + int(label[5:7]) - 1


def _draw_people(
    rng: np.random.Generator, n: int, group: str, site: SiteSpec
) -> dict[str, np.ndarray]:
    """Person-level covariates, latent factors and heterogeneity for one group."""
    cov = COVARIATES
    first, last = _month_number(site.first_start), _month_number(site.last_start)
    start = rng.integers(first, last + 1, size=n).astype(np.int32)
    start_year = start // 12
    female = rng.random(n) < cov["female"][group]
    age = 20 + np.floor(41 * rng.beta(*cov["age_beta"][group], size=n)).astype(np.int16)
    origin = rng.choice(len(ORIGINS), size=n, p=_norm(cov["origin"][group])).astype(np.int8)
    education = rng.choice(4, size=n, p=_norm(cov["education"][group])).astype(np.int8)
    swedish = rng.choice(4, size=n, p=_norm(cov["swedish_level"][group])).astype(np.int8)
    years_back = rng.choice(6, size=n, p=_norm(cov["years_since_arrival"][group]))
    arrival_year = np.clip(start_year - years_back, 2013, np.minimum(2018, start_year))
    latest = np.where(arrival_year == start_year, start % 12 + 1, 12)
    arrival = (arrival_year * 12 + np.floor(rng.random(n) * latest)).astype(np.int32)
    names, shares = zip(*site.municipalities, strict=True)
    municipality = rng.choice(len(names), size=n, p=_norm(shares)).astype(np.int8)
    lo, hi = MENTORING["meetings"]
    meetings = rng.integers(lo, hi + 1, size=n).astype(np.int16)
    factors = rng.standard_normal((n, len(FACTORS))) @ np.linalg.cholesky(FACTOR_CORRELATION).T
    alpha = rng.standard_normal(n) * EMPLOYMENT["person_sd"]
    wage = rng.standard_normal(n) * EARNINGS["person_sd"]
    missing_start = np.zeros(n, dtype=bool)
    if group == COMPARISON:
        missing_start = rng.random(n) < site.missing_start_share
    return {
        "start": start,
        "female": female,
        "birth_year": (start_year - age).astype(np.int16),
        "age": age,
        "origin": origin,
        "education": education,
        "swedish": swedish,
        "arrival_year": arrival_year.astype(np.int16),
        "arrival": arrival,
        "municipality": municipality,
        "meetings": meetings,
        "factors": factors,
        "alpha": alpha,
        "wage": wage,
        "missing_start": missing_start,
    }


def _norm(p: tuple[float, ...]) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    return arr / arr.sum()


@dataclass(frozen=True)
class _Panel:
    """Person x month arrays of both potential outcomes, rows in identifier order."""

    employed_0: np.ndarray
    employed_1: np.ndarray
    earnings_0: np.ndarray
    earnings_1: np.ndarray

    @classmethod
    def allocate(cls, n: int, t: int) -> _Panel:
        return cls(
            np.zeros((n, t), dtype=np.int8),
            np.zeros((n, t), dtype=np.int8),
            np.zeros((n, t), dtype=np.int32),
            np.zeros((n, t), dtype=np.int32),
        )


def _draw_panel(
    rng: np.random.Generator,
    people: Mapping[str, np.ndarray],
    rows: np.ndarray,
    panel: _Panel,
    effect: EffectSpec,
    site: SiteSpec,
    market: LabourMarket | None = None,
) -> np.ndarray:
    """Draw one group's potential outcomes into ``panel`` at ``rows``.

    Loops over the months of the panel (61), vectorised over persons. Returns the
    expected effect ``p1 - p0`` per person and month (float32) for the expected path.
    """
    e, w = EMPLOYMENT, EARNINGS
    n = len(rows)
    rel = site.rel_months
    edu, sw = people["education"], people["swedish"]
    base = (
        e["intercept"]
        + np.asarray(e["education"])[edu]
        + np.asarray(e["swedish_level"])[sw]
        + e["female"] * people["female"]
        + e["age_slope"] * np.abs(people["age"] - e["age_centre"])
        + np.asarray(e["origin"])[people["origin"]]
        + people["alpha"]
    )
    log_wage = (
        math.log(w["median"])
        + np.asarray(w["education"])[edu]
        + np.asarray(w["swedish_level"])[sw]
        + w["female"] * people["female"]
        + people["wage"]
    )
    if market is not None:  # a partner site's labour market (the default study has none)
        base = base + market.employment_shift
        log_wage = log_wage + math.log(market.earnings_scale)
    amplitude = effect.amplitude(people["female"], people["meetings"], people["factors"][:, 2])
    calendar = _calendar_shift(site)
    rho = e["copula_rho"]
    innovation_sd = math.sqrt(1.0 - rho**2)
    expected = np.zeros((n, len(rel)), dtype=np.float32)
    z = rng.standard_normal(n)
    for t, r in enumerate(rel):
        if t > 0:
            z = rho * z + innovation_sd * rng.standard_normal(n)
        month = people["start"] + int(r)
        years = (month - people["arrival"]) / 12.0
        in_sweden = years >= 0
        eta = (
            base
            + e["years_in_sweden_slope"] * np.clip(years, 0.0, e["years_in_sweden_cap"])
            + e["registration_dip"].get(int(r), 0.0)
            + calendar(month)
        )
        p0 = np.where(in_sweden, special.expit(eta), 0.0)
        p1 = np.clip(p0 + effect.path(rel[t : t + 1], amplitude)[:, 0], 0.0, 1.0)
        u = special.ndtr(z)
        y0 = u < p0
        y1 = u < p1
        pay = np.exp(
            log_wage
            + w["years_in_sweden_slope"] * np.clip(years, 0.0, None)
            + w["month_sd"] * rng.standard_normal(n)
        )
        pay = np.rint(pay).astype(np.int32)
        panel.employed_0[rows, t] = y0
        panel.employed_1[rows, t] = y1
        panel.earnings_0[rows, t] = np.where(y0, pay, 0)
        panel.earnings_1[rows, t] = np.where(y1, pay, 0)
        expected[:, t] = p1 - p0
    return expected


def _calendar_shift(site: SiteSpec):
    """Calendar-time shifts of the employment index (a function of month numbers)."""
    spans = [
        (_month_number(a), _month_number(b), v) for (a, b), v in EMPLOYMENT["calendar"].items()
    ]

    def shift(month: np.ndarray) -> np.ndarray:
        out = np.zeros(len(month))
        for lo, hi, value in spans:  # loop over calendar episodes, not persons
            out[(month >= lo) & (month <= hi)] += value
        return out

    return shift


# --- tables ------------------------------------------------------------------------------


def _draw_mentoring(
    rng_mentors: np.random.Generator,
    rng_sessions: np.random.Generator,
    people: Mapping[str, np.ndarray],
    treated: np.ndarray,
    site: SiteSpec,
) -> dict[str, Any]:
    """Mentors, mentor assignment and mentoring end months for the mentored."""
    m_rows = np.flatnonzero(treated)
    n_m = len(m_rows)
    cap = MENTORING["max_mentees"]
    n_mentors = max(1, math.ceil(n_m / MENTORING["mentees_per_mentor"]))
    extra = rng_mentors.choice(n_mentors * (cap - 1), size=n_m - n_mentors, replace=False)
    slots = np.concatenate([np.arange(n_mentors), extra // (cap - 1)])
    mentor_of = rng_mentors.permutation(slots)  # mentor number per mentored person (id order)
    width = max(3, len(str(n_mentors)))
    mentor_ids = np.array([f"M{i:0{width}d}" for i in range(1, n_mentors + 1)], dtype=object)
    mentors = pd.DataFrame(
        {
            "mentor_id": pd.array(mentor_ids, dtype="str"),
            "background": pd.array(
                np.where(
                    rng_mentors.random(n_mentors) < MENTORING["mentor_migrant_share"],
                    "migrant",
                    "native",
                ),
                dtype="str",
            ),
            "same_field": (
                rng_mentors.random(n_mentors) < MENTORING["mentor_same_field_share"]
            ).astype(np.int8),
        }
    )
    lo, hi = MENTORING["duration_months"]
    start = people["start"][m_rows]
    duration = rng_sessions.integers(lo, hi + 1, size=n_m)
    end = np.minimum(start + duration - 1, _month_number(site.project_end)).astype(np.int32)
    return {
        "rows": m_rows,
        "mentor_id": mentor_ids[mentor_of],
        "end": end,
        "meetings": people["meetings"][m_rows],
        "start": start,
        "mentors": mentors,
    }


def _participants_table(
    person_ids: np.ndarray,
    people: Mapping[str, np.ndarray],
    treated: np.ndarray,
    mentoring: Mapping[str, Any],
    site: SiteSpec,
) -> pd.DataFrame:
    n = len(person_ids)
    start = np.where(people["missing_start"], -1, people["start"])
    end = np.full(n, -1)
    end[mentoring["rows"]] = mentoring["end"]
    mentor = np.full(n, None, dtype=object)
    mentor[mentoring["rows"]] = mentoring["mentor_id"]
    names = np.array([name for name, _ in site.municipalities], dtype=object)
    return pd.DataFrame(
        {
            "person_id": pd.array(person_ids, dtype="str"),
            "group": pd.array(np.where(treated, MENTORED, COMPARISON), dtype="str"),
            "start_month": pd.array(month_label(start), dtype="str"),
            "end_month": pd.array(month_label(end), dtype="str"),
            "birth_year": people["birth_year"],
            "sex": pd.array(np.where(people["female"], "female", "male"), dtype="str"),
            "origin_region": pd.array(np.array(ORIGINS, dtype=object)[people["origin"]], "str"),
            "arrival_year": people["arrival_year"],
            "education": pd.array(np.array(EDUCATION, dtype=object)[people["education"]], "str"),
            "swedish_level": pd.array(np.array(SWEDISH, dtype=object)[people["swedish"]], "str"),
            "municipality": pd.array(names[people["municipality"]], dtype="str"),
            "mentor_id": pd.array(mentor, dtype="str"),
        }
    )


def _panel_tables(
    person_ids: np.ndarray,
    start: np.ndarray,
    treated: np.ndarray,
    panel: _Panel,
    site: SiteSpec,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observed ``monthly`` table and the ``potential`` panel, sorted by person, month."""
    n, t = panel.employed_0.shape
    rel = site.rel_months
    month = (start[:, None] + rel[None, :].astype(np.int32)).ravel()
    lo, hi = int(month.min()), int(month.max())
    month_cat = pd.Categorical.from_codes(
        (month - lo).astype(np.int16),
        categories=pd.Index(month_label(np.arange(lo, hi + 1)), dtype="str"),
    )
    person_cat = pd.Categorical.from_codes(
        np.repeat(np.arange(n, dtype=np.int32), t),
        categories=pd.Index(person_ids, dtype="str"),
    )
    observed = treated[:, None]
    monthly = pd.DataFrame(
        {
            "person_id": person_cat,
            "month": month_cat,
            "employed": np.where(observed, panel.employed_1, panel.employed_0).ravel(),
            "earnings": np.where(observed, panel.earnings_1, panel.earnings_0).ravel(),
        },
        copy=False,
    )
    potential = pd.DataFrame(
        {
            "person_id": person_cat,
            "month": month_cat,
            "rel_month": np.tile(rel.astype(np.int8), n),
            "employed_0": panel.employed_0.ravel(),
            "employed_1": panel.employed_1.ravel(),
            "earnings_0": panel.earnings_0.ravel(),
            "earnings_1": panel.earnings_1.ravel(),
        },
        copy=False,
    )
    return monthly, potential


def _sessions_table(
    person_ids: np.ndarray, mentoring: Mapping[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """One row per meeting, spread evenly (with jitter) over each mentoring period."""
    meetings = mentoring["meetings"].astype(np.int64)
    first_day = _first_day(mentoring["start"])
    last_day = _first_day(mentoring["end"] + 1) - np.timedelta64(1, "D")
    span = (last_day - first_day).astype(np.int64) + 1
    who = np.repeat(np.arange(len(meetings)), meetings)
    slot = np.arange(len(who)) - np.repeat(np.cumsum(meetings) - meetings, meetings)
    width = span[who] / meetings[who]  # days per meeting slot (at least 7)
    lo = np.floor(slot * width).astype(np.int64)
    hi = np.floor((slot + 1) * width).astype(np.int64)
    offset = lo + np.floor(rng.random(len(who)) * (hi - lo)).astype(np.int64)
    dates = first_day[who] + offset.astype("timedelta64[D]")
    minutes = np.exp(
        math.log(MENTORING["minutes_median"])
        + MENTORING["minutes_sd"] * rng.standard_normal(len(who))
    )
    lo, hi = MENTORING["minutes_range"]
    minutes = np.clip(5 * np.rint(minutes / 5), lo, hi).astype(np.int16)
    return pd.DataFrame(
        {
            "person_id": pd.array(person_ids[mentoring["rows"]][who], dtype="str"),
            "mentor_id": pd.array(mentoring["mentor_id"][who], dtype="str"),
            "date": pd.array(np.datetime_as_string(dates, unit="D"), dtype="str"),
            "minutes": minutes,
        }
    )


def _first_day(month: np.ndarray) -> np.ndarray:
    """First day (``datetime64[D]``) of each month number."""
    months = (np.asarray(month, dtype=np.int64) - 1970 * 12).astype("datetime64[M]")
    return months.astype("datetime64[D]")


def _survey_table(
    person_ids: np.ndarray,
    people: Mapping[str, np.ndarray],
    treated: np.ndarray,
    mentoring: Mapping[str, Any],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Baseline and follow-up Likert answers of the mentored, from the latent factors.

    The four baseline factors are the persons' latent ``factors`` (the network factor also
    drives the effect); the mentor relationship, asked at follow-up only, rises with the
    number of meetings, a mentor from the same field and the baseline network.
    """
    rows = np.flatnonzero(treated)
    n = len(rows)
    baseline = people["factors"][rows]
    change = np.array([SURVEY["follow_up_change"][f] for f in FACTORS])
    follow = baseline + change + SURVEY["follow_up_noise_sd"] * rng.standard_normal((n, 4))
    attrition = special.expit(
        SURVEY["attrition_intercept"] + SURVEY["attrition_efficacy"] * baseline[:, 3]
    )
    stays = rng.random(n) >= attrition
    lo, hi = MENTORING["meetings"]
    meetings = mentoring["meetings"].astype(np.float64)
    z_meet = (meetings - (lo + hi) / 2) / math.sqrt(((hi - lo + 1) ** 2 - 1) / 12)
    same_field = (
        mentoring["mentors"].set_index("mentor_id")["same_field"]
        .reindex(mentoring["mentor_id"]).to_numpy(dtype=np.float64)
    )
    relation = (
        SURVEY["mentor_meetings"] * z_meet
        + SURVEY["mentor_same_field"] * (same_field - MENTORING["mentor_same_field_share"])
        + SURVEY["mentor_network"] * baseline[:, FACTORS.index("network")]
        + SURVEY["mentor_noise_sd"] * rng.standard_normal(n)
    )
    cuts = np.asarray(SURVEY["cuts"])
    frames = []
    for wave, scores, keep in (
        ("baseline", baseline, np.ones(n, bool)),
        ("follow_up", follow, stays),
    ):
        items = {}
        for name, (factor, reverse, loading, shift, nonresp) in SURVEY_ITEMS.items():  # items
            if factor in FOLLOW_UP_ONLY and wave == "baseline":
                items[name] = pd.array([None] * int(keep.sum()), dtype="Int8")
                continue
            level = relation if factor == "mentor" else scores[:, FACTORS.index(factor)]
            latent = loading * level + math.sqrt(1 - loading**2) * rng.standard_normal(n)
            answer = 1 + (latent[:, None] > (cuts + shift)[None, :]).sum(axis=1)
            if reverse:
                answer = 6 - answer
            missing = rng.random(n) < nonresp
            items[name] = pd.array(np.where(missing, None, answer)[keep], dtype="Int8")
        frames.append(
            pd.DataFrame(
                {
                    "person_id": pd.array(person_ids[rows][keep], dtype="str"),
                    "wave": pd.array([wave] * int(keep.sum()), dtype="str"),
                    **items,
                }
            )
        )
    survey = pd.concat(frames, ignore_index=True)
    return survey.sort_values(["person_id", "wave"], kind="stable").reset_index(drop=True)


# --- truth -------------------------------------------------------------------------------


def _truth(
    *,
    seed: int,
    participants: pd.DataFrame,
    monthly: pd.DataFrame,
    panel: _Panel,
    treated: np.ndarray,
    people: Mapping[str, np.ndarray],
    expected_m: np.ndarray,
    rows_m: np.ndarray,
    effect: EffectSpec,
    site: SiteSpec,
    horizons: tuple[int, ...],
    pre_months: int,
) -> dict[str, Any]:
    """The exact ATT from both potential-outcome panels, with the study's definitions."""
    m_rows = np.flatnonzero(treated)  # identifier order
    mentored = participants.iloc[m_rows].reset_index(drop=True)
    outcome_1 = _outcomes_from(mentored, panel, m_rows, 1, site, horizons, pre_months)
    outcome_0 = _outcomes_from(mentored, panel, m_rows, 0, site, horizons, pre_months)
    names = [c for c in outcome_1.columns if outcome_1[c].dtype.kind == "f"]
    diff = outcome_1[names] - outcome_0[names]
    female = mentored["sex"].to_numpy(dtype=object) == "female"

    observed = build_outcomes(participants, monthly, horizons, pre_months)
    is_m = treated
    naive = {c: float(observed.loc[is_m, c].mean() - observed.loc[~is_m, c].mean()) for c in names}
    att = {c: float(diff[c].mean()) for c in names}

    rel = site.rel_months
    d_emp = panel.employed_1[m_rows].astype(np.int32) - panel.employed_0[m_rows]
    d_earn = panel.earnings_1[m_rows].astype(np.int64) - panel.earnings_0[m_rows]
    order_m = np.argsort(rows_m)  # expected_m is in draw order; m_rows is sorted rows_m
    expected = expected_m[order_m]
    path = [
        {"rel_month": int(r), "employed": float(a), "earnings": float(b), "expected": float(c)}
        for r, a, b, c in zip(
            rel, d_emp.mean(axis=0), d_earn.mean(axis=0), expected.mean(axis=0), strict=True
        )
    ]
    comparison = ~is_m & observed["start_month"].notna().to_numpy()
    return {
        "generator": "evaluation.data.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "estimand": "ATT: mean over the mentored of outcome(Y1) - outcome(Y0), outcomes "
        "as defined by evaluation.data.outcomes.build_outcomes",
        "horizons": list(horizons),
        "pre_months": pre_months,
        "n_mentored": int(is_m.sum()),
        "n_comparison": int((~is_m).sum()),
        "n_comparison_without_start": int(participants["start_month"].isna().sum()),
        "n_mentored_by_sex": {"female": int(female.sum()), "male": int((~female).sum())},
        "att": att,
        "att_by_sex": {
            "female": {c: float(diff.loc[female, c].mean()) for c in names},
            "male": {c: float(diff.loc[~female, c].mean()) for c in names},
        },
        "effect_path": path,
        "population": _population(effect),
        "naive": naive,
        "naive_bias": {c: naive[c] - att[c] for c in names},
        "comparison_employed_m12": float(observed.loc[comparison, "employed_m12"].mean()),
        "selection": _selection_summary(participants, observed, people, is_m),
        "effect_spec": asdict(effect),
        "site": _jsonable(asdict(site)),
    }


def _outcomes_from(
    persons: pd.DataFrame,
    panel: _Panel,
    rows: np.ndarray,
    arm: int,
    site: SiteSpec,
    horizons: tuple[int, ...],
    pre_months: int,
) -> pd.DataFrame:
    """``build_outcomes`` on one arm's potential panel for the given persons."""
    t = len(site.rel_months)
    start = month_index(persons["start_month"]).to_numpy(dtype=np.int32)
    months = (start[:, None] + site.rel_months[None, :]).ravel()
    employed = panel.employed_1 if arm else panel.employed_0
    earnings = panel.earnings_1 if arm else panel.earnings_0
    frame = pd.DataFrame(
        {
            "person_id": np.repeat(persons["person_id"].to_numpy(dtype=object), t),
            "month": month_label(months),
            "employed": employed[rows].ravel(),
            "earnings": earnings[rows].ravel(),
        }
    )
    return build_outcomes(persons, frame, horizons, pre_months)


def _population(effect: EffectSpec) -> dict[str, Any]:
    lo, hi = MENTORING["meetings"]
    meetings = np.arange(lo, hi + 1)
    return {
        "scale": "probability of employment in a month (0.10 = 10 percentage points)",
        "effect_women": effect.effect_women,
        "effect_men": effect.effect_men,
        "onset_month": effect.onset,
        "lock_in": 0.0 if effect.null else effect.lock_in,
        "lock_in_months": [1, effect.onset - 1],
        "dose_multiplier_by_meetings": {
            int(k): float(v) for k, v in zip(meetings, effect.dose(meetings), strict=True)
        },
        "network_slope": 0.0 if effect.null else effect.network_slope,
        "earnings": "follow employment: earnings_1 - earnings_0 = (Y1 - Y0) x the common "
        "monthly pay draw",
        "selection_on_unobservables": False,
    }


def _selection_summary(
    participants: pd.DataFrame,
    observed: pd.DataFrame,
    people: Mapping[str, np.ndarray],
    is_m: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Group means of the covariates that drive selection (documents the imbalance)."""
    start_year = people["start"] // 12
    values = {
        "female": people["female"].astype(float),
        "post_secondary": (people["education"] == 2).astype(float),
        "primary_or_less": (people["education"] == 0).astype(float),
        "sfi_completed_or_fluent": (people["swedish"] >= 2).astype(float),
        "years_in_sweden_at_start": (start_year - people["arrival_year"]).astype(float),
        "age_at_start": people["age"].astype(float),
        "pre_employed_m12": observed["pre_employed_m12"].to_numpy(),
        "pre_months_employed_12": observed["pre_months_employed_12"].to_numpy(),
    }
    return {
        name: {
            MENTORED: float(np.nanmean(v[is_m])),
            COMPARISON: float(np.nanmean(v[~is_m])),
        }
        for name, v in values.items()
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- writing -----------------------------------------------------------------------------


def write(study: SyntheticStudy, out_dir: str | Path, fmt: str = "csv") -> dict[str, Path]:
    """Write the five contract tables and ``truth.json``.

    Parameters
    ----------
    study
        From :func:`generate`.
    out_dir
        Folder; created if missing. Existing files of the same names are replaced.
    fmt
        ``'csv'`` (UTF-8, comma, LF line ends, empty = missing) or ``'parquet'``.

    Returns
    -------
    dict of str to pathlib.Path
        ``{table: path}`` for the five tables, plus ``'truth'``. The truth file is not a
        contract input: it is only the known answer for tests and benchmarks.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in study.tables().items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        else:
            frame.to_parquet(path, index=False)
        paths[name] = path
    truth_path = out / "truth.json"
    truth_path.write_text(
        json.dumps(study.truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["truth"] = truth_path
    return paths


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (for determinism checks).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
