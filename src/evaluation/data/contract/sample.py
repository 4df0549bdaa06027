"""Can valid tables carry the design? Enough mentored persons who can be analysed.

Checked when every table meets the contract, before any notebook runs: a study whose
mentored persons have no monthly rows, or too few of them can be analysed, used to pass
validation and fail later in a notebook (a ``KeyError`` with none, perfect separation of the
propensity model with a handful). It is refused here, with the counts and the rows.
"""

from __future__ import annotations

import numpy as np

from evaluation.data.contract.rules import SHOW_ROWS, Violation
from evaluation.data.sample_flow import Analysable, SampleRule


def sample_violations(
    found: Analysable, rule: SampleRule, files: dict[str, str]
) -> list[Violation]:
    """The violations of rule ``too_few_analysable`` (none when the data can carry the design).

    Parameters
    ----------
    found
        Who can be analysed (:func:`~evaluation.data.sample_flow.analysable` of the validated
        participants and monthly tables, with ``rule.min_pre_months``).
    rule
        What the design needs (``design.min_mentored``, ``outcomes.min_pre_months``).
    files
        The file of ``participants`` and ``monthly``, for messages.

    Returns
    -------
    list of Violation
        At most one about the mentored and one about the comparison persons.
    """
    n_mentored = int(found.mentored.sum())
    usable = int(found.mentored_usable.sum())
    out: list[Violation] = []
    if usable < rule.min_mentored:
        no_rows = int((found.mentored & found.no_rows).sum())
        short = int(found.short.sum())
        lost = np.flatnonzero(found.mentored & ~found.mentored_usable)
        why = []
        if no_rows:
            why.append(f"{no_rows} have no row in monthly ({files['monthly']})")
        if short:
            why.append(
                f"{short} have fewer than {rule.min_pre_months} months of coverage immediately "
                "before their start month"
            )
        if n_mentored == 0:
            problem = "there are no mentored persons"
        else:
            some = "none" if usable == 0 else f"only {usable}"
            problem = f"{some} of the {n_mentored} mentored persons can be analysed"
            problem += f" ({'; '.join(why)})" if why else ""
        out.append(
            _violation(
                files["participants"],
                problem,
                f"at least {rule.min_mentored} mentored persons who can be analysed "
                "(design.min_mentored)",
                lost,
            )
        )
    if not found.comparison_with_rows.any():
        comparison = np.flatnonzero(found.comparison)
        out.append(
            _violation(
                files["participants"],
                "no comparison person has a row in monthly" if len(comparison) else
                "there are no comparison persons",
                "comparison persons with monthly rows, to compare the mentored with",
                comparison,
            )
        )  # fmt: skip
    return out


def _violation(file: str, problem: str, expected: str, rows: np.ndarray) -> Violation:
    return Violation(
        file=file,
        table="participants",
        column="group",
        rule="too_few_analysable",
        problem=problem,
        expected=expected,
        rows=tuple(int(r) + 1 for r in rows[:SHOW_ROWS]),
        count=len(rows),
    )
