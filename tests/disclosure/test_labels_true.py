"""Labels never lie: a ``<k`` anywhere is a true count of 1 to k-1 persons.

A cell hidden for another reason (zero or all of a small group, a cell that would give a small
one back, a size hidden against differencing) is ``..``. Checked on random tables of counts
through the rule every table passes (:func:`protect_counts`), and on a whole run: every ``<k``
in ``results.json`` (numbers, table cells, effects' sizes) against the persons the run's
private ledgers say it counts, and every ``<k`` in the rendered report (en and sv) against
those values.

Tolerances: none (exact counts).
"""

from __future__ import annotations

import html as htmllib
import json
import re

import numpy as np
import pandas as pd
import pytest
from run_ledgers import run_ledgers

from evaluation.disclosure.audit import locate
from evaluation.disclosure.ledger import Ledger
from evaluation.disclosure.rules import SECONDARY_LABEL, TOTAL, protect_counts
from evaluation.report.render import render_html

K = 5
#: Random tables of counts drawn for the property test.
N_TABLES = 150
#: A ``<k`` label as published: the whole value, or the start of a cell ("<5 (3.1 %)").
LABEL = re.compile(r"^<(\d+)$")


def _with_margins(body: pd.DataFrame) -> pd.DataFrame:
    t = body.copy()
    t[TOTAL] = t.sum(axis=1)
    t.loc[TOTAL] = t.sum(axis=0)
    return t


def test_every_small_label_in_a_protected_table_is_a_true_small_count():
    rng = np.random.default_rng(20261207)
    seen = {"<k": 0, "..": 0}
    for _ in range(N_TABLES):
        rows, cols = rng.integers(2, 6), rng.integers(1, 4)
        # many zeros and small counts, some large: every rule gets its turn
        body = pd.DataFrame(
            rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 40, 300], size=(rows, cols)),
            index=[f"r{i}" for i in range(rows)],
            columns=[f"g{j}" for j in range(cols)],
        )
        counts = _with_margins(body)
        out = protect_counts(counts, K)
        for r in counts.index:
            for c in counts.columns:
                shown, n = out.table.loc[r, c], int(counts.loc[r, c])
                if shown == f"<{K}":
                    assert 1 <= n <= K - 1, (r, c, n)
                    seen["<k"] += 1
                elif shown == SECONDARY_LABEL:
                    seen[".."] += 1
                else:
                    assert shown == str(n)
    assert seen["<k"] > 30 and seen[".."] > 30  # both labels were exercised


# --- a whole run -------------------------------------------------------------------------------
def _small_labels(results: dict) -> list[tuple[tuple, int]]:
    """Every published ``<k`` value of the results: its path and its k."""
    found: list[tuple[tuple, int]] = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*where, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, (*where, i))
        elif isinstance(node, str) and LABEL.match(node.strip()):
            found.append((where, int(LABEL.match(node.strip())[1])))

    walk(results["numbers"], ("numbers",))
    walk(results["tables"], ("tables",))
    walk(results["effects"], ("effects",))
    return found


def _fact_paths(results: dict, ledgers: list[Ledger]) -> dict[int, list]:
    """The facts by the id of the container and key they name in the results."""
    out: dict[tuple[int, str], list] = {}
    for ledger in ledgers:
        for f in ledger:
            try:
                container, key, _ = locate(results, f.where)
            except (KeyError, IndexError, ValueError):
                continue
            out.setdefault((id(container), str(key)), []).append(f)
    return out


def _container(results: dict, where: tuple):
    node = results
    for part in where[:-1]:
        node = node[part]
    return node, where[-1]


@pytest.mark.slow
def test_every_small_label_of_a_run_is_a_true_small_count(finished_run):
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    k = results["numbers"]["disclosure_min_cell"]
    ledgers = run_ledgers(run.run_dir, run.work_dir)
    assert ledgers, "the run's cache keeps no ledger"
    facts = _fact_paths(results, ledgers)
    # exhibits whose persons the ledgers keep: each of their labels must be backed by a fact
    kept = {
        f.where[:2] for ledger in ledgers for f in ledger if f.where[0] in ("tables", "numbers")
    }
    labels = _small_labels(results)
    checked = 0
    for where, label_k in labels:
        assert label_k == k, where
        container, key = _container(results, where)
        counted = [f.n for f in facts.get((id(container), str(key)), []) if f.kind == "count"]
        if where[:2] in kept:
            assert counted, f"{where} shows '<{k}' but the ledger has no count for it"
        if counted:  # the value's own persons, as the ledger holds them
            assert all(1 <= n <= k - 1 for n in counted), (where, counted)
            checked += 1
    assert checked > 0, "no '<k' of the run could be checked against its persons"


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "sv"])
def test_the_report_writes_a_small_label_only_where_the_results_publish_one(finished_run, language):
    """With every published ``<k`` replaced by ``..``, no ``<k`` is left in the report.

    So each ``<k`` a reader sees is a value of the results, which the test above holds true;
    the only other one is the appendix's explanation of the label. ``withheld (n<k)`` (a
    statistic on fewer than k persons) is another label and not counted here.
    """
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    k = results["numbers"]["disclosure_min_cell"]
    # a published label reads as itself, escaped once (never "&lt;5" on the page)
    assert "&amp;lt;" not in render_html(results, language, run.run_dir)
    for where, _ in _small_labels(results):
        container, key = _container(results, where)
        container[key] = SECONDARY_LABEL
    page = render_html(results, language, run.run_dir)
    page = re.sub(r'<p id="small-numbers">.*?</p>', " ", page, flags=re.S)
    page = re.sub(r"<img[^>]*>|<style.*?</style>", " ", page, flags=re.S)
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page))
    assert re.findall(rf"(?<![n\w])<\s?{k}(?!\d)", text) == []
