"""Design before outcomes, provably: ``evaluation design``, ``run --design``, ``verify --design``.

The design is frozen on an extract that has **no monthly row at or after any person's start
month** (comparison persons without an eligibility month keep their rows: they have no start,
and the pseudo-start rule reads their coverage, see ``evaluation.pipeline.freeze``). The run
on the full data with that freeze re-executes every notebook (``force``) and must give the
same effects, exactly, as the one-stage run of the same parameters and data (the session's
``finished_run``). A changed design parameter or a changed pre-period value after the freeze
is refused with exit 7 before any notebook runs; a changed post-period value is not a design
input and is not refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaluation.cli import main
from evaluation.errors import FreezeError
from evaluation.pipeline import freeze
from evaluation.pipeline.run import run_study
from evaluation.report.render import render_html

#: Exit code of a refused frozen design (README, "Exit codes").
EXIT_FREEZE = 7
#: The effects of the two-stage run equal the one-stage run's exactly (same code, same data).
EFFECT_TOLERANCE = 0.0


def _data_paths(folder: Path) -> dict[str, str | None]:
    return {"participants": str(folder / "participants.csv"),
            "monthly": str(folder / "monthly.csv"),
            "survey": None, "sessions": None, "mentors": None}  # fmt: skip


def _params_on(make_params, folder: Path, data: Path, **overrides) -> Path:
    """A parameter file like the session study's, reading the tables in ``data``."""
    return make_params(folder, synthetic=None, data=_data_paths(data), **overrides)


def _pre_period_extract(full: Path, target: Path) -> Path:
    """Participants as they are; monthly without any row at or after a start month."""
    target.mkdir(parents=True)
    shutil.copyfile(full / "participants.csv", target / "participants.csv")
    participants = pd.read_csv(full / "participants.csv", dtype=str, keep_default_na=False)
    monthly = pd.read_csv(full / "monthly.csv", dtype={"person_id": str, "month": str})
    start = participants.set_index("person_id")["start_month"].replace("", None)
    own = monthly["person_id"].map(start)
    pre = monthly.loc[own.isna() | (monthly["month"] < own.fillna(""))]
    assert not (pre["month"] >= pre["person_id"].map(start).fillna("9999-99")).any()
    assert len(pre) < 0.6 * len(monthly)
    pre.to_csv(target / "monthly.csv", index=False)
    return target


@pytest.fixture(scope="module")
def frozen(finished_run, tmp_path_factory, make_params):
    """The design frozen on the pre-period extract of the session study's data."""
    _, params = finished_run
    root = tmp_path_factory.mktemp("freeze")
    pre = _pre_period_extract(params.parent / "data", root / "pre" / "data")
    pre_params = _params_on(make_params, root / "pre", pre)
    rc = main(["design", "--params", str(pre_params), "--out", str(root / "designs")])
    assert rc == 0
    (path,) = (root / "designs").glob("*/design_freeze.json")
    return path, json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def two_stage(finished_run, frozen, tmp_path_factory):
    """``run --design`` on the full data, every notebook executed again."""
    _, params = finished_run
    out = tmp_path_factory.mktemp("two_stage")
    result = run_study(params, out / "outputs", render=False, force=True, design=frozen[0],
                       work_dir=out / "work", echo=lambda *a, **k: None)  # fmt: skip
    return result, json.loads((result.run_dir / "results.json").read_text("utf-8"))


def test_the_freeze_holds_aggregates_and_one_fingerprint(frozen, finished_run):
    path, doc = frozen
    content = doc["content"]
    assert doc["fingerprint"] == freeze.fingerprint(content)
    assert set(content) >= {"parameters", "inputs", "design", "person_level", "preregistered",
                            "code", "frozen_at"}  # fmt: skip
    assert content["preregistered"]["headline"] == {"estimator": "matching",
                                                    "outcome": "employed_m12",
                                                    "subgroup": "all"}  # fmt: skip
    # no person id anywhere in the freeze or its summaries
    _, params = finished_run
    ids = pd.read_csv(params.parent / "data" / "participants.csv", dtype=str)["person_id"]
    for f in path.parent.iterdir():
        text = f.read_text("utf-8")
        assert not any(pid in text for pid in ids), f.name
    summary = (path.parent / "design_summary_sv.md").read_text("utf-8")
    assert doc["fingerprint"] in summary and "Fryst design" in summary
    assert doc["fingerprint"] in (path.parent / "design_summary_en.md").read_text("utf-8")
    # the person-level design is private, beside the data, not beside the freeze
    private = list((path.parents[2] / "pre" / "data" / ".evaluation-work" / "design").glob(
        f"{doc['fingerprint'][:16]}/*.parquet"))  # fmt: skip
    assert {p.name for p in private} == {"design.parquet", "design_data.parquet"}
    assert not list(path.parent.glob("*.parquet"))


def test_two_stage_effects_equal_the_one_stage_run(two_stage, finished_run, frozen):
    result, res = two_stage
    one = json.loads((finished_run[0].run_dir / "results.json").read_text("utf-8"))
    assert len(res["effects"]) == len(one["effects"]) > 50
    for a, b in zip(one["effects"], res["effects"], strict=True):
        assert (a["estimator"], a["outcome"], a.get("subgroup")) == \
            (b["estimator"], b["outcome"], b.get("subgroup"))  # fmt: skip
        for key in ("estimate", "se", "ci_low", "ci_high"):
            if isinstance(a.get(key), float):
                assert b[key] == pytest.approx(a[key], rel=EFFECT_TOLERANCE, abs=0), key
            else:
                assert b.get(key) == a.get(key), key
    assert res["headline"]["estimate"] == one["headline"]["estimate"]
    used = res["provenance"]["design_freeze"]
    assert used["fingerprint"] == frozen[1]["fingerprint"]
    assert used["design_as_frozen"] and used["headline_as_frozen"] and used["grid_as_frozen"]
    # every notebook was executed in the two-stage run (nothing reused from a cache)
    assert all(nb["executed"] for nb in res["provenance"]["notebooks"].values())
    # the one-stage run records the same person-level design as the freeze
    assert {k: one["provenance"]["design"][k] for k in frozen[1]["content"]["person_level"]} \
        == frozen[1]["content"]["person_level"]  # fmt: skip


def test_report_shows_the_freeze_in_both_languages(two_stage, frozen):
    result, res = two_stage
    fp = frozen[1]["fingerprint"][:16]
    en = render_html(res, "en", result.run_dir)
    sv = render_html(res, "sv", result.run_dir)
    assert f"fingerprint {fp}" in en and "Specification grid as frozen" in en
    assert f"fingeravtryck {fp}" in sv and "Specifikationsrutnätet som vid frysningen" in sv


def test_verify_says_design_as_frozen(two_stage, frozen, capsys):
    result, _ = two_stage
    rc = main(["verify", str(result.run_dir), "--design", str(frozen[0])])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "design as frozen" in out


def test_verify_lists_a_changed_headline(two_stage, frozen):
    _, res = two_stage
    changed = json.loads(json.dumps(res))
    changed["headline"] = {**changed["headline"], "estimator": "ipw"}
    problems = freeze.verify_against_freeze(frozen[1], changed)
    assert problems == ["headline: matching on employed_m12 (all) frozen, ipw on employed_m12 "
                        "(all) in the run"]  # fmt: skip
    earlier = json.loads(json.dumps(res))
    earlier["provenance"]["computed"]["from"] = "2000-01-01T00:00:00Z"
    assert any(p.startswith("order:") for p in freeze.verify_against_freeze(frozen[1], earlier))


def test_a_changed_design_parameter_is_refused(frozen, finished_run, make_params, tmp_path,
                                               capsys):  # fmt: skip
    _, params = finished_run
    changed = _params_on(make_params, tmp_path / "p", params.parent / "data")
    doc = yaml.safe_load(changed.read_text("utf-8"))
    doc["estimation"]["matching"]["caliper"] = 0.1
    changed.write_text(yaml.safe_dump(doc), "utf-8")
    rc = main(["run", "--params", str(changed), "--out", str(tmp_path / "out"),
               "--design", str(frozen[0])])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == EXIT_FREEZE, err
    assert "estimation.matching.caliper: 0.2 -> 0.1" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _copy_with_change(full: Path, target: Path, *, before_start: bool) -> Path:
    """The full extract with one mentored person's earnings changed before or after start."""
    target.mkdir(parents=True)
    shutil.copyfile(full / "participants.csv", target / "participants.csv")
    participants = pd.read_csv(full / "participants.csv", dtype=str, keep_default_na=False)
    monthly = pd.read_csv(full / "monthly.csv", dtype={"person_id": str, "month": str})
    person = participants.loc[participants["group"] == "mentored"].iloc[0]
    rows = monthly["person_id"].eq(person["person_id"])
    side = monthly["month"] < person["start_month"]
    row = monthly.index[rows & (side if before_start else ~side)][-1 if before_start else 0]
    monthly.loc[row, "earnings"] += 1000
    monthly.to_csv(target / "monthly.csv", index=False)
    return target


def test_a_changed_pre_period_value_is_refused(frozen, finished_run, make_params, tmp_path,
                                               capsys):  # fmt: skip
    _, params = finished_run
    data = _copy_with_change(params.parent / "data", tmp_path / "data", before_start=True)
    changed = _params_on(make_params, tmp_path / "p", data)
    rc = main(["run", "--params", str(changed), "--out", str(tmp_path / "out"),
               "--design", str(frozen[0])])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == EXIT_FREEZE, err
    assert "design input monthly (pre-period rows)" in err
    assert "participants" not in err.split("differ from those frozen")[1].split("A frozen")[0]


def test_a_changed_post_period_value_is_not_a_design_input(frozen, finished_run, make_params,
                                                           tmp_path):  # fmt: skip
    from evaluation.config import load_params

    _, params = finished_run
    data = _copy_with_change(params.parent / "data", tmp_path / "data", before_start=False)
    changed = load_params(_params_on(make_params, tmp_path / "p", data))
    freeze.check_before_run(frozen[1], changed, frozen[0])  # does not raise


def test_a_changed_freeze_file_is_refused(frozen, tmp_path):
    doc = json.loads(json.dumps(frozen[1]))
    doc["content"]["parameters"]["design"]["trimming"] = "none"
    path = tmp_path / "design_freeze.json"
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(FreezeError, match="does not match its fingerprint"):
        freeze.load_freeze(path)
