"""CR2 cluster-robust variance and Bell-McCaffrey degrees of freedom.

Checked against (1) a direct matrix implementation written out below from Bell and McCaffrey
(2002) and the notes of Imbens and Kolesár's R package ``dfadjust`` (explicit ``n x n`` hat
matrix, ``(I - H_ss)^{-1/2}`` by ``scipy.linalg.sqrtm``, the ``n x S`` matrix ``G`` and its
eigenvalues), on the deterministic data of ``dfadjust``'s own test (``test_clustervar.R``:
``y = (cos 0..9, tan 1..10)``, ``x = (sin 1..10, sin 2..11)``, clusters
``2,1,3,2,2,3,3,1,1,2`` recycled) and on random unbalanced clusters with singletons; (2)
statsmodels' HC2, which CR2 is when every cluster has one member; (3) unbiasedness: under
independent homoskedastic errors ``E[V] = sigma^2 tr(G'G)`` must equal the true variance
``sigma^2 l'(X'X)^{-1} l``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import statsmodels.api as sm

from evaluation.bottomup.moderation import cluster_robust_cr2, modified_att

EXACT = 1e-9  # the same algebra by another route


def _reference(y, x, cluster):
    n, p = x.shape
    k = np.linalg.inv(x.T @ x)
    u = y - x @ (k @ x.T @ y)
    h = x @ k @ x.T
    labels = list(dict.fromkeys(cluster))
    meat = np.zeros((p, p))
    a_mats = {}
    for g in labels:
        idx = np.flatnonzero(np.asarray(cluster) == g)
        a = np.real(scipy.linalg.sqrtm(np.linalg.inv(np.eye(len(idx)) - h[np.ix_(idx, idx)])))
        a_mats[g] = (idx, a)
        z = x[idx].T @ a @ u[idx]
        meat += np.outer(z, z)
    cov = k @ meat @ k
    dfs = []
    for j in range(p):
        ell = np.zeros(p)
        ell[j] = 1.0
        cols = []
        for g in labels:
            idx, a = a_mats[g]
            col = (np.eye(n) - h)[:, idx] @ a @ x[idx] @ k @ ell
            cols.append(col)
        gm = np.column_stack(cols)
        lam = np.linalg.eigvalsh(gm.T @ gm)
        dfs.append(lam.sum() ** 2 / (lam**2).sum())
        assert lam.sum() == pytest.approx(ell @ k @ ell, rel=1e-9)  # unbiased (3)
    return cov, np.array(dfs)


def _dfadjust_data():
    y = np.concatenate([np.cos(np.arange(0, 10)), np.tan(np.arange(1, 11))])
    xv = np.concatenate([np.sin(np.arange(1, 11)), np.sin(np.arange(2, 12))])
    cl = np.tile([2, 1, 3, 2, 2, 3, 3, 1, 1, 2], 2)
    return y, np.column_stack([np.ones(20), xv]), cl


def test_matches_the_direct_matrix_implementation_on_dfadjusts_test_data():
    y, x, cl = _dfadjust_data()
    ours = cluster_robust_cr2(y, x, cl)
    cov, dfs = _reference(y, x, cl)
    assert np.allclose(ours.cov, cov, rtol=EXACT, atol=0)
    assert np.allclose(ours.df_bm, dfs, rtol=EXACT, atol=0)
    assert ours.n_clusters == 3
    # the data are laid out as in dfadjust's test: its OLS coefficients and the CR1 SEs it
    # checks against Stata's ``reg y x, cluster(clusters)``
    assert ours.params == pytest.approx([-0.4456202905, 0.3241183110], abs=1e-9)
    cr1 = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": cl})
    assert cr1.bse == pytest.approx([0.4827602183, 0.1814501834], abs=1e-9)


def test_matches_the_direct_matrix_implementation_with_singletons_and_unbalanced_clusters():
    rng = np.random.default_rng(3)
    sizes = [1] * 40 + [2, 3, 5, 7, 4]
    cl = np.repeat(np.arange(len(sizes)), sizes)
    n = len(cl)
    x = np.column_stack([np.ones(n), rng.normal(size=n), (cl >= 40).astype(float),
                         (cl >= 40) * rng.normal(size=n)])  # fmt: skip
    y = x @ [1.0, 0.5, 0.2, -0.3] + rng.normal(size=len(sizes))[cl] + rng.normal(size=n)
    ours = cluster_robust_cr2(y, x, cl.astype(str))
    cov, dfs = _reference(y, x, cl)
    assert np.allclose(ours.cov, cov, rtol=EXACT, atol=0)
    assert np.allclose(ours.df_bm, dfs, rtol=EXACT, atol=0)
    part = cluster_robust_cr2(y, x, cl, coefs=np.array([3]))
    assert part.df_bm[3] == pytest.approx(dfs[3], rel=EXACT) and np.isnan(part.df_bm[:3]).all()


def test_with_clusters_of_one_it_is_hc2():
    rng = np.random.default_rng(9)
    x = np.column_stack([np.ones(60), rng.normal(size=(60, 2))])
    y = x @ [1, 2, 3] + rng.normal(size=60) * (1 + np.abs(x[:, 1]))
    ours = cluster_robust_cr2(y, x, np.arange(60))
    hc2 = sm.OLS(y, x).fit(cov_type="HC2")
    assert np.allclose(ours.cov, hc2.cov_params(), rtol=EXACT, atol=0)


def test_a_mentor_trait_on_few_mentors_gets_few_degrees_of_freedom():
    """Three of twelve mentors have the trait: the trait's interaction is identified from
    those three and the Bell-McCaffrey dof are a handful, far below G - 1 = 11."""
    rng = np.random.default_rng(1)
    mentor = np.repeat(np.arange(12), 4)
    trait = (mentor < 3).astype(float)
    n_c = 300
    d = np.concatenate([np.ones(48), np.zeros(n_c)])
    xcov = rng.normal(size=(48 + n_c, 1))
    y = xcov[:, 0] + rng.normal(size=48 + n_c)
    m = np.column_stack([np.ones(48 + n_c), np.concatenate([trait - trait.mean(), np.zeros(n_c)])])
    cluster = np.concatenate([mentor.astype(str), [f"c{i}" for i in range(n_c)]])
    fit = modified_att(y, d, xcov, m, names=["att", "trait"], cluster=cluster)
    assert fit.n_clusters == 12
    assert fit.terms.loc["trait", "df"] < 5
    assert fit.terms.loc["att", "df"] <= 11
    assert "CR2" in fit.se_method and "at most mentors - 1" in fit.se_method
    hc3 = modified_att(y, d, xcov, m, names=["att", "trait"])
    assert np.isinf(hc3.terms["df"]).all() and "HC3" in hc3.se_method
