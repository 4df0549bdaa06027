import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from evaluation.design.balance import balance_table, interaction_balance  # noqa: E402

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


# --- Kolmogorov-Smirnov, variance-ratio bounds, squares and interactions -----------------


def _mixed(seed: int = 0, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame({
        "d": d,
        "age": np.round(rng.normal(35 + 3 * d, 8), 0),  # rounded: ties across groups
        "earn": rng.gamma(2, 1000, n) * (1 + 0.5 * d),
        "female": rng.binomial(1, 0.4 + 0.2 * d),
        "edu": rng.choice(["a", "b", "c"], n),
    })  # fmt: skip


def test_unweighted_ks_is_scipys_two_sample_statistic():
    df = _mixed()
    t = balance_table(df, "d", ["age", "earn", "female", "edu"]).table
    for term in ("age", "earn", "female"):
        ref = stats.ks_2samp(df.loc[df.d == 1, term], df.loc[df.d == 0, term]).statistic
        assert t.loc[term, "ks"] == pytest.approx(ref, abs=TOL), term
    # a 0/1 term: the KS distance is the difference in shares
    assert t.loc["female", "ks"] == pytest.approx(abs(t.loc["female", "diff"]), abs=TOL)


def test_weighted_ks_equals_the_ks_of_the_replicated_rows():
    """Integer weights are copies of a row: the weighted statistic is the copies' one."""
    df = _mixed(1)
    w = np.random.default_rng(2).integers(0, 4, len(df)).astype(float)
    t = balance_table(df, "d", ["age", "earn"], weights=w).table
    rep = df.loc[df.index.repeat(w.astype(int))]
    for term in ("age", "earn"):
        ref = stats.ks_2samp(rep.loc[rep.d == 1, term], rep.loc[rep.d == 0, term]).statistic
        assert t.loc[term, "ks"] == pytest.approx(ref, abs=TOL), term


def test_variance_ratios_outside_half_to_two_are_counted():
    df = _mixed(3)
    spread = {"narrow": 0.5, "mild": 1.2, "wide": 1.8}  # treated SD multiples: VR ~0.25, 1.4, 3.2
    for col, k in spread.items():
        z = np.random.default_rng(len(col)).normal(size=len(df))
        df[col] = np.where(df.d == 1, k * z, z)
    bt = balance_table(df, "d", ["narrow", "mild", "wide", "female"])
    vr = bt.table["var_ratio"]
    assert vr["narrow"] < 0.5 and 0.5 < vr["mild"] < 2 and vr["wide"] > 2
    assert bt.n_var_ratio_out == 2  # narrow and wide; a 0/1 term has no variance ratio


def test_interaction_smds_are_those_of_the_product_columns():
    """Computed by cross-products; checked against balance_table on explicit columns."""
    df = _mixed(4)
    w = np.random.default_rng(5).uniform(0.2, 3, len(df))
    ib = interaction_balance(df, "d", ["age", "earn", "female", "edu"], weights=w).table
    explicit = df.assign(
        **{"age^2": df.age**2, "earn^2": df.earn**2, "age*earn": df.age * df.earn,
           "age*female": df.age * df.female, "female*edu=b": df.female * (df.edu == "b"),
           "age*edu=a": df.age * (df.edu == "a")}
    )  # fmt: skip
    cols = ["age^2", "earn^2", "age*earn", "age*female", "female*edu=b", "age*edu=a"]
    ref = balance_table(explicit, "d", cols, weights=w).table["smd"]
    for term in cols:
        assert ib.loc[term, "smd"] == pytest.approx(ref[term], rel=1e-9, abs=1e-12), term
    assert "female^2" not in ib.index, "the square of a 0/1 term is the term itself"
    assert not any(i.startswith("edu=a*edu=") for i in ib.index), "levels of one covariate"
    assert ib.loc["female*edu=b", "binary"] and not ib.loc["age*earn", "binary"]


def test_a_term_constant_among_the_treated_uses_the_pooled_sd_not_rounding_noise():
    """0.3 is not exact in binary: its SD among the treated is 1e-17, not 0 (review N1)."""
    df = _mixed(6)
    df["x"] = np.where(df.d == 1, 0.3, np.random.default_rng(7).uniform(0, 1, len(df)))
    t = balance_table(df, "d", ["x", "age"]).table
    pooled = np.sqrt(df.loc[df.d == 0, "x"].var(ddof=1) / 2)
    assert t.loc["x", "smd"] == pytest.approx((0.3 - df.loc[df.d == 0, "x"].mean()) / pooled)
    ib = interaction_balance(df, "d", ["x", "age"]).table
    assert ib["smd"].abs().max() < 10, "no SMD blown up by a zero treated SD"
    explicit = balance_table(df.assign(**{"x^2": df.x**2}), "d", ["x^2"]).table["smd"]
    assert ib.loc["x^2", "smd"] == pytest.approx(explicit["x^2"], rel=1e-9)


def test_interaction_pooled_fallback_matches_the_explicit_column():
    """A product that is zero for every treated person: pooled SD, as the main terms (N2)."""
    df = _mixed(8)
    df.loc[df.d == 1, "female"] = 0  # female * anything is 0 among the treated
    w = np.random.default_rng(9).uniform(0.2, 3, len(df))
    ib = interaction_balance(df, "d", ["age", "female"], weights=w).table
    ref = balance_table(df.assign(**{"age*female": df.age * df.female}), "d", ["age*female"],
                        weights=w).table["smd"]  # fmt: skip
    assert ib.loc["age*female", "smd"] == pytest.approx(ref["age*female"], rel=1e-9)
