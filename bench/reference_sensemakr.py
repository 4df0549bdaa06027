"""Reference numbers for the Cinelli-Hazlett sensitivity (evaluation.robustness.omitted).

Runs PySensemakr 0.0.8, the Python port of R's sensemakr, on

1. the Darfur data of Cinelli and Hazlett (2020), shipped with PySensemakr, and checks that it
   gives R sensemakr's published output (the package's README and the paper, section 5);
2. the LaLonde (1986) NSW experimental sample of ``causaldata`` (``nsw_mixtape``), whose
   numbers ``tests/robustness/test_omitted.py`` holds, transcribed from this script's output.

PySensemakr 0.0.8 fails on pandas 2.1 and later (it indexes a Series by position), so it runs
in an environment of its own, not the study's::

    uv venv /tmp/sensemakr && uv pip install --python /tmp/sensemakr/bin/python \\
        "pandas<2.1" "numpy<2" "statsmodels<0.15" "scipy<1.12" "matplotlib<3.9" \\
        pysensemakr==0.0.8 causaldata==0.1.5
    /tmp/sensemakr/bin/python bench/reference_sensemakr.py

Output: the Darfur check (exit 1 if PySensemakr does not give R's numbers), then the LaLonde
reference as a Python literal.
"""

from __future__ import annotations

import argparse
import pprint
import sys
import warnings

#: R sensemakr's output on Darfur (README of the R package; Cinelli and Hazlett 2020, sec. 5):
#: peacefactor ~ directlyharmed + age + farmer_dar + herder_dar + pastvoted + hhsize_darfur +
#: female + village, benchmark female, kd = 1, 2, 3.
R_DARFUR = {
    "estimate": 0.0973, "se": 0.0233, "t": 4.1844, "r2yd_x": 0.0219, "rv_q": 0.1388,
    "rv_qa": 0.0763, "df": 783,
    "bounds": [  # r2dz_x, r2yz_dx, adjusted estimate, se, t, lower, upper
        (0.0092, 0.1246, 0.0752, 0.0219, 3.4389, 0.0323, 0.1182),
        (0.0183, 0.2493, 0.0529, 0.0204, 2.6002, 0.0130, 0.0929),
        (0.0275, 0.3741, 0.0304, 0.0187, 1.6281, -0.0063, 0.0670),
    ],
}  # fmt: skip
LALONDE_FORMULA = "re78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 + re75"
LALONDE_BENCHMARKS = ["re75", "educ"]


def _stats(s) -> dict:
    st = s.sensitivity_stats
    return {"estimate": st["estimate"], "se": st["se"], "t": st["t_statistic"],
            "r2yd_x": st["r2yd_x"], "rv_q": st["rv_q"], "rv_qa": st["rv_qa"],
            "df": int(st["dof"])}  # fmt: skip


def _bounds(s) -> list[tuple]:
    cols = ["r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_se", "adjusted_t",
            "adjusted_lower_CI", "adjusted_upper_CI"]  # fmt: skip
    return [tuple(float(v) for v in row) for row in s.bounds[cols].to_numpy()]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    warnings.simplefilter("ignore")
    import sensemakr as smkr
    import statsmodels.formula.api as smf
    from causaldata import nsw_mixtape

    darfur = smkr.load_darfur()
    model = smf.ols("peacefactor ~ directlyharmed + age + farmer_dar + herder_dar + pastvoted"
                    " + hhsize_darfur + female + village", data=darfur).fit()  # fmt: skip
    s = smkr.Sensemakr(model=model, treatment="directlyharmed", benchmark_covariates=["female"],
                       kd=[1, 2, 3])  # fmt: skip
    got, ok = _stats(s), True
    for k, want in R_DARFUR.items():
        if k == "bounds":
            for row, wrow in zip(_bounds(s), want, strict=True):
                ok &= all(abs(a - b) < 6e-5 for a, b in zip(row, wrow, strict=True))
        else:
            ok &= abs(got[k] - want) < 6e-5 if k != "df" else got[k] == want
    print(f"Darfur: PySensemakr {'gives' if ok else 'does NOT give'} R sensemakr's output")
    if not ok:
        pprint.pprint({"pysensemakr": got, "bounds": _bounds(s)})
        return 1

    nsw = nsw_mixtape.load_pandas().data
    model = smf.ols(LALONDE_FORMULA, data=nsw).fit()
    ref: dict = {}
    for bench in LALONDE_BENCHMARKS:
        s = smkr.Sensemakr(model=model, treatment="treat", benchmark_covariates=[bench],
                           kd=[1, 2, 3])  # fmt: skip
        ref |= _stats(s)
        ref[f"bounds_{bench}"] = [tuple(float(f"{v:.12g}") for v in row) for row in _bounds(s)]
    print(f"LaLonde NSW ({LALONDE_FORMULA}, n = {len(nsw)}), PySensemakr 0.0.8:")
    pprint.pprint(ref, width=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
