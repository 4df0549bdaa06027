"""The exhibit registry: every exhibit has its file, and the README's list matches a run."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.results.recorder import README_END, README_START, exhibit_list_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_file_exists(finished_run):
    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    keys = [e["key"] for e in res["exhibits"]]
    assert len(keys) == len(set(keys)), "exhibit keys must be unique"
    for ex in res["exhibits"]:
        for f in ex["files"]:
            assert (run.run_dir / f).is_file(), f
        if ex["kind"] == "number":  # a result, or a value measured on the machine
            assert ex["key"] in res["numbers"] or ex["key"] in res["provenance"]["measured"]
        assert ex["made_by"], ex["key"]
    # every table and figure file in the run folder is registered
    registered = {f for e in res["exhibits"] for f in e["files"]}
    for sub in ("tables", "figures"):
        for p in (run.run_dir / sub).iterdir():
            assert f"{sub}/{p.name}" in registered, p.name


def test_readme_list_of_exhibits_matches_a_run(finished_run):
    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    readme = (ROOT / "README.md").read_text("utf-8")
    listed = readme.split(README_START)[1].split(README_END)[0].strip()
    assert listed == exhibit_list_markdown(res), (
        "README's list of exhibits is stale: run "
        "`.venv/bin/evaluation exhibits outputs/default-latest --write-readme`"
    )


def test_results_schema_file_is_current():
    from evaluation.results.schema import SCHEMA_FILE, json_schema

    shipped = json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert shipped == json_schema(), (
        "src/evaluation/results/results.schema.json is stale: run "
        "`.venv/bin/python -c 'from evaluation.results.schema import write_json_schema; "
        "write_json_schema()'`"
    )


def test_every_made_by_of_a_run_resolves(finished_run):
    """made_by names code by its import path (or a params:/file: source): each resolves."""
    from evaluation.protocol import resolve_made_by

    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    names = {e["made_by"] for e in res["exhibits"]} | {e["made_by"] for e in res["effects"]}
    names |= {e["draw"] for e in res["exhibits"] if e.get("draw")}
    for name in sorted(names):
        resolve_made_by(name)  # raises LookupError naming the one that does not
