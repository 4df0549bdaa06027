"""The disclosure audit on hand-made runs: each way of working out a hidden count is closed.

A small run's results are written by hand with the ledger facts the chapters record; the
audit must hide what would give a count of 1 to K-1 persons back, and nothing else.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from evaluation.disclosure.audit import apply, audit, is_hidden, locate
from evaluation.disclosure.ledger import Fact, fact
from evaluation.errors import DisclosureError

K = 5


def persons(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


MENTORED = persons("m", 50)
ERITREA = MENTORED[:3]  # a category of 3 mentored persons: shown '<5'
SYRIA = MENTORED[3:23]
IRAQ = MENTORED[23:50]


def base_results() -> dict:
    return {
        "numbers": {"n_mentored": 50, "n_analysed": 49, "summary": {"max_abs_smd": 0.4}},
        "tables": {
            "descriptives": [
                {"variable": "origin: Eritrea", "mentored": "<5"},
                {"variable": "origin: Syria", "mentored": "20 (40.0 %)"},
                {"variable": "origin: Iraq", "mentored": "27 (54.0 %)"},
            ],
            "balance": [
                {"term": "origin=Eritrea", "smd_before": -0.123},
                {"term": "origin=Syria", "smd_before": 0.05},
            ],
            "flow": [
                {"step": "in", "mentored": 50},
                {"step": "excluded", "mentored": "<5"},
                {"step": "analysed", "mentored": 49},
            ],
        },
        "effects": [{"notebook": "03", "n_treated": 49, "n_control": 300, "estimate": 0.1}],
    }


def test_nothing_is_hidden_when_nothing_small_can_be_worked_out():
    res = base_results()
    facts = [fact(("numbers", "n_mentored"), MENTORED),
             fact(("tables", "descriptives", "origin: Syria", "mentored"), SYRIA)]  # fmt: skip
    assert audit(res, facts, K).decisions == ()


def test_a_shown_count_below_the_threshold_is_hidden_wherever_it_is_shown():
    """Attack 1: the SMD of a 0/1 term gives its count back; the SMD cell is hidden."""
    res = base_results()
    facts = [
        fact(("numbers", "n_mentored"), MENTORED),
        fact(("tables", "balance", "origin=Eritrea", "smd_before"), ERITREA),
        fact(("numbers", "summary", "max_abs_smd"), ERITREA),  # the largest |SMD| is that term
    ]
    result = audit(res, facts, K)
    hidden = {d.where: d for d in result.decisions}
    assert set(hidden) == {("tables", "balance", "origin=Eritrea", "smd_before"),
                           ("numbers", "summary", "max_abs_smd")}  # fmt: skip
    assert {d.rule for d in hidden.values()} == {"threshold"}
    apply(res, result)
    assert (
        res["tables"]["balance"][0]["smd_before"] == f"withheld (n<{K})"
    )  # a statistic, not a count
    assert res["tables"]["balance"][1]["smd_before"] == 0.05


def test_two_nested_counts_a_few_apart_are_not_both_shown():
    """Attack 2: 50 in and 49 analysed give the one excluded person back."""
    res = base_results()
    analysed = MENTORED[1:]
    facts = [
        fact(("numbers", "n_mentored"), MENTORED),
        fact(("tables", "flow", "in", "mentored"), MENTORED),
        fact(("tables", "flow", "analysed", "mentored"), analysed),
        fact(("numbers", "n_analysed"), analysed),
        fact(("effects", "03", 0, "n_treated"), analysed),
    ]
    result = audit(res, facts, K)
    apply(res, result)
    # the headline count stays; every place showing the 49 goes
    assert res["numbers"]["n_mentored"] == 50
    assert res["numbers"]["n_analysed"] == ".."
    assert res["tables"]["flow"][2]["mentored"] == ".."
    assert res["effects"][0]["n_treated"] == ".."
    assert result.by_rule["difference"] == 3


def test_a_count_solvable_from_other_tables_is_closed_by_hiding_a_sibling():
    """Attack 3: 50 - 20 - 27 = 3 with every other category shown in another table."""
    res = base_results()
    res["tables"]["profile"] = [{"group": "Syria", "n": 20}, {"group": "Iraq", "n": 27}]
    facts = [
        fact(("numbers", "n_mentored"), MENTORED),
        fact(("tables", "profile", "Syria", "n"), SYRIA),
        fact(("tables", "profile", "Iraq", "n"), IRAQ),
    ]
    result = audit(res, facts, K)
    assert [d.rule for d in result.decisions] == ["solvable"]
    apply(res, result)
    assert res["numbers"]["n_mentored"] == 50, "the headline count is kept"
    assert ".." in [r["n"] for r in res["tables"]["profile"]]


def test_a_statistic_on_fewer_than_k_persons_is_withheld():
    res = base_results()
    facts = [Fact(("effects", "03", 0, "estimate"), np.array(ERITREA), "sample")]
    result = audit(res, facts, K)
    assert [d.rule for d in result.decisions] == ["small sample"]
    assert result.decisions[0].label == f"withheld (n<{K})"


def test_values_already_hidden_give_nothing_away():
    res = base_results()
    facts = [fact(("tables", "descriptives", "origin: Eritrea", "mentored"), ERITREA),
             fact(("tables", "flow", "excluded", "mentored"), MENTORED[:1])]  # fmt: skip
    assert audit(res, facts, K).decisions == ()


def test_a_fact_that_points_nowhere_is_a_bug_not_a_silent_pass():
    with pytest.raises(DisclosureError, match="bug"):
        audit(base_results(), [fact(("tables", "balance", "no such term", "smd"), ERITREA)], K)


def test_after_the_audit_nothing_small_can_be_solved_by_brute_force():
    """Every subset of shown counts, added or subtracted, never gives 1..K-1 persons."""
    rng = np.random.default_rng(7)
    pool = persons("p", 40)
    groups = {f"g{i}": sorted(rng.choice(pool, size=int(rng.integers(3, 30)), replace=False))
              for i in range(8)}  # fmt: skip
    res = {"numbers": {name: len(ids) for name, ids in groups.items()}, "tables": {},
           "effects": []}  # fmt: skip
    facts = [fact(("numbers", name), ids) for name, ids in groups.items()]
    final = copy.deepcopy(res)
    apply(final, audit(res, facts, K))
    shown = {f.where[1]: set(f.persons) for f in facts
             if not is_hidden(locate(final, f.where)[2])}  # fmt: skip
    # every Venn region of the shown sets whose size is a linear combination of shown counts
    names = list(shown)
    regions: dict[tuple[bool, ...], int] = {}
    for p in pool:
        key = tuple(p in shown[n] for n in names)
        regions[key] = regions.get(key, 0) + 1
    mat = np.array([[k[i] for k in regions] for i in range(len(names))], dtype=float)
    for j, (key, size) in enumerate(regions.items()):
        if not any(key):
            continue
        e = np.zeros(len(regions))
        e[j] = 1
        coef, *_ = np.linalg.lstsq(mat.T, e, rcond=None)
        solvable = np.allclose(mat.T @ coef, e)
        assert not (solvable and 0 < size < K), f"region {key} of {size} persons is solvable"


# --- the solvable rule's remedy needs no refit per candidate ------------------------------
#: Random families of sets of persons tried against the direct least-squares check.
N_FAMILIES = 2000


def test_the_remedy_from_one_svd_equals_refitting_each_candidate():
    """Which sources make a solvable region unknown when hidden alone: the SVD's answer
    (:func:`_find_violation`) equals refitting without each one (:func:`_known`)."""
    from evaluation.disclosure.audit import _find_violation, _known, _Set

    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(N_FAMILIES):
        n_sets, n_persons = rng.integers(6, 16), rng.integers(6, 16)
        members = rng.random((n_sets, n_persons)) < 0.5
        sets = [_Set(m, [("numbers", f"s{i}")]) for i, m in enumerate(members) if m.any()]
        violation = _find_violation(sets, set(), k=3)
        if violation is None or violation[0] != "solvable":
            continue
        _, sources, region, breaking = violation
        direct = {i for i in sources if not _known(sets, {i}, region)}
        assert breaking == direct
        checked += 1
    assert checked > 100  # the comparison ran on many solvable regions, not on a few
