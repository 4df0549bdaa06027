"""The result object every ATT estimator returns.

Follows linearmodels/pyfixest: numbers are computed in functions that return a small frozen
dataclass; a different standard error means a new result, never a mutated one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.protocol import Result, private

#: The fields that ``results.json`` requires for every entry of ``effects`` (CONTRACT.md).
CONTRACT_FIELDS = (
    "outcome",
    "estimator",
    "estimand",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "n_treated",
    "n_control",
)


@dataclass(frozen=True)
class EffectResult(Result):
    """One estimated effect with its inference.

    Parameters
    ----------
    outcome, estimator, estimand
        What was estimated and how (``estimand`` is e.g. ``"ATT"``).
    estimate, se
        Point estimate and its standard error.
    ci_low, ci_high
        Confidence interval at ``level``.
    p_value
        Two-sided p-value of the null of no effect.
    n_treated, n_control
        Persons used (for matching: treated matched / distinct controls used).
    se_method
        How ``se`` was computed (``"HC3"``, ``"Abadie-Imbens"``, ...).
    ess_control
        Effective sample size of the control group where weights are used (Kish).
    level
        Confidence level of the interval.
    spec
        The specification (covariates, caliper, ...), JSON-serialisable.
    subgroup
        ``"all"`` or a subgroup label such as ``"sex=female"``.
    persons
        The ids of the treated and the control persons the estimate rests on (those that
        ``n_treated`` and ``n_control`` count). Private: kept for the disclosure audit, never
        recorded or shown.
    spec_persons
        The ids of the persons each count inside ``spec`` counts, by its path there, e.g.
        ``("n_unmatched_treated",)`` or ``("propensity", "n_obs")``. Private, like
        ``persons``: the disclosure audit then knows these counts as well, so that a hidden
        sample size cannot be worked out from them (50 mentored - 8 unmatched = 42 matched).
    """

    outcome: str
    estimator: str
    estimand: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    se_method: str = ""
    ess_control: float | None = None
    level: float = 0.95
    spec: dict[str, Any] = field(default_factory=dict)
    subgroup: str = "all"
    persons: tuple[np.ndarray, np.ndarray] | None = private(default=None)
    spec_persons: dict[tuple[str, ...], np.ndarray] | None = private(default=None)

    @classmethod
    def from_normal(
        cls,
        *,
        estimate: float,
        se: float,
        level: float = 0.95,
        df: float | None = None,
        **kwargs: Any,
    ) -> EffectResult:
        """Build a result with a Wald CI and p-value (normal, or Student t when ``df`` is given)."""
        dist = stats.norm if df is None else stats.t(df)
        q = float(dist.ppf(0.5 + level / 2))
        if se > 0 and math.isfinite(se):
            z = estimate / se
            p = float(2 * dist.sf(abs(z)))
        else:
            p = float("nan")
        return cls(
            estimate=float(estimate),
            se=float(se),
            ci_low=float(estimate - q * se),
            ci_high=float(estimate + q * se),
            p_value=p,
            level=level,
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, JSON-ready (NaN becomes ``None``); the private ``persons`` left out."""
        return self.to_record()

    def to_record(self) -> dict[str, Any]:
        """What ``results.json`` stores for this effect (the protocol's record)."""
        out = {k: v for k, v in self._public_fields().items()}
        out["spec"] = dict(self.spec)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row frame with the contract fields first."""
        d = self.to_dict()
        d["spec"] = repr(d["spec"])
        cols = list(CONTRACT_FIELDS) + [k for k in d if k not in CONTRACT_FIELDS]
        return pd.DataFrame([d])[cols]

    def __str__(self) -> str:
        pct = int(round(self.level * 100))
        return (
            f"{self.estimator} {self.estimand} on {self.outcome} [{self.subgroup}]: "
            f"{self.estimate:.4f} (SE {self.se:.4f}, {self.se_method}; {pct}% CI "
            f"{self.ci_low:.4f} to {self.ci_high:.4f}; p = {self.p_value:.3f}; "
            f"n = {self.n_treated} treated / {self.n_control} control)"
        )


def compare(results: list[EffectResult] | dict[str, EffectResult]) -> pd.DataFrame:
    """Put several results side by side, one row each (like ``linearmodels.compare``)."""
    items = results.values() if isinstance(results, dict) else results
    frames = [r.to_frame() for r in items]
    if not frames:
        return pd.DataFrame(columns=list(CONTRACT_FIELDS))
    return pd.concat(frames, ignore_index=True)
