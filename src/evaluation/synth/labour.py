"""The labour market: both potential outcomes of every person-month, and the monthly table.

Untreated employment is a logit in the covariates, time in Sweden, calendar time and
person-level noise (selection on observables only); both potential outcomes of a
person-month compare the same uniform draw (common random numbers, an AR(1) Gaussian copula
that makes employment come in spells).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from evaluation.calendar import month_label, month_number
from evaluation.synth.spec import EARNINGS, EMPLOYMENT, EffectSpec, LabourMarket, SiteSpec


@dataclass(frozen=True)
class Panel:
    """Person x month arrays of both potential outcomes, rows in identifier order."""

    employed_0: np.ndarray
    employed_1: np.ndarray
    earnings_0: np.ndarray
    earnings_1: np.ndarray

    @classmethod
    def allocate(cls, n: int, t: int) -> Panel:
        """Zero arrays for ``n`` persons and ``t`` months."""
        return cls(
            np.zeros((n, t), dtype=np.int8),
            np.zeros((n, t), dtype=np.int8),
            np.zeros((n, t), dtype=np.int32),
            np.zeros((n, t), dtype=np.int32),
        )


def draw_panel(
    rng: np.random.Generator,
    people: Mapping[str, np.ndarray],
    rows: np.ndarray,
    panel: Panel,
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
    calendar = calendar_shift(site)
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


def calendar_shift(site: SiteSpec):
    """Calendar-time shifts of the employment index (a function of month numbers)."""
    spans = [(month_number(a), month_number(b), v) for (a, b), v in EMPLOYMENT["calendar"].items()]

    def shift(month: np.ndarray) -> np.ndarray:
        out = np.zeros(len(month))
        for lo, hi, value in spans:  # loop over calendar episodes, not persons
            out[(month >= lo) & (month <= hi)] += value
        return out

    return shift


def panel_tables(
    person_ids: np.ndarray,
    start: np.ndarray,
    treated: np.ndarray,
    panel: Panel,
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
