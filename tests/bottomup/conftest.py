"""Large synthetic studies for the bottom-up estimators (one per module run)."""

from __future__ import annotations

import pytest

from evaluation import synth
from evaluation.design.sample import build_analysis

#: The study's default design covariates (params/default.yaml).
COVARIATES = ["age", "sex", "education", "swedish_level", "years_in_sweden", "origin_region",
              "pre_months_employed_12", "pre_earnings_12", "pre_employed_m1"]  # fmt: skip
SEED = 20170601
#: Mentored persons in the large studies: enough to see the generator's structure.
N_LARGE = 6000


def _analysis_frame(study: synth.SyntheticStudy):
    """The analysis data (covariates, outcomes, ``treated``) of a generated study."""
    return build_analysis(study.participants, study.monthly, rng=1).frame


@pytest.fixture(scope="session")
def covariates() -> list[str]:
    return list(COVARIATES)


@pytest.fixture(scope="session")
def analysis_frame():
    """The function that builds a generated study's analysis data."""
    return _analysis_frame


@pytest.fixture(scope="session")
def large_study() -> synth.SyntheticStudy:
    return synth.generate(SEED, n_mentored=N_LARGE, n_comparison=3000)


@pytest.fixture(scope="session")
def large_null_study() -> synth.SyntheticStudy:
    return synth.generate(SEED, n_mentored=N_LARGE, n_comparison=3000,
                          effect=synth.EffectSpec(null=True))  # fmt: skip
