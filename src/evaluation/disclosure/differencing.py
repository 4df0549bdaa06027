"""Differencing: no count suppressed as ``'<k'`` may be worked out from the published ones.

Primary suppression shows a count of 1 to ``k - 1`` persons as ``'<k'``. The samples a study
counts are nested (mentored ⊇ analysed after trimming ⊇ matched; comparison pool ⊇ analysed
⊇ controls used), so published numbers can give such a count back:

* **Small differences.** Two published counts of persons -- counts of the sample flow, an
  effect's ``n_treated`` / ``n_control`` -- that differ by 1 to ``k - 1`` show a group of
  fewer than ``k`` persons.
* **Sums** (:data:`IDENTITIES`): ``n_mentored = n_trimmed_treated + analysed treated``,
  ``analysed treated = n_matched + n_unmatched``, ``n_comparison = n_trimmed_control +
  analysed control``, the analysed numbers being the effects' sample sizes (every estimator
  but matching). A reader who knows that ``'<k'`` means 1 to ``k - 1`` must not be able to
  pin such a count to one value from them.

:func:`secondary_suppress` hides further numbers (shown ``'..'``, as
:mod:`evaluation.disclosure.rules` does) until neither happens: an effect's sample size
before any count, else the count least needed (:data:`KEEP_ORDER`: ``n_mentored`` and
``n_comparison`` are hidden last), every place showing the same number together. Estimates
and standard errors are never hidden.

Used twice with the same inputs, so that what a site sends abroad never shows what its own
report hides: by the runner on a study's ``results.json`` (:func:`protect_results`, before
the report is rendered) and by ``evaluation export`` on a site bundle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evaluation.disclosure.rules import SECONDARY_LABEL
from evaluation.errors import DisclosureError

#: The counts of persons of the sample chain (``results.json`` numbers of a study run).
COUNT_KEYS = (
    "n_mentored",
    "n_comparison",
    "n_trimmed_treated",
    "n_trimmed_control",
    "n_matched",
    "n_unmatched",
    "n_controls_used",
)
#: How a count hidden only to protect a suppressed one is shown (secondary suppression).
HIDDEN = SECONDARY_LABEL
#: The identities between the persons a bundle counts (results.json of the study run):
#: ``total = part + part``. ``n_analysed_treated`` / ``n_analysed_control`` are the effects'
#: ``n_treated`` / ``n_control`` of every estimator but matching (the trimmed sample);
#: matching's are ``n_matched`` and ``n_controls_used``.
IDENTITIES = (
    ("n_mentored", "n_trimmed_treated", "n_analysed_treated"),
    ("n_analysed_treated", "n_matched", "n_unmatched"),
    ("n_comparison", "n_trimmed_control", "n_analysed_control"),
)
#: Counts in the order they are kept when one must be hidden (the last is hidden first);
#: an effect's sample size is hidden before any count.
KEEP_ORDER = ("n_mentored", "n_comparison", "n_matched", "n_controls_used",
              "n_trimmed_control", "n_trimmed_treated", "n_unmatched")  # fmt: skip

_INF = float("inf")


@dataclass(frozen=True)
class Recovery:
    """A published combination that gives back (part of) a suppressed count."""

    message: str
    shown: tuple[int, ...]  # the published values it uses (hiding one of them breaks it)


def _primary_bound(value: str) -> int | None:
    m = re.fullmatch(r"<(\d+)", value)
    return int(m.group(1)) - 1 if m else None


def _published(counts: Mapping[str, Any], effects: Sequence[Mapping[str, Any]]
               ) -> list[tuple[str, int]]:  # fmt: skip
    """Every exact count of persons a bundle shows, with where (zero: nobody, not shown)."""
    out = [(f"counts.{k}", v) for k, v in counts.items()
           if isinstance(v, int) and not isinstance(v, bool) and v > 0]  # fmt: skip
    for i, e in enumerate(effects):
        for field in ("n_treated", "n_control"):
            v = e.get(field)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                out.append((f"effects[{i}].{field} ({e.get('estimator')} on {e.get('outcome')})",
                            v))  # fmt: skip
    return out


def _ranges(counts: Mapping[str, Any], effects: Sequence[Mapping[str, Any]]
            ) -> dict[str, list[float]]:  # fmt: skip
    """What a reader knows of each count: [v, v] if shown, [1, k-1] if '<k', else [0, inf)."""
    r: dict[str, list[float]] = {}
    for key, v in counts.items():
        if isinstance(v, int):
            r[key] = [v, v]
        else:
            hi = _primary_bound(v)
            r[key] = [1, hi] if hi is not None else [0, _INF]
    for field, side in (("n_treated", "treated"), ("n_control", "control")):
        shown = {e.get(field) for e in effects if e.get("estimator") != "matching"
                 and isinstance(e.get(field), int) and e.get(field) > 0}  # fmt: skip
        r[f"n_analysed_{side}"] = [shown.pop()] * 2 if len(shown) == 1 else [0, _INF]
        mkey = "n_matched" if side == "treated" else "n_controls_used"
        mshown = {e.get(field) for e in effects if e.get("estimator") == "matching"
                  and isinstance(e.get(field), int) and e.get(field) > 0}  # fmt: skip
        if len(mshown) == 1 and r.get(mkey, [0, _INF])[0] != r.get(mkey, [0, _INF])[1]:
            r[mkey] = [mshown.pop()] * 2
    return r


def _propagate(r: dict[str, list[float]]) -> tuple[dict[str, list[float]], list[tuple[str, ...]]]:
    """Narrow the ranges through the identities until nothing changes; skip one that fails."""
    used = [t for t in IDENTITIES if all(name in r for name in t)]
    while True:
        cur = {k: list(v) for k, v in r.items()}
        bad = None
        for _ in range(20):
            changed = False
            for ident in used:
                t, a, b = (cur[n] for n in ident)
                new_t = [max(t[0], a[0] + b[0]), min(t[1], a[1] + b[1])]
                new_a = [max(a[0], t[0] - b[1]), min(a[1], t[1] - b[0])]
                new_b = [max(b[0], t[0] - a[1]), min(b[1], t[1] - a[0])]
                for name, new in zip(ident, (new_t, new_a, new_b), strict=True):
                    if new[0] > new[1]:
                        bad = ident  # not an identity of this run (e.g. outcomes missing)
                        break
                    if new != cur[name]:
                        cur[name] = new
                        changed = True
                if bad:
                    break
            if bad or not changed:
                break
        if bad is None:
            return cur, used
        used = [t for t in used if t != bad]


def recoveries(counts: Mapping[str, Any], effects: Sequence[Mapping[str, Any]],
               threshold: int) -> list[Recovery]:  # fmt: skip
    """Published combinations that give a suppressed count back (see the module docstring).

    Two kinds: (a) two published counts of persons differ by 1 to ``threshold - 1`` (the
    samples are nested, so the difference is a group of that few persons); (b) through the
    identities :data:`IDENTITIES`, a count shown as ``'<k'`` is pinned to one value.
    """
    out = []
    shown = _published(counts, effects)
    seen: set[tuple[int, int]] = set()
    for i, (wa, va) in enumerate(shown):
        for wb, vb in shown[i + 1 :]:
            lo, hi = sorted((va, vb))
            if 0 < hi - lo < threshold and (lo, hi) not in seen:
                seen.add((lo, hi))
                out.append(Recovery(
                    f"{wa} = {va} and {wb} = {vb} differ by {hi - lo}: a group of fewer than "
                    f"{threshold} persons (a suppressed count is given back by the difference)",
                    (va, vb)))  # fmt: skip
    start = _ranges(counts, effects)
    known, used = _propagate(start)
    for key, value in counts.items():
        if not (
            isinstance(value, str)
            and _primary_bound(value) is not None
            and key in known
            and known[key][0] == known[key][1]
        ):
            continue
        sums, names = [], {key}
        while grown := [t for t in used if t not in sums and names & set(t)]:
            sums += grown
            names |= {n for t in grown for n in t}
        if not sums:
            continue
        # the published values these sums use: hiding one of them breaks the recovery
        given = tuple(sorted({int(start[n][0]) for n in names if start[n][0] == start[n][1]}))
        out.append(Recovery(
            f"counts.{key} is shown as '{value}' but equals {int(known[key][0])} by the sums "
            + ", ".join(f"{t} = {a} + {b}" for t, a, b in sums)
            + f" of the published {list(given)}", given))  # fmt: skip
    return out


def secondary_suppress(counts: dict[str, Any], effects: list[dict[str, Any]],
                       threshold: int) -> list[int]:  # fmt: skip
    """Hide published values (``'..'``) until no suppressed count can be given back.

    In each recovery, the value hidden is an effect's sample size if one is used, else the
    count last in :data:`KEEP_ORDER`; every place that shows the same number is hidden with
    it. Modifies ``counts`` and ``effects``; returns the values hidden.
    """
    hidden = []
    while found := recoveries(counts, effects, threshold):
        # a zero is never hidden (it shows no person); another value of the recovery is
        cand = {v for v in found[0].shown if v != 0} or set(found[0].shown)
        if not cand:  # cannot happen: a recovery uses published values
            raise DisclosureError(found[0].message)
        in_counts = {v: KEEP_ORDER.index(k) if k in KEEP_ORDER else len(KEEP_ORDER)
                     for k, v in counts.items() if isinstance(v, int) and v in cand}  # fmt: skip
        value = max(cand, key=lambda v: (in_counts.get(v, len(KEEP_ORDER) + 1), v))
        for key, v in counts.items():
            if v == value and isinstance(v, int):
                counts[key] = HIDDEN
        for e in effects:
            for field in ("n_treated", "n_control"):
                if e.get(field) == value:
                    e[field] = HIDDEN
        hidden.append(value)
    return hidden


# --- a study run's results.json ------------------------------------------------------------

#: The notebook whose overall effects are the study's main estimates (and a bundle's).
MAIN_NOTEBOOK = "03_effects"
#: Count tables that show sizes of the sample chain, and their count columns.
CHAIN_TABLES = {"sample_flow": ("mentored", "comparison", "total"),
                "trimming": ("mentored", "comparison")}  # fmt: skip
#: Fields that hold a group's sample size, wherever they are (numbers, effects, tables).
SIZE_FIELDS = ("n_treated", "n_control")
#: Fields elsewhere that hold a count of the chain (an effect's spec: the unmatched treated).
COUNT_FIELDS = ("n_unmatched_treated",)
#: Numbers computed from sample sizes (persons of both groups, person-months): hidden, at any
#: depth of ``numbers``, whenever something is hidden (with the other sizes published, they
#: would give a hidden size back).
DERIVED_FIELDS = ("n_obs", "n_persons", "timing_n_persons")


def chain_effects(effects: Sequence[Mapping[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """The sample sizes of the main estimates, overall, as a bundle publishes them.

    An estimate on fewer than ``threshold`` treated persons is withheld (not published); a
    comparison group of fewer is published as 0 (``evaluation export`` does the same).
    """
    out = []
    for e in effects:
        if e.get("notebook") != MAIN_NOTEBOOK or e.get("subgroup", "all") != "all":
            continue
        n_t, n_c = e.get("n_treated"), e.get("n_control")
        if isinstance(n_t, int) and n_t < threshold:
            continue
        out.append({"outcome": e["outcome"], "estimator": e["estimator"], "n_treated": n_t,
                    "n_control": n_c if not isinstance(n_c, int) or n_c >= threshold else 0})  # fmt: skip
    return out


def protect_results(results: dict[str, Any], threshold: int) -> list[int]:
    """Secondary suppression of a study's ``results.json`` content against differencing.

    Decides what to hide with :func:`secondary_suppress` on the counts of the sample chain
    (:data:`COUNT_KEYS`) and the main estimates' sample sizes -- the inputs a site bundle is
    made from, so a bundle never shows what the report hides -- then hides each such number
    everywhere the results show it as a sample size: the counts, every overall effect's and
    every number's :data:`SIZE_FIELDS`, those columns of the tables, and the cells of the
    sample-flow and trimming tables; and the :data:`DERIVED_FIELDS`. Modifies ``results``;
    returns the numbers hidden (sorted).

    Not covered, so a run that hides something should go through the data owner's output
    checking before it is published (the runner says so):

    * statistics whose denominator is a hidden size: a share of 31/44 (a Kaplan-Meier step,
      an unadjusted matched difference) or a design effect can narrow the size, with the
      ``'<k'`` bounds pin it; hiding turns subtraction into arithmetic, it does not make it
      impossible;
    * sizes of other samples than the chain (a placebo design's own matching, a
      specification's other caliper, the survey's respondents), which are not suppressed
      counts anywhere;
    * a subgroup table without a ``subgroup`` column (none today).
    """
    numbers = results["numbers"]
    counts = {key: numbers[key] for key in COUNT_KEYS if key in numbers}
    hidden = sorted(set(secondary_suppress(counts, chain_effects(results["effects"], threshold),
                                           threshold)))  # fmt: skip
    in_subgroups = _protect_subgroups(results, threshold)
    if not hidden:
        return in_subgroups
    gone = set(hidden)

    def hide(value: Any) -> Any:
        is_count = (isinstance(value, int | float) and not isinstance(value, bool)
                    and float(value).is_integer())  # fmt: skip
        return HIDDEN if is_count and int(value) in gone else value

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in DERIVED_FIELDS and isinstance(value, int | float):
                    node[key] = HIDDEN
                elif key in SIZE_FIELDS or key in COUNT_FIELDS:
                    node[key] = hide(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in COUNT_KEYS:
        if key in numbers:
            numbers[key] = hide(numbers[key])
    walk(numbers)
    for e in results["effects"]:
        if e.get("subgroup", "all") == "all":
            for field in SIZE_FIELDS:
                e[field] = hide(e.get(field))
            walk(e.get("spec"))  # the propensity model's sizes, the unmatched count
    for name, rows in results["tables"].items():
        columns = CHAIN_TABLES.get(name, ())
        shown = [c for c in columns if c != "total"]
        for row in rows:
            if row.get("subgroup", "all") == "all":
                for field in SIZE_FIELDS:
                    if field in row:
                        row[field] = hide(row[field])
            for c in shown:
                if isinstance(row.get(c), str) and row[c].isdigit() and int(row[c]) in gone:
                    row[c] = HIDDEN
            if "total" in columns and any(row.get(c) == HIDDEN for c in shown):
                row["total"] = HIDDEN
    return sorted(set(hidden) | set(in_subgroups))


def _protect_subgroups(results: dict[str, Any], threshold: int) -> list[int]:
    """Within one subgroup (``sex=female``), no two sample sizes may differ by 1 to k - 1.

    A subgroup's estimators use nested samples of it (all of its analysed persons, the
    matched ones), so such a difference would show a group of fewer than ``threshold``
    persons (the unmatched women, say). The smaller size is hidden, in the effects and in the
    table rows that show the same estimate (same outcome, estimator and subgroup).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in results["effects"]:
        if e.get("subgroup", "all") != "all":
            groups.setdefault((e.get("notebook"), e["outcome"], e["subgroup"]), []).append(e)
    hide: set[tuple[str, str, str, str]] = set()
    values = []
    for (_, outcome, subgroup), members in groups.items():
        for field in SIZE_FIELDS:
            while True:
                shown = sorted({e[field] for e in members if isinstance(e.get(field), int)
                                and not isinstance(e.get(field), bool) and e[field] > 0})  # fmt: skip
                close = [lo for lo, hi in zip(shown, shown[1:], strict=False)
                         if hi - lo < threshold]  # fmt: skip
                if not close:
                    break
                for e in members:
                    if e.get(field) == close[0]:
                        e[field] = HIDDEN
                        hide.add((outcome, e["estimator"], subgroup, field))
                values.append(close[0])
    for rows in results["tables"].values():
        for row in rows:
            for field in SIZE_FIELDS:
                if (row.get("outcome"), row.get("estimator"), row.get("subgroup"), field) in hide:
                    row[field] = HIDDEN
    return values


def without_sample_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    """What a notebook displays of an effects table: all but the sample sizes.

    Sample sizes pass the run's differencing control (:func:`protect_results`) only when the
    runner merges every notebook's results, after the notebooks have run; so a notebook does
    not display them. The report, ``results.json`` and the table files show them, controlled.
    """
    return frame.drop(columns=[c for c in SIZE_FIELDS if c in frame.columns])
