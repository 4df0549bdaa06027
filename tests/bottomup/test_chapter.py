"""The bottom-up chapters in a finished run, and a clean skip when the inputs are absent."""

from __future__ import annotations

import copy
import json

import pytest

from evaluation import synth
from evaluation.config import load_params
from evaluation.pipeline.notebooks import NOTEBOOKS
from evaluation.report.render import make_environment, report_context
from evaluation.text import catalogue

NOTEBOOK = "05_bottomup"


def _chapters_html(results: dict, language: str, run_dir) -> str:
    """Only the two chapters of notebook 05, rendered as the report renders them."""
    env = make_environment()
    page = env.from_string(
        "{% for ch in ['bottomup', 'model'] %}<section id='{{ ch }}'><h2>{{ t('h_' ~ ch) }}</h2>"
        "{% include 'chapters/' ~ ch ~ '.html.j2' %}</section>{% endfor %}"
    )
    return page.render(**report_context(results, language, run_dir, env))


def test_finished_run_has_both_chapters(finished_run):
    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    html = run.report.read_text("utf-8")
    assert 'id="bottomup"' in html and 'id="model"' in html
    numbers = res["numbers"]
    assert numbers["bottomup_inputs"] == {"survey": True, "sessions": True, "mentors": True}
    assert set(numbers["bottomup_moderation"]["factors"]) == {"goal", "barrier", "network",
                                                              "efficacy"}  # fmt: skip
    assert len(numbers["bottomup_model"]) == 6
    assert all(0.5 < a < 1 for a in numbers["bottomup_alpha"].values())
    mine = [e for e in res["effects"] if e["notebook"] == NOTEBOOK]
    assert mine and all(e["subgroup"] != "all" for e in mine)  # never in the main tables
    assert {e["estimator"] for e in mine} == {"bottomup_interaction", "bottomup_split_ra"}
    assert any(e["key"] == "bottomup_answers" and e["kind"] == "figure" for e in res["exhibits"])
    assert "Whom to match" in html and "Cronbach" in html


def _run_chapter_notebooks(folder, params_path):
    """Notebooks 01, 02 and 05 on the study of ``params_path``; their results merged as the
    runner merges them (the parts the chapters read), and the run folder."""
    from evaluation.pipeline.execute import execute_notebook
    from evaluation.pipeline.notebooks import prepare

    params = load_params(params_path)
    run_dir, scratch = folder / "run", folder / "scratch"
    scratch.mkdir()
    prepared = prepare(NOTEBOOKS, params.notebook_parameters())
    for name in ("01_data", "02_design", NOTEBOOK):
        execute_notebook(prepared[name], run_dir, scratch)
    merged = {"numbers": {"disclosure_min_cell": params.disclosure.min_cell}, "tables": {},
              "skipped": {}, "exhibits": [], "effects": [],
              "study": params.study.model_dump(mode="json")}  # fmt: skip
    for n in ("01_data", NOTEBOOK):
        part = json.loads((run_dir / "results" / f"{n}.json").read_text("utf-8"))
        for key in ("numbers", "tables", "skipped"):
            merged[key].update(part[key])
        merged["exhibits"] += part["exhibits"]
    return merged, run_dir


@pytest.fixture
def run_without_optional_tables(tmp_path_factory, make_params):
    """Notebooks 01, 02 and 05 on a study whose survey, sessions and mentors are absent."""
    folder = tmp_path_factory.mktemp("no_optional")
    study = synth.generate(11, n_mentored=50, n_comparison=800)
    paths = synth.write(study, folder / "data")
    params_path = make_params(folder, synthetic=None,
                              data={"participants": str(paths["participants"]),
                                    "monthly": str(paths["monthly"]),
                                    "survey": None, "sessions": None, "mentors": None})  # fmt: skip
    return _run_chapter_notebooks(folder, params_path)


def test_absent_inputs_skip_with_a_sentence(run_without_optional_tables):
    res, run_dir = run_without_optional_tables
    assert {"bottomup_survey", "bottomup_sessions", "bottomup_mentors"} <= set(res["skipped"])
    assert res["numbers"]["bottomup_inputs"] == {"survey": False, "sessions": False,
                                                 "mentors": False}  # fmt: skip
    for language in ("en", "sv"):
        html = _chapters_html(res, language, run_dir)
        strings = catalogue(language)
        assert str(strings["skip_bottomup_survey"])[:40] in html
        assert html.count(strings["model_not_assessed"]) == 6
        assert "{{" not in html and "None" not in html


@pytest.mark.parametrize("language", ["en", "sv"])
def test_efa_sentence_follows_the_solution(finished_run, language):
    """A proper solution is reported with its item map; a Heywood case or no convergence is
    reported as such, without loadings and without pointing to a loadings table."""
    run, _ = finished_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    summary = res["numbers"]["bottomup_efa_summary"]
    # the default study (about 40 respondents): principal axes give a proper solution
    assert summary["stable"] is True and summary["heywood"] == [] and summary["converged"]
    assert (
        summary["method"] == "principal axis"
        and summary["n_on_intended"] <= summary["n_items"] == 14
    )
    strings = catalogue(language)
    html = _chapters_html(res, language, run.run_dir)
    assert "bottomup_efa" in html and "Heywood" not in html  # the note on the loadings table

    improper = copy.deepcopy(res)
    s = improper["numbers"]["bottomup_efa_summary"]
    for key in ("agreement", "n_on_intended", "loadings"):
        del s[key]
    s.update(stable=False, heywood=["network_2"])
    improper["skipped"]["bottomup_efa"] = "Heywood case"
    html = _chapters_html(improper, language, run.run_dir)
    assert "Heywood" in html and "network_2" in html
    assert "bottomup_efa" not in html, "points to a loadings table that is not published"
    assert "{{" not in html and "None" not in html

    s.update(heywood=[], converged=False)
    html = _chapters_html(improper, language, run.run_dir)
    assert {"en": "did not converge", "sv": "konvergerade inte"}[language] in html
    assert "Heywood" not in html and "bottomup_efa" not in html
    assert "Heywood" in strings["skip_bottomup_efa"]  # the run's list of skipped analyses


#: Follow-up answers kept in the small-wave study (below the disclosure threshold, 5).
FEW = 3


@pytest.fixture
def run_with_a_small_follow_up(tmp_path_factory, make_params):
    """Notebooks 01, 02 and 05 on a study whose follow-up survey has only FEW answers and whose
    mentored met only two mentors (too few to compare mentors, dose.MIN_MENTORS)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("small_follow_up")
    study = synth.generate(11, n_mentored=50, n_comparison=800)
    paths = synth.write(study, folder / "data")
    survey = pd.read_csv(paths["survey"])
    follow = survey["wave"] == "follow_up"
    pd.concat([survey[~follow], survey[follow].head(FEW)]).to_csv(paths["survey"], index=False)
    sessions = pd.read_csv(paths["sessions"], dtype=str)
    two = sorted(sessions["mentor_id"].unique())[:2]
    codes = {p: two[i % 2] for i, p in enumerate(sorted(sessions["person_id"].unique()))}
    sessions.assign(mentor_id=sessions["person_id"].map(codes)).to_csv(
        paths["sessions"], index=False
    )
    params_path = make_params(
        folder, synthetic=None, data={k: str(v) for k, v in paths.items() if k != "truth"}
    )
    return _run_chapter_notebooks(folder, params_path)


def test_a_follow_up_wave_below_the_threshold_is_withheld_not_a_crash(run_with_a_small_follow_up):
    """A poor follow-up response (3 answers) used to stop notebook 05 (the change table had
    nothing to show) and would have published alpha and an association resting on 3 persons."""
    res, run_dir = run_with_a_small_follow_up
    numbers = res["numbers"]
    assert numbers["bottomup_n_follow_up"] == "<5" and numbers["bottomup_n_both"] == "<5"
    mentor = [r for r in res["tables"]["bottomup_reliability"] if r["factor"] == "mentor"]
    assert mentor == [{"factor": "mentor", "wave": "follow_up", "items": 4, "persons": "<5",
                       "alpha": None}]  # fmt: skip
    assert numbers["bottomup_alpha"]["mentor"] is None
    assert all(v is None for v in numbers["bottomup_change"].values())
    assert "bottomup_relationship" not in numbers and "bottomup_relationship" in res["skipped"]
    items = [r for r in res["tables"]["bottomup_item_reliability"] if r["factor"] == "mentor"]
    assert items and all(r["item_rest"] is None for r in items)
    for language in ("en", "sv"):
        html = _chapters_html(res, language, run_dir)
        strings = catalogue(language)
        assert "{{" not in html and "None" not in html
        assert html.count(strings["bu_withheld"]) >= 1 + len(numbers["bottomup_change"])
        assert ("fewer than 5" if language == "en" else "färre än 5") in html
        assert "&amp;lt;" not in html
        # two mentors: no dose or mentor-trait analysis, and the model says why
        few = ("mentored had &lt;5 mentors, fewer than 10" if language == "en"
               else "mentorsdeltagarna hade &lt;5 mentorer, färre än 10")  # fmt: skip
        assert few in html and html.count(few) >= 2
    assert "bottomup_mentoring" in res["skipped"] and numbers["bottomup_mentors"]["n"] == "<5"
    assert "bottomup_mentor_associations" not in numbers and "bottomup_dose_slopes" not in numbers
