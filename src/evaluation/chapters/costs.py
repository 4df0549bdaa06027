"""The costs chapter (notebook 07): cost per participant and per additional person in work.

It is a notebook of its own so that a change of a cost assumption (``costs.*`` but the
horizon; ``report.budget_sek``, ``report.planned_participants``) executes this small notebook
alone: the robustness chapter (notebook 06: power, placebo, sensitivity, specification curve)
reads only ``costs.horizon``, for the power at the costs horizon, and a notebook's cache key
covers only the parameters it reads (see :mod:`evaluation.pipeline.cache`).

The effect it prices is the headline estimator's on employment at ``costs.horizon``, on the
design stage's sample: the same function on the same hand-over as the effects and robustness
chapters, so the same number. Every cost is the budget over the persons served (a count of
persons): the costs record's facts say so, and the run's disclosure audit checks them with
every other published value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.disclosure.ledger import Fact, fact
from evaluation.errors import ParamsError
from evaluation.estimate import effects as fx
from evaluation.estimate.results import EffectResult
from evaluation.protocol import Result, jsonable, private, produced_by
from evaluation.robustness import costs as cst

#: Fields of the costs record computed from the number of persons served.
COSTS_SERVED_FIELDS = (
    "cost_per_participant", "additional_persons", "additional_low", "additional_high",
    "cost_per_additional", "cost_per_additional_low", "cost_per_additional_high",
    "break_even_earnings", "break_even_public",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class CostsChapter(Result):
    """Everything the costs chapter publishes.

    Attributes
    ----------
    costs
        Cost per participant and per additional person in work, break-even effects, and the
        assumptions they rest on (the ``costs`` number).
    served
        The persons served: the participants table's mentored rows (private: the fact of
        the ``costs_served`` count).
    facts
        The facts of the costs record's fields (paths relative to the number; private).
    effect
        The effect priced (private).
    """

    costs: dict[str, Any]
    served: np.ndarray = private()
    facts: tuple[Fact, ...] = private(default=())
    effect: EffectResult | None = private(default=None)

    def to_record(self) -> dict[str, Any]:
        """The chapter's one number, the costs record."""
        return jsonable({"costs": self.costs})

    def to_frame(self) -> pd.DataFrame:
        """The costs record as one row."""
        return pd.DataFrame([self.costs])


@produced_by
def costs_chapter(
    covariates: pd.DataFrame,
    outcomes_data: pd.DataFrame,
    design_hand_over: pd.DataFrame,
    participants: pd.DataFrame,
    *,
    outcomes: Mapping[str, Any],
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    costs: Mapping[str, Any],
    report: Mapping[str, Any],
) -> CostsChapter:
    """Price the headline estimator's effect on employment at ``costs.horizon``.

    Parameters
    ----------
    covariates, outcomes_data, design_hand_over
        The hand-over of notebooks 01 and 02 (as the effects chapter reads it).
    participants
        The participants table (the persons served are its mentored rows).
    outcomes, design, estimation, costs, report
        The parameter file's sections (``report``: ``budget_sek``, ``planned_participants``).

    Returns
    -------
    CostsChapter
    """
    if costs["horizon"] not in outcomes["horizons"]:
        raise ParamsError(f"costs.horizon {costs['horizon']} is not among outcomes.horizons "
                          f"{list(outcomes['horizons'])}")  # fmt: skip
    sample = fx.analysis_sample(covariates, outcomes_data, design_hand_over)
    spec = fx.EffectsSpec.from_params(design, estimation)
    effect = fx.headline_estimate(sample, f"employed_m{costs['horizon']}", spec)
    record, served, facts = costs_section(participants, effect, costs=costs, report=report)
    return CostsChapter(costs=record, served=served, facts=facts, effect=effect)


def costs_section(
    participants: pd.DataFrame,
    effect: EffectResult,
    *,
    costs: Mapping[str, Any],
    report: Mapping[str, Any],
) -> tuple[dict[str, Any], np.ndarray, tuple[Fact, ...]]:
    """Cost per participant and per additional person in work, break-even effects.

    The persons served are the participants table's mentored rows (its ``group`` column as
    the contract normalises it). Returns the ``costs`` record, the persons served and the
    record's facts: every cost is the budget over the persons served (a count); the effect
    and its limits rest on the effect's persons.
    """
    mentored = participants["group"].astype(str).str.strip().str.lower() == "mentored"
    served = participants.loc[mentored, "person_id"].astype(str).str.strip().to_numpy()
    cpa = cst.cost_per_additional(report["budget_sek"], len(served), effect.estimate,
                                  effect.ci_low, effect.ci_high)  # fmt: skip
    be = cst.break_even(cpa.cost_per_participant, monthly_earnings=costs["monthly_earnings_sek"],
                        tax_share=costs["tax_share"],
                        benefit_saved_per_month=costs["benefit_saved_sek_per_month"],
                        duration_months=costs["duration_months"])  # fmt: skip
    record = {
        "cost_per_participant": cpa.cost_per_participant,
        "cost_per_planned": cst.cost_per_participant(report["budget_sek"],
                                                     report["planned_participants"]),
        "horizon": costs["horizon"], "estimator": effect.estimator,
        "effect": effect.estimate, "effect_low": effect.ci_low, "effect_high": effect.ci_high,
        "additional_persons": cpa.additional_persons, "additional_low": cpa.additional_low,
        "additional_high": cpa.additional_high, "cost_per_additional": cpa.cost,
        "cost_per_additional_low": cpa.cost_low, "cost_per_additional_high": cpa.cost_high,
        "status": cpa.status,
        "break_even_earnings": be.effect_earnings, "break_even_public": be.effect_public,
        "gain_per_month_public": be.gain_per_month_public,
        "monthly_earnings": costs["monthly_earnings_sek"], "tax_share": costs["tax_share"],
        "benefit_saved": costs["benefit_saved_sek_per_month"],
        "duration_months": costs["duration_months"],
    }  # fmt: skip
    facts = [fact((name,), served) for name in COSTS_SERVED_FIELDS]
    if effect.persons is not None:
        facts += [fact((name,), p, "sample") for name in ("effect", "effect_low", "effect_high")
                  for p in effect.persons]  # fmt: skip
    return record, served, tuple(facts)
