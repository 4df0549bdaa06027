"""The event study: exact on a noise-free panel, and it traces the synthetic study's truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.calendar import month_index
from evaluation.config import load_params, outcome_names
from evaluation.data.outcomes import panel_relative
from evaluation.design import study_design
from evaluation.design.sample import build_analysis
from evaluation.estimate import dynamics as dy
from evaluation.rng import stream
from evaluation.synth import generate

#: Noise-free data: the coefficients are exact up to the solver's precision.
EXACT = 1e-8
#: Share of post-start months whose true effect lies inside the pointwise 95 % interval.
COVERAGE_MIN = 0.85
#: A lead is "near zero" when within this many standard errors of zero.
LEAD_Z = 2.5
#: The joint pre-trend test must not reject at this level on the synthetic study.
PRETREND_ALPHA = 0.05
#: Monte Carlo error of the sup-t critical value with 20 000 draws.
SUP_T_TOL = 0.03

LEADS, LAGS = 6, 10


def tau(k: np.ndarray) -> np.ndarray:
    """A dynamic effect with lock-in: 0 before start, -0.3 in months 0-2, then growing."""
    return np.where(k < 0, 0.0, np.where(k < 3, -0.3, 0.1 * k))


def dip(k: np.ndarray) -> np.ndarray:
    """A registration dip that both groups go through around their (pseudo) start."""
    return np.where((k >= -3) & (k <= 0), -0.5 + 0.1 * k, 0.0)


@pytest.fixture(scope="module")
def exact_panel() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n_t, n_c = 40, 160
    start = rng.integers(24_200, 24_220, n_t + n_c)
    treated = np.r_[np.ones(n_t), np.zeros(n_c)].astype(np.int8)
    a = rng.normal(size=n_t + n_c)
    rel = np.arange(-LEADS - 3, LAGS + 4)
    person = np.repeat(np.arange(n_t + n_c), len(rel))
    k = np.tile(rel, n_t + n_c)
    month = start[person] + k
    calendar = np.sin(month / 5.0)
    y = a[person] + calendar + dip(k) + treated[person] * tau(k)
    return pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in person],
            "month": month,
            "rel_month": k,
            "treated": treated[person],
            "y": y,
            "w": rng.uniform(0.5, 2.0, n_t + n_c)[person],
        }
    )


def test_event_study_is_exact_without_noise(exact_panel):
    es = dy.event_study(exact_panel, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    t = es.table.set_index("event_time")["estimate"]
    np.testing.assert_allclose(t.to_numpy(), tau(t.index.to_numpy()), atol=EXACT)
    assert (es.n_treated, es.n_control) == (40, 160)


def test_without_shared_event_time_effects_the_dip_looks_like_a_pretrend(exact_panel):
    es = dy.event_study(
        exact_panel, outcome="y", weight="w", leads=LEADS, lags=LAGS, common_event_time=False
    )
    leads = es.table.loc[es.table["event_time"] < -1, "estimate"]
    assert leads.abs().max() > 0.1


def test_sup_t_critical_value_for_independent_coefficients():
    k = 8
    es = dy.EventStudy(
        table=pd.DataFrame(
            {"event_time": range(k), "estimate": 0.0, "se": 1.0, "ci_low": 0.0, "ci_high": 0.0}
        ),
        cov=np.eye(k),
        reference=-1,
        outcome="y",
        n_treated=1,
        n_control=1,
        n_obs=1,
        level=0.95,
    )
    band = dy.sup_t_band(es, np.random.default_rng(0), draws=20_000)
    # max of k independent |Z|: P(max <= c) = (2 Phi(c) - 1)^k = 0.95
    exact = stats.norm.ppf((1 + 0.95 ** (1 / k)) / 2)
    assert abs(band.critical_value - exact) < SUP_T_TOL


def test_pretrend_wald_by_hand():
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    table = pd.DataFrame(
        {
            "event_time": [-3, -2, -1, 0],
            "estimate": [0.1, -0.2, 0.0, 0.5],
            "se": [0.2, 0.3, np.nan, 0.1],
            "ci_low": 0,
            "ci_high": 0,
        }
    )
    full = np.zeros((3, 3))
    full[:2, :2], full[2, 2] = cov, 0.01
    es = dy.EventStudy(table, full, -1, "y", 1, 1, 1, 0.95)
    w = dy.pretrend_test(es)
    b = np.array([0.1, -0.2])
    assert w.df == 2
    np.testing.assert_allclose(w.statistic, b @ np.linalg.inv(cov) @ b, rtol=1e-12)


@pytest.fixture(scope="module")
def synthetic_matched():
    """The default synthetic study through notebooks 01 and 02's steps, in memory."""
    root = Path(__file__).resolve().parents[2]
    params = load_params(root / "params" / "default.yaml", check_files=False)
    s = generate(params.seed)
    a = build_analysis(
        s.participants,
        s.monthly,
        horizons=params.outcomes.horizons,
        pre_months=params.outcomes.pre_months,
        min_pre_months=params.outcomes.min_pre_months,
        rng=stream(params.seed, "pseudo_starts"),
    )
    drop = [*outcome_names(params.outcomes.horizons), "months_to_job", "job_found", "months_after"]
    frame = a.frame.drop(columns=drop)
    dsg = study_design(
        frame,
        covariates=params.design.covariates,
        design=params.design.model_dump(),
        matching=params.estimation.matching.model_dump(),
    ).hand_over()
    persons = frame.merge(dsg, on="person_id").loc[lambda f: f["keep"]]
    panel = panel_relative(persons[["person_id", "group", "start_month"]], s.monthly)
    panel["month"] = month_index(panel["month"].astype(str)).to_numpy(dtype=np.int64)
    panel["person_id"] = panel["person_id"].astype(str)
    panel = panel.merge(persons[["person_id", "match_weight"]], on="person_id")
    # the truth for this estimand: the sample ATT by month over the mentored it averages,
    # i.e. the matched mentored (weight 1 each; unmatched mentored have weight 0)
    matched = persons.loc[(persons["treated"] == 1) & (persons["match_weight"] > 0), "person_id"]
    pot = s.potential.loc[s.potential["person_id"].astype(str).isin(set(matched))]
    truth = (
        (pot["employed_1"].astype(float) - pot["employed_0"])
        .groupby(pot["rel_month"].to_numpy())
        .mean()
    )
    return panel, truth, len(matched)


def test_event_study_traces_the_true_path_on_the_synthetic_study(synthetic_matched):
    panel, truth, n_matched = synthetic_matched
    es = dy.event_study(panel, outcome="employed", weight="match_weight", leads=12, lags=24)
    assert es.n_treated == n_matched
    t = es.table.set_index("event_time")
    leads = t.loc[t.index < -1]
    assert (leads["estimate"].abs() < LEAD_Z * leads["se"]).all()
    assert dy.pretrend_test(es).p_value > PRETREND_ALPHA
    lags = t.loc[t.index >= 0].assign(truth=truth)
    inside = (lags["truth"] >= lags["ci_low"]) & (lags["truth"] <= lags["ci_high"])
    assert inside.mean() >= COVERAGE_MIN
    band = dy.sup_t_band(es, np.random.default_rng(0), draws=5000).table.set_index("event_time")
    band = band.loc[band.index >= 0]
    assert (
        (truth[band.index] >= band["band_low"]) & (truth[band.index] <= band["band_high"])
    ).all()
    # and the intervals are not so wide that they cover anything: the effect is detected
    assert (lags["ci_low"] > 0).sum() >= 3


def test_timing_chapter_in_the_finished_run(finished_run):
    import json

    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    effects = {(e["outcome"], e["estimator"]): e for e in res["effects"]}
    for key in [
        ("employed_rel_m12", "event_study_matched"),
        ("employed_rel_m-2", "event_study_ipw"),
        ("employed_q_overall", "cs_dr"),
        ("earnings_q_overall", "cs_or"),
        ("employed_q_overall", "twfe"),
        ("months_to_job", "cox_matched"),
    ]:
        e = effects[key]
        assert e["estimand"] and e["ci_low"] < e["estimate"] < e["ci_high"]
    assert 0 <= res["numbers"]["es_matched_employed"]["pretrend_p"] <= 1
    html = run.report.read_text("utf-8")
    assert 'id="timing"' in html and 'id="fig-event_study_employed"' in html
    assert 'id="tab-timing-staggered"' in html


def _noisy(exact_panel: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return exact_panel.assign(y=exact_panel["y"] + rng.normal(size=len(exact_panel)))


def test_event_study_influence_solves_the_same_regression(exact_panel):
    panel = _noisy(exact_panel)
    es = dy.event_study(panel, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    inf = dy.event_study_influence(panel, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    ref = es.table.loc[es.table["event_time"] != es.reference, "estimate"].to_numpy()
    assert np.allclose(inf.estimate, ref, rtol=0, atol=EXACT)
    # the person-clustered sandwich from the influences is PanelOLS's clustered covariance
    # up to one scalar small-sample factor (linearmodels' degrees-of-freedom scaling)
    sandwich = (inf.influence * inf.weight[:, None]).T @ (inf.influence * inf.weight[:, None])
    ratio = es.cov / sandwich
    assert np.allclose(ratio, ratio[0, 0], rtol=1e-6, atol=0) and 1 <= ratio[0, 0] < 1.1


def test_event_study_influence_predicts_a_reweighted_fit(exact_panel):
    """First order: a 2 % perturbation of the person weights moves the coefficients as the
    influences predict, to within a few per cent of the move."""
    panel = _noisy(exact_panel)
    inf = dy.event_study_influence(panel, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    rng = np.random.default_rng(2)
    factor = pd.Series(1 + 0.02 * rng.normal(size=len(inf.person_id)), index=inf.person_id)
    moved = panel.assign(w=panel["w"] * factor.reindex(panel["person_id"]).to_numpy())
    es = dy.event_study(moved, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    actual = es.table.loc[es.table["event_time"] != es.reference, "estimate"].to_numpy()
    predicted = inf.estimate + (inf.weight * (factor.to_numpy() - 1)) @ inf.influence
    move = actual - inf.estimate
    assert np.max(np.abs(predicted - actual)) < 0.05 * np.max(np.abs(move))


def test_weight_bootstrap_with_unit_weights_returns_the_estimate(exact_panel):
    """With every bootstrap weight 1 the refitted score is the fitted one, the recomputed
    odds weights are the fit's, and every draw is the estimate; other weights move it."""
    import statsmodels.api as sm

    from evaluation.estimate.att import BootstrapWeights

    panel = _noisy(exact_panel)
    ids = np.unique(panel["person_id"].astype(str).to_numpy())
    per = panel.drop_duplicates("person_id").set_index("person_id").loc[ids]
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(len(ids)), rng.normal(size=len(ids))])
    d = per["treated"].to_numpy(float)
    e = sm.Logit(d, x).fit(disp=False).predict(x)
    w = pd.Series(np.where(d == 1, 1.0, e / (1 - e)), index=ids)
    panel = panel.assign(ow=w.reindex(panel["person_id"].astype(str)).to_numpy())
    inf = dy.event_study_influence(panel, outcome="y", weight="ow", leads=LEADS, lags=LAGS)

    class Ones(BootstrapWeights):
        def blocks(self, rows=None, width=1):
            yield 0, np.ones((self.draws, self.n))

    ones = dy.event_study_weight_bootstrap(inf, d, x, e, np.ones(len(ids)), Ones(len(ids), 3, 0))
    assert np.allclose(ones.draws, inf.estimate, rtol=0, atol=1e-8)
    real = dy.event_study_weight_bootstrap(inf, d, x, e, np.ones(len(ids)),
                                           BootstrapWeights.draw(len(ids), 99, rng))  # fmt: skip
    assert real.n_failed == 0 and (real.se > 0).all()
    with pytest.raises(ValueError, match="odds weights"):
        dy.event_study_weight_bootstrap(inf, d, x, e, 2 * np.ones(len(ids)), Ones(len(ids), 3, 0))


def test_an_event_time_knows_the_persons_observed_then(exact_panel):
    # persons whose panel stops early are not observed in the last months
    cut = exact_panel.loc[~((exact_panel["person_id"].isin(["p0", "p1", "p50"]))
                            & (exact_panel["rel_month"] > 2))]  # fmt: skip
    es = dy.event_study(cut, outcome="y", weight="w", leads=LEADS, lags=LAGS)
    assert (len(es.persons[0]), len(es.persons[1])) == (es.n_treated, es.n_control) == (40, 160)
    treated, control = es.persons_at[LAGS]
    assert len(treated) == 38 and len(control) == 159
    assert not {"p0", "p1", "p50"} & (set(treated) | set(control))
    assert [len(p) for p in es.persons_at[0]] == [40, 160]
