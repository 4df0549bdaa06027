"""The synthetic default study: a seeded generator that knows every potential outcome.

:func:`generate` draws a BottomUp-Integration-like study (newly arrived migrants in a
Swedish region, rolling mentoring starts 2017-09..2019-06, a register-style monthly
panel from 24 months before to 36 months after each start) and returns the five contract
tables, the panel of both potential outcomes and the truth. :func:`write` saves the tables
and ``truth.json``. The data-generating process, with every formula and parameter value,
is described in ``data/README.md``; the constants of :mod:`evaluation.synth.spec` are the
single source of the numbers.

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

Modules, one concern each: ``spec`` (the numbers and the settings), ``persons`` (covariates
and the participants table), ``labour`` (the labour market: both potential outcomes and the
monthly table), ``mentoring`` (mentors, assignment, sessions), ``survey``, ``truth`` (the
exact effects), ``generate`` (the orchestration) and ``write`` (the files).

The package reads the data layer (the outcome definitions, to compute the truth with the
study's own definitions); nothing of the study's analysis reads it, except to generate data.
"""

from evaluation.synth.generate import SyntheticStudy, generate
from evaluation.synth.spec import (
    COVARIATES,
    EARNINGS,
    EDUCATION,
    EMPLOYMENT,
    FACTOR_CORRELATION,
    FACTORS,
    FOLLOW_UP_ONLY,
    GENERATOR_VERSION,
    MENTORING,
    ORIGINS,
    SURVEY,
    SURVEY_ITEMS,
    SWEDISH,
    TABLES,
    EffectSpec,
    LabourMarket,
    SiteSpec,
)
from evaluation.synth.write import file_digest, write

__all__ = [
    "COVARIATES",
    "EARNINGS",
    "EDUCATION",
    "EMPLOYMENT",
    "FACTOR_CORRELATION",
    "FACTORS",
    "FOLLOW_UP_ONLY",
    "GENERATOR_VERSION",
    "MENTORING",
    "ORIGINS",
    "SURVEY",
    "SURVEY_ITEMS",
    "SWEDISH",
    "TABLES",
    "EffectSpec",
    "LabourMarket",
    "SiteSpec",
    "SyntheticStudy",
    "file_digest",
    "generate",
    "write",
]
