"""A second opinion on our disclosure control: acro (SACRO's output checker) on the same tables.

acro 1.0.2 pins ``pandas<=2.3.3`` and the study runs on pandas 3, so acro lives in a venv of its
own, ``.venv-acro`` (``make test`` or ``make setup-acro`` installs it from
``requirements-acro.lock``), and is called once per test through ``acro_driver.py`` beside this
file: person-level rows in, acro's crosstab and its per-cell outcome out. Its session is
``ACRO(suppress=True)`` with ``safe_threshold`` set to our ``k``; the rest of its default
configuration is kept (``zeros_are_disclosive: True``; its dominance rules, ``nk-rule`` and
``p-ratio``, and ``safe_dof_threshold`` apply to tables of values and models, not to counts).

acro's rules for a table of counts (``acro/sdcchecks.py``), checked here as they are stated:

* ``MinimumThresholdCheck``: a cell fails where ``count < safe_threshold`` (strict): with
  ``safe_threshold = k`` the counts 0 to k-1 fail, k passes. Margins are checked too.
* ``PresenceOfZeroCheck``: every 0 fails (class disclosure), margins included.
* No secondary suppression: acro drops the persons of the failed cells and recomputes the
  margins from the rest, so a published total is the sum of the shown cells, not the true one.

Ours (:func:`~evaluation.disclosure.rules.protect_counts`): ``<k`` for 1 to k-1, a 0 or an
"all of the group" cell hidden only in a group (column) of fewer than ``2k`` persons, true
margins shown and secondary suppression against recovering a hidden cell from them.

What must hold, cell by cell (body and margins): every cell acro withholds is hidden by us,
except a 0 that our rule 2 shows on purpose (a 0 in a group of ``2k`` persons or more, a 0 in
an empty group, a margin of 0); every "all of a small group" cell is hidden by us while acro
withholds every other cell of that group (so neither table says "all"). The cells we hide and
acro shows (our secondary suppression, "all of a small group" of ``k`` or more) and the zeros
we show and acro withholds are counted and printed, not failed.

Checked on random person-level tables (a seeded generator, one acro call for all of them)
and on two count tables of a whole run, rebuilt person by person from the run's private
ledgers: the descriptive table's categorical rows and the sample flow.

Both tests are marked slow (acro's own crosstab takes some 0.3 s a table): ``make test``
runs them, ``make test-fast`` does not (nor does it install ``.venv-acro``).

Tolerances: none (exact counts).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from run_ledgers import run_ledgers

from evaluation.disclosure.rules import SECONDARY_LABEL, TOTAL, protect_counts

ROOT = Path(__file__).resolve().parents[2]
ACRO_PYTHON = ROOT / ".venv-acro" / "bin" / "python"
DRIVER = Path(__file__).with_name("acro_driver.py")
#: Both tests run acro in its venv (a minute or two): slow, so ``make test-fast`` (which does
#: not install ``.venv-acro``) leaves them out, and ``make test`` (which does) runs them.
pytestmark = pytest.mark.slow

#: The acro the lock pins; the driver reports the one it ran.
ACRO_VERSION = "1.0.2"

K = 5
#: Random person-level tables drawn for the property test.
N_TABLES = 300
#: acro's per-cell outcome names the checks a cell fails; "ok" where it fails none.
THRESHOLD_CHECK = "MinimumThresholdCheck"
ZERO_CHECK = "PresenceOfZeroCheck"


# --- acro in its own venv ------------------------------------------------------------------
def run_acro(tables: dict[str, dict], rows: pd.DataFrame, k: int, folder: Path) -> dict:
    """acro's crosstab of every table: ``tables`` name -> ``{"rows": [...], "cols": [...]}``
    (the categories in order), ``rows`` one person a line (``table``, ``row``, ``col``)."""
    if not ACRO_PYTHON.exists():
        pytest.fail(
            f"{ACRO_PYTHON.relative_to(ROOT)} is missing: acro has a venv of its own (it pins "
            "pandas<=2.3.3); `make test` installs it (or `make setup-acro` alone)."
        )
    spec, data, out = folder / "spec.json", folder / "rows.csv", folder / "acro.json"
    spec.write_text(json.dumps({"threshold": k, "tables": tables}), "utf-8")
    rows[["table", "row", "col"]].to_csv(data, index=False)
    done = subprocess.run(
        [str(ACRO_PYTHON), str(DRIVER), str(spec), str(data), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(out.read_text("utf-8"))
    assert result["config"]["acro_version"] == ACRO_VERSION, result["config"]
    assert result["config"]["safe_threshold"] == k
    assert result["config"]["zeros_are_disclosive"] is True
    return result


def _frame(table: dict, key: str) -> pd.DataFrame:
    """One grid of the driver's output: ``counts`` as integers, the others as they are."""
    frame = pd.DataFrame(table[key], index=table["rows"], columns=table["cols"], dtype=object)
    return frame.astype("int64") if key == "counts" else frame


# --- the comparison ------------------------------------------------------------------------
@dataclass
class Tally:
    """Cells compared, and where acro and we part (by reason)."""

    tables: int = 0
    cells: int = 0
    acro_withheld: int = 0
    small_both: int = 0  # 1..k-1: acro withholds, we show "<k"
    zero_small_group_both: int = 0  # a 0 in a group of 1..2k-1 persons: both hide it
    zero_we_show: int = 0  # a 0 acro withholds and our rule 2 shows on purpose
    zero_hidden_anyway: int = 0  # such a 0, hidden by us for another reason
    all_of_small_group: int = 0  # n = its group's total (< 2k), hidden by us
    ours_only_secondary: int = 0  # hidden by us (..) to protect another, shown by acro
    ours_only_all: int = 0  # all of a small group, n >= k: hidden by us, shown by acro
    ours_only_other: int = 0  # hidden by a run (its rules or its audit), shown by acro
    row_all_shown: int = 0  # all of a row (>= 2 groups, the rest 0) shown by us: see module doc
    acro_failed: int = 0  # tables acro 1.0.2 raises on (every person withheld)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.tables} tables ({self.acro_failed} acro raised on: all withheld), "
            f"{self.cells} cells compared; acro withholds "
            f"{self.acro_withheld}: {self.small_both} counts 1..k-1 (we: <k), "
            f"{self.zero_small_group_both} zeros of small groups (we: ..), {self.zero_we_show} "
            f"zeros we show by rule 2, {self.zero_hidden_anyway} other zeros we hide; "
            f"we hide and acro shows {self.ours_only_secondary} "
            f"secondary, {self.ours_only_all} 'all of a small group' and "
            f"{self.ours_only_other} other cells; "
            f"{self.all_of_small_group} 'all of a small group' cells in all; "
            f"{self.row_all_shown} 'all of a row' cells we show; "
            f"{len(self.failures)} cells acro withholds that we show against our rules"
        )


def compare(
    name: str,
    counts: pd.DataFrame,
    outcome: pd.DataFrame,
    shown: pd.DataFrame,
    secondary: pd.DataFrame | None,
    k: int,
    tally: Tally,
    *,
    published: pd.DataFrame | None = None,
) -> None:
    """Compare acro's outcome with our shown table, cell by cell (both labelled like ``counts``,
    margins ``Total``; ``shown`` may leave out cells we do not publish: NaN there).

    ``secondary`` is our rule's mask of secondary suppression, to tell why we hide a cell acro
    shows; ``None`` where that is not known (a run's table, which its audit may hide more of).
    """
    tally.tables += 1
    body_rows = [r for r in counts.index if r != TOTAL]
    body_cols = [c for c in counts.columns if c != TOTAL]
    col_total = counts.loc[TOTAL] if TOTAL in counts.index else counts.loc[body_rows].sum()
    for r in counts.index:
        for c in counts.columns:
            ours = shown.loc[r, c]
            if pd.isna(ours):
                continue  # not published by us
            n, verdict = int(counts.loc[r, c]), str(outcome.loc[r, c])
            where = f"{name}[{r!r}, {c!r}] = {n}"
            tally.cells += 1
            # acro's rules as the module docstring states them
            assert (THRESHOLD_CHECK in verdict) == (n < k), f"{where}: acro said {verdict!r}"
            assert (ZERO_CHECK in verdict) == (n == 0), f"{where}: acro said {verdict!r}"
            withheld = verdict != "ok"
            if published is not None and withheld:
                assert pd.isna(published.loc[r, c]), f"{where}: withheld, published"
            hidden = ours == f"<{k}" or ours == SECONDARY_LABEL
            assert hidden or ours == str(n), f"{where}: we show {ours!r}"
            body = r != TOTAL and c != TOTAL
            group_total = int(col_total[c])
            small_group = body and 0 < group_total < 2 * k
            if body and small_group and n == group_total and len(body_rows) > 1:
                tally.all_of_small_group += 1
                if not hidden:
                    tally.failures.append(f"{where}: all of a small group, shown by us")
                others = [outcome.loc[o, c] for o in body_rows if o != r]
                assert all(o != "ok" for o in others), f"{where}: acro shows a 0 beside it"
            if (
                body
                and n > 0
                and len(body_cols) > 1
                and n == int(counts.loc[r, body_cols].sum())
                and not hidden
            ):
                tally.row_all_shown += 1
            if withheld:
                tally.acro_withheld += 1
                if 0 < n < k:
                    if ours != f"<{k}":
                        tally.failures.append(f"{where}: acro withholds, we show {ours!r}")
                    else:
                        tally.small_both += 1
                elif small_group:  # a 0 in a group of 1..2k-1 persons
                    if not hidden:
                        tally.failures.append(f"{where}: a 0 of a small group, we show it")
                    else:
                        tally.zero_small_group_both += 1
                elif not hidden:  # a 0 in a large or empty group, or a margin of 0
                    tally.zero_we_show += 1
                else:  # such a 0, hidden all the same (secondary, or by a run's audit)
                    tally.zero_hidden_anyway += 1
            elif hidden:
                if secondary is None:
                    tally.ours_only_other += 1
                elif bool(secondary.loc[r, c]):
                    tally.ours_only_secondary += 1
                elif small_group and n == group_total:
                    tally.ours_only_all += 1
                else:
                    tally.failures.append(f"{where}: we hide it ({ours!r}) for no known reason")


def _acro_margins_are_sums_of_what_it_shows(name: str, table: dict) -> None:
    """acro's way instead of secondary suppression: a margin sums the cells it shows."""
    published = _frame(table, "published")
    body = published.drop(index=TOTAL, columns=TOTAL).fillna(0)
    for r in body.index:
        expect = body.loc[r].sum()
        assert published.loc[r, TOTAL] == (expect if expect > 0 else None), (name, r)
    for c in body.columns:
        expect = body[c].sum()
        assert published.loc[TOTAL, c] == (expect if expect > 0 else None), (name, c)


# --- 1. random person-level tables ------------------------------------------------------------
def _random_people(rng: np.random.Generator) -> tuple[dict[str, dict], pd.DataFrame]:
    """Tables of two categorical variables, with many small and zero cells."""
    tables: dict[str, dict] = {}
    parts = []
    for t in range(N_TABLES):
        n_rows, n_cols = int(rng.integers(2, 7)), int(rng.integers(1, 4))
        rows = [f"r{i}" for i in range(n_rows)]
        cols = [f"g{j}" for j in range(n_cols)]
        # persons: few to many; cells' shares skewed (Dirichlet 0.4), so zeros and small
        # counts beside large ones, and now and then a whole category or group empty
        n = int(rng.choice([3, 8, 15, 30, 60, 150, 600], p=[0.04, 0.1, 0.16, 0.2, 0.2, 0.15, 0.15]))
        p = rng.dirichlet(np.full(n_rows * n_cols, 0.4))
        cell = rng.choice(n_rows * n_cols, size=n, p=p)
        name = f"t{t:03d}"
        tables[name] = {"rows": rows, "cols": cols}
        parts.append(
            pd.DataFrame(
                {
                    "table": name,
                    "row": np.asarray(rows)[cell // n_cols],
                    "col": np.asarray(cols)[cell % n_cols],
                }
            )
        )
    return tables, pd.concat(parts, ignore_index=True)


def test_we_hide_every_cell_acro_withholds_on_random_tables(tmp_path):
    rng = np.random.default_rng(20261207)
    tables, people = _random_people(rng)
    start = time.perf_counter()
    result = run_acro(tables, people, K, tmp_path)
    seconds = time.perf_counter() - start
    tally = Tally()
    for name, cats in tables.items():
        table = result["tables"][name]
        mine = people[people["table"] == name]
        counts = pd.crosstab(
            pd.Categorical(mine["row"], categories=cats["rows"]),
            pd.Categorical(mine["col"], categories=cats["cols"]),
            margins=True,
            margins_name=TOTAL,
            dropna=False,
        )
        counts.index, counts.columns = [*cats["rows"], TOTAL], [*cats["cols"], TOTAL]
        counts = counts.astype("int64")
        # acro tabulated the same persons
        assert _frame(table, "counts").equals(counts), name
        ours = protect_counts(counts, K)
        outcome = _frame(table, "outcome")
        if table["published"] is None:  # acro could not publish it: everyone withheld
            assert "KeyError" in table["error"], (name, table["error"])
            body = outcome.drop(index=TOTAL, columns=TOTAL)
            assert (body != "ok").all().all(), (name, "acro failed on a table it shows")
            tally.acro_failed += 1
            published = None
        else:
            _acro_margins_are_sums_of_what_it_shows(name, table)
            published = _frame(table, "published")
        compare(name, counts, outcome, ours.table, ours.secondary, K, tally, published=published)
    print(f"\nacro {ACRO_VERSION} vs protect_counts (k={K}, {seconds:.1f} s): {tally.summary()}")
    assert not tally.failures, tally.summary() + "\n" + "\n".join(tally.failures[:20])
    # every kind of cell was met often enough for the comparison to mean something
    assert tally.tables == N_TABLES
    assert tally.small_both > 200 and tally.zero_small_group_both > 20, tally.summary()
    assert tally.zero_we_show > 50 and tally.ours_only_secondary > 50, tally.summary()
    assert tally.all_of_small_group > 10 and tally.ours_only_all > 0, tally.summary()


# --- 2. the count tables of a run ---------------------------------------------------------------
def _ledger_facts(run_dir: Path, work_dir: Path) -> dict[tuple, np.ndarray]:
    """The persons of each published count, by its path (the ledgers the run's audit read)."""
    return {
        f.where: f.persons
        for ledger in run_ledgers(run_dir, work_dir)
        for f in ledger
        if f.kind == "count"
    }


#: A published count cell: "<k", "..", a count, or a count with its share ("22 (44.0 %)").
CELL = re.compile(r"^(?:<\d+|\.\.|(\d+)(?: \(.*\))?)$")


def _published_count(cell: object) -> str:
    """A published cell as our table shows the count: "<k", ".." or the count."""
    match = CELL.match(str(cell).strip())
    assert match, f"not a published count: {cell!r}"
    return match[1] if match[1] is not None else match[0]


#: A table of a run for acro: its name, categories, persons by cell, and the published cells.
RunTable = tuple[str, dict, dict[tuple[str, str], np.ndarray], pd.DataFrame]


def _descriptives(results: dict, facts: dict) -> list[RunTable]:
    """The descriptive table's categorical rows as tables: a variable's values by group."""
    groups = ["mentored", "comparison"]
    by_variable: dict[str, list[dict]] = {}
    for line in results["tables"]["descriptives"]:
        variable, sep, _ = line["variable"].partition(": ")
        if sep:
            by_variable.setdefault(variable, []).append(line)
    out = []
    for variable, lines in by_variable.items():
        values = [line["variable"].partition(": ")[2] for line in lines]
        persons = {
            (v, g): facts[("tables", "descriptives", line["variable"], g)]
            for v, line in zip(values, lines, strict=True)
            for g in groups
        }
        shown = pd.DataFrame(
            [[_published_count(line[g]) for g in groups] for line in lines],
            index=values,
            columns=groups,
        )
        out.append((f"descriptives:{variable}", {"rows": values, "cols": groups}, persons, shown))
    return out


def _sample_flow(results: dict, facts: dict) -> list[RunTable]:
    """The sample flow's additive rows: each person input is excluded once or analysed."""
    groups = ["mentored", "comparison"]
    lines = [x for x in results["tables"]["sample_flow"] if x["kind"] != "note"]
    parts = [x for x in lines if x["kind"] in ("excluded", "analysed")]
    (total,) = [x for x in lines if x["kind"] == "input"]
    steps = [x["step"] for x in parts]
    persons = {(s, g): facts[("tables", "sample_flow", s, g)] for s in steps for g in groups}
    rows = [*parts, total]
    shown = pd.DataFrame(
        [[_published_count(x[c]) for c in [*groups, "total"]] for x in rows],
        index=[*steps, TOTAL],
        columns=[*groups, TOTAL],
    )
    # the margins' persons: those of the input row and total column, as the ledger has them
    for g in groups:
        union = np.unique(np.concatenate([persons[(s, g)] for s in steps]))
        assert np.array_equal(union, facts[("tables", "sample_flow", total["step"], g)])
    return [("sample_flow", {"rows": steps, "cols": groups}, persons, shown)]


def test_a_run_hides_every_count_acro_withholds(finished_run, tmp_path):
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    k = results["numbers"]["disclosure_min_cell"]
    facts = _ledger_facts(run.run_dir, run.work_dir)
    assert facts, "the run's cache keeps no ledger"
    tables = [*_descriptives(results, facts), *_sample_flow(results, facts)]
    people = pd.DataFrame(
        [
            (name, r, c, pid)
            for name, _, persons, _ in tables
            for (r, c), ids in persons.items()
            for pid in ids
        ],
        columns=["table", "row", "col", "person"],
    )
    # each person once per table: the cells of a table partition its persons
    assert not people.duplicated(["table", "person"]).any()
    result = run_acro({name: cats for name, cats, _, _ in tables}, people, k, tmp_path)
    tally = Tally()
    for name, _, _, shown in tables:
        table = result["tables"][name]
        counts = _frame(table, "counts")
        # what the run published (NaN where it publishes nothing, e.g. a row's total
        # over the groups of the descriptive table), against acro on the same persons
        ours = shown.reindex(index=counts.index, columns=counts.columns)
        for r in ours.index:
            for c in ours.columns:
                if ours.loc[r, c] not in (None, f"<{k}", SECONDARY_LABEL) and not pd.isna(
                    ours.loc[r, c]
                ):
                    assert int(ours.loc[r, c]) == counts.loc[r, c], (name, r, c)
        compare(name, counts, _frame(table, "outcome"), ours, None, k, tally)
    print(f"\nacro vs a run's published tables (k={k}): {tally.summary()}")
    assert not tally.failures, tally.summary() + "\n" + "\n".join(tally.failures[:20])
    assert tally.tables == len(tables) and tally.cells > 40, tally.summary()
