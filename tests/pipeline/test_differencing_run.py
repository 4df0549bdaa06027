"""End to end: a run whose published sample sizes would give a suppressed count back.

The test study is run again with the disclosure threshold just above its number of unmatched
mentored persons, so that ``n_unmatched`` is suppressed while the analysed and matched sample
sizes -- whose difference it is -- would be published. What must hold, in every file of the
run folder a reader gets (results, per-notebook results, table CSVs, executed notebooks,
report) and in the site bundle exported from it: the sizes hidden are nowhere shown as a
sample size, and nothing published gives a suppressed count back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from evaluation.disclosure.differencing import COUNT_KEYS, HIDDEN, chain_effects, recoveries
from evaluation.pipeline.run import SIZES_HIDDEN_NOTE, run_study
from evaluation.resources import SPECIFICATION_GRID
from evaluation.results.publish import table_frame
from evaluation.results.recorder import EXHIBIT_METADATA

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def strict_run(finished_run, tmp_path_factory, make_params):
    whole = json.loads((finished_run[0].run_dir / "results.json").read_text("utf-8"))
    unmatched = whole["numbers"]["n_unmatched"]
    assert isinstance(unmatched, int) and unmatched >= 1, (
        "the test study must leave some mentored persons unmatched for this test"
    )
    k = max(unmatched + 1, 5)
    folder = tmp_path_factory.mktemp("strict")
    # a caliper so tight that few of the mentored match: specifications on a small group
    grid = yaml.safe_load((SPECIFICATION_GRID).read_text("utf-8"))
    grid["matching"]["caliper"] = [0.2, 0.002]
    (folder / "grid.yaml").write_text(yaml.safe_dump(grid), "utf-8")
    params = make_params(
        folder, **{"disclosure.min_cell": k, "robustness.specifications": str(folder / "grid.yaml")}
    )
    printed = []
    result = run_study(params, folder / "outputs", echo=lambda *a, **kw: printed.extend(a))
    res = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    assert SIZES_HIDDEN_NOTE in printed, "the evaluator is told to have the output checked"
    return result, res, whole, k


def _chain_sizes(results: dict) -> set[int]:
    sizes = {e[f] for e in results["effects"] if e["notebook"] == "03_effects"
             and e["subgroup"] == "all" for f in ("n_treated", "n_control")}  # fmt: skip
    sizes |= {results["numbers"][k] for k in ("n_matched", "n_controls_used")}
    return {v for v in sizes if isinstance(v, int)}


def test_the_suppressed_count_cannot_be_worked_out(strict_run):
    _, res, _, k = strict_run
    assert res["numbers"]["n_unmatched"] == f"<{k}"
    assert res["numbers"]["disclosure_min_cell"] == k
    counts = {key: res["numbers"][key] for key in COUNT_KEYS}
    assert recoveries(counts, chain_effects(res["effects"], k), k) == []
    # the same count inside the matching estimates' spec
    specs = [e["spec"] for e in res["effects"] if e["estimator"] == "matching"
             and e["subgroup"] == "all" and e["notebook"] == "03_effects"]  # fmt: skip
    assert specs and all(s["n_unmatched_treated"] in (f"<{k}", HIDDEN) for s in specs)
    assert res["provenance"]["sizes_hidden"] >= 1


def test_hidden_sizes_are_shown_nowhere_in_the_run_folder(strict_run):
    result, res, whole, _ = strict_run
    # the matched count, from the default run's shown sizes (its audit may already withhold
    # the count itself, which the strict run must withhold too)
    matched = whole["numbers"]["n_mentored"] - whole["numbers"]["n_unmatched"]
    hidden = (_chain_sizes(whole) | {matched}) - _chain_sizes(res)
    assert hidden, "the run must have hidden a sample size"
    run_dir = result.run_dir
    for e in res["effects"]:
        if e["subgroup"] == "all":
            assert e["n_treated"] not in hidden and e["n_control"] not in hidden, e
    for part in (run_dir / "results").glob("*.json"):
        doc = json.loads(part.read_text("utf-8"))
        for e in doc["effects"]:
            if e["subgroup"] == "all":
                assert e["n_treated"] not in hidden, (part.name, e["estimator"])
        for key in COUNT_KEYS:
            assert doc["numbers"].get(key) not in hidden, (part.name, key)
    rewritten = 0
    for path in (run_dir / "tables").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            if row.get("subgroup", "all") != "all":
                continue
            for field in ("n_treated", "n_control"):
                if field in row:
                    if row[field].startswith("<"):  # primary suppression (a small group)
                        continue
                    assert row[field] == HIDDEN or int(row[field]) not in hidden, (path.name, row)
                    rewritten += row[field] == HIDDEN
    assert rewritten, "the table files carry the hidden sizes as '..'"
    # the executed notebooks show each table as published (redone after the hiding)
    exhibits = {e["key"]: e for e in res["exhibits"]}
    shown = 0
    for nb in (run_dir / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb.read_text("utf-8"))["cells"]:
            for out in cell.get("outputs", []):
                key = out.get("metadata", {}).get(EXHIBIT_METADATA)
                if (
                    key is None
                    or exhibits[key]["kind"] != "table"
                    or not any(HIDDEN in row.values() for row in res["tables"][key])
                ):
                    continue  # (a table with nothing hidden is shown as the notebook drew it)
                frame = table_frame(res["tables"][key], exhibits[key])
                assert "".join(out["data"]["text/plain"]) == frame.to_string(), (nb.name, key)
                shown += key == "effects_headline"
    assert shown, "notebook 03 shows the headline's table"
    headline = "".join(
        "".join(out["data"]["text/plain"])
        for cell in json.loads((run_dir / "notebooks" / "03_effects.ipynb").read_text("utf-8"))[
            "cells"]
        for out in cell.get("outputs", [])
        if out.get("metadata", {}).get(EXHIBIT_METADATA) == "effects_headline")  # fmt: skip
    matching = next(line for line in headline.splitlines() if line.startswith("matching"))
    assert HIDDEN in matching.split() and not set(map(str, hidden)) & set(matching.split())


def test_specifications_on_a_small_group_show_its_size_suppressed(strict_run):
    result, res, _, k = strict_run
    rows = res["tables"]["spec_curve_estimates"]
    withheld = [r for r in rows if (r.get("error") or "").startswith("withheld")]
    assert withheld, "the tight caliper must leave a specification on fewer than k persons"
    for r in rows:
        for field in ("n_treated", "n_control"):
            n = r[field]
            assert not (isinstance(n, int) and 0 < n < k), (field, r)
    assert any(r["n_treated"] == f"<{k}" for r in withheld)


def test_the_report_explains_the_dots_and_shows_them(strict_run):
    result, res, _, k = strict_run
    html = (result.run_dir / "report" / "report_en.html").read_text("utf-8")
    assert f'a count of 1 to {k - 1} persons is shown as "&lt;{k}"' in html
    assert "&amp;lt;" not in html, "a suppressed count in the text is escaped once"
    assert f"&lt;{k} had no comparison person close enough" in html
    assert 'id="hidden-sizes"' in html
    matching = [e for e in res["effects"] if e["estimator"] == "matching"
                and e["subgroup"] == "all" and e["outcome"] == res["headline"]["outcome"]]  # fmt: skip
    assert f"<td>{matching[0]['n_treated']} / {matching[0]['n_control']}</td>" in html


def test_the_site_bundle_hides_no_less_than_the_report(strict_run, tmp_path):
    from evaluation.pooling.export import export_bundle

    result, res, whole, _ = strict_run
    # the matched count, from the default run's shown sizes (its audit may already withhold
    # the count itself, which the strict run must withhold too)
    matched = whole["numbers"]["n_mentored"] - whole["numbers"]["n_unmatched"]
    hidden = (_chain_sizes(whole) | {matched}) - _chain_sizes(res)
    out = tmp_path / "bundle.json"
    export_bundle(result.run_dir, out=out)
    bundle = json.loads(out.read_text("utf-8"))
    shown = {v for v in bundle["counts"].values() if isinstance(v, int)}
    shown |= {e[f] for e in bundle["effects"] for f in ("n_treated", "n_control")
              if isinstance(e[f], int)}  # fmt: skip
    assert not shown & hidden


def test_a_table_file_gets_the_dots_in_its_own_cells(tmp_path):
    """The CSV keeps its bytes but the hidden cells; one not laid out as the rows is rewritten."""
    from evaluation.pipeline.run import _rewrite_protected

    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "flat.csv").write_text(
        ",estimate,n_treated\n0,0.1230,46\n1,0.2000,50\n", "utf-8"
    )
    (tmp_path / "tables" / "odd.csv").write_text("a,b\nx,y\n,\n0,46\n", "utf-8")  # 2 headers
    merged = {"numbers": {}, "exhibits": [], "tables": {
        "flat": [{"index": 0, "estimate": 0.123, "n_treated": HIDDEN},
                 {"index": 1, "estimate": 0.2, "n_treated": 50}],
        "odd": [{"a": 0, "b": HIDDEN}]}}  # fmt: skip
    _rewrite_protected(tmp_path, merged, [], min_cell=5, language="en")
    assert (tmp_path / "tables" / "flat.csv").read_text("utf-8") == (
        ",estimate,n_treated\n0,0.1230,..\n1,0.2000,50\n"
    )
    assert (tmp_path / "tables" / "odd.csv").read_text("utf-8") == "a,b\n0,..\n"
