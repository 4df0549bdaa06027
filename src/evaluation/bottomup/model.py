"""The mentorship model: turning the run's evidence into components, by a stated rule.

Each component of the model (whom to match with whom, how often to meet, how long, what the
mentor should focus on) rests on one or more estimates of this run. The strength of the
evidence behind an estimate is classified by one rule, stated in the report:

* ``strong``: the confidence interval excludes zero after the multiplicity correction
  (corrected p-value below ``1 - level``);
* ``suggestive``: not strong, but the uncorrected p-value is below ``suggestive_p``
  (default 0.2); the sign is reported, not relied on;
* ``none``: otherwise.

All of these are associations among about fifty mentored persons, not effects of the
component: a component with ``strong`` evidence is a candidate to test, not a proven part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

EVIDENCE = ("strong", "suggestive", "none")


def evidence(p_value: float, p_adjusted: float, *, level: float = 0.95,
             suggestive_p: float = 0.2) -> str:  # fmt: skip
    """Strength of evidence of one estimate: ``"strong"``, ``"suggestive"`` or ``"none"``.

    Parameters
    ----------
    p_value, p_adjusted
        Uncorrected and multiplicity-corrected two-sided p-values.
    level
        Confidence level (strong: ``p_adjusted < 1 - level``).
    suggestive_p
        Threshold of the uncorrected p-value for ``"suggestive"``.

    Returns
    -------
    str
    """
    if p_adjusted is not None and p_adjusted < 1 - level:
        return "strong"
    if p_value is not None and p_value < suggestive_p:
        return "suggestive"
    return "none"


def direction(estimate: float) -> str:
    """``"positive"`` or ``"negative"`` (zero counts as negative: no gain)."""
    return "positive" if estimate > 0 else "negative"


@dataclass(frozen=True)
class Component:
    """One component of the mentorship model.

    Attributes
    ----------
    name
        ``"match_field"``, ``"match_background"``, ``"frequency"``, ``"length"``,
        ``"focus"`` or ``"relationship"``.
    evidence
        ``"strong"``, ``"suggestive"``, ``"none"`` or ``"not_assessed"`` (input absent).
    direction
        ``"positive"``, ``"negative"``, ``"rising_then_flat"``, ``"rising"`` or ``""``.
    basis
        The keys of the results the component rests on.
    detail
        Extra values the text quotes (a factor name, a knot).
    """

    name: str
    evidence: str
    direction: str = ""
    basis: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``results.json``."""
        return asdict(self)


def _from_row(name: str, row: Mapping[str, float] | None, basis: str, rule: Mapping[str, float],
              **detail: Any) -> Component:  # fmt: skip
    if row is None:
        return Component(name, "not_assessed", basis=(basis,), detail=dict(detail))
    ev = evidence(row["p_value"], row["p_adjusted"], **rule)
    return Component(name, ev, direction(row["estimate"]), (basis,), dict(detail))


def frequency_component(slopes: Mapping[str, Mapping[str, float]] | None,
                        rule: Mapping[str, float],
                        linear: Mapping[str, float] | None = None) -> Component:  # fmt: skip
    """How often to meet, from the spline slopes of the ATT in meetings and the linear term.

    ``rising_then_flat`` when the slope below the knot is positive with at least suggestive
    evidence (no correction: one pre-specified test) and the slope above is smaller;
    ``rising`` when both are positive and the upper one is not smaller. The same question is
    also answered by the linear association with the number of meetings (the mentor-traits
    table, ``linear``); the component takes the stronger of the two gradings, so that it never
    says "no evidence" beside a table that grades the meetings as suggestive. When the linear
    term is the stronger, its sign gives the direction (``detail.source = "linear"``).
    """
    if slopes is None and linear is None:
        return Component("frequency", "not_assessed", basis=("bottomup_dose_slopes",))
    rank = {e: i for i, e in enumerate(EVIDENCE)}
    graded = []
    if slopes is not None:
        below, above = slopes["below"], slopes["above"]
        if below["estimate"] <= 0:
            shape = "negative"
        elif above["estimate"] < below["estimate"]:
            shape = "rising_then_flat"
        else:
            shape = "rising"
        ev = evidence(below["p_value"], below["p_value"], **rule)
        graded.append((rank[ev], 0, ev, shape, "bottomup_dose_slopes",
                       {"knot": slopes["knot"], "source": "spline"}))  # fmt: skip
    if linear is not None:
        ev = evidence(linear["p_value"], linear["p_adjusted"], **rule)
        graded.append((rank[ev], 1, ev, direction(linear["estimate"]),
                       "bottomup_mentor_associations",
                       {"knot": slopes["knot"] if slopes else None, "source": "linear"}))  # fmt: skip
    _, _, ev, shape, basis, detail = min(graded, key=lambda g: (g[0], g[1]))
    bases = tuple(dict.fromkeys([basis, *(g[4] for g in graded)]))
    return Component("frequency", ev, shape, bases, detail)


def focus_component(moderation: Mapping[str, Mapping[str, float]] | None,
                    rule: Mapping[str, float]) -> Component:  # fmt: skip
    """What the mentor should focus on: the factor with the strongest moderation evidence.

    Ties in evidence go to the smaller corrected p-value.
    """
    if not moderation:
        return Component("focus", "not_assessed", basis=("bottomup_moderation",))
    rank = {e: i for i, e in enumerate(EVIDENCE)}
    graded = [(rank[evidence(r["p_value"], r["p_adjusted"], **rule)], r["p_adjusted"], f)
              for f, r in moderation.items()]  # fmt: skip
    best_rank, _, factor = min(graded)
    row = moderation[factor]
    return Component("focus", EVIDENCE[best_rank], direction(row["estimate"]),
                     ("bottomup_moderation",), {"factor": factor})  # fmt: skip


def mentorship_model(
    *,
    associations: Mapping[str, Mapping[str, float]] | None,
    slopes: Mapping[str, Any] | None,
    moderation: Mapping[str, Mapping[str, float]] | None,
    relationship: Mapping[str, float] | None,
    level: float = 0.95,
    suggestive_p: float = 0.2,
) -> list[Component]:
    """The model's components from the run's estimates (``None`` where an input was absent).

    Parameters
    ----------
    associations
        Feature → row (``estimate``, ``p_value``, ``p_adjusted``) of
        :func:`~evaluation.bottomup.dose.associations`; features ``same_field``,
        ``migrant_mentor``, ``minutes_per_meeting`` are used.
    slopes
        ``{"below": row, "above": row, "knot": k}`` from
        :func:`~evaluation.bottomup.dose.dose_slopes`.
    moderation
        Factor → row of :func:`~evaluation.bottomup.moderation.moderation_by_factors`.
    relationship
        Row of the association with the mentor-relationship score at follow-up.
    level, suggestive_p
        The evidence rule (:func:`evidence`).

    Returns
    -------
    list of Component
        In the order: match_field, match_background, frequency, length, focus, relationship.
    """
    rule = {"level": level, "suggestive_p": suggestive_p}
    assoc = associations or {}
    absent = associations is None
    return [
        _from_row("match_field", None if absent else assoc.get("same_field"),
                  "bottomup_mentor_associations", rule),
        _from_row("match_background", None if absent else assoc.get("migrant_mentor"),
                  "bottomup_mentor_associations", rule),
        frequency_component(slopes, rule, None if absent else assoc.get("meetings")),
        _from_row("length", None if absent else assoc.get("minutes_per_meeting"),
                  "bottomup_mentor_associations", rule),
        focus_component(moderation, rule),
        _from_row("relationship", relationship, "bottomup_relationship", rule),
    ]  # fmt: skip
