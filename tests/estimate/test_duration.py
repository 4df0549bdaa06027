"""Kaplan-Meier and Cox against hand-worked examples and statsmodels PHReg."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.duration.hazard_regression import PHReg

from evaluation.estimate.duration import (
    cox_ph,
    disclosure_steps,
    kaplan_meier,
    last_point,
    step_shares,
)

#: Exact arithmetic examples: only floating-point error is allowed.
EXACT = 1e-12
#: Newton-Raphson convergence of the Cox fit.
NEWTON = 1e-8


def test_kaplan_meier_hand_example():
    # times 2, 3, 3+, 5, 6+, 8 (+ = censored; a person censored at 3 is at risk at 3)
    km = kaplan_meier([2, 3, 3, 5, 6, 8], [1, 1, 0, 1, 0, 1])
    t = km.table
    assert t["time"].tolist() == [2, 3, 5, 8]
    assert t["at_risk"].tolist() == [6, 5, 3, 1]
    # S = 5/6; 5/6 * 4/5 = 2/3; 2/3 * 2/3 = 4/9; 0
    assert_allclose(t["survival"], [5 / 6, 2 / 3, 4 / 9, 0.0], atol=EXACT)
    # Greenwood at 5: (4/9)^2 (1/(6*5) + 1/(5*4) + 1/(3*2)) = 4/81, se = 2/9
    assert_allclose(t["se"].iloc[2], 2 / 9, atol=EXACT)
    assert_allclose(
        km.survival_at(np.array([0, 2, 4.5, 7, 9])), [1, 5 / 6, 2 / 3, 4 / 9, 0], atol=EXACT
    )


def test_weighted_kaplan_meier_equals_duplicated_rows():
    time, event = np.array([2, 3, 3, 5, 6, 8]), np.array([1, 1, 0, 1, 0, 1])
    w = np.array([2, 1, 3, 1, 1, 2])
    weighted = kaplan_meier(time, event, w).table
    dup = kaplan_meier(np.repeat(time, w), np.repeat(event, w)).table
    assert_allclose(weighted["survival"], dup["survival"], atol=EXACT)
    # first step by hand: 10 at risk (weighted), 2 events at time 2
    assert_allclose(weighted["survival"].iloc[0], 1 - 2 / 10, atol=EXACT)
    assert weighted["persons_at_risk"].iloc[0] == 6


def test_cox_hand_example():
    # A treated event t=1, B control event t=2, C treated event t=3, D control censored t=4.
    # Risk sets: {A,B,C,D}: e^b/(2e^b+2); {B,C,D}: 1/(e^b+2); {C,D}: e^b/(e^b+1).
    # Score 2 - 2x/(x+1) - x/(x+2) = 0 with x = e^b  =>  x^2 - x - 4 = 0, x = (1+sqrt 17)/2;
    # information 2x/(x+1)^2 + 2x/(x+2)^2.
    fit = cox_ph([1, 2, 3, 4], [1, 1, 1, 0], np.array([[1], [0], [1], [0]]))
    x = (1 + math.sqrt(17)) / 2
    assert_allclose(fit.params[0], math.log(x), atol=NEWTON)
    info = 2 * x / (x + 1) ** 2 + 2 * x / (x + 2) ** 2
    assert_allclose(fit.se[0], 1 / math.sqrt(info), atol=NEWTON)
    assert_allclose(fit.hazard_ratio()["hazard_ratio"].iloc[0], x, atol=NEWTON)


@pytest.fixture(scope="module")
def survival_data():
    rng = np.random.default_rng(3)
    n = 400
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    t = np.ceil(rng.exponential(10 * np.exp(-0.5 * x[:, 0] - 0.3 * x[:, 1])))
    c = np.ceil(rng.uniform(0, 20, n))
    return np.minimum(t, c), (t <= c).astype(float), x, rng.integers(1, 4, n)


def test_cox_matches_statsmodels_phreg(survival_data):
    time, event, x, _ = survival_data
    ours = cox_ph(time, event, x)
    ref = PHReg(time, x, status=event, ties="breslow").fit()
    assert_allclose(ours.params, ref.params, atol=NEWTON)
    assert_allclose(ours.se, ref.bse, rtol=1e-7)
    robust = cox_ph(time, event, x, robust=True)
    ref_r = PHReg(time, x, status=event, ties="breslow").fit(groups=np.arange(len(time)))
    assert_allclose(robust.se, ref_r.bse, rtol=1e-7)


def test_weighted_cox_equals_duplicated_rows_clustered(survival_data):
    time, event, x, w = survival_data
    ours = cox_ph(time, event, x, w.astype(float))
    rep = np.repeat(np.arange(len(time)), w)
    ref = PHReg(time[rep], x[rep], status=event[rep], ties="breslow").fit(groups=rep)
    assert ours.se_method == "robust"
    assert_allclose(ours.params, ref.params, atol=NEWTON)
    assert_allclose(ours.se, ref.bse, rtol=1e-7)


def test_disclosure_steps_rest_on_enough_persons():
    rng = np.random.default_rng(0)
    time = rng.integers(1, 30, 60).astype(float)
    event = (rng.random(60) < 0.7).astype(float)
    km = kaplan_meier(time, event)
    pts = disclosure_steps(km, np.arange(1, 31), 5)
    events_at = np.concatenate([[0], np.cumsum(km.table["persons_events"])])
    idx = np.searchsorted(km.table["time"].to_numpy(), pts["time"].to_numpy(), side="right")
    assert len(pts) > 2
    assert np.all(np.diff(events_at[idx]) >= 5)
    assert_allclose(pts["survival"].iloc[1:], km.survival_at(pts["time"].iloc[1:]), atol=EXACT)


def test_published_points_read_and_tabulated_as_a_reader_sees_them():
    pts = {"a": pd.DataFrame({"time": [0.0, 2.0, 5.0], "survival": [1.0, 0.8, 0.5]}),
           "b": pd.DataFrame({"time": [0.0, 3.0], "survival": [1.0, 0.6]})}  # fmt: skip
    assert last_point(pts["a"], 1) is None, "the start is not a published reading"
    assert last_point(pts["a"], 4) == (2.0, 0.8)
    assert last_point(pts["a"], 12) == (5.0, 0.5)
    table = step_shares(pts)
    assert table.index.tolist() == [0, 2, 3, 5] and table.index.name == "month"
    assert_allclose(table["a"].to_numpy(), [0.0, 0.2, np.nan, 0.5], atol=EXACT)
    assert_allclose(table["b"].to_numpy(), [0.0, np.nan, 0.4, np.nan], atol=EXACT)


def test_no_point_leaves_fewer_than_k_persons_without_the_event():
    # 12 persons: events at 1 (x3), 2 (x3), 3 (x4), then two persons censored at 9.
    # At month 3 the step is 4 events (>= 3) and 6 were at risk at 3, but only 2 are left
    # without the event after it: the complement of the published point would be 2 < 3.
    time = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 9, 9], dtype=float)
    event = np.array([1] * 10 + [0, 0], dtype=float)
    pts = disclosure_steps(kaplan_meier(time, event), np.arange(1, 10), 3)
    assert pts["time"].tolist() == [0.0, 1.0, 2.0]
