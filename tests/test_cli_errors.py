"""Mistakes at the command line get one message, the right exit code and no traceback, and
nothing already on disk is lost (found by a fresh-eyes review as a new user)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evaluation.cli import main
from evaluation.config import load_params
from evaluation.errors import ParamsError
from evaluation.pipeline.inputs import ensure_synthetic

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evaluation.cli", *args], capture_output=True,
                          text=True, cwd=cwd)  # fmt: skip


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.csv")}


def test_a_mistyped_data_path_does_not_regenerate_the_synthetic_data(tmp_path, make_params):
    params = make_params(tmp_path)
    generated = ensure_synthetic(load_params(params))
    assert len(generated) == 6  # five tables and truth.json
    before = _digest(tmp_path / "data")
    doc = yaml.safe_load(params.read_text("utf-8"))
    doc["data"]["monthly"] = "data/monthy.csv"
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump(doc), "utf-8")
    with pytest.raises(ParamsError, match=r"data.monthly = .*monthy.csv"):
        ensure_synthetic(load_params(typo))
    res = _cli("run", "--params", str(typo), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "monthy.csv" in res.stderr and "Traceback" not in res.stderr
    assert _digest(tmp_path / "data") == before  # nothing overwritten
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("typo-*"))


def test_commands_on_a_missing_or_failed_run_folder_say_so(tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    for command in (["verify", str(missing)], ["exhibits", str(missing)]):
        assert main(command) == 4
        assert "nothing-here: no such run folder" in capsys.readouterr().err
    failed = tmp_path / "study-20260101-000000-abcdef12-failed"
    failed.mkdir()
    (failed / "status.json").write_text(
        json.dumps(
            {"status": "failed", "stage": "notebooks", "message": "notebook 03_effects failed"}
        )
    )
    assert main(["verify", str(failed)]) == 4
    err = capsys.readouterr()
    assert (
        "this run failed at stage 'notebooks' (status.json):\n  notebook 03_effects failed"
        in err.err
    )
    assert "Re-executing" not in err.out  # nothing started
    half = tmp_path / "half"
    half.mkdir()
    assert main(["exhibits", str(half)]) == 4
    assert "not a finished run folder" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--n-mentored", "0"], ["--n-comparison", "-5"]])
def test_synth_refuses_non_positive_sizes(tmp_path, args):
    res = _cli("synth", *args, "--out", str(tmp_path / "s"), cwd=tmp_path)
    assert res.returncode == 2 and "must be positive" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "s").exists()


def test_validate_takes_every_kind_of_parameter_file(tmp_path):
    res = _cli("validate", "--params", str(ROOT / "params/benchmarks/lalonde.yaml"), cwd=tmp_path)
    assert res.returncode == 0 and "nothing to validate" in res.stdout
    doc = yaml.safe_load((ROOT / "params/benchmarks/pooling.yaml").read_text("utf-8"))
    for site in doc["sites"]:  # bundles that do not exist (yet)
        site["bundle"] = str(tmp_path / f"{site['key']}.json")
        site.pop("truth", None)
    p = tmp_path / "pool.yaml"
    p.write_text(yaml.safe_dump(doc), "utf-8")
    res = _cli("validate", "--params", str(p), cwd=tmp_path)
    assert res.returncode == 2 and "file not found" in res.stderr
    assert "Traceback" not in res.stderr


def test_an_unexpected_error_is_one_line_and_its_details_go_to_a_file(monkeypatch, capsys):
    import evaluation.cli as cli

    def broken(args):
        raise ZeroDivisionError("division by zero")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.prog.endswith("synth"):
            action.set_defaults(func=broken)
    assert cli.main(["synth"]) == 70
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError: division by zero)" in err
    assert "Traceback" not in err
    log = Path(err.split("written to ")[1].split(". Earlier")[0])
    assert "ZeroDivisionError" in log.read_text("utf-8")


def test_a_bug_in_a_set_run_is_reported_beside_the_data_the_run_read(tmp_path, monkeypatch):
    """The bug report may quote data, so it goes to the private work folder of the data the
    command read: with ``--set data.participants=...`` that of the overriding site, not of the
    parameter file's own data (it went there before)."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    for table in doc["data"]:
        doc["data"][table] = f"file_site/{table}.csv"
    params = tmp_path / "study.yaml"
    params.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")

    def bug(*args, **kwargs):
        raise ValueError("a bug quoting data: P000123")

    monkeypatch.setattr("evaluation.pipeline.run.run_study", bug)
    code = main(["run", "--params", str(params), "--out", str(tmp_path / "out"),
                 "--set", f"data.participants={tmp_path / 'other_site' / 'participants.csv'}"])  # fmt: skip
    assert code == 70
    [written] = (tmp_path / "other_site" / ".evaluation-work" / "errors").iterdir()
    assert "P000123" in written.read_text("utf-8")
    assert not (tmp_path / "file_site").exists()
