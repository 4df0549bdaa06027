"""The persons: covariates, latent survey factors and heterogeneity, and the participants table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaluation.calendar import month_label, month_number
from evaluation.data.outcomes import COMPARISON, MENTORED
from evaluation.synth.spec import (
    COVARIATES,
    EARNINGS,
    EDUCATION,
    EMPLOYMENT,
    FACTOR_CORRELATION,
    FACTORS,
    MENTORING,
    ORIGINS,
    SWEDISH,
    SiteSpec,
)


def place(a: np.ndarray, b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Interleave two groups' per-person arrays into identifier order."""
    out = np.empty((len(rows_a) + len(rows_b),) + a.shape[1:], dtype=a.dtype)
    out[rows_a] = a
    out[rows_b] = b
    return out


def draw_people(
    rng: np.random.Generator, n: int, group: str, site: SiteSpec
) -> dict[str, np.ndarray]:
    """Person-level covariates, latent factors and heterogeneity for one group."""
    cov = COVARIATES
    first, last = month_number(site.first_start), month_number(site.last_start)
    start = rng.integers(first, last + 1, size=n).astype(np.int32)
    start_year = start // 12
    female = rng.random(n) < cov["female"][group]
    age = 20 + np.floor(41 * rng.beta(*cov["age_beta"][group], size=n)).astype(np.int16)
    origin = rng.choice(len(ORIGINS), size=n, p=normalised(cov["origin"][group])).astype(np.int8)
    education = rng.choice(4, size=n, p=normalised(cov["education"][group])).astype(np.int8)
    swedish = rng.choice(4, size=n, p=normalised(cov["swedish_level"][group])).astype(np.int8)
    years_back = rng.choice(6, size=n, p=normalised(cov["years_since_arrival"][group]))
    arrival_year = np.clip(start_year - years_back, 2013, np.minimum(2018, start_year))
    latest = np.where(arrival_year == start_year, start % 12 + 1, 12)
    arrival = (arrival_year * 12 + np.floor(rng.random(n) * latest)).astype(np.int32)
    names, shares = zip(*site.municipalities, strict=True)
    municipality = rng.choice(len(names), size=n, p=normalised(shares)).astype(np.int8)
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


def normalised(p: tuple[float, ...]) -> np.ndarray:
    """Shares scaled to sum to one (the probabilities of a categorical draw)."""
    arr = np.asarray(p, dtype=np.float64)
    return arr / arr.sum()


def participants_table(
    person_ids: np.ndarray,
    people: Mapping[str, np.ndarray],
    treated: np.ndarray,
    mentoring: Mapping[str, Any],
    site: SiteSpec,
) -> pd.DataFrame:
    """The participants table (identifier order): covariates, start, end and mentor."""
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
