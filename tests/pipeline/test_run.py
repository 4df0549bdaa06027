"""The runner end to end: contract of results.json, reproducibility, failure path.

These run the real notebooks with papermill on a small synthetic study (a few seconds each).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.errors import RunError
from evaluation.estimate.results import CONTRACT_FIELDS
from evaluation.pipeline import notebooks as nbmod
from evaluation.pipeline.run import run_study
from evaluation.pipeline.verify import compare_results

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_results_json_follows_the_contract(finished_run):
    result, _ = finished_run
    res = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    assert res["effects"], "no effects"
    for e in res["effects"]:
        for f in CONTRACT_FIELDS:
            assert f in e, f
    assert res["headline"]["estimator"] == "matching"
    assert res["headline"]["outcome"] == "employed_m12"
    prov = res["provenance"]
    for key in ("params", "params_sha256", "inputs", "packages", "project", "started", "finished"):
        assert key in prov
    assert prov["inputs"]["participants"]["sha256"]
    assert (result.run_dir / "status.json").read_text().count("succeeded") == 1


def test_run_folder_layout(finished_run):
    result, _ = finished_run
    d = result.run_dir
    assert result.report.is_file() and result.report.suffix == ".html"
    for spec in nbmod.NOTEBOOKS:
        nb = d / "notebooks" / f"{spec.name}.ipynb"
        assert nb.is_file() and (d / "notebooks" / f"{spec.name}.html").is_file()
        # the executed notebook records the parameters it was given
        assert "injected-parameters" in nb.read_text("utf-8")
    assert list((d / "tables").glob("*.csv")) and list((d / "figures").glob("*.png"))
    assert (d / "index.html").is_file() and (d / "run.log").is_file()
    assert (d.parent / "study-latest").resolve() == d.resolve()
    assert not any((result.work_dir / "scratch").iterdir()), "person-level scratch left behind"


def test_same_parameters_same_numbers(finished_run, tmp_path):
    """Two runs (the second executes every notebook anew) give the same results.json, byte for
    byte, outside provenance: no wall time or other measure of the machine among the results."""
    result, params = finished_run
    again = run_study(params, tmp_path / "outputs", render=False, force=True,
                      echo=lambda *a, **k: None)  # fmt: skip
    first_text = (result.run_dir / "results.json").read_text("utf-8")
    second_text = (again.run_dir / "results.json").read_text("utf-8")
    first, second = json.loads(first_text), json.loads(second_text)
    assert all(info["executed"] for info in second["provenance"]["notebooks"].values())
    assert list(first)[-1] == "provenance"  # so the file's bytes before it are the results
    cut = '\n  "provenance": '
    assert first_text.split(cut)[0] == second_text.split(cut)[0]
    without = [json.dumps({k: v for k, v in r.items() if k != "provenance"}, indent=2,
                          ensure_ascii=False).encode() for r in (first, second)]  # fmt: skip
    assert without[0] == without[1]
    # the one definition `evaluation verify` uses: every value outside provenance, no exception
    differences, compared = compare_results(first, second)
    assert compared > 1000 and differences == []
    # what the machine measured is kept, in provenance
    measured = second["provenance"]["measured"]["timing_spec_curve"]
    assert measured["parallel_seconds"] > 0 and measured["workers"] >= 1
    for csv in (result.run_dir / "tables").glob("*.csv"):
        assert csv.read_bytes() == (again.run_dir / "tables" / csv.name).read_bytes(), csv.name


def test_failing_notebook_keeps_last_good_run(finished_run, tmp_path, monkeypatch):
    result, params = finished_run
    out_root = result.run_dir.parent
    good = (out_root / "study-latest").resolve()
    report_before = result.report.read_bytes()

    broken = tmp_path / "nb"
    broken.mkdir()
    for spec in nbmod.NOTEBOOKS:
        shutil.copy(spec.path, broken / spec.path.name)
    last = nbmod.NOTEBOOKS[-1]
    src = (broken / last.path.name).read_text("utf-8")
    (broken / last.path.name).write_text(
        src + '\n# %%\nraise ValueError("deliberate failure for the test")\n', "utf-8"
    )
    monkeypatch.setattr(nbmod, "NOTEBOOK_DIR", broken)
    with pytest.raises(RunError) as exc:
        run_study(params, out_root, echo=lambda *a, **k: None)
    msg = str(exc.value)
    assert last.name in msg and "ValueError" in msg and "deliberate failure" in msg
    assert "cell" in msg
    failed = [p for p in out_root.iterdir() if p.name.endswith("-failed")]
    assert len(failed) == 1
    status = json.loads((failed[0] / "status.json").read_text())
    assert status["status"] == "failed" and status["stage"] == "notebooks"
    assert (failed[0] / "notebooks" / f"{last.name}.ipynb").is_file(), "partial notebook kept"
    assert (out_root / "study-latest").resolve() == good
    assert result.report.read_bytes() == report_before


def test_cli_run_prints_path_and_bad_data_exits_3(tmp_path, make_params):
    folder = tmp_path / "s"
    params = make_params(folder)
    # make the data, then break it: a duplicated person
    from evaluation import synth

    study = synth.generate(20170601, n_mentored=50, n_comparison=200)
    synth.write(study, folder / "data", fmt="csv")
    lines = (folder / "data" / "participants.csv").read_text("utf-8").splitlines()
    (folder / "data" / "participants.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaluation.cli",
            "run",
            "--params",
            str(params),
            "--out",
            str(folder / "outputs"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 3, res.stderr
    assert "participants.csv" in res.stderr and "person_id" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (folder / "outputs").exists() or not any((folder / "outputs").iterdir())


def test_other_extract_runs_through_unchanged(tmp_path, make_params):
    """Contract-shaped data with other categories, a larger pool, Parquet, no optional tables."""
    import pandas as pd

    from evaluation import synth
    from evaluation.data.io import write_table

    study = synth.generate(7, n_mentored=60, n_comparison=4000)
    codes = {name: f"C{i:02d}" for i, name in
             enumerate(sorted(study.participants["origin_region"].unique()))}  # fmt: skip
    participants = study.participants.assign(
        origin_region=study.participants["origin_region"].map(codes),
        municipality="1480",
        register_extra=1.0,  # extra columns are kept, never an error
    )
    data = tmp_path / "extract"
    data.mkdir()
    write_table(participants, data / "participants.parquet")
    write_table(pd.DataFrame(study.monthly), data / "monthly.parquet")
    params = make_params(tmp_path / "site", synthetic=None,
                         data={"participants": str(data / "participants.parquet"),
                               "monthly": str(data / "monthly.parquet"),
                               "survey": None, "sessions": None, "mentors": None})  # fmt: skip
    result = run_study(params, tmp_path / "outputs", echo=lambda *a, **k: None)
    res = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    assert set(res["skipped"]) >= {"survey", "sessions", "mentors"}
    assert res["numbers"]["n_mentored"] == 60
    # a few mentored persons are trimmed on this extract (shown '<5'), so the analysed and
    # matched sample sizes, which would give that count back (60 - n), are hidden
    assert res["numbers"]["n_trimmed_treated"] == "<5"
    assert res["headline"]["n_treated"] == ".." and res["numbers"]["n_matched"] == ".."
    assert res["headline"]["se"] > 0 and res["headline"]["ci_low"] < res["headline"]["ci_high"]
    html = result.report.read_text("utf-8")
    assert "No participant survey" in html
    assert "C0" in (result.run_dir / "tables" / "descriptives.csv").read_text("utf-8")


def test_lalonde_benchmark_run_reproduces_the_experiment(tmp_path):
    result = run_study(ROOT / "params" / "benchmarks" / "lalonde.yaml", tmp_path / "outputs",
                       work_dir=tmp_path / "work", echo=lambda *a, **k: None)  # fmt: skip
    res = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    head = res["headline"]
    assert (head["estimator"], head["subgroup"]) == ("naive", "experimental")
    assert round(head["estimate"], 2) == 1794.34
    assert round(head["se"], 2) == 632.85
    raw = {e["subgroup"]: e["estimate"] for e in res["effects"] if e["estimator"] == "naive"}
    assert round(raw["psid_raw"], 2) == -15204.78
    assert round(raw["cps_raw"], 2) == -8497.52
    assert res["provenance"]["inputs"]["nsw_experimental"]["sha256"]
    assert result.report.is_file()
