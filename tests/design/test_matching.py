"""Nearest-neighbour matching and the Abadie-Imbens variance, checked by hand.

The small example (6 treated, 8 controls, one covariate) is worked out below with plain
arithmetic, independently of the package's helpers (AI 2006, Theorem 7 / Section 4).
"""

import time

import numpy as np
import pandas as pd
import pytest

from evaluation.design.matching import match_nearest
from evaluation.design.propensity import DesignError
from evaluation.estimate.matching import matching_att

EXACT = 1e-12  # hand arithmetic vs code: only floating-point rounding
SE_TOL = 1e-10

# --- the hand example ---------------------------------------------------------------------
XT = [1.0, 2.5, 4.5, 5.5, 8.0, 9.0]
YT = [5.0, 6.5, 9.0, 8.0, 12.0, 13.5]
XC = [0.5, 2.0, 3.2, 4.7, 6.0, 6.6, 8.2, 10.0]
YC = [2.0, 4.0, 3.5, 6.0, 7.5, 6.0, 9.0, 11.0]


def hand_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "d": [1] * 6 + [0] * 8,
            "x": XT + XC,
            "y": YT + YC,
        },
        index=[f"t{i}" for i in range(1, 7)] + [f"c{j}" for j in range(1, 9)],
    )


# Nearest control of each treated unit (|x_t - x_c|, no ties):
#   t1 x=1.0 -> c1 (0.5, d=0.5)    t2 x=2.5 -> c2 (2.0, d=0.5; c3 is 0.7 away)
#   t3 x=4.5 -> c4 (4.7, d=0.2)    t4 x=5.5 -> c5 (6.0, d=0.5; c4 is 0.8 away)
#   t5 x=8.0 -> c7 (8.2, d=0.2)    t6 x=9.0 -> c7 (8.2, d=0.8; c8 is 1.0 away)
MATCH = {"t1": "c1", "t2": "c2", "t3": "c4", "t4": "c5", "t5": "c7", "t6": "c7"}
YC_OF = dict(zip([f"c{j}" for j in range(1, 9)], YC, strict=True))
XC_OF = dict(zip([f"c{j}" for j in range(1, 9)], XC, strict=True))
# unit effects: 5-2, 6.5-4, 9-6, 8-7.5, 12-9, 13.5-9
TAU_I = [3.0, 2.5, 3.0, 0.5, 3.0, 4.5]
ATT = sum(TAU_I) / 6  # 2.75
# K_M(j): c1, c2, c4, c5 used once, c7 twice.
K = {"c1": 1, "c2": 1, "c4": 1, "c5": 1, "c7": 2}
# sigma^2 with J = 1 (nearest unit of the same group; J/(J+1) (Y_i - Y_nb)^2 = (Y_i - Y_nb)^2 / 2)
#   treated: t1<->t2 (1.5 apart), t3<->t4 (1.0), t5<->t6 (1.0)
S2_T = [(5.0 - 6.5) ** 2 / 2, (6.5 - 5.0) ** 2 / 2, (9 - 8) ** 2 / 2, (8 - 9) ** 2 / 2,
        (12 - 13.5) ** 2 / 2, (13.5 - 12) ** 2 / 2]  # fmt: skip
#   controls used: c1 -> c2 (1.5), c2 -> c3 (1.2 < 1.5), c4 -> c5 (1.3 < 1.5),
#                  c5 -> c6 (0.6), c7 -> c6 (1.6 < 1.8)
S2_C = {"c1": (2 - 4) ** 2 / 2, "c2": (4 - 3.5) ** 2 / 2, "c4": (6 - 7.5) ** 2 / 2,
        "c5": (7.5 - 6) ** 2 / 2, "c7": (9 - 6) ** 2 / 2}  # fmt: skip


def test_hand_example_matches_and_weights():
    df = hand_frame()
    m = match_nearest(df, "d", distance="x")
    got = dict(zip(m.pairs["treated"], m.pairs["control"], strict=True))
    assert got == MATCH
    assert m.n_matched == 6 and m.n_unmatched == 0 and m.n_controls_used == 5
    expected_w = {**{f"t{i}": 1.0 for i in range(1, 7)}, **{c: 0.0 for c in YC_OF}, **K}
    assert m.weights.to_dict() == pytest.approx(expected_w, abs=EXACT)
    assert df.equals(hand_frame())  # caller's data untouched


def test_hand_example_ai_variance_without_bias_correction():
    df = hand_frame()
    m = match_nearest(df, "d", distance="x")
    v_pop = (sum((t - ATT) ** 2 for t in TAU_I) + sum(K[c] * (K[c] - 1) * S2_C[c] for c in K)) / 36
    v_sample = (sum(S2_T) + sum(K[c] ** 2 * S2_C[c] for c in K)) / 36
    assert v_pop == pytest.approx(17.375 / 36, abs=EXACT)  # 8.375 + 2*1*4.5
    assert v_sample == pytest.approx(27.875 / 36, abs=EXACT)  # 5.5 + 22.375
    pop = matching_att(m, df["y"])
    assert pop.estimate == pytest.approx(ATT, abs=EXACT)
    assert pop.se == pytest.approx(np.sqrt(v_pop), abs=SE_TOL)
    assert pop.spec["bias_adjust"] is False  # off by default for a scalar score
    samp = matching_att(m, df["y"], variance="sample")
    assert samp.se == pytest.approx(np.sqrt(v_sample), abs=SE_TOL)
    assert pop.n_treated == 6 and pop.n_control == 5
    # homoskedastic (R Matching Var.calc = 0): sigma^2 = 1/2 mean (tau_i - att)^2
    s2 = 0.5 * sum((t - ATT) ** 2 for t in TAU_I) / 6
    homo = matching_att(m, df["y"], var_matches=0, variance="sample")
    assert homo.se == pytest.approx(
        np.sqrt((6 * s2 + sum(K[c] ** 2 * s2 for c in K)) / 36), abs=SE_TOL
    )


def test_hand_example_ai_variance_with_bias_correction():
    df = hand_frame()
    m = match_nearest(df, "d", distance="x")
    # AI (2011): weighted LS of y on (1, x) over matched controls, weights K_M(j)
    pts = [(XC_OF[c], YC_OF[c], K[c]) for c in K]
    sw = sum(k for _, _, k in pts)
    xbar = sum(k * x for x, _, k in pts) / sw
    ybar = sum(k * y for _, y, k in pts) / sw
    beta = sum(k * (x - xbar) * (y - ybar) for x, y, k in pts) / sum(
        k * (x - xbar) ** 2 for x, _, k in pts
    )
    tau_bc = [
        yt - YC_OF[MATCH[t]] - beta * (xt - XC_OF[MATCH[t]])
        for t, xt, yt in zip(MATCH, XT, YT, strict=True)
    ]
    att_bc = sum(tau_bc) / 6
    v_pop = (
        sum((t - att_bc) ** 2 for t in tau_bc) + sum(K[c] * (K[c] - 1) * S2_C[c] for c in K)
    ) / 36
    v_sample = (sum(S2_T) + sum(K[c] ** 2 * S2_C[c] for c in K)) / 36  # sigma^2 from raw outcomes
    res = matching_att(m, df["y"], bias_adjust=True, bias_covariates=df[["x"]])
    assert res.estimate == pytest.approx(att_bc, abs=EXACT)
    assert res.se == pytest.approx(np.sqrt(v_pop), abs=SE_TOL)
    assert res.spec["se_sample"] == pytest.approx(np.sqrt(v_sample), abs=SE_TOL)
    assert res.spec["estimate_unadjusted"] == pytest.approx(ATT, abs=EXACT)
    # the same with bias_sample="all": unweighted regression on all 8 controls
    xb, yb = sum(XC) / 8, sum(YC) / 8
    beta_all = sum((x - xb) * (y - yb) for x, y in zip(XC, YC, strict=True)) / sum(
        (x - xb) ** 2 for x in XC
    )
    att_all = (
        sum(
            yt - YC_OF[MATCH[t]] - beta_all * (xt - XC_OF[MATCH[t]])
            for t, xt, yt in zip(MATCH, XT, YT, strict=True)
        )
        / 6
    )
    res_all = matching_att(
        m, df["y"], bias_adjust=True, bias_covariates=df[["x"]], bias_sample="all"
    )
    assert res_all.estimate == pytest.approx(att_all, abs=EXACT)


def test_ties_are_kept_with_split_weights():
    # treated at x=2 is equidistant from controls at 1 and 3; t at 10 is nearest to 9
    df = pd.DataFrame(
        {
            "d": [1, 1, 0, 0, 0, 0],
            "x": [2.0, 10.0, 1.0, 3.0, 9.0, 20.0],
            "y": [4.0, 8.0, 1.0, 3.0, 5.0, 0.0],
        }
    )
    m = match_nearest(df, "d", distance="x")
    assert m.pairs[["treated", "control", "weight"]].to_numpy().tolist() == [
        [0, 2, 0.5], [0, 3, 0.5], [1, 4, 1.0],
    ]  # fmt: skip
    res = matching_att(m, df["y"])
    assert res.estimate == pytest.approx(((4 - 2) + (8 - 5)) / 2, abs=EXACT)
    # K = 0.5, 0.5, 1; KK = 0.25, 0.25, 1 -> K^2 - KK = 0 everywhere: V_pop = sum (tau_i - att)^2 / 4
    assert res.se == pytest.approx(np.sqrt(((2 - 2.5) ** 2 + (3 - 2.5) ** 2) / 4), abs=SE_TOL)
    first = match_nearest(df, "d", distance="x", ties=False)
    assert first.pairs["control"].tolist() == [2, 4]  # tie broken by row order


def test_exact_caliper_and_without_replacement():
    df = pd.DataFrame(
        {
            "d": [1, 1, 1, 0, 0, 0, 0],
            "s": [0.0, 0.1, 5.0, 0.05, 0.12, 0.3, 6.5],
            "q": ["A", "A", "B", "A", "A", "B", "B"],
        }
    )
    # exact on q: the B treated (s=5) can only use B controls (0.3 or 6.5 -> 6.5)
    m = match_nearest(df, "d", distance="s", exact="q")
    assert dict(zip(m.pairs["treated"], m.pairs["control"], strict=True)) == {0: 3, 1: 4, 2: 6}
    sd = df["s"].std()
    # caliper 0.5 SD drops the B treated (|5 - 6.5| = 1.5 > 0.5 * sd)
    c = match_nearest(df, "d", distance="s", exact="q", caliper=1.4 / sd)
    assert c.n_unmatched == 1 and c.weights.iloc[2] == 0.0
    # without replacement, largest score first: t2 (5.0) takes 6.5, t1 (0.1) takes 0.12,
    # t0 (0.0) then takes 0.05
    nr = match_nearest(df, "d", distance="s", replace=False)
    assert dict(zip(nr.pairs["treated"], nr.pairs["control"], strict=True)) == {0: 3, 1: 4, 2: 6}
    nr2 = match_nearest(df.iloc[[0, 1, 3, 5]], "d", distance="s", replace=False, order="smallest")
    # t0 takes 0.05, t1 then takes 0.3 (0.05 is used)
    assert dict(zip(nr2.pairs["treated"], nr2.pairs["control"], strict=True)) == {0: 3, 1: 5}
    assert nr2.weights.max() == 1.0


def test_missing_exact_and_duplicate_index_raise():
    df = pd.DataFrame({"d": [1, 0, 0], "s": [0.0, 1.0, 2.0], "q": ["A", None, "A"]})
    with pytest.raises(DesignError):
        match_nearest(df, "d", distance="s", exact="q")
    with pytest.raises(DesignError):
        match_nearest(df.set_index(pd.Index([1, 1, 2])), "d", distance="s")


def test_deterministic_and_scales_to_a_large_pool():
    rng = np.random.default_rng(7)
    n_c, n_t = 500_000, 50
    df = pd.DataFrame(
        {
            "d": np.r_[np.ones(n_t), np.zeros(n_c)],
            "s": np.r_[rng.normal(0.5, 1, n_t), rng.normal(0, 1, n_c)],
            "quarter": rng.integers(0, 8, n_t + n_c),
            "y": rng.normal(size=n_t + n_c),
        }
    )
    t0 = time.perf_counter()
    m = match_nearest(df, "d", distance="s", exact="quarter", k=2)
    r = matching_att(m, df["y"])
    elapsed = time.perf_counter() - t0
    assert elapsed < 20.0
    assert m.n_matched == n_t and len(m.pairs) >= 2 * n_t
    m2 = match_nearest(df, "d", distance="s", exact="quarter", k=2)
    assert m.pairs.equals(m2.pairs)
    assert r.estimate == matching_att(m2, df["y"]).estimate
    # every pair respects the exact cell
    q = df["quarter"]
    assert (q.loc[m.pairs["treated"]].to_numpy() == q.loc[m.pairs["control"]].to_numpy()).all()
