"""The parameter model: the default file is valid; bad files give one clear message, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evaluation.config import Params, load_params, parse_params
from evaluation.errors import ParamsError
from evaluation.resources import SPECIFICATION_GRID

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "params" / "default.yaml"


def _write(tmp_path: Path, doc: dict) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return p


def _default_doc() -> dict:
    return yaml.safe_load(DEFAULT.read_text("utf-8"))


def test_default_is_valid_and_resolves_paths_against_its_folder():
    p = load_params(DEFAULT, check_files=False)
    assert isinstance(p, Params)
    assert p.data.participants.path == (ROOT / "data" / "synthetic" / "participants.csv").resolve()
    assert p.data.tables()["participants"] == p.data.participants.path
    assert p.estimation.headline.estimator == "matching"
    assert p.estimation.headline.outcome == "employed_m12"
    assert p.outcomes.horizons == [6, 12, 24]


def test_unknown_key_is_named(tmp_path):
    doc = _default_doc()
    doc["estimation"]["permutation_draw"] = 10
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc), check_files=False)
    msg = str(exc.value)
    assert "estimation.permutation_draw" in msg and "unknown key" in msg


def test_wrong_type_is_named(tmp_path):
    doc = _default_doc()
    doc["outcomes"]["horizons"] = ["six", 12]
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc), check_files=False)
    assert "outcomes.horizons.0" in str(exc.value)


def test_missing_required_key(tmp_path):
    doc = _default_doc()
    del doc["data"]["monthly"]
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc), check_files=False)
    assert "data.monthly" in str(exc.value) and "missing" in str(exc.value)


def test_missing_file_is_named(tmp_path):
    doc = _default_doc()
    del doc["synthetic"]
    doc["data"]["monthly"] = "nowhere/monthly.csv"
    doc["data"]["participants"] = str(tmp_path / "participants.csv")
    (tmp_path / "participants.csv").write_text("x\n")
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc))
    assert "data.monthly" in str(exc.value)
    assert str(tmp_path / "nowhere" / "monthly.csv") in str(exc.value)


def test_headline_must_be_estimated(tmp_path):
    doc = _default_doc()
    doc["estimation"]["estimators"] = ["naive", "regression"]
    with pytest.raises(ParamsError, match="headline.estimator 'matching'"):
        load_params(_write(tmp_path, doc), check_files=False)


def test_headline_must_estimate_the_effect_on_the_mentored(tmp_path):
    doc = _default_doc()
    doc["estimation"]["headline"]["estimator"] = "overlap"
    with pytest.raises(ParamsError, match="overlap population"):
        load_params(_write(tmp_path, doc), check_files=False)
    doc["estimation"]["headline"]["estimator"] = "ebal"
    assert (
        load_params(_write(tmp_path, doc), check_files=False).estimation.headline.estimator
        == "ebal"
    )


def test_headline_outcome_must_exist(tmp_path):
    doc = _default_doc()
    doc["estimation"]["headline"]["outcome"] = "employed_m18"
    with pytest.raises(ParamsError, match="employed_m18"):
        load_params(_write(tmp_path, doc), check_files=False)


def test_not_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(p)


def test_language_is_restricted():
    with pytest.raises(ParamsError, match="study.language"):
        parse_params(
            "data: {participants: a.csv, monthly: b.csv}\nstudy: {language: de}\n",
            source=Path("x.yaml"),
        )


@pytest.mark.parametrize("command", ["run", "validate", "design"])
def test_cli_exit_code_2_without_traceback(tmp_path, command):
    doc = _default_doc()
    doc["typo_section"] = 1
    p = _write(tmp_path, doc)
    res = subprocess.run(
        [sys.executable, "-m", "evaluation.cli", command, "--params", str(p)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert "typo_section" in res.stderr
    assert "Traceback" not in res.stderr


def test_specification_grid_horizons_must_be_outcomes(tmp_path):
    """A grid with a horizon the study does not build failed notebook 06 after five notebooks
    had run; it is refused with the parameters, before any notebook."""
    doc = _default_doc()
    doc["synthetic"]["generate_if_missing"] = True
    doc["outcomes"]["horizons"] = [6, 12, 36]
    doc["estimation"]["headline"]["outcome"] = "employed_m12"
    for table, path in doc["data"].items():  # the default's files, wherever the test runs
        doc["data"][table] = str((DEFAULT.parent / path).resolve()) if path else None
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc))
    message = str(exc.value)
    assert "robustness.specifications" in message and "horizons [24]" in message
    assert "outcomes.horizons [6, 12, 36]" in message
    grid = yaml.safe_load((SPECIFICATION_GRID).read_text("utf-8"))
    grid["horizons"] = [12, 36]
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid), "utf-8")
    doc["robustness"]["specifications"] = str(tmp_path / "grid.yaml")
    assert load_params(_write(tmp_path, doc)).outcomes.horizons == [6, 12, 36]


def test_a_table_is_a_path_or_a_path_with_reading_options(tmp_path):
    doc = _default_doc()
    doc["data"]["participants"] = {"path": "data/p.xlsx", "sheet": "Deltagare"}
    p = load_params(_write(tmp_path, doc), check_files=False)
    assert p.data.participants.path == (tmp_path / "data" / "p.xlsx").resolve()
    assert p.data.sources()["participants"] == {
        "path": (tmp_path / "data" / "p.xlsx").resolve(),
        "sheet": "Deltagare",
    }
    dumped = p.notebook_parameters()["data"]
    assert dumped["participants"] == {
        "path": str(tmp_path / "data" / "p.xlsx"),
        "sheet": "Deltagare",
    }
    # the short form is dumped as before: a notebook and the cache see the same values
    assert dumped["monthly"] == str(
        (tmp_path / ".." / "data" / "synthetic" / "monthly.csv").resolve()
    )
    again = {"study": doc["study"], "programme": doc["programme"], "data": dumped}
    assert parse_params(yaml.safe_dump(again), source=tmp_path / "x.yaml").data == p.data


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"path": "p.csv", "sheet": "Data"}, "sheet is an option of Excel workbooks"),
        ({"path": "p.xlsx", "separator": ";"}, "data.participants.separator: unknown key"),
        ({"sheet": "Data"}, "data.participants.path: required key is missing"),
    ],
)
def test_reading_options_are_checked(tmp_path, value, words):
    doc = _default_doc()
    doc["data"]["participants"] = value
    with pytest.raises(ParamsError) as exc:
        load_params(_write(tmp_path, doc), check_files=False)
    assert words in str(exc.value)
    assert "data.participants" in str(exc.value)


def test_the_survey_items_are_those_of_the_factors():
    p = load_params(DEFAULT, check_files=False)
    assert len(p.bottomup.items()) == 18 and p.bottomup.items()[:2] == ["goal_1", "goal_2"]
    assert p.design.min_mentored == 10
