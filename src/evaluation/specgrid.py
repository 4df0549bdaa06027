"""The specification grid file: every defensible combination of the study's analytic choices.

``params/specifications.yaml`` (validated by :class:`GridFile`) names horizons (outcome
``employed_m{h}``), estimators, named covariate sets, trimming rules and, for matching,
neighbours and calipers; :func:`read_grid` expands it into the specifications the
specification curve runs (:mod:`evaluation.robustness.speccurve`). It is a parameter file, so
it lives beside the parameter model: the parameter check reads it before any notebook runs.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluation.errors import ParamsError
from evaluation.resources import SPECIFICATION_GRID


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchingGrid(_Strict):
    """Matching choices (only the matching estimator uses them)."""

    neighbours: list[int] = Field(default_factory=lambda: [4], min_length=1)
    caliper: list[float | None] = Field(default_factory=lambda: [0.2], min_length=1)


class GridFile(_Strict):
    """The specification grid file (``params/specifications.yaml``)."""

    horizons: list[int] = Field(min_length=1)
    estimators: list[Literal["naive", "regression", "ra", "ipw", "aipw", "ebal", "matching"]] = (
        Field(
            min_length=1,
            description="Estimators of the effect on the mentored (ATT); overlap weights, "
            "which estimate the overlap population's effect, do not belong on one curve.",
        )
    )
    covariate_sets: dict[str, list[str]] = Field(min_length=1)
    trimming: list[Literal["none", "common_support", "crump"]] = Field(min_length=1)
    matching: MatchingGrid = Field(default_factory=MatchingGrid)


@dataclass(frozen=True)
class Specification:
    """One combination of choices."""

    horizon: int
    estimator: str
    covariate_set: str
    trimming: str
    neighbours: int | None = None
    caliper: float | None = None

    @property
    def outcome(self) -> str:
        """The outcome column (employment ``horizon`` months after start)."""
        return f"employed_m{self.horizon}"


@dataclass(frozen=True)
class Grid:
    """The validated grid: its specifications, covariate sets and the file's hash."""

    specifications: tuple[Specification, ...]
    covariate_sets: dict[str, tuple[str, ...]]
    sha256: str
    source: str


def read_grid(path: str | Path | None = None) -> Grid:
    """Read and validate a grid file; expand it into specifications (see :func:`expand`).

    ``None`` reads the built-in grid (:data:`evaluation.resources.SPECIFICATION_GRID`).
    """
    path = Path(path) if path is not None else SPECIFICATION_GRID
    if not path.is_file():
        raise ParamsError(f"{path}: specification grid file not found (robustness.specifications)")
    text = path.read_text("utf-8")
    try:
        doc = GridFile.model_validate(yaml.safe_load(text))
    except ValidationError as err:
        raise ParamsError(f"{path}: the specification grid is not valid:\n{err}") from None
    return Grid(
        specifications=tuple(expand(doc)),
        covariate_sets={k: tuple(v) for k, v in doc.covariate_sets.items()},
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source=str(path),
    )


def expand(doc: GridFile) -> list[Specification]:
    """Every combination; matching is crossed with neighbours and calipers, others are not."""
    out = []
    for h, cs, tr, est in itertools.product(
        doc.horizons, doc.covariate_sets, doc.trimming, doc.estimators
    ):
        if est == "matching":
            for k, cal in itertools.product(doc.matching.neighbours, doc.matching.caliper):
                out.append(Specification(h, est, cs, tr, k, cal))
        else:
            out.append(Specification(h, est, cs, tr))
    return out
