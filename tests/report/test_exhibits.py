"""The exhibit registry: every exhibit has its file, and the README's list matches a run."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.report.exhibits import README_END, README_START, exhibit_list_markdown

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
