import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from evaluation.design.balance import balance_table  # noqa: E402

TOL = 1e-12


def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "d": [1, 1, 1, 0, 0, 0, 0],
            "age": [20.0, 30.0, 40.0, 25.0, 35.0, 50.0, 60.0],
            "female": [1, 0, 1, 0, 0, 1, 0],
            "edu": ["a", "b", "b", "a", "a", "c", "b"],
        }
    )


def test_unweighted_smd_uses_the_treated_sd():
    df = small()
    bt = balance_table(df, "d", ["age", "female", "edu"])
    t = bt.table
    sd_t = np.std([20.0, 30.0, 40.0], ddof=1)  # 10
    assert t.loc["age", "smd"] == pytest.approx((30.0 - 42.5) / sd_t, abs=TOL)
    vt, vc = np.var([20, 30, 40], ddof=1), np.var([25, 35, 50, 60], ddof=1)
    assert t.loc["age", "var_ratio"] == pytest.approx(vt / vc, abs=TOL)
    assert np.isnan(t.loc["female", "var_ratio"])  # binary: no variance ratio
    p = 2 / 3
    assert t.loc["female", "smd"] == pytest.approx((p - 0.25) / np.std([1, 0, 1], ddof=1), abs=TOL)
    assert list(t.index) == ["age", "female", "edu=a", "edu=b", "edu=c"]  # all levels shown
    # edu=c: no treated has it -> treated SD 0 -> pooled SD fallback
    assert t.loc["edu=c", "smd"] == pytest.approx(-0.25 / np.sqrt((0 + 0.25) / 2), abs=TOL)
    assert bool(t.loc["age", "flag"]) and bt.n_flagged == int(t["flag"].sum())


def test_weighted_balance_keeps_the_unweighted_denominator():
    df = small()
    w = pd.Series([1, 1, 0, 2, 0, 0, 1], index=df.index, dtype=float)
    bt = balance_table(df, "d", ["age"], weights=w)
    t = bt.table.loc["age"]
    mt = (20 + 30) / 2
    mc = (2 * 25 + 60) / 3
    assert t["mean_treated"] == pytest.approx(mt, abs=TOL)
    assert t["mean_control"] == pytest.approx(mc, abs=TOL)
    assert t["smd"] == pytest.approx((mt - mc) / 10.0, abs=TOL)
    assert bt.n_treated == 2 and bt.n_control == 2
    assert bt.ess_control == pytest.approx(9 / 5, abs=TOL)
