"""Reference numbers from the PyPI package ``causalinference`` (0.1.3) for matching ATTs.

Run in a separate environment (never in the project's .venv):

    python3 -m venv /tmp/ci_venv && /tmp/ci_venv/bin/pip install causalinference
    /tmp/ci_venv/bin/python tests/estimate/causalinference_reference.py

``tests/estimate/test_matching_references.py`` imports ``simulate_reference_data`` from
this file and holds the printed numbers as constants.
``causalinference`` matches with replacement on the covariates with inverse-variance
weights, keeps ties, and its bias adjustment regresses the outcome on the covariates in the
matched controls (each control repeated as often as it is used), as Abadie and Imbens
(2011). Its standard error is *not* the Abadie-Imbens one: it plugs the variance of the
unit-level effects into the sample-variance formula (it calls this "conservative"), so
only point estimates are compared.
"""

import numpy as np


def simulate_reference_data(seed: int = 20240601):
    rng = np.random.default_rng(seed)
    n_t, n_c = 40, 120
    x_t = rng.normal(0.5, 1.0, size=(n_t, 2))
    x_c = rng.normal(0.0, 1.2, size=(n_c, 2))
    x = np.vstack([x_t, x_c])
    d = np.r_[np.ones(n_t), np.zeros(n_c)]
    y = 1.0 + x @ np.array([1.5, -1.0]) + 0.5 * x[:, 0] ** 2 + 2.0 * d + rng.normal(size=n_t + n_c)
    return y, d, x


if __name__ == "__main__":
    from causalinference import CausalModel

    y, d, x = simulate_reference_data()
    for m in (1, 3):
        for bias in (False, True):
            cm = CausalModel(y, d, x)
            cm.est_via_matching(weights="inv", matches=m, bias_adj=bias)
            est = cm.estimates["matching"]
            print(f"M={m} bias_adj={bias}: att={est['att']!r} att_se={est['att_se']!r}")
