"""The design's weighted balance samples: odds weights, entropy balancing, overlap weights.

The design stage (notebook 02) tabulates balance after each weighting the estimators use, so
that the report's love plot and balance summaries show what each estimator balanced. Entropy
balancing and overlap weights balance the propensity model's terms exactly (held to
``EXACT``, in treated standard deviations); odds weights only approximately.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.chapters.design import design_chapter
from evaluation.design import study_design
from evaluation.design.propensity import fit_propensity
from evaluation.design.sample import build_analysis
from evaluation.design.study import _balancing_weights
from evaluation.design.weighting import entropy_balance
from evaluation.estimate.montecarlo import split_frame
from evaluation.rng import stream
from evaluation.synth import EffectSpec, generate

ROOT = Path(__file__).resolve().parents[2]

EXACT = 1e-8


def _study(seed: int, n_comparison: int) -> tuple[pd.DataFrame, dict, dict]:
    """A generated study's design covariates, and the default design and matching sections."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    d, est, outc = doc["design"], doc["estimation"], doc["outcomes"]
    s = generate(seed, n_mentored=50, n_comparison=n_comparison, effect=EffectSpec(),
                 horizons=tuple(outc["horizons"]), pre_months=12)  # fmt: skip
    an = build_analysis(s.participants, s.monthly, horizons=outc["horizons"], pre_months=12,
                        min_pre_months=12, rng=stream(seed, "pseudo_starts"))  # fmt: skip
    covs, _ = split_frame(an.frame, outc["horizons"])
    return covs, d, est["matching"]


@pytest.fixture(scope="module")
def design():
    covs, d, matching = _study(11, 1500)
    return study_design(covs, covariates=d["covariates"], design=d, matching=matching)


def test_entropy_and_overlap_balance_every_term_exactly(design):
    assert set(design.sample_weights) == {"matched", "weighted", "entropy", "overlap"}
    for name in ("entropy", "overlap"):
        assert design.balance[name].max_abs_smd < EXACT, name
        assert design.balance[name].n_flagged == 0
    assert design.balance["weighted"].max_abs_smd > 1e-3  # odds weights: not by construction
    frame = design.balance_frame()
    assert {"smd_entropy", "smd_overlap"} <= set(frame.columns)


def test_the_samples_weights_are_the_estimators_weights(design):
    fit, d = design.propensity, design.sample["treated"].to_numpy()
    ebal = entropy_balance(fit.design, d)
    w = design.sample_weights["entropy"]
    np.testing.assert_allclose(w[d == 0], ebal.odds[d == 0], rtol=1e-12)
    assert (w[d == 1] == 1.0).all()
    e = fit.pscore.to_numpy()
    np.testing.assert_allclose(design.sample_weights["overlap"], np.where(d == 1, 1 - e, e))


def test_entropy_sample_is_left_out_when_no_weights_balance():
    """The logit exists (no separation) but the treated mean lies beyond every control."""
    x = np.r_[np.tile([0.0, 1.0], 30), [0.5, 2.0, 2.0, 0.6]]
    d = np.r_[np.zeros(60), np.ones(4)].astype(int)
    frame = pd.DataFrame({"treated": d, "x": x})
    fit = fit_propensity(frame, "treated", ["x"])
    out = _balancing_weights(fit, d)
    assert set(out) == {"overlap"}


def test_ks_and_interaction_facts_count_the_persons_they_pin():
    """In an unweighted sample a KS distance is a difference of two shares of persons at or
    below a value, and a product of two 0/1 terms counts the persons who have both: the
    chapter records those persons as counts, so the audit can hide what would pin a small
    count (review P1). Weighted samples record sample facts."""
    covs, d, matching = _study(12, 800)
    ch = design_chapter(covs, design=d, matching=matching,
                        rng=stream(12, "comparison_subsample"), min_cell=5)  # fmt: skip
    facts = {f.where: f for f in ch.balance.facts if f.kind == "count"}
    before = ch.design.balance["before"].table
    term = "pre_months_employed_12"
    cut = before.loc[term, "ks_at"]
    pinned = covs["pre_months_employed_12"] <= cut
    got = [f for f in ch.balance.facts if f.where == (term, "ks_before")]
    assert {f.kind for f in got} == {"count"}
    expected = {frozenset(covs.loc[pinned & (covs.treated == g), "person_id"]) for g in (0, 1)}
    assert {frozenset(f.persons) for f in got} == expected
    assert {f.kind for f in ch.balance.facts if f.where == (term, "ks_matched")} == {"sample"}
    summary = {f.kind for f in ch.summary_facts["before"] if f.where == ("ess_control",)}
    assert summary == {"count"}
    inter = ch.design.interactions["before"].table
    worst = inter.loc[inter["smd"].abs().idxmax()]
    kinds = {f.kind for f in ch.summary_facts["before"]
             if f.where == ("max_abs_smd_interactions",)}  # fmt: skip
    assert kinds == ({"count"} if worst["binary"] else {"sample"})
    assert facts  # the unweighted samples' 0/1 cells are counts
