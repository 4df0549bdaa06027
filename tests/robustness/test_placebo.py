"""Placebo tests on synthetic studies whose truth is known.

On the null study (no effect at all, the same selection into mentoring) the main estimates
and the placebo estimates of every adjusted estimator must cover zero; on the default study
(true effects) the placebo estimates must, since a placebo's true value is zero there too.
"""

from __future__ import annotations

import pytest

from evaluation.config import Design, Estimation, outcome_names
from evaluation.design import study_design
from evaluation.design.sample import build_analysis
from evaluation.estimate import effects as fx
from evaluation.rng import stream
from evaluation.robustness import placebo as pl
from evaluation.synth import EffectSpec, generate

SEED = 20170601
#: The study's own design and estimators (params/default.yaml).
DESIGN = Design().model_dump()
ESTIMATION = Estimation().model_dump()
EMPLOYMENT = ["employed_m6", "employed_m12", "employed_m24"]


def _study(effect: EffectSpec):
    study = generate(SEED, effect=effect)
    a = build_analysis(study.participants, study.monthly, rng=stream(SEED, "pseudo_starts"))
    frame = a.frame
    outs = [*outcome_names([6, 12, 24]), "months_to_job", "job_found", "months_after"]
    covs = frame[[c for c in frame.columns if c not in outs]]
    dsg = study_design(
        covs, covariates=DESIGN["covariates"], design=DESIGN, matching=ESTIMATION["matching"]
    )
    data = fx.analysis_sample(covs, frame[["person_id", *outs]], dsg.hand_over())
    spec = fx.EffectsSpec.from_params(DESIGN, ESTIMATION)
    pre = pl.pre_period_outcomes(data, study.monthly, 6)
    placebo = pl.pre_period_effects(
        data.merge(pre, on="person_id"), ["pre_employed_m6", "pre_earnings_6"], spec
    )
    fake = pl.fake_start_data(covs, study.monthly, shift=12, horizons=[6, 12], pre_months=12)
    placebo += pl.fake_start_effects(fake, DESIGN, ESTIMATION)
    return study, data, spec, placebo, fake


@pytest.fixture(scope="module")
def null_study():
    return _study(EffectSpec(null=True))


@pytest.fixture(scope="module")
def default_study():
    return _study(EffectSpec())


def _adjusted(results):
    return [r for r in results if not r.estimator.endswith("naive")]


def _misses(results):
    return [str(r) for r in _adjusted(results) if not r.ci_low <= 0 <= r.ci_high]


def test_null_study_main_estimates_cover_zero(null_study):
    study, data, spec, _, _ = null_study
    assert all(v == 0 for k, v in study.truth["att"].items() if k.startswith("employed_m"))
    main = fx.estimate_study(data, EMPLOYMENT, spec)
    assert len(_adjusted(main)) == 21  # 3 horizons x 7 adjusted estimators
    assert _misses(main) == []


def test_null_study_placebos_cover_zero(null_study):
    placebo = null_study[3]
    assert len(_adjusted(placebo)) == 56  # 2 pre-period + 6 fake-start outcomes x 7 estimators
    assert _misses(placebo) == []


def test_default_study_placebos_cover_zero_while_the_effect_is_real(default_study):
    study, data, spec, placebo, _ = default_study
    assert study.truth["att"]["employed_m6"] > 0.1  # there is a true effect after start ...
    assert _misses(placebo) == []  # ... but none before it


def test_placebo_estimates_are_relabelled(default_study):
    placebo = default_study[3]
    kinds = {r.estimator.split("_")[1] for r in placebo}
    assert kinds == {"pre", "fake"}
    assert all(r.estimator.startswith("placebo_") and "true value 0" in r.estimand for r in placebo)
    assert {r.estimator for r in placebo}.isdisjoint(
        {"naive", "regression", "ra", "ipw", "aipw", "matching"}
    )
    # nor do their outcomes carry the names of the study's outcomes
    assert {r.outcome for r in placebo}.isdisjoint(outcome_names([6, 12, 24]))


def test_fake_start_rebuilds_history_from_the_year_before_it(default_study):
    study, data, _, _, fake = default_study
    # employment 6 months after a start 12 months early is employment 6 months before the real
    # start, for every person: compare with the real-start pre-period outcome
    pre6 = pl.pre_period_outcomes(data, study.monthly, 6).set_index("person_id")
    both = pre6.index.intersection(fake.frame["person_id"])
    assert len(both) > 0.9 * len(pre6)  # the rest lack a full year before the fake start
    f = fake.frame.set_index("person_id").loc[both]
    assert (f["employed_m6"] == pre6.loc[both, "pre_employed_m6"]).all()
    # the fake start's 12-month pre-period ends where the real one begins
    assert fake.frame["start_quarter"].min() < data["start_quarter"].min()
    assert fake.n_dropped_treated == 0  # the synthetic panel covers 24 months before start


def test_placebo_horizons_must_lie_before_the_real_start(default_study):
    study, data, *_ = default_study
    with pytest.raises(ValueError):
        pl.fake_start_data(data, study.monthly, shift=12, horizons=[6, 13], pre_months=12)
    with pytest.raises(ValueError, match="covariates"):
        pl.pre_period_effects(data, ["pre_employed_m1"], default_study[2])
