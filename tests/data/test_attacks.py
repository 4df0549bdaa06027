"""End to end: the data chapter's published numbers give no hidden count back (issue 16).

Two attacks of the red-team pass, each run against what a reader gets (the run folder's CSV
files and ``results.json``, after the disclosure audit), each expected to fail:

1. **SMD against the descriptive table.** On the default synthetic mentored sample, Eritrea,
   Other Africa and Somalia have fewer than 5 mentored persons: ``descriptives.csv`` shows
   ``<5`` for them but the comparison counts (341 of 3 000 in the default pool). The SMD of a
   0/1 term, ``(p_t - p_c) / sd_t`` with ``p_t = k / n_mentored``, is published in
   ``balance.csv`` (``smd_before``, three decimals) and its largest absolute value in
   ``results.json`` (``balance_before.max_abs_smd``): trying k = 1..4 must reproduce none of
   them. The same formula on a region whose count is shown must reproduce its SMD (so the
   attack works, and fails only because the values it needs are withheld).
2. **The sample flow against itself and the headline counts.** With all monthly rows of one
   mentored and three comparison persons removed, the flow has a ``<5`` "no monthly records"
   row; persons in, the other exclusions and the analysed, the headline counts, the
   participants' rows of the input-table summary and the costs chapter's persons served
   (and the budget per participant) must not pin it: its cells are not in the span of the
   published numbers' identities, and an integer program over those identities and the
   bounds a reader knows of hidden cells (``<5`` is 1 to 4, ``..`` any count) leaves each
   of them more than one value. The same attack on the chapter's tables before the run-wide
   audit (primary suppression only) pins the mentored cell to 1: the attack works, and fails
   on the published run only because the audit hides what it needs.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.optimize import Bounds, LinearConstraint, milp

from evaluation import synth
from evaluation.chapters.data import data_chapter
from evaluation.data.contract import validate_study
from evaluation.disclosure.audit import is_hidden
from evaluation.pipeline.run import run_study
from evaluation.report.render import render_html
from evaluation.rng import stream

pytestmark = pytest.mark.slow

#: Regions with fewer than 5 mentored persons in the default synthetic study.
SMALL_REGIONS = ("Eritrea", "Other Africa", "Somalia")
K = 5
#: Persons whose monthly rows are removed in attack 2.
DROP = {"mentored": 1, "comparison": 3}
#: Comparison pool of attack 2's run (small: the test runs the whole study).
N_POOL = 600
#: A value is determined when its unit vector is this close to the span of the identities.
SPAN_TOL = 1e-9
NO_ROWS = "excluded: no monthly records"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _number(cell) -> float | None:
    """A published cell as a number (``None`` where hidden or not a number)."""
    if cell is None or (isinstance(cell, str) and is_hidden(cell)):
        return None
    if isinstance(cell, int | float):
        return float(cell) if math.isfinite(cell) else None
    try:
        return float(str(cell).replace(",", ""))
    except ValueError:
        return None


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


# --- attack 1 ------------------------------------------------------------------------------
def _smd(k: int, n_t: int, p_c: float, ddof: int) -> float:
    p_t = k / n_t
    sd_t = math.sqrt(p_t * (1 - p_t) * n_t / (n_t - ddof))
    return (p_t - p_c) / sd_t


def _matches(candidate: float, published: str | float) -> bool:
    """Whether a candidate reproduces a published value to the decimals it is printed with."""
    if isinstance(published, str):
        value = _number(published)
        if value is None:
            return False
        return round(candidate, _decimals(published)) == round(value, _decimals(published))
    return math.isclose(abs(candidate), abs(published), rel_tol=0, abs_tol=1e-9)


def test_the_smd_does_not_give_back_a_hidden_mentored_count(finished_run):
    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    n_t, n_c = res["numbers"]["n_mentored"], res["numbers"]["n_comparison"]
    assert isinstance(n_t, int) and isinstance(n_c, int), "the attack needs the group sizes"
    desc = {r["variable"]: r for r in _read_csv(run.run_dir / "tables" / "descriptives.csv")}
    balance = {r["term"]: r for r in _read_csv(run.run_dir / "tables" / "balance.csv")}
    balance_json = {r["term"]: r for r in res["tables"]["balance"]}
    max_abs = res["numbers"]["balance_before"]["max_abs_smd"]

    def p_c(region: str) -> float:
        return int(desc[f"origin_region: {region}"]["comparison"].split(" ")[0]) / n_c

    # the attack works where the count is shown ...
    shown = [r for r in ("Afghanistan", "Syria", "Iraq", "Other Asia")
             if desc[f"origin_region: {r}"]["mentored"][0].isdigit()]  # fmt: skip
    assert shown
    for region in shown:
        k = int(desc[f"origin_region: {region}"]["mentored"].split(" ")[0])
        assert _matches(_smd(k, n_t, p_c(region), 1),
                        balance[f"origin_region={region}"]["smd_before"]), region  # fmt: skip
    # ... and gives back none of the hidden ones
    for region in SMALL_REGIONS:
        assert desc[f"origin_region: {region}"]["mentored"] == f"<{K}", (
            f"the default synthetic study must hide the mentored count of {region}"
        )
        term = f"origin_region={region}"
        published = [balance[term]["smd_before"], str(balance_json[term]["smd_before"])]
        if isinstance(max_abs, int | float):
            published.append(float(max_abs))
        for k in range(1, K):
            for ddof in (0, 1):
                candidate = _smd(k, n_t, p_c(region), ddof)
                hits = [p for p in published if _matches(candidate, p)]
                assert not hits, f"{region}: k = {k} reproduces the published SMD {hits}"


# --- attack 2 ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory, make_params):
    folder = tmp_path_factory.mktemp("no_monthly_rows")
    study = synth.generate(20170601, n_mentored=50, n_comparison=N_POOL)
    synth.write(study, folder / "data")
    parts = study.participants
    gone = [str(p) for g, n in DROP.items()
            for p in parts.loc[parts["group"] == g, "person_id"].astype(str).sort_values()[:n]]  # fmt: skip
    monthly = pd.read_csv(folder / "data" / "monthly.csv", dtype=str, keep_default_na=False)
    monthly = monthly.loc[~monthly["person_id"].isin(gone)]
    monthly.to_csv(folder / "data" / "monthly.csv", index=False, lineterminator="\n")
    params = make_params(folder, **{"synthetic.n_comparison": N_POOL,
                                    "synthetic.generate_if_missing": False})  # fmt: skip
    result = run_study(params, folder / "outputs", render=False, echo=lambda *a, **k: None)
    res = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    return result, res, _before_the_audit(study.participants, monthly, params)


def _before_the_audit(participants: pd.DataFrame, monthly: pd.DataFrame, params: Path
                      ) -> tuple[list[dict[str, str]], dict, float]:  # fmt: skip
    """The flow, headline counts and persons served as they were before the run-wide audit.

    The data chapter on the same tables: its sample flow after primary suppression only, its
    counts, and the mentored of the participants table (the costs chapter's persons served).
    """
    doc = yaml.safe_load(params.read_text("utf-8"))
    tables = validate_study({"participants": participants, "monthly": monthly})
    ch = data_chapter(tables, outcomes=doc["outcomes"], rng=stream(doc["seed"], "pseudo_starts"),
                      min_cell=doc["disclosure"]["min_cell"])  # fmt: skip
    rows = [{k: str(v) for k, v in r.items()}
            for r in ch.sample_flow.frame.reset_index().to_dict("records")]  # fmt: skip
    numbers = {name: len(ids) for name, ids in ch.counts.items()}
    numbers["costs_served"] = int((tables.participants["group"] == "mentored").sum())
    return rows, numbers, float(len(tables.participants))


class _Flow:
    """The sample flow's cells as unknowns, and what a reader knows of them.

    Identities (a row's total is the sum of its groups; persons in = every exclusion + the
    analysed), every cell shown, and the bounds of a hidden cell: ``<k`` is 1 to k-1, ``..``
    any count (0 or more).
    """

    GROUPS = ("mentored", "comparison", "total")

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows
        self.index = {(r["step"], g): len(self.GROUPS) * i + j for i, r in enumerate(rows)
                      for j, g in enumerate(self.GROUPS)}  # fmt: skip
        self.equations: list[tuple[dict[int, float], float | None]] = []
        self.low = np.zeros(len(self.index))
        self.high = np.full(len(self.index), np.inf)
        for r in rows:  # a row's total is the sum of its groups
            self.add({(r["step"], "total"): 1, (r["step"], "mentored"): -1,
                      (r["step"], "comparison"): -1}, 0.0)  # fmt: skip
        inputs = [r["step"] for r in rows if r["kind"] == "input"]
        parts = [r["step"] for r in rows if r["kind"] in ("excluded", "analysed")]
        for g in self.GROUPS:  # persons in = every exclusion + the analysed
            self.add({(inputs[0], g): 1, **{(s, g): -1 for s in parts}}, 0.0)
        for r in rows:  # every cell shown, and the bounds of a hidden one
            for g in self.GROUPS:
                value = _number(r[g])
                if value is not None:
                    self.add({(r["step"], g): 1}, value)
                elif str(r[g]).strip() == f"<{K}":
                    self.low[self.index[(r["step"], g)]] = 1
                    self.high[self.index[(r["step"], g)]] = K - 1

    def add(self, coef: dict[tuple[str, str], float], value: float | None) -> None:
        if value is not None:
            self.equations.append(({self.index[c]: v for c, v in coef.items()}, value))

    def _system(self) -> tuple[np.ndarray, np.ndarray]:
        a = np.zeros((len(self.equations), len(self.index)))
        b = np.zeros(len(self.equations))
        for i, (coef, value) in enumerate(self.equations):
            for j, v in coef.items():
                a[i, j] = v
            b[i] = value
        return a, b

    def determined(self, cell: tuple[str, str]) -> float | None:
        """The cell's value if the identities pin it (a linear combination), else ``None``."""
        a, b = self._system()
        target = np.zeros(len(self.index))
        target[self.index[cell]] = 1.0
        y, *_ = np.linalg.lstsq(a.T, target, rcond=None)  # target = a.T @ y, if in the span
        if np.abs(a.T @ y - target).max() > SPAN_TOL:
            return None
        return float(y @ b)

    def bounds(self, cell: tuple[str, str]) -> tuple[float, float]:
        """The least and the largest count the cell can have, bounds of hidden cells used.

        Integer programs (every cell a count) over the identities and the bounds.
        """
        a, b = self._system()
        rule = LinearConstraint(a, b, b)
        keep = Bounds(self.low, self.high)
        whole = np.ones(len(self.index))
        c = np.zeros(len(self.index))
        c[self.index[cell]] = 1.0
        least = milp(c, constraints=rule, bounds=keep, integrality=whole)
        most = milp(-c, constraints=rule, bounds=keep, integrality=whole)
        assert least.success, f"the published numbers contradict each other: {least.message}"
        return (float(round(least.fun)),
                float(round(-most.fun)) if most.success else math.inf)  # fmt: skip


def _attack(rows: list[dict[str, str]], numbers: dict, participants_rows: float | None
            ) -> _Flow:  # fmt: skip
    """The sample flow with every published number that shares its cells."""
    f = _Flow(rows)
    start = next(r["step"] for r in rows if r["kind"] == "input")
    pseudo = next(r["step"] for r in rows if r["step"].startswith("pseudo start"))
    f.add({("analysed", "mentored"): 1}, _number(numbers["n_mentored"]))
    f.add({("analysed", "comparison"): 1}, _number(numbers["n_comparison"]))
    f.add({(pseudo, "comparison"): 1}, _number(numbers["n_pseudo_starts"]))
    f.add({(pseudo, "mentored"): 1}, 0.0)  # no mentored person gets a pseudo start
    f.add({(start, "total"): 1}, participants_rows)  # the input summary's participants
    # the costs chapter's persons served: the mentored of the participants table
    f.add({(start, "mentored"): 1}, _number(numbers.get("costs_served")))
    costs = numbers.get("costs", {})
    per = _number(costs.get("cost_per_participant"))
    if per:
        f.add({(start, "mentored"): 1}, round(_number(numbers["programme_budget"]) / per))
    extra, effect = _number(costs.get("additional_persons")), _number(costs.get("effect"))
    if extra is not None and effect:
        f.add({(start, "mentored"): 1}, round(extra / effect))
    return f


def test_the_attack_recovers_the_exclusion_from_the_tables_before_the_audit(leaky_run):
    # the attack has teeth: on the chapter's tables after primary suppression only (what was
    # published before the run-wide audit), "50 in" beside "49 analysed" pins the <5 cell
    *_, unaudited = leaky_run
    rows, numbers, participants_rows = unaudited
    f = _attack(rows, numbers, participants_rows)
    assert {r["step"]: r for r in rows}[NO_ROWS]["mentored"] == f"<{K}"
    assert f.bounds((NO_ROWS, "mentored")) == (DROP["mentored"], DROP["mentored"])


def test_the_sample_flow_gives_back_no_hidden_exclusion(leaky_run):
    result, res, _ = leaky_run
    rows = _read_csv(result.run_dir / "tables" / "sample_flow.csv")
    flow = {r["step"]: r for r in rows}
    assert flow[NO_ROWS]["mentored"] == f"<{K}" and flow[NO_ROWS]["comparison"] == f"<{K}", (
        "the set-up must hide the persons without monthly rows"
    )
    # the same table in results.json as in the CSV
    assert [{k: str(v) for k, v in r.items()} for r in res["tables"]["sample_flow"]] == rows
    inputs = {r["table"]: r for r in _read_csv(result.run_dir / "tables" / "input_tables.csv")}
    f = _attack(rows, res["numbers"], _number(inputs["participants"]["rows"]))
    for g in ("mentored", "comparison", "total"):
        value = f.determined((NO_ROWS, g))
        assert value is None, f"the hidden '{NO_ROWS}' count of the {g} is {value}"
        low, high = f.bounds((NO_ROWS, g))
        assert low < high, f"the bounds pin the hidden '{NO_ROWS}' count of the {g} to {low}"


def test_the_report_says_no_more_than_the_audit_leaves(leaky_run):
    result, res, _ = leaky_run
    served, analysed = res["numbers"].get("costs_served"), res["numbers"]["n_mentored"]
    # "served 50" beside "follows 49" gives the excluded mentored person back
    assert not (isinstance(served, int) and isinstance(analysed, int) and served != analysed)
    text = " ".join(re.sub(r"<[^>]+>", " ", render_html(res, "en", result.run_dir)).split())
    assert f"follows {analysed} mentored" in text
    everyone = analysed + DROP["mentored"] if isinstance(analysed, int) else None
    assert f"served {everyone} mentored" not in text
    assert f"served {served} mentored" in text or f"served {html.escape(str(served))}" in text
