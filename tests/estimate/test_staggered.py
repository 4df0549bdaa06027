"""Callaway-Sant'Anna group-time effects: known truth, TWFE bias, and csdid's numbers."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.estimate import dynamics as dy
from evaluation.estimate import staggered as st

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "csdid.md"
#: Our numbers against csdid's on the same data (measured: about 1e-14).
CSDID_TOL = 1e-10
#: An unbiased estimate lies within this many standard errors of the truth.
Z_TRUTH = 4.0
#: TWFE bias in the dynamic design, in units of its own standard error (at least).
Z_TWFE_BIAS = 10.0
#: Bootstrap and analytic standard errors agree within this relative difference.
BOOT_REL = 0.15


def simulate(seed=20210601, n=1200, periods=8):
    """Staggered design: selection on x1 into cohorts, x1-specific trends, dynamic effects."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    u = rng.random(n)
    p_never = 1 / (1 + np.exp(0.3 + 0.8 * x1))
    cohort = np.where(u < p_never, 0, rng.choice([3, 5, 7], size=n))
    a = rng.normal(size=n) + 0.5 * x1
    t = np.arange(1, periods + 1)
    y = (
        a[:, None]
        + 0.2 * t[None, :]
        + 0.3 * x1[:, None] * t[None, :]
        + 0.4 * x2[:, None]
        + rng.normal(scale=0.7, size=(n, periods))
    )
    e = t[None, :] - cohort[:, None]
    treated = (cohort[:, None] > 0) & (e >= 0)
    y = y + np.where(treated, 0.5 * (e + 1) * (1 + 0.2 * (cohort[:, None] == 3)), 0.0)
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n + 1), periods),
            "period": np.tile(t, n),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, periods),
            "x1": np.repeat(x1, periods),
            "x2": np.repeat(x2, periods),
        }
    )


def true_att(cohort: int, period: int) -> float:
    """The effect in ``simulate`` (the same for every person of a cohort)."""
    e = period - cohort
    return 0.0 if e < 0 else 0.5 * (e + 1) * (1.2 if cohort == 3 else 1.0)


def to_panel(df: pd.DataFrame, covariates=("x1", "x2")) -> st.CohortPanel:
    persons = df.drop_duplicates("id").rename(columns={"id": "person_id"})
    persons = persons.assign(
        treated=(persons["cohort"] > 0).astype(int), start_period=persons["cohort"]
    )
    long = df.rename(columns={"id": "person_id"})
    return st.cohort_panel(long, persons, outcome="y", covariates=list(covariates))


@pytest.fixture(scope="module")
def data():
    return simulate()


@pytest.mark.parametrize("method", ["or", "dr"])
def test_group_time_effects_recover_truth(data, method):
    gt = st.att_gt(to_panel(data), method=method, control="never", pre=10, post=10)
    t = gt.table
    truth = np.array([true_att(g, p) for g, p in zip(t["cohort"], t["period"], strict=True)])
    z = (t["att"] - truth) / t["se"]
    assert np.max(np.abs(z)) < Z_TRUTH
    co = st.aggregate_cohort(gt).table.set_index("key")
    post = t["event_time"] >= 0
    size = data.drop_duplicates("id")["cohort"].value_counts()
    by_g = pd.Series(truth[post]).groupby(t.loc[post, "cohort"].to_numpy()).mean()
    overall = float((by_g * size[by_g.index]).sum() / size[by_g.index].sum())
    assert abs(co.loc["overall", "att"] - overall) < Z_TRUTH * co.loc["overall", "se"]


def test_without_covariates_the_x_specific_trends_bias_the_estimate(data):
    """The test above can fail: dropping the covariates breaks conditional parallel trends."""
    gt = st.att_gt(to_panel(data, covariates=()), method="or", control="never", pre=0, post=4)
    t = gt.table
    truth = np.array([true_att(g, p) for g, p in zip(t["cohort"], t["period"], strict=True)])
    assert np.max(np.abs((t["att"] - truth) / t["se"])) > Z_TRUTH


def test_event_time_aggregation_by_hand(data):
    gt = st.att_gt(to_panel(data), method="or", control="never", pre=2, post=3)
    ev = st.aggregate_event_time(gt).table.set_index("key")
    t = gt.table
    n_g = data.drop_duplicates("id")["cohort"].value_counts()
    for e, cells in t.groupby("event_time"):
        w = n_g[cells["cohort"]].to_numpy(dtype=float)
        assert_allclose(ev.loc[e, "att"], np.sum(w * cells["att"]) / w.sum(), atol=1e-12)


def test_multiplier_bootstrap_matches_analytic_se(data):
    gt = st.att_gt(to_panel(data), method="dr", control="never", pre=2, post=3)
    ev = st.aggregate_event_time(gt)
    boot = dy.multiplier_bootstrap(ev.influence, np.random.default_rng(5), draws=999)
    assert_allclose(boot.se, ev.table["se"], rtol=BOOT_REL)
    # the uniform critical value exceeds the pointwise one, and is below Bonferroni's
    k = ev.influence.shape[1]
    assert (
        1.96
        < boot.critical_value
        < float(np.abs(np.quantile(np.random.default_rng(0).standard_normal(200_000), 0.025 / k)))
    )
    again = dy.multiplier_bootstrap(ev.influence, np.random.default_rng(5), draws=999)
    assert again.critical_value == boot.critical_value


def simulate_dynamic(seed=11, n=3000, periods=10):
    """No covariates, parallel trends hold, few never-treated, effects growing after start."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([0, 3, 5, 7], p=[0.05, 0.35, 0.3, 0.3], size=n)
    t = np.arange(1, periods + 1)
    e = t[None, :] - cohort[:, None]
    effect = np.where((cohort[:, None] > 0) & (e >= 0), 1.0 * (e + 1), 0.0)
    y = rng.normal(size=n)[:, None] + np.sin(t)[None, :] + effect
    y = y + rng.normal(scale=0.5, size=(n, periods))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "period": np.tile(t, n),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, periods),
        }
    )


def test_twfe_is_biased_where_callaway_santanna_is_not():
    df = simulate_dynamic()
    gt = st.att_gt(to_panel(df, covariates=()), method="or", control="never", pre=0, post=9)
    co = st.aggregate_cohort(gt).table.set_index("key")
    t = gt.table
    truth = (t["period"] - t["cohort"] + 1).astype(float)
    size = df.drop_duplicates("id")["cohort"].value_counts()
    by_g = truth.groupby(t["cohort"]).mean()
    overall = float((by_g * size[by_g.index]).sum() / size[by_g.index].sum())
    assert abs(co.loc["overall", "att"] - overall) < Z_TRUTH * co.loc["overall", "se"]
    panel = df.rename(columns={"id": "person_id"}).assign(
        cohort=lambda f: np.where(f["cohort"] > 0, f["cohort"], -1)
    )
    tw = dy.twfe(panel, outcome="y")
    assert overall - tw.estimate > Z_TWFE_BIAS * tw.se  # TWFE understates the growing effect
    w = dy.twfe_weights(panel, outcome="y")
    assert_allclose(w["weight"].sum(), 1.0, atol=1e-9)
    neg = w.loc[w["weight"] < 0]
    assert len(neg) > 0 and neg["event_time"].min() >= 3  # long-run cells of early cohorts
    # TWFE = sum of the cell weights times the cell effects (de Chaisemartin-D'Haultfoeuille)
    implied = float((w["weight"] * (w["event_time"] + 1)).sum())
    assert abs(tw.estimate - implied) < Z_TRUTH * tw.se


def _recorded() -> dict:
    text = REFERENCE.read_text("utf-8")
    return json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))


def test_reference_file_holds_this_simulation():
    assert inspect.getsource(simulate) in REFERENCE.read_text("utf-8")


@pytest.mark.parametrize("ours,theirs", [("dr", "dr"), ("or", "reg")])
def test_matches_recorded_csdid_numbers(data, ours, theirs):
    ref = _recorded()[theirs]
    gt = st.att_gt(to_panel(data), method=ours, control="never", pre=10, post=10)
    cells = pd.DataFrame(ref["cells"]).merge(
        gt.table, on=["cohort", "period"], suffixes=("_ref", ""), validate="one_to_one"
    )
    assert len(cells) == len(ref["cells"]) == len(gt.table)
    assert_allclose(cells["att"], cells["att_ref"], atol=CSDID_TOL)
    assert_allclose(cells["se"], cells["se_ref"], rtol=CSDID_TOL)
    ev = st.aggregate_event_time(gt).table
    assert ev["key"].tolist() == ref["dynamic"]["event_time"]
    assert_allclose(ev["att"], ref["dynamic"]["att"], atol=CSDID_TOL)
    assert_allclose(ev["se"], ref["dynamic"]["se"], rtol=CSDID_TOL)
    overall = st.aggregate_cohort(gt).table.set_index("key").loc["overall"]
    assert_allclose(overall["att"], ref["group_overall"]["att"], atol=CSDID_TOL)
    assert_allclose(overall["se"], ref["group_overall"]["se"], rtol=CSDID_TOL)


def test_period_panel_quarters_need_all_three_months():
    monthly = pd.DataFrame(
        {
            "person_id": ["a"] * 5,
            "month": [24, 25, 26, 27, 28],
            "employed": [1, 0, 1, 1, 1],
            "earnings": [10, 0, 20, 5, 5],
        }
    )
    q = st.period_panel(monthly, unit="quarter")
    assert q["period"].tolist() == [8]  # months 27-28 are a partial quarter: left out
    assert_allclose(q["employed"], [2 / 3])
    assert_allclose(q["earnings"], [30])


def test_a_separated_small_cohort_is_listed_not_silently_dropped(data):
    df = data.copy()
    persons = df.drop_duplicates("id").rename(columns={"id": "person_id"})
    persons = persons.assign(
        treated=(persons["cohort"] > 0).astype(int), start_period=persons["cohort"]
    )
    # two persons form a cohort of their own, with the two highest propensity covariates
    top = persons["x1"].nlargest(2).index
    persons.loc[top, ["treated", "start_period"]] = [1, 6]
    long = df.rename(columns={"id": "person_id"})
    panel = st.cohort_panel(
        long, persons, outcome="y", covariates=["x1"], propensity_covariates=["x1"]
    )
    gt = st.att_gt(panel, method="dr", control="never", pre=1, post=1)
    assert {g for g, _, _ in gt.failed} == {6}
    assert 6 not in set(gt.table["cohort"])
    assert not st.att_gt(panel, method="or", control="never", pre=1, post=1).failed


def test_each_cell_carries_the_persons_it_counts(data):
    panel = to_panel(data)
    gt = st.att_gt(panel, method="or", control="never", pre=2, post=3)
    assert len(gt.cell_persons) == len(gt.table)
    for (treated, control), row in zip(gt.cell_persons, gt.table.itertuples(), strict=True):
        assert (len(treated), len(control)) == (row.n_treated, row.n_control)
        assert (panel.cohort[treated] == row.cohort).all()
        assert (panel.cohort[control] == st.NEVER).all()
    # an event time rests on the union of its cells' persons: every cohort reaching it
    treated, control = gt.event_time_persons(0)
    assert set(panel.cohort[treated]) == set(gt.table.loc[gt.table["event_time"] == 0, "cohort"])
    assert len(control) == int((panel.cohort == st.NEVER).sum())
    everyone = gt.all_persons()
    assert set(everyone[0]) >= set(treated) and len(everyone[1]) == len(control)
