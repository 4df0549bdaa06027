"""The numbers of the synthetic study: every parameter of the data-generating process.

The constants below are the single source of the numbers described in ``data/README.md``;
:class:`EffectSpec`, :class:`SiteSpec` and :class:`LabourMarket` are the settings a caller
may change (the true effect, the place and calendar, a partner site's labour market).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.data.outcomes import COMPARISON, MENTORED

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
