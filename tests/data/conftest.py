"""Small valid tables of the data contract, and a helper that writes them as files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.data.io import write_table

#: Months covered by the monthly fixture: 2017-01 .. 2019-12 (36 months).
MONTHS = [f"{y}-{m:02d}" for y in (2017, 2018, 2019) for m in range(1, 13)]


@pytest.fixture
def participants() -> pd.DataFrame:
    """Four persons: two mentored (one with leading zeros in the id), two comparison."""
    return pd.DataFrame(
        {
            "person_id": ["P0001", "000123", "P0003", "P0004"],
            "group": ["mentored", "mentored", "comparison", "comparison"],
            "start_month": ["2018-03", "2018-06", "2018-04", None],
            "end_month": ["2018-12", None, None, None],
            "birth_year": [1985, 1990, 1979, 1995],
            "sex": ["female", "male", "female", "male"],
            "origin_region": ["Syria", "Eritrea", "Afghanistan", "Somalia"],
            "arrival_year": [2015, 2016, 2014, 2017],
            "education": ["secondary", "post_secondary", "primary_or_less", "unknown"],
            "swedish_level": ["sfi_started", "fluent", "none", "sfi_completed"],
            "municipality": ["Umeå", "Malmö", None, "Göteborg"],
            "mentor_id": ["M01", "M02", None, None],
            "household_size": [3, 1, 4, 2],
        }
    )


@pytest.fixture
def monthly(participants: pd.DataFrame) -> pd.DataFrame:
    """Every person in every month of :data:`MONTHS`, sorted by person and month."""
    ids = participants["person_id"].to_list()
    n = len(MONTHS)
    employed = np.tile((np.arange(n) >= 20).astype("int64"), len(ids))
    return pd.DataFrame(
        {
            "person_id": np.repeat(ids, n),
            "month": np.tile(MONTHS, len(ids)),
            "employed": employed,
            "earnings": employed * 18500.5,
            "in_education": np.tile((np.arange(n) < 6).astype("int64"), len(ids)),
        }
    )


@pytest.fixture
def survey() -> pd.DataFrame:
    """Baseline and follow-up of the two mentored persons; one item not answered."""
    return pd.DataFrame(
        {
            "person_id": ["P0001", "P0001", "000123", "000123"],
            "wave": ["baseline", "follow_up", "baseline", "follow_up"],
            "q1": [1, 4, 5, 3],
            "q2": [2, None, 3, 3],
        }
    )


@pytest.fixture
def sessions() -> pd.DataFrame:
    """Three mentoring meetings."""
    return pd.DataFrame(
        {
            "person_id": ["P0001", "P0001", "000123"],
            "mentor_id": ["M01", "M01", "M02"],
            "date": ["2018-03-05", "2018-04-02", "2018-06-11"],
            "minutes": [60, 45, 90],
        }
    )


@pytest.fixture
def mentors() -> pd.DataFrame:
    """Two mentors."""
    return pd.DataFrame(
        {"mentor_id": ["M01", "M02"], "background": ["native", "migrant"], "same_field": [1, 0]}
    )


@pytest.fixture
def tables(participants, monthly, survey, sessions, mentors) -> dict[str, pd.DataFrame]:
    """The five tables of a valid study."""
    return {
        "participants": participants,
        "monthly": monthly,
        "survey": survey,
        "sessions": sessions,
        "mentors": mentors,
    }


WriteStudy = Callable[..., dict[str, Path]]


@pytest.fixture
def write_study(tmp_path: Path) -> WriteStudy:
    """Write tables to ``tmp_path`` as ``<table>.<ext>``; return table -> path.

    ``formats`` maps a table to its extension (default ``csv``).
    """

    def write(
        tables: Mapping[str, pd.DataFrame], formats: Mapping[str, str] | None = None
    ) -> dict[str, Path]:
        formats = formats or {}
        return {
            name: write_table(frame, tmp_path / f"{name}.{formats.get(name, 'csv')}")
            for name, frame in tables.items()
        }

    return write
