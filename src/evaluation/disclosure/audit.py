"""The disclosure audit: no count below the threshold can be worked out from the whole run.

Suppressing a small count in one table is not enough: the same persons are counted, shared
out and compared in other tables, and a reader can subtract one published count from another
(50 mentored, 49 analysed: one excluded), solve a standardised mean difference for the count
behind it, or add up the other categories. The audit looks at every published value at once,
after all notebooks have run and before anything is published, through the ledger each
notebook keeps privately (:mod:`evaluation.disclosure.ledger`): for each published value, the
persons whose number it gives away.

What a reader learns, and what the audit checks (``k`` = ``disclosure.min_cell``):

1. **Threshold.** A value shown exactly gives away the number of its persons: a set of 1 to
   ``k - 1`` persons must not be shown (it becomes ``<k``).
2. **Differences of nested sets.** Two shown sets ``A ⊇ B`` give away ``|A| - |B|``; a
   difference of 1 to ``k - 1`` is hidden (one of the two values becomes ``..``).
3. **Anything solvable.** Split the persons into the regions ("atoms") that the shown sets
   cut them into; a region's size is known exactly when its indicator lies in the span of the
   shown sets' indicators (then ``|region|`` is a linear combination of published numbers,
   whatever combination a reader finds). A known region of 1 to ``k - 1`` persons is hidden
   by hiding a shown value it is solved from.
4. **Statistics on few persons.** A value that rests on a sample (an estimate, a mean) of 1
   to ``k - 1`` persons is withheld.

Where a value must be hidden to protect another (rules 2 and 3), the audit hides the shown
value that matters least (:data:`PRIORITY`: an effect's sample size before a table cell
before a headline count) and checks again, until nothing small can be solved for. Every place
that shows the same set of persons is hidden together. The audit states how many values it
withheld by rule, never which persons.

Not covered (say so where it matters): bounds — a reader who knows that ``<5`` means 1 to 4
can sometimes narrow a hidden count further by combining bounds (two ``<5`` cells summing to
a shown 8 are both 4); dominance of magnitudes (a mean of earnings dominated by one person)
is checked where the chapter records magnitudes, not here.

References
----------
Hundepool, A. et al. (2012). *Statistical Disclosure Control*, chapters 4 and 5 (frequency
tables: threshold rule, linked tables, differencing). Wiley.
Griffiths, E. et al. (2019). *Handbook on Statistical Disclosure Control for Outputs*. Safe
Data Access Professionals Working Group (the rules of thumb SACRO/ACRO implement).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.disclosure.ledger import Fact, Where, row_key
from evaluation.disclosure.rules import SECONDARY_LABEL, suppressed_label, withheld_label
from evaluation.errors import DisclosureError
from evaluation.protocol import Result

#: Published values kept when one must go (the highest first). A headline count of the sample
#: chain is kept before a table cell, a table cell before an effect's sample size.
PRIORITY = {
    ("numbers", "n_mentored"): 100,
    ("numbers", "n_comparison"): 99,
    "numbers": 50,
    "tables": 40,
    "effects": 10,
}
#: A value is known exactly when its region's squared norm in the span is this close to 1.
SPAN_TOL = 1e-8
#: A shown set's row of the left null space counts as zero below this squared norm.
NULL_TOL = 1e-8
#: Reasons a value is hidden (the keys of :attr:`AuditResult.by_rule`).
RULES = ("threshold", "difference", "solvable", "small sample")

_HIDDEN = re.compile(r"^(<\d+|\.\.|withheld.*)$")


def is_hidden(value: Any) -> bool:
    """Whether a published value hides its number (``<k``, ``..``, withheld, missing)."""
    if value is None:
        return True
    if isinstance(value, float) and not np.isfinite(value):
        return True
    return isinstance(value, str) and bool(_HIDDEN.match(value.strip()))


@dataclass(frozen=True)
class Decision:
    """One published value the audit hides."""

    where: Where
    label: str
    rule: str


@dataclass(frozen=True)
class AuditResult(Result):
    """What the audit checked and hid.

    Attributes
    ----------
    decisions
        Each value hidden: where, the label it gets, and the rule (:data:`RULES`).
    n_facts, n_sets
        Facts read from the ledgers; distinct sets of persons shown.
    """

    decisions: tuple[Decision, ...]
    n_facts: int
    n_sets: int

    @property
    def by_rule(self) -> dict[str, int]:
        """How many values each rule hid (counts only: never which persons)."""
        return {rule: sum(d.rule == rule for d in self.decisions) for rule in RULES}

    def to_record(self) -> dict[str, Any]:
        """For ``provenance``: counts of what was checked and hidden."""
        return {"facts": self.n_facts, "sets_shown": self.n_sets, "hidden": self.by_rule}

    def to_frame(self):  # noqa: D102 - the protocol's table

        return pd.DataFrame([self.by_rule])


# --- reading published values ------------------------------------------------------------
def _index_columns(rows: Sequence[Mapping[str, Any]], column: str) -> list[str]:
    """The columns of a table's records that form its index (those before the data columns).

    ``Recorder.table`` stores ``frame.reset_index()``: the index columns come first. A fact
    names its column, so every column before the first data column that any fact could name
    is an index column; we take the leading columns up to the named one, minus data columns
    the table shares with it, by trying the widest index that makes rows unique.
    """
    names = list(rows[0]) if rows else []
    if column not in names:
        raise KeyError(column)
    for width in range(1, names.index(column) + 1):
        keys = [tuple(r[c] for c in names[:width]) for r in rows]
        if len(set(keys)) == len(keys):
            return names[:width]
    return names[: names.index(column)]


def locate(results: Mapping[str, Any], where: Where) -> tuple[Any, Any, Any]:
    """The container, key and value a fact's path names in the merged results.

    Raises
    ------
    KeyError
        The path names nothing (a bug of the chapter that recorded the fact).
    """
    root, *rest = where
    if root == "numbers":
        container: Any = results["numbers"]
        key = rest[0]
        for part in rest[1:]:
            container = container[key]
            key = part
        return container, key, container[key]
    if root == "tables":
        name, row, column = rest
        rows = results["tables"][name]
        registered = [e.get("index") for e in results.get("exhibits", ())
                      if e.get("key") == name and e.get("kind") == "table"]  # fmt: skip
        index = (
            list(registered[0]) if registered and registered[0] else _index_columns(rows, column)
        )
        for r in rows:
            label = row_key(tuple(r[c] for c in index)) if len(index) > 1 else str(r[index[0]])
            if label == row:
                return r, column, r[column]
        raise KeyError(f"tables.{name}: no row {row!r}")
    if root == "effects":  # a field of an effect, or one inside its spec ("spec", ...)
        notebook, i, *fields = rest
        own = [e for e in results["effects"] if e.get("notebook") == notebook]
        container = own[int(i)]
        for part in fields[:-1]:
            container = container[part]
        return container, fields[-1], container[fields[-1]]
    raise KeyError(f"unknown root {root!r}")


def _priority(where: Where) -> int:
    return PRIORITY.get(tuple(where[:2]), PRIORITY.get(where[0], 0))


# --- the audit ---------------------------------------------------------------------------
@dataclass
class _Set:
    """A distinct set of persons and the shown places that give its number away."""

    members: np.ndarray  # bool over the universe
    places: list[Where]

    @functools.cached_property
    def n(self) -> int:  # the audit asks it of every pair of sets, in every round
        return int(self.members.sum())

    @property
    def priority(self) -> int:
        return max(_priority(w) for w in self.places)


def audit(results: Mapping[str, Any], facts: Iterable[Fact], k: int) -> AuditResult:
    """Find every published value that must be hidden (see the module docstring).

    Parameters
    ----------
    results
        The merged ``results.json`` (not modified).
    facts
        The facts of every notebook's ledger.
    k
        The disclosure threshold (``disclosure.min_cell``).
    """
    facts = list(facts)
    shown_counts: list[Fact] = []
    decisions: list[Decision] = []
    for f in facts:
        try:
            _, _, value = locate(results, f.where)
        except (KeyError, IndexError, TypeError) as exc:
            raise DisclosureError(
                f"the disclosure ledger names {'.'.join(map(str, f.where))}, which the results "
                f"do not hold ({exc}); this is a bug in the study's code, please report it"
            ) from None
        if is_hidden(value):
            continue
        if f.kind == "sample":
            if 0 < f.n < k:
                decisions.append(Decision(f.where, withheld_label(k), "small sample"))
            continue
        shown_counts.append(f)
    universe = np.unique(np.concatenate([f.persons for f in shown_counts])) if shown_counts \
        else np.array([], dtype=str)  # fmt: skip
    sets = _distinct_sets(shown_counts, universe)
    hidden: set[int] = set()
    for i, s in enumerate(sets):  # rule 1
        if 0 < s.n < k:
            hidden.add(i)
            decisions += [Decision(w, _threshold_label(results, w, s.n, k), "threshold")
                          for w in s.places]  # fmt: skip
    while True:
        violation = _find_violation(sets, hidden, k)
        if violation is None:
            break
        rule, candidates, region, breaking = violation
        order = sorted(candidates, key=lambda i: (sets[i].priority, -sets[i].n, i))
        # the least important value whose hiding makes the region unknown; if every single
        # one leaves it known (it is solvable in several ways), the least important goes first
        if breaking is None:
            breaking = {i for i in order if not _known(sets, hidden | {i}, region)}
        victim = next((i for i in order if i in breaking), order[0])
        hidden.add(victim)
        decisions += [Decision(w, SECONDARY_LABEL, rule) for w in sets[victim].places]
    return AuditResult(tuple(_unique(decisions)), len(facts), len(sets))


def _threshold_label(results: Mapping[str, Any], where: Where, n: int, k: int) -> str:
    """``<k`` where the value is the count itself, else ``withheld (n<k)`` (a statistic)."""
    value = locate(results, where)[2]
    is_count = (isinstance(value, int | np.integer) and not isinstance(value, bool)
                and int(value) == n) or (isinstance(value, str)
                                         and value.split(" ")[0] == str(n))  # fmt: skip
    return suppressed_label(k) if is_count else withheld_label(k)


def _unique(decisions: list[Decision]) -> list[Decision]:
    seen: set[Where] = set()
    out = []
    for d in decisions:
        if d.where not in seen:
            seen.add(d.where)
            out.append(d)
    return out


def _distinct_sets(facts: list[Fact], universe: np.ndarray) -> list[_Set]:
    """One entry per distinct set of persons, with every place that shows it."""
    by_key: dict[bytes, _Set] = {}
    for f in facts:
        members = np.zeros(len(universe), dtype=bool)
        members[np.searchsorted(universe, f.persons)] = True
        key = np.packbits(members).tobytes()
        if key in by_key:
            by_key[key].places.append(f.where)
        else:
            by_key[key] = _Set(members, [f.where])
    return list(by_key.values())


def _find_violation(sets: list[_Set], hidden: set[int], k: int
                    ) -> tuple[str, list[int], np.ndarray, set[int] | None] | None:  # fmt: skip
    """The first small count a reader can work out from the shown sets, and its sources.

    Returns the rule, the shown sets it is worked out from (hiding one of them is the
    remedy), the region of persons it gives away and, for a solvable region, which of those
    sets each make it unknown when hidden alone (``None``: not computed, ask :func:`_known`);
    or ``None`` when nothing can be worked out.

    For a solvable region the last part needs no further fit. Write the shown sets over the
    atoms as ``M`` (sets x atoms) with the thin SVD ``U S V'`` of rank ``r``. The region's
    indicator ``t`` is ``c'M`` for every ``c = c0 + N z``, where ``c0`` is the minimum-norm
    solution and ``N`` spans the left null space of ``M``. Hiding set ``i`` leaves ``t``
    known iff some solution has ``c_i = 0``: iff ``c0_i = 0`` or row ``i`` of ``N`` is not
    zero. As ``[U_r N]`` is orthogonal, ``|N_i|^2 = 1 - |U_r,i|^2``.
    """
    shown = [i for i in range(len(sets)) if i not in hidden]
    if not shown:
        return None
    # rule 2: differences of nested shown sets (only sizes 1 to k-1 apart can matter)
    by_size = sorted(shown, key=lambda i: sets[i].n)
    for pos, b in enumerate(by_size):
        for a in by_size[pos + 1 :]:
            diff = sets[a].n - sets[b].n
            if diff >= k:
                break
            if diff > 0 and not (sets[b].members & ~sets[a].members).any():
                return "difference", [a, b], sets[a].members & ~sets[b].members, None
    # rule 3: regions whose size is solvable from the shown sets
    m, atoms, inverse = _atoms(np.stack([sets[i].members for i in shown]))
    sizes = np.bincount(inverse, minlength=atoms.shape[1])
    u, sv, vt = np.linalg.svd(atoms.astype(float), full_matrices=False)
    rank = int((sv > sv.max() * 1e-10).sum()) if sv.size else 0
    known = (vt[:rank] ** 2).sum(axis=0) > 1 - SPAN_TOL
    for j in np.flatnonzero(known & atoms.any(axis=0) & (sizes > 0) & (sizes < k)):
        # the combination of shown counts that gives the region: hiding one breaks it
        coef = u[:, :rank] @ (vt[:rank, j] / sv[:rank])
        needed = np.abs(coef) > 1e-8
        no_null = 1 - (u[:, :rank] ** 2).sum(axis=1) < NULL_TOL
        sources = [shown[r] for r in np.flatnonzero(needed)]
        breaking = {shown[r] for r in np.flatnonzero(needed & no_null)}
        return "solvable", sources, inverse == j, breaking
    return None


def _known(sets: list[_Set], hidden: set[int], region: np.ndarray) -> bool:
    """Whether the size of a region of persons is a linear combination of the shown sets."""
    shown = [i for i in range(len(sets)) if i not in hidden]
    if not shown:
        return False
    m, atoms, inverse = _atoms(np.stack([sets[i].members for i in shown]))
    # the region must be a union of the shown sets' atoms, with its indicator over the atoms
    # in their span
    inside = np.bincount(inverse, weights=region, minlength=atoms.shape[1])
    sizes = np.bincount(inverse, minlength=atoms.shape[1])
    if not np.all((inside == 0) | (inside == sizes)):
        return False
    target = (inside > 0).astype(float)
    coef, *_ = np.linalg.lstsq(atoms.T.astype(float), target, rcond=None)
    return bool(np.allclose(atoms.T.astype(float) @ coef, target, atol=1e-8))


def _atoms(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct membership patterns of persons in the sets ``m`` (sets x persons).

    Returns ``m``, the atoms (sets x distinct patterns) and each person's pattern number.
    """
    patterns = np.packbits(m.T, axis=1)
    rows = np.ascontiguousarray(patterns).view(np.dtype((np.void, patterns.shape[1])))
    _, first, inverse = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    return m, m[:, first], inverse.ravel()


# --- applying the decisions ----------------------------------------------------------------
def apply(results: dict[str, Any], result: AuditResult) -> set[str]:
    """Hide the decided values in the merged results (in place); return the tables changed.

    Effects' sample sizes, numbers and table cells get the decision's label. The caller
    writes the changed tables' CSV files and results files again, and redraws the figures
    drawn from a changed table.
    """
    changed: set[str] = set()
    for d in result.decisions:
        container, key, _ = locate(results, d.where)
        container[key] = d.label
        if d.where[0] == "tables":
            changed.add(str(d.where[1]))
    return changed
