"""The cache on the real notebooks: an unchanged rerun executes nothing; a changed parameter
re-executes only the notebooks that use it (and those downstream of them)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from evaluation.pipeline.execute import upstream
from evaluation.pipeline.notebooks import NOTEBOOKS, parameter_names, read_notebook
from evaluation.pipeline.run import run_study
from evaluation.pipeline.verify import compare_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cached_out(finished_run, tmp_path_factory):
    """A new output folder, and a work folder holding (a copy of) the finished run's cache."""
    result, _ = finished_run
    folder = tmp_path_factory.mktemp("cached")
    shutil.copytree(result.work_dir / "cache", folder / "work" / "cache")
    return folder / "outputs", folder / "work"


def _tree(run_dir):
    # the run's own record (times, run id) differs; everything a reader sees must not,
    # the report (HTML and PDF) and the notebooks' pages included
    skip = {"results.json", "run.log", "status.json", "kernels.log", "index.html"}
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in run_dir.rglob("*")
            if p.is_file() and p.name not in skip}  # fmt: skip


def test_unchanged_rerun_executes_nothing_and_gives_the_same_results(finished_run, cached_out):
    result, params = finished_run
    out_root, work = cached_out
    again = run_study(params, out_root, work_dir=work, echo=lambda *a, **k: None)
    old = json.loads((result.run_dir / "results.json").read_text())
    new = json.loads((again.run_dir / "results.json").read_text())
    assert compare_results(old, new)[0] == []
    nbs = new["provenance"]["notebooks"]
    assert set(nbs) == {s.name for s in NOTEBOOKS}
    assert not any(info["executed"] for info in nbs.values()), nbs
    assert {info["cached_from_run"] for info in nbs.values()} == {result.run_dir.name}
    assert new["provenance"]["validation"].startswith("reused")
    # when the numbers were computed: the original executions, not this rerun
    assert new["provenance"]["computed"] == old["provenance"]["computed"]
    assert new["provenance"]["started"] > old["provenance"]["computed"]["until"]
    # tables, figures, executed notebooks, results parts, the report and the notebooks'
    # pages: byte for byte the same
    tree_new, tree_old = _tree(again.run_dir), _tree(result.run_dir)
    assert any(k.endswith(".pdf") for k in tree_new) and any(k.endswith(".html") for k in tree_new)
    assert tree_new.keys() == tree_old.keys()
    assert [k for k in tree_new if tree_new[k] != tree_old[k]] == []
    assert again.report.is_file()


def test_changed_parameter_reexecutes_only_its_users(finished_run, cached_out):
    _, params = finished_run
    doc = yaml.safe_load(params.read_text("utf-8"))
    doc["estimation"]["permutation_draws"] = 49
    changed = params.with_name("draws.yaml")
    changed.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    out_root, work = cached_out
    run = run_study(changed, out_root, work_dir=work, render=False, echo=lambda *a, **k: None)
    nbs = json.loads((run.run_dir / "results.json").read_text())["provenance"]["notebooks"]
    deps = upstream(NOTEBOOKS)
    expect: set[str] = set()
    for spec in NOTEBOOKS:
        cell = parameter_names(read_notebook(spec)).get("estimation")
        if (isinstance(cell, dict) and "permutation_draws" in cell) or expect & set(
            deps[spec.name]
        ):
            expect.add(spec.name)
    assert "03_effects" in expect
    assert {n for n, info in nbs.items() if info["executed"]} == expect


def test_a_cost_assumption_reexecutes_the_costs_notebook_alone(finished_run, cached_out):
    """The costs are notebook 07's: the robustness notebook reads only ``costs.horizon``."""
    result, params = finished_run
    doc = yaml.safe_load(params.read_text("utf-8"))
    doc["costs"]["tax_share"] = doc["costs"]["tax_share"] / 2
    doc["programme"]["budget"] = doc["programme"]["budget"] * 2
    changed = params.with_name("costs.yaml")
    changed.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    out_root, work = cached_out
    run = run_study(changed, out_root, work_dir=work, render=False, echo=lambda *a, **k: None)
    new = json.loads((run.run_dir / "results.json").read_text())
    old = json.loads((result.run_dir / "results.json").read_text())
    nbs = new["provenance"]["notebooks"]
    assert {n for n, info in nbs.items() if info["executed"]} == {"07_costs"}
    # the costs follow the assumptions; the effect they price is the one notebook 03 reports
    before, after = old["numbers"]["costs"], new["numbers"]["costs"]
    assert after["tax_share"] == before["tax_share"] / 2
    assert after["cost_per_participant"] == pytest.approx(2 * before["cost_per_participant"])
    assert after["effect"] == before["effect"]
    headline = [e for e in new["effects"] if e["notebook"] == "03_effects"
                and e["estimator"] == after["estimator"]
                and e["outcome"] == f"employed_m{after['horizon']}" and e["subgroup"] == "all"]  # fmt: skip
    assert [e["estimate"] for e in headline] == [after["effect"]]
