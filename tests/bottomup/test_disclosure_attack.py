"""Issue 16, attack 3 (survey and profile parts): recover a hidden count from the published files.

A reader of the run folder knows how the bottom-up chapter's counts relate: everyone counted
at baseline answered at baseline, everyone scored on a factor answered, a profile table's
groups split the persons scored on a factor, an item's answerers split into agreeing and
not. The attack reads only the published files (``results/05_bottomup.json``,
``tables/*.csv`` and the report's bottom-up chapter, rendered from the audited results as the
runner renders it) and tries

* **differences**: two published counts of the same wave or subgroup a few apart (50
  answered at baseline, 49 scored on self-efficacy: one person; women scored on goals 22, on
  self-efficacy 21), where the smaller set lies inside the larger one;
* **sums**: a hidden cell of a split (a profile group, agreeing / not agreeing, an answer
  group) from the total and the other parts;

and succeeds when it pins a count of 1 to k-1 persons. Where the reader can only guess that
one set lies inside another, the guess is checked against the truth (the private ledger of
the notebooks). Before the run's disclosure audit the attack succeeds on a study with a few
persons who skipped a factor; after the audit, on the files the run publishes, it fails.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import synth
from evaluation.config import load_params
from evaluation.disclosure.ledger import Ledger
from evaluation.pipeline.notebooks import NOTEBOOKS
from evaluation.report.render import make_environment, report_context
from evaluation.results.publish import audit_run
from evaluation.text import catalogue

K = 5
NOTEBOOK = "05_bottomup"
#: Baseline respondents made to skip every self-efficacy item (answered, not scored on it).
SKIPPERS = 2
BASE, FOLLOW = "baseline", "follow_up"


@dataclass(frozen=True)
class Count:
    """A published count, where it is (a ledger path), and what the reader knows of it."""

    where: tuple
    value: int
    tags: frozenset  # the waves / subgroups it belongs to


@dataclass(frozen=True)
class Recovery:
    how: str
    value: int


def _int(value) -> int | None:
    """A published cell as a count, or ``None`` when it is hidden or missing."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and float(value).is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None  # '<5', '..', 'withheld (n<5)'
        return int(f) if f.is_integer() else None
    return None


def _csv(run_dir: Path, key: str) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "tables" / f"{key}.csv", dtype=str, keep_default_na=False)
    return frame.set_index(frame.columns[0])


def report_change_counts(report: str, language: str = "en") -> dict[str, str]:
    """Factor → the cell "Persons" of the report's change table (a count, or a hidden label)."""
    table = re.search(r'id="tab-bottomup-change">(.*?)</table>', report, re.S)
    assert table, "the report's bottom-up chapter has no change table"
    label = {catalogue(language).category("factor", f, default=f): f
             for f in ("goal", "barrier", "network", "efficacy", "mentor")}  # fmt: skip
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]  # fmt: skip
        if len(cells) == 8:
            out[label[cells[0]]] = cells[-1]
    return out


def published_counts(run_dir: Path, report: str | None = None) -> list[Count]:
    """Every count of persons of the survey and profile parts, from the published files.

    ``report``: the HTML of the report's bottom-up chapter, whose change table shows the
    persons with both scores of each factor.
    """
    part = json.loads((run_dir / "results" / f"{NOTEBOOK}.json").read_text("utf-8"))
    nums = part["numbers"]
    out: list[Count] = []

    def add(where, value, *tags):
        n = _int(value)
        if n is not None:
            out.append(Count(tuple(where), n, frozenset(tags)))

    add(("numbers", "bottomup_n_baseline"), nums["bottomup_n_baseline"], BASE)
    add(("numbers", "bottomup_n_follow_up"), nums["bottomup_n_follow_up"], FOLLOW)
    for kind in ("n_scored_baseline", "n_incomplete_baseline"):
        for f, v in nums["bottomup_scoring"][kind].items():
            add(("numbers", "bottomup_scoring", kind, f), v, BASE)
    for f, row in _csv(run_dir, "bottomup_reliability").iterrows():
        add(("tables", "bottomup_reliability", f, "persons"), row["persons"], row["wave"])
    for item, row in _csv(run_dir, "bottomup_agreement").iterrows():
        for c in ("n", "agree", "not_agree"):
            add(("tables", "bottomup_agreement", item, c), row[c], BASE)
    for f, c in nums["bottomup_change"].items():
        if isinstance(c, dict):
            add(("numbers", "bottomup_change", f, "n"), c["n"], BASE, FOLLOW)
    add(("numbers", "bottomup_n_both"), nums["bottomup_n_both"], BASE, FOLLOW)
    if report is not None:
        for f, cell in report_change_counts(report).items():
            add(("report", "bottomup_change", f, "n"), cell.replace(",", ""), BASE, FOLLOW)
    if "bottomup_moderation" in nums:
        add(("numbers", "bottomup_moderation", "n_treated"), nums["bottomup_moderation"]["n_treated"],
            BASE)  # fmt: skip
    for i, e in enumerate(part["effects"]):
        add(("effects", NOTEBOOK, i, "n_treated"), e["n_treated"], BASE)
    if "bottomup_relationship" in nums:
        add(("numbers", "bottomup_relationship", "n_treated"),
            nums["bottomup_relationship"]["n_treated"], FOLLOW)  # fmt: skip
    for by in ("sex", "education"):
        key = f"bottomup_profile_table_{by}"
        for f, row in _csv(run_dir, key).iterrows():
            for c in row.index[row.index.str.endswith(": n")]:
                add(("tables", key, f, c), row[c], BASE, f"{by}={c[:-3]}")
    return out


def _surely_inside(big: Count, small: Count) -> bool:
    """Whether the reader knows that ``small``'s persons are among ``big``'s.

    From what the counts are (the chapter's definitions, stated in the notebook and the
    report), not from the data.
    """
    b, s = big.where, small.where
    if b == ("numbers", "bottomup_n_baseline"):
        return BASE in small.tags
    if b == ("numbers", "bottomup_n_follow_up"):
        return FOLLOW in small.tags
    if b[:3] == ("numbers", "bottomup_scoring", "n_scored_baseline"):
        f = b[3]
        return (s[:3] == ("numbers", "bottomup_scoring", "n_incomplete_baseline") and s[3] == f) \
            or (s[:3] == ("numbers", "bottomup_change", f)) \
            or (s[:3] == ("report", "bottomup_change", f)) \
            or (s[0] == "tables" and s[1].startswith("bottomup_profile_table_") and s[2] == f) \
            or s == ("numbers", "bottomup_moderation", "n_treated") or s[0] == "effects"  # fmt: skip
    if b[:2] == ("tables", "bottomup_agreement") and b[3] == "n":
        return s[:3] == b[:3]
    return False


def attack(run_dir: Path, truth: dict[tuple, set] | None, report: str | None = None
           ) -> list[Recovery]:  # fmt: skip
    """Every count of 1 to k-1 persons the published files give back (see the module)."""
    counts = published_counts(run_dir, report)
    found: list[Recovery] = []
    for big in counts:
        for small in counts:
            d = big.value - small.value
            if not (0 < d < K) or not (big.tags & small.tags):
                continue
            if _surely_inside(big, small):
                found.append(Recovery(f"{big.where} - {small.where}", d))
            elif truth is not None and _known(big.where, truth) and _known(small.where, truth):
                b, s = truth[_ledger(big.where)], truth[_ledger(small.where)]
                if s <= b and len(b - s) == d:
                    found.append(Recovery(f"{big.where} - {small.where} (guessed nesting)", d))
    shown = {c.where: c.value for c in counts}
    # sums: a split whose total and every part but one are shown
    splits = []
    for by in ("sex", "education"):
        key = f"bottomup_profile_table_{by}"
        table = _csv(run_dir, key)
        for f, row in table.iterrows():
            total = ("numbers", "bottomup_scoring", "n_scored_baseline", f)
            splits.append((total, [("tables", key, f, c) for c in row.index
                                   if c.endswith(": n")]))  # fmt: skip
    agreement = _csv(run_dir, "bottomup_agreement")
    for item in agreement.index:
        splits.append(
            (
                ("tables", "bottomup_agreement", item, "n"),
                [("tables", "bottomup_agreement", item, c) for c in ("agree", "not_agree")],
            )
        )
    for total, parts in splits:
        hidden = [p for p in parts if p not in shown]
        if total in shown and len(hidden) == 1:
            value = shown[total] - sum(shown[p] for p in parts if p in shown)
            if 0 < value < K:
                found.append(Recovery(f"{hidden[0]} = {total} - the other parts", value))
    # the answer groups: shares of the item's answerers (shown in the agreement table)
    answers = _csv(run_dir, "bottomup_answer_groups")
    for item, row in answers.iterrows():
        n = shown.get(("tables", "bottomup_agreement", item, "n"))
        groups = [c for c in row.index if c != "wording"]
        hidden = [g for g in groups if _share(row[g]) is None]
        if n is not None and len(hidden) == 1:
            value = n - sum(round(_share(row[g]) * n) for g in groups if g not in hidden)
            if 0 < value < K:
                found.append(Recovery(f"answer group {item}/{hidden[0]} from the shares", value))
    return found


def _ledger(where: tuple) -> tuple:
    """Where a published count is in the ledger (the report shows the numbers' values)."""
    return ("numbers", *where[1:]) if where[0] == "report" else where


def _known(where: tuple, truth: dict[tuple, set]) -> bool:
    return _ledger(where) in truth


def _chapter_html(run_dir: Path, results: dict, language: str = "en") -> str:
    """The report's bottom-up chapter, rendered from ``results`` as the runner renders it."""
    env = make_environment()
    page = env.from_string("{% include 'chapters/bottomup.html.j2' %}")
    return page.render(**report_context(results, language, run_dir, env))


def _share(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _truth(scratch: Path) -> dict[tuple, set]:
    facts = [f for p in sorted((scratch / "ledger").glob("*.npz")) for f in Ledger.load(p)]
    return {tuple(f.where): set(f.persons.tolist()) for f in facts if f.kind == "count"}


def _merge(run_dir: Path, names: list[str]) -> dict:
    merged = {"numbers": {}, "tables": {}, "skipped": {}, "exhibits": [], "effects": []}
    for n in names:
        part = json.loads((run_dir / "results" / f"{n}.json").read_text("utf-8"))
        for key in ("numbers", "tables", "skipped"):
            merged[key].update(part[key])
        merged["exhibits"] += part["exhibits"]
        merged["effects"] += part["effects"]
    return merged


@pytest.fixture(scope="module")
def unaudited_run(tmp_path_factory, make_params):
    """Notebooks 01, 02 and 05 on a study where a few respondents skipped self-efficacy.

    Returns their published files before the audit, the private folder and the notebooks.
    """
    from evaluation.pipeline.execute import execute_notebook
    from evaluation.pipeline.notebooks import prepare

    folder = tmp_path_factory.mktemp("attack3")
    study = synth.generate(20170601, n_mentored=50, n_comparison=800)
    paths = synth.write(study, folder / "data")
    survey = pd.read_csv(paths["survey"])
    base = survey.index[survey["wave"] == BASE][:SKIPPERS]
    survey.loc[base, [c for c in survey.columns if c.startswith("efficacy_")]] = np.nan
    survey.to_csv(paths["survey"], index=False)
    params = load_params(
        make_params(
            folder, synthetic=None, data={k: str(v) for k, v in paths.items() if k != "truth"}
        )
    )
    run_dir, scratch = folder / "run", folder / "scratch"
    scratch.mkdir()
    prepared = prepare(NOTEBOOKS, params.notebook_parameters())
    names = ["01_data", "02_design", NOTEBOOK]
    for name in names:
        execute_notebook(prepared[name], run_dir, scratch)
    return run_dir, scratch, names


def test_the_attack_recovers_small_counts_before_the_audit_and_none_after(unaudited_run):
    run_dir, scratch, names = unaudited_run
    truth = _truth(scratch)
    before = attack(run_dir, truth, _chapter_html(run_dir, _merge(run_dir, names)))
    assert any("efficacy" in r.how for r in before), (
        "the planted difference (answered at baseline, not scored on self-efficacy) is not "
        f"found: the attack would pass vacuously; found {before}"
    )
    merged = _merge(run_dir, names)
    result = audit_run(run_dir, merged, scratch, min_cell=K, language="en")
    assert result.decisions, "the audit hid nothing"
    report = _chapter_html(run_dir, merged)  # the audited results, as the runner renders them
    assert report_change_counts(report), "the change table of the report shows no row"
    after = attack(run_dir, truth, report)
    assert after == [], f"counts below {K} recovered from the published files: {after}"


def test_the_published_files_of_a_whole_run_give_no_small_count_back(finished_run):
    """The default-sized run as the runner publishes it (the audit ran on every notebook)."""
    run, _ = finished_run
    assert attack(run.run_dir, truth=None, report=run.report.read_text("utf-8")) == []
