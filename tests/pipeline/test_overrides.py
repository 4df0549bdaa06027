"""``--set key=value`` and ``--language``: variants of a study without a copied parameter file.

The overrides change the parameters the run validates and records (its ``params.yaml``),
typed as YAML, checked against the parameter model; an unknown key is refused with exit 2
before anything runs. The whole Swedish run of ``tests/report/test_swedish_run.py`` is made
with ``language="sv"`` on the English parameter file, so the end-to-end path is covered there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluation.cli import build_parser, main
from evaluation.config import parse_params
from evaluation.errors import ParamsError
from evaluation.pipeline.overrides import apply_overrides, parse_override, parse_with_overrides

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "params" / "default.yaml"


def _params(text: str):
    return parse_params(text, source=DEFAULT)


def test_no_override_keeps_the_file_text_exactly() -> None:
    text = DEFAULT.read_text("utf-8")
    assert apply_overrides(text, [], source=DEFAULT) is text


@pytest.mark.parametrize(
    ("given", "value"),
    [
        ("estimation.level=0.9", 0.9),
        ("estimation.permutation_draws=0", 0),
        ("design.exact=null", None),
        ("outcomes.horizons=[6, 12]", [6, 12]),
        ("study.synthetic=false", False),
        ("study.site=Göteborg", "Göteborg"),
        ("study.site='Göteborg: Hisingen'", "Göteborg: Hisingen"),
    ],
)
def test_values_are_typed_as_yaml(given: str, value: object) -> None:
    assert parse_override(given).value == value


def test_overrides_reach_the_validated_parameters() -> None:
    text = DEFAULT.read_text("utf-8")
    effective, params = parse_with_overrides(
        text,
        ["estimation.headline.estimator=ipw", "costs.duration_months=6", "outcomes.horizons=[6, 12]",
         "estimation.headline.outcome=employed_m6"],
        language="sv",
        source=DEFAULT,
    )  # fmt: skip
    assert params.estimation.headline.estimator == "ipw"
    assert params.estimation.headline.outcome == "employed_m6"
    assert params.outcomes.horizons == [6, 12]
    assert params.costs.duration_months == 6
    assert params.study.language == "sv"
    # everything else is the file's
    original = _params(text)
    assert params.estimation.matching == original.estimation.matching
    assert params.data == original.data
    # the recorded text names the overrides and parses to the same parameters (verify)
    assert "--set estimation.headline.estimator=ipw" in effective
    assert "--set study.language=sv" in effective
    assert _params(effective) == params


def test_a_later_override_wins_and_language_comes_last() -> None:
    text = DEFAULT.read_text("utf-8")
    _, params = parse_with_overrides(
        text, ["study.language=en", "estimation.level=0.9", "estimation.level=0.8"],
        language="sv", source=DEFAULT,
    )  # fmt: skip
    assert params.estimation.level == 0.8
    assert params.study.language == "sv"


def test_a_table_option_turns_the_short_form_into_the_long_one() -> None:
    text = DEFAULT.read_text("utf-8")
    # the model refuses a sheet for a .csv file: the option reached data.participants
    with pytest.raises(ParamsError, match="sheet is an option of Excel") as err:
        parse_with_overrides(text, ["data.participants.sheet=Deltagare"], source=DEFAULT)
    assert "with the command-line overrides: --set data.participants.sheet=Deltagare" in str(
        err.value
    )


def test_paths_on_the_command_line_are_relative_to_the_current_folder(tmp_path: Path) -> None:
    text = DEFAULT.read_text("utf-8")
    effective = apply_overrides(
        text, ["data.participants=export/p.xlsx", "data.monthly.path=m.csv"], source=DEFAULT,
        cwd=tmp_path,
    )  # fmt: skip
    doc = yaml.safe_load(effective)
    assert doc["data"]["participants"] == str(tmp_path / "export" / "p.xlsx")
    assert doc["data"]["monthly"] == {"path": str(tmp_path / "m.csv")}
    assert doc["data"]["survey"] == "../data/synthetic/survey.csv"  # the file's: unchanged


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("estimation.foo=1", "unknown key 'estimation.foo' ('foo' is not a key of estimation; "
         "its keys are: bootstrap, estimators, headline, level, matching, permutation_draws, "
         "subgroups)"),
        ("studdy.name=X", "'studdy' is not a key of the top level"),
        ("seed.value=1", "seed is a value, not a section"),
        ("estimation.headline.estimater=ipw", "'estimater' is not a key of estimation.headline"),
        ("estimation", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("estimation..level=1", "expected KEY=VALUE"),
        ("study.site=[unclosed", "not valid YAML"),
    ],
)  # fmt: skip
def test_unknown_or_malformed_keys_are_refused(given: str, message: str) -> None:
    with pytest.raises(ParamsError, match="--set") as err:
        apply_overrides(DEFAULT.read_text("utf-8"), [given], source=DEFAULT)
    assert message in str(err.value)
    assert err.value.exit_code == 2


def test_free_mappings_take_any_key() -> None:
    _, params = parse_with_overrides(
        DEFAULT.read_text("utf-8"), ["bottomup.factors.goal=[goal_1, goal_2]"], source=DEFAULT
    )
    assert params.bottomup.factors["goal"] == ["goal_1", "goal_2"]


def test_a_value_of_the_wrong_type_is_refused_by_the_model() -> None:
    with pytest.raises(ParamsError, match="estimation.level") as err:
        parse_with_overrides(DEFAULT.read_text("utf-8"), ["estimation.level=high"], source=DEFAULT)
    assert err.value.exit_code == 2


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ParamsError, match="en, sv"):
        apply_overrides(DEFAULT.read_text("utf-8"), language="de", source=DEFAULT)


def test_the_command_line_refuses_an_unknown_key_with_exit_2(capsys) -> None:
    code = main(["validate", "--params", str(DEFAULT), "--set", "costs.per_persn=1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: --set 'costs.per_persn=1': unknown key")
    assert "Traceback" not in err


def test_the_command_line_refuses_another_language(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--params", str(DEFAULT), "--language", "de"])
    assert exit_.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_help_describes_set_and_language(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    text = sub.format_help()
    assert "--set KEY=VALUE" in text and "dotted" in text and "Unknown keys are refused" in text
    assert "--language {en,sv}" in text


def test_run_refuses_an_unknown_key_before_anything_runs(tmp_path: Path, capsys) -> None:
    out = tmp_path / "outputs"
    code = main(["run", "--params", str(DEFAULT), "--out", str(out), "--language", "sv",
                 "--set", "estimation.headline.estimater=ipw"])  # fmt: skip
    assert code == 2
    assert "'estimater' is not a key of estimation.headline" in capsys.readouterr().err
    assert not out.exists()
