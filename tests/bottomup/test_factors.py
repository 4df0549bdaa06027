"""The instrument, the generator and the parameters agree; the EFA recovers the structure.

Also: principal axes and the rotations against known truths (a population correlation matrix,
a rotated simple structure); the EFA gives the same numbers in any process, thread count, hash
seed and row order; a Heywood case is detected on a small sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evaluation import synth
from evaluation.bottomup.factors import (
    HEYWOOD_CAP,
    exploratory_factors,
    principal_axis,
    promax,
    varimax,
)
from evaluation.bottomup.instrument import load_instrument, mapping_differences
from evaluation.bottomup.scales import reverse_code
from evaluation.config import load_params

MIN_PRIMARY = 0.45  # every item loads at least this much on its intended factor (large n)
MAX_CROSS = 0.25  # and less than this on any other
EXACT = 1e-8  # known truths (population matrices): iterations run to 1e-12
SAME = 1e-9  # relative: the EFA in another process / row order (what `evaluation verify` uses)
#: Baseline respondents in the small studies (the default study has about 40).
N_SMALL = 40


def test_instrument_generator_and_parameters_agree(root):
    ins = load_instrument()
    assert list(ins.items["item"]) == list(synth.SURVEY_ITEMS)
    for item, factor, reverse in ins.items[["item", "factor", "reverse"]].itertuples(index=False):
        assert synth.SURVEY_ITEMS[item][:2] == (factor, reverse), item
    follow_only = {i for i, w in zip(ins.items["item"], ins.items["waves"], strict=True)
                   if w == ("follow_up",)}  # fmt: skip
    assert follow_only == {i for i, v in synth.SURVEY_ITEMS.items()
                           if v[0] in synth.FOLLOW_UP_ONLY}  # fmt: skip
    bu = load_params(root / "params" / "default.yaml", check_files=False).bottomup
    assert mapping_differences(ins, bu.factors, bu.reverse) == []
    assert bu.follow_up_factors == list(synth.FOLLOW_UP_ONLY)
    assert mapping_differences(ins, {**bu.factors, "goal": ["goal_1"]}, bu.reverse)
    assert all(ins.items["text_sv"].str.len() > 10) and all(ins.items["text_en"].str.len() > 10)


def test_efa_puts_every_item_on_its_intended_factor(large_study):
    ins = load_instrument()
    factors = {f: its for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    base = large_study.survey.loc[
        large_study.survey["wave"] == "baseline", list(synth.SURVEY_ITEMS)
    ]
    efa = exploratory_factors(reverse_code(base, ins.reverse()), factors, rotation="promax")
    assert efa.agreement == 1.0
    for item, factor in efa.intended.items():
        assert efa.loadings.loc[item, factor] >= MIN_PRIMARY, item
        others = efa.loadings.loc[item].drop(factor).abs()
        assert (others < MAX_CROSS).all(), item
    table = efa.table()
    assert list(table.columns) == ["intended", *factors, "communality"]


def test_efa_detects_a_wrong_mapping(large_study):
    """Swap two items between factors: the EFA must disagree with that mapping."""
    ins = load_instrument()
    factors = {f: list(its) for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    factors["goal"][0], factors["network"][0] = factors["network"][0], factors["goal"][0]
    base = large_study.survey.loc[
        large_study.survey["wave"] == "baseline", list(synth.SURVEY_ITEMS)
    ]
    efa = exploratory_factors(reverse_code(base, ins.reverse()), factors)
    assert efa.agreement == pytest.approx(12 / 14)
    assert not efa.primary.equals(pd.Series(efa.intended))


# ---- known truths -------------------------------------------------------------------------


def _simple_structure() -> np.ndarray:
    """Population pattern: 9 items, 3 factors, one non-zero loading per item."""
    lam = np.zeros((9, 3))
    for j, vals in enumerate(([0.8, 0.7, 0.6], [0.75, 0.65, 0.55], [0.7, 0.6, 0.5])):
        lam[3 * j : 3 * j + 3, j] = vals
    return lam


def test_principal_axis_recovers_population_communalities():
    """At R = L Phi L' + Psi the communalities diag(L Phi L') are the fixed point."""
    lam = _simple_structure()
    phi = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.4], [0.2, 0.4, 1.0]])
    common = lam @ phi @ lam.T
    corr = common + np.diag(1 - np.diag(common))
    a, comm, heywood, converged, _ = principal_axis(corr, 3)
    assert converged and not heywood.any()
    np.testing.assert_allclose(comm, np.diag(common), atol=EXACT)
    np.testing.assert_allclose(a @ a.T, common, atol=EXACT)  # the common part is reproduced
    # each unrotated factor's largest absolute loading is positive (sign convention)
    assert (a[np.abs(a).argmax(axis=0), range(3)] > 0).all()


def test_varimax_and_promax_recover_a_rotated_simple_structure():
    """Orthogonal factors, one loading per item: both rotations give the pattern back."""
    lam = _simple_structure()
    angle = 0.7
    c, s_ = np.cos(angle), np.sin(angle)
    t = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]]) @ np.array([[1, 0, 0], [0, c, -s_],
                                                                   [0, s_, c]])  # fmt: skip
    mixed = lam @ t
    for rotated in (varimax(mixed)[0], promax(mixed)[0]):
        # up to the order and sign of the columns
        order = np.abs(rotated).argmax(axis=1)[[0, 3, 6]]
        got = rotated[:, order] * np.sign(rotated[[0, 3, 6], order])
        np.testing.assert_allclose(got, lam, atol=1e-7)


def test_unknown_rotation_is_refused():
    items = pd.DataFrame(np.eye(4))
    with pytest.raises(ValueError, match="unknown rotation 'geomin'"):
        exploratory_factors(items, {"a": [0, 1], "b": [2, 3]}, rotation="geomin")


# ---- determinism --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_baseline(tmp_path_factory):
    """Reverse-coded baseline answers of a default-sized synthetic study, as a CSV file."""
    ins = load_instrument()
    study = synth.generate(20170601, n_mentored=50, n_comparison=200)
    base = study.survey.loc[study.survey["wave"] == "baseline"].set_index("person_id")
    coded = reverse_code(base[list(synth.SURVEY_ITEMS)], ins.reverse())
    path = tmp_path_factory.mktemp("efa") / "baseline.csv"
    coded.to_csv(path)
    factors = {f: its for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    return path, factors


_CHILD = """
import json, sys
import numpy as np, pandas as pd
from evaluation.bottomup.factors import exploratory_factors
path, factors, perm, rotation = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
items = pd.read_csv(path, index_col=0)
if perm:
    items = items.iloc[np.random.default_rng(perm).permutation(len(items))]
efa = exploratory_factors(items, factors, rotation=rotation)
print(json.dumps({"loadings": efa.loadings.to_numpy().tolist(),
                  "communality": efa.communality.tolist(), "heywood": list(efa.heywood)}))
"""


def _efa_in_subprocess(path, factors, perm, rotation, threads, hashseed):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONHASHSEED": str(hashseed)}  # fmt: skip
    res = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps(factors),
                          str(perm), rotation], capture_output=True, text=True, env=env,
                         check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.slow  # three fresh interpreters per rotation
@pytest.mark.parametrize("rotation", ["promax", "oblimin"])
def test_efa_is_the_same_in_every_process_thread_count_and_row_order(small_baseline, rotation):
    path, factors = small_baseline
    runs = [_efa_in_subprocess(path, factors, perm, rotation, threads, seed)
            for perm, threads, seed in ((0, 1, 0), (1, 2, 123), (2, 2, 4711))]  # fmt: skip
    first = runs[0]
    assert len(first["loadings"]) == 14
    for other in runs[1:]:
        for key in ("loadings", "communality"):
            np.testing.assert_allclose(other[key], first[key], rtol=SAME, atol=1e-12)
        assert other["heywood"] == first["heywood"]
    # and in this process, rows permuted: identical to the last bit
    items = pd.read_csv(path, index_col=0)
    a = exploratory_factors(items, factors, rotation=rotation)
    b = exploratory_factors(items.iloc[::-1], factors, rotation=rotation)
    assert a.loadings.equals(b.loadings) and a.communality.equals(b.communality)
    np.testing.assert_allclose(a.loadings.to_numpy(), first["loadings"], rtol=SAME, atol=1e-12)


# ---- Heywood cases ------------------------------------------------------------------------


def test_heywood_case_is_detected_on_a_small_sample():
    """An item that *is* its factor (true communality 1): n = 40 reaches the cap."""
    rng = np.random.default_rng(7)
    f = rng.standard_normal((N_SMALL, 2))
    cols = {"a1": f[:, 0]}  # no unique part: a Heywood item by construction
    for name in ["a2", "a3", "a4"]:
        cols[name] = 0.7 * f[:, 0] + np.sqrt(1 - 0.49) * rng.standard_normal(N_SMALL)
    for name in ["b1", "b2", "b3", "b4"]:
        cols[name] = 0.7 * f[:, 1] + np.sqrt(1 - 0.49) * rng.standard_normal(N_SMALL)
    items = pd.DataFrame(cols)
    factors = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3", "b4"]}
    efa = exploratory_factors(items, factors)
    assert efa.heywood == ("a1",)
    assert not efa.stable
    assert efa.communality["a1"] == pytest.approx(HEYWOOD_CAP, abs=1e-12)
    assert (efa.communality <= HEYWOOD_CAP).all()
    assert ((efa.loadings**2).sum(axis=1) <= 1.0).all()  # the reported row is not improper
    # the same data with a unique part in a1: no Heywood case, a stable solution
    items["a1"] = 0.7 * f[:, 0] + np.sqrt(1 - 0.49) * rng.standard_normal(N_SMALL)
    ok = exploratory_factors(items, factors)
    assert ok.heywood == () and ok.stable and ok.agreement == 1.0


def test_default_sized_study_is_reported_as_it_is(small_baseline):
    """On ~40 respondents of the generator the solution is proper (no item at the cap)."""
    path, factors = small_baseline
    efa = exploratory_factors(pd.read_csv(path, index_col=0), factors)
    assert 30 <= efa.n <= 50
    assert efa.converged and efa.stable
    assert (efa.communality < HEYWOOD_CAP).all()
