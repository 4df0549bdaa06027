"""Mentoring: the mentors, who mentors whom, until when, and one row per meeting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaluation.calendar import first_day, month_number
from evaluation.synth.spec import MENTORING, SiteSpec


def draw_mentoring(
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
    end = np.minimum(start + duration - 1, month_number(site.project_end)).astype(np.int32)
    return {
        "rows": m_rows,
        "mentor_id": mentor_ids[mentor_of],
        "end": end,
        "meetings": people["meetings"][m_rows],
        "start": start,
        "mentors": mentors,
    }


def sessions_table(
    person_ids: np.ndarray, mentoring: Mapping[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """One row per meeting, spread evenly (with jitter) over each mentoring period."""
    meetings = mentoring["meetings"].astype(np.int64)
    first = first_day(mentoring["start"])
    last = first_day(mentoring["end"] + 1) - np.timedelta64(1, "D")
    span = (last - first).astype(np.int64) + 1
    who = np.repeat(np.arange(len(meetings)), meetings)
    slot = np.arange(len(who)) - np.repeat(np.cumsum(meetings) - meetings, meetings)
    width = span[who] / meetings[who]  # days per meeting slot (at least 7)
    lo = np.floor(slot * width).astype(np.int64)
    hi = np.floor((slot + 1) * width).astype(np.int64)
    offset = lo + np.floor(rng.random(len(who)) * (hi - lo)).astype(np.int64)
    dates = first[who] + offset.astype("timedelta64[D]")
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
