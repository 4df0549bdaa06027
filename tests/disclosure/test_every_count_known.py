"""Every count a run publishes is known to the disclosure audit, or is not a count of persons.

The audit can only protect what its ledgers name: a count of persons published without a
fact is invisible to it, and a hidden count can then be worked out through it. That happened
twice: the counts inside an effect's ``spec`` (``50 - 8`` gave a hidden matched count back)
and the comparison subsample's pool and draw. This test walks the whole session run's
``results.json`` (every ``numbers`` entry at any depth and every effect, its ``spec``
included) and requires of each integer under a key ``n_...`` that it is hidden, or a fact of
the ledgers the audit read (from the run's cache entries), or one of
:data:`NOT_PERSONS`, which says why it counts no persons; a fact of the kind ``count``
must count as many persons as the value shows (a ``sample`` fact, e.g. person-months
``n_obs`` resting on so many persons, need not).

Tolerances: none (paths and counts are exact).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_ledgers import run_ledgers

from evaluation.disclosure.audit import is_hidden

#: Keys ``n_...`` that count something other than persons, with what they count.
NOT_PERSONS = {
    "n_params": "parameters of a model",
    "n_terms": "terms of a balance table",
    "n_flagged": "terms of a balance table above the threshold",
    "n_var_ratio_out": "continuous terms whose variance ratio is outside 0.5-2",
    "n_var_ratio_terms": "continuous terms of a balance table",
    "n_flagged_interactions": "squares and products of terms above the threshold",
    "n_interaction_terms": "squares and products of the balance terms",
    "n_items": "survey items",
    "n_on_intended": "survey items loading on their intended factor",
    "n_mentors": "mentors (the analyses need at least dose.MIN_MENTORS; mentors are not the "
    "study's persons)",
    "n_draws": "randomisation draws",
    "n_failed": "draws or replications that could not be estimated",
    "n_cells": "cohort-period cells of the staggered DiD",
    "n_cells_failed": "cohort-period cells that could not be estimated",
    "n_negative": "TWFE cells with a negative weight",
    "n_adjusted": "placebo estimates",
    "n_cover_zero": "placebo intervals that cover zero",
    "n_significant": "placebo estimates significant at the level",
    "n_specifications": "specifications of the specification curve",
    "n_withheld": "specifications withheld",
    "n_bootstrap_shown": "estimates whose bootstrap SE is shown",
    "n_checked": "estimates checked against their bootstrap",
}

pytestmark = pytest.mark.slow


def _ints(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _ints(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _ints(v, (*path, i))
    elif isinstance(value, int) and not isinstance(value, bool):
        if str(path[-1]).startswith("n_"):
            yield path, value


def _published_counts(results):
    yield from _ints(results["numbers"], ("numbers",))
    position: dict[str, int] = {}
    for e in results["effects"]:
        i = position.setdefault(e["notebook"], 0)
        position[e["notebook"]] += 1
        for path, value in _ints(e, ()):
            yield ("effects", e["notebook"], i, *path), value


def _facts(run_dir: Path, work: Path) -> dict[tuple, tuple[int, str]]:
    return {
        tuple(str(p) for p in f.where): (f.n, f.kind)
        for ledger in run_ledgers(run_dir, work)
        for f in ledger
    }


def test_every_published_count_of_persons_is_a_fact_of_the_audit(finished_run):
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    known = _facts(run.run_dir, run.work_dir)
    assert len(known) > 1000, "the run's ledgers were not found in its cache entries"
    unknown, wrong, checked = [], [], 0
    for path, value in _published_counts(results):
        if is_hidden(value) or str(path[-1]) in NOT_PERSONS:
            continue
        checked += 1
        where = tuple(str(p) for p in path)
        if where not in known:
            unknown.append(".".join(where))
        elif known[where][1] == "count" and known[where][0] != value:  # other persons
            wrong.append(f"{'.'.join(where)}: shown {value}, fact of {known[where][0]}")
    assert checked > 100, checked
    assert unknown == [], f"counts published without a fact of the audit: {unknown[:20]}"
    assert wrong == [], f"facts that do not count what is shown: {wrong[:20]}"


def test_the_subsample_counts_are_facts_of_the_persons_they_count(finished_run):
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    known = _facts(run.run_dir, run.work_dir)
    summary = results["numbers"]["comparison_subsample"]
    for key in ("n_pool", "n_drawn"):
        assert known[("numbers", "comparison_subsample", key)] == (summary[key], "count"), key
