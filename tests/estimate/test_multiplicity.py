"""Romano-Wolf step-down p-values, the matching estimator's linear representation, the
headline family and the women-men difference of the ESF indicator.

References: a hand-worked example; the step-down loop of R ``wildrwolf``'s
``get_rwolf_pval`` (which follows ``hdm::p_adjust``), transcribed below as an independent
implementation; the study's own matching estimator. The family-wise error rate under the
global null is measured by simulation in ``bench/romano_wolf_fwer.py`` (not a test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from evaluation.config import outcome_names
from evaluation.design.sample import build_analysis
from evaluation.design.study import study_design
from evaluation.estimate import effects as fx
from evaluation.estimate.montecarlo import split_frame
from evaluation.estimate.multiplicity import (
    matching_representation,
    representation_draws,
    romano_wolf,
)
from evaluation.rng import stream
from evaluation.synth import EffectSpec, generate

ROOT = Path(__file__).resolve().parents[2]

EXACT = 1e-12  # the same arithmetic in another order


def test_hand_worked_example():
    """t = (2, 1.8) with scale 1; |draw - estimate| per draw:
    (2.5, 0.1), (2.1, 0.2), (0.1, 0.3), (0.2, 0.4).
    Step 1 (H1, t = 2): max over both = 2.5, 2.1, 0.3, 0.4 -> 2 of 4 reach 2 -> p = 3/5.
    Step 2 (H2, t = 1.8): H2 alone = 0.1, 0.2, 0.3, 0.4 -> none reaches 1.8 -> p = 1/5,
    raised to 3/5 by monotonicity. Single tests: H1 3/5, H2 1/5."""
    est = np.array([2.0, 1.8])
    dev = np.array([[2.5, 0.1], [2.1, -0.2], [-0.1, 0.3], [0.2, -0.4]])
    rw = romano_wolf(est, est + dev, ["h1", "h2"], se=[1.0, 1.0])
    assert rw.table["p_romano_wolf"].tolist() == pytest.approx([0.6, 0.6], abs=EXACT)
    assert rw.table["p_bootstrap"].tolist() == pytest.approx([0.6, 0.2], abs=EXACT)
    assert rw.draws == 4


def _get_rwolf_pval(t_stats, boot_t_stats):
    """R wildrwolf ``get_rwolf_pval`` (after hdm ``p_adjust``), transcribed line by line;
    ``t_stats`` and ``boot_t_stats`` already in absolute value."""
    s_count = boot_t_stats.shape[1]
    b = boot_t_stats.shape[0]
    pinit = np.zeros(s_count)
    stepdown = np.argsort(-t_stats, kind="stable")
    ro = np.argsort(stepdown, kind="stable")
    for s in range(s_count):
        keep = [c for c in range(s_count) if c not in stepdown[:s]]
        max_stat = boot_t_stats[:, keep].max(axis=1)
        pinit[s] = min(1.0, (np.sum(max_stat >= abs(t_stats[stepdown[s]])) + 1) / (b + 1))
    corr = np.zeros(s_count)
    for j in range(s_count):
        corr[j] = pinit[j] if j == 0 else max(pinit[j], corr[j - 1])
    return corr[ro]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equals_the_transcribed_reference(seed):
    rng = np.random.default_rng(seed)
    k, b = 6, 499
    cov = 0.6 * np.ones((k, k)) + 0.4 * np.eye(k)
    est = rng.normal(0, 1.5, size=k)
    draws = est + rng.multivariate_normal(np.zeros(k), cov, size=b)
    se = rng.uniform(0.8, 1.2, size=k)
    ours = romano_wolf(est, draws, list("abcdef"), se=se).table["p_romano_wolf"].to_numpy()
    ref = _get_rwolf_pval(np.abs(est) / se, np.abs(draws - est) / se)
    assert np.allclose(ours, ref, rtol=0, atol=EXACT)


def test_one_hypothesis_is_its_single_bootstrap_test_and_nan_draws_are_dropped_jointly():
    rng = np.random.default_rng(4)
    draws = rng.normal(size=(200, 2))
    draws[5, 1] = np.nan
    rw = romano_wolf([0.3, 0.1], draws, ["a", "b"])
    assert rw.draws == 199
    one = romano_wolf([0.3], draws[np.isfinite(draws).all(axis=1), :1], ["a"])
    assert one.table["p_romano_wolf"].iloc[0] == one.table["p_bootstrap"].iloc[0]
    assert (rw.table["p_romano_wolf"] >= rw.table["p_bootstrap"]).all()


@pytest.fixture(scope="module")
def study():
    """A generated study with a true effect (women's larger than men's), through 01-03."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    design, est, outc = doc["design"], doc["estimation"], doc["outcomes"]
    seed = 7
    s = generate(seed, n_mentored=80, n_comparison=1200, effect=EffectSpec(),
                 horizons=tuple(outc["horizons"]), pre_months=12)  # fmt: skip
    an = build_analysis(s.participants, s.monthly, horizons=outc["horizons"], pre_months=12,
                        min_pre_months=12, rng=stream(seed, "pseudo_starts"))  # fmt: skip
    covs, outs = split_frame(an.frame, outc["horizons"])
    dsg = study_design(covs, covariates=design["covariates"], design=design,
                       matching=est["matching"])  # fmt: skip
    data = fx.analysis_sample(covs, outs, dsg.hand_over())
    spec = fx.EffectsSpec.from_params(design, est)
    names = outcome_names(outc["horizons"])
    results = fx.estimate_study(data, names, spec)
    boot = fx.bootstrap_study(data, names, spec, draws=199, use_when_ratio_above=1.05,
                              rng=stream(seed, "weighted_bootstrap"))  # fmt: skip
    return data, spec, names, results, boot


def test_the_decomposition_reproduces_the_matching_estimate_and_its_variance(study):
    data, spec, names, results, boot = study
    for outcome in names:
        sample = fx.supported(data.loc[data[outcome].notna()], spec.covariates)
        rep = matching_representation(sample, outcome, spec.covariates, spec.options()["matching"])
        shown = next(r for r in results if r.outcome == outcome and r.estimator == "matching")
        assert rep.estimate == pytest.approx(shown.estimate, rel=1e-10, abs=1e-10)
        assert len(rep.tau_i) == shown.n_treated and len(rep.control) == shown.n_control
        # the multipliers' variance is the Abadie-Imbens population variance, exactly
        assert np.sqrt(rep.variance) == pytest.approx(shown.spec["se_population"], rel=1e-9)
        draws = representation_draws(rep, boot.weights, data.index.get_indexer(sample.index))
        # 199 draws: their SD estimates it to within Monte Carlo error (about 5 %; 20 % = 4 SD)
        assert np.std(draws) == pytest.approx(shown.spec["se_population"], rel=0.20)


@pytest.mark.parametrize("headline", ["matching", "aipw", "ipw"])
def test_the_headline_family_gets_adjusted_p_values_at_least_the_single_ones(study, headline):
    data, spec, names, results, boot = study
    spec = fx.EffectsSpec(**{**spec.__dict__, "headline_estimator": headline})
    rw = fx.headline_family(data, results, names, spec, boot)
    assert list(rw.table.index) == names and rw.draws >= 190
    assert (rw.table["p_romano_wolf"] >= rw.table["p_bootstrap"] - EXACT).all()
    assert (rw.table["p_romano_wolf"] <= 1).all()
    shown = {r.outcome: r.estimate for r in results if r.estimator == headline}
    assert rw.table["estimate"].to_dict() == pytest.approx(shown)
    assert ("Abadie-Imbens" in rw.method) == (headline == "matching")


def test_no_family_for_an_estimator_without_joint_draws(study):
    data, spec, names, results, boot = study
    spec = fx.EffectsSpec(**{**spec.__dict__, "headline_estimator": "ra"})
    assert fx.headline_family(data, results, names, spec, boot) is None


def test_bootstrap_rule_applies_to_ipw_and_aipw_only(study):
    data, spec, names, results, boot = study
    out = fx.apply_bootstrap(results, boot)
    for before, after in zip(results, out, strict=True):
        if before.estimator in ("ipw", "aipw"):
            assert after.spec["se_key"] in ("sandwich_ps", "bootstrap_ps")
            assert after.spec["se_sandwich"] == before.se
            picked = after.spec["se_ratio_bootstrap_to_sandwich"] > 1.05
            assert after.se == (after.spec["se_bootstrap"] if picked else before.se)
        else:
            assert after is before


def test_women_men_difference(study):
    data, spec, names, results, boot = study
    by_sex = fx.estimate_by_sex(data, "employed_m6", spec, min_cell=5)
    diff = fx.sex_difference(by_sex, "matching")
    w = next(r for r in by_sex.results if r.subgroup == "sex=female" and r.estimator == "matching")
    m = next(r for r in by_sex.results if r.subgroup == "sex=male" and r.estimator == "matching")
    assert diff.estimate == pytest.approx(w.estimate - m.estimate, abs=EXACT)
    assert diff.se == pytest.approx(np.sqrt(w.se**2 + m.se**2), rel=EXACT)
    assert diff.ci_low < diff.estimate < diff.ci_high and 0 < diff.p_value <= 1
    # the subgroups are disjoint persons: their mentored add up to at most all mentored
    assert w.n_treated + m.n_treated <= int((data["treated"] == 1).sum())
    withheld = fx.SubgroupEffects(results=[w], withheld={"sex=male": "fewer than 5"})
    assert fx.sex_difference(withheld, "matching") is None
