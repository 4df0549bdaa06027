"""The report describes the run's own programme, and its headline says what the evidence says.

- Another programme (name, size, period, funder) gives reports, English and Swedish, in which
  no sentence names BottomUp Integration or its figures (one end-to-end run, marked slow).
- The summary's verb follows the interval; the naive difference is named for its sample; a
  balance warning appears when the headline's sample misses the balance target on any term.
- Limitations, the ESF section and the list of skipped analyses follow the run's data.

Tolerances: none; every check is an exact string match on the rendered page.
"""

from __future__ import annotations

import copy
import html as htmllib
import json
import re

import pytest

from evaluation.report.numbers import Numbers
from evaluation.report.render import index_page, render_html
from evaluation.text import catalogue

#: What names the default programme: its name, budget, dates, and "about fifty" persons.
DEFAULT_PROGRAMME = re.compile(
    r"BottomUp Integration|3[,\u202f ]?254[,\u202f ]?321|\bfifty\b|femtio|June 2017"
    r"|December 2019|juni 2017|december 2019|European Social Fund|Europeiska socialfonden"
    r"|50 planned|50 planerade"
)

#: A programme that is not the default one.
OTHER_PROGRAMME = {
    "name": "Mentor Väst",
    "funder": {"en": "Region Västra Götaland", "sv": "Västra Götalandsregionen"},
    "period": {"start": "2017-03", "end": "2020-09"},
    "participants_planned": 90,
    "budget": 5_400_000,
    "esf_indicators": False,
    "aims": {
        "en": "It matched newcomers with volunteer mentors from local employers.",
        "sv": "Projektet matchade nyanlända med frivilliga mentorer från lokala arbetsgivare.",
    },
    "logic_file": {"en": "logic_en.txt", "sv": "logic_sv.txt"},
}


def _text(page: str) -> str:
    page = re.sub(r"<img[^>]*>|<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


def _paragraph(page: str, cls: str) -> str:
    m = re.search(rf'<p class="{cls}"[^>]*>(.*?)</p>', page, flags=re.S)
    assert m, f"no paragraph of class {cls}"
    return _text(m[1]).strip()


@pytest.fixture(scope="module")
def results(finished_run):
    run, _ = finished_run
    return run, json.loads((run.run_dir / "results.json").read_text("utf-8"))


# --- another programme, end to end ------------------------------------------------------------
@pytest.fixture(scope="module")
def other_programme_run(tmp_path_factory, make_params):
    from evaluation.pipeline.run import run_study

    folder = tmp_path_factory.mktemp("mentor_vast")
    (folder / "logic_en.txt").write_text("Mentors from local employers open doors.", "utf-8")
    (folder / "logic_sv.txt").write_text(
        "Mentorer från lokala arbetsgivare öppnar dörrar.", "utf-8"
    )
    params = make_params(
        folder,
        programme=OTHER_PROGRAMME,
        study={"name": "Mentor Väst", "site": "Borås (synthetic data)", "country": "SE",
               "currency": "SEK", "language": "en", "synthetic": True},
        **{"synthetic.n_mentored": 80, "report.formats": ["html", "pdf"]},
    )  # fmt: skip
    return run_study(params, folder / "outputs", echo=lambda *a, **k: None)


@pytest.mark.slow
def test_another_programme_never_reads_like_the_default_one(other_programme_run):
    run = other_programme_run
    res = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    assert res["numbers"]["n_mentored"] == 80
    for language in ("en", "sv"):
        page = render_html(res, language, run.run_dir)
        text = _text(page)
        assert DEFAULT_PROGRAMME.findall(text) == [], language
        num = Numbers(res, language, run.run_dir)
        assert "Mentor Väst" in text and num.n("n_mentored") in text
        assert OTHER_PROGRAMME["funder"][language] in _text(page.split("</header>")[0])
        assert OTHER_PROGRAMME["aims"][language] in text
        assert {"en": "open doors", "sv": "öppnar dörrar"}[language] in text
        assert {"en": "March 2017", "sv": "mars 2017"}[language] in text
        assert 'id="tab-esf"' not in page  # not an ESF programme
        assert catalogue(language)["h_esf"] not in text
    pdf = (run.run_dir / "report" / "report_en.pdf").read_bytes()
    assert b"BottomUp" not in pdf


# --- the headline ------------------------------------------------------------------------------
VERBS = {
    "en": {"null": "The data are consistent with no effect of mentoring on", "up": "Mentoring raised",
           "down": "Mentoring lowered"},
    "sv": {"null": "Data är förenliga med att mentorskapet inte påverkade",
           "up": "Mentorskapet höjde", "down": "Mentorskapet sänkte"},
}  # fmt: skip


def _with_headline(res, estimate, low, high):
    changed = copy.deepcopy(res)
    changed["headline"].update(estimate=estimate, ci_low=low, ci_high=high)
    return changed


@pytest.mark.parametrize("language", ["en", "sv"])
def test_the_headline_verb_follows_the_interval(results, language):
    run, res = results
    cases = {
        "null": (0.099, -0.079, 0.278),
        "up": (0.12, 0.03, 0.21),
        "down": (-0.12, -0.21, -0.03),
    }
    for case, (est, low, high) in cases.items():
        changed = _with_headline(res, est, low, high)
        headline = _paragraph(render_html(changed, language, run.run_dir), "headline")
        assert headline.startswith(VERBS[language][case]), (case, headline)
        others = [v for k, v in VERBS[language].items() if k != case]
        assert not any(v in headline for v in others)
        num = Numbers(changed, language, run.run_dir)
        assert num.ci(changed["headline"]) in headline
        if case == "down":  # lowered by a magnitude, not by a negative number
            assert num.unit(changed["headline"]["outcome"], 0.12, signed=False) in headline
    assert "changed the share" not in render_html(res, language, run.run_dir)


def test_the_headline_in_persons_does_not_claim_more_than_the_interval(results):
    run, res = results
    changed = _with_headline(res, 0.099, -0.079, 0.278)
    changed["headline"]["n_treated"] = 40  # shown (the test study's may be withheld by the audit)
    page = render_html(changed, "en", run.run_dir)
    summary = _text(page.split('id="summary"', 1)[1].split("</section>", 1)[0])
    assert "no difference included" in summary and "about 4 more" not in summary


def test_the_naive_difference_is_named_for_its_sample(results):
    run, res = results
    text = _text(render_html(res, "en", run.run_dir))
    assert "Naive difference (after trimming)" in text
    assert "the groups as they are" not in text
    assert "comparison persons left after trimming, with no adjustment" in text


@pytest.mark.parametrize("language", ["en", "sv"])
def test_a_balance_warning_when_the_headline_sample_misses_the_target(results, language):
    run, res = results
    matched = res["numbers"]["balance_matched"]
    assert res["headline"]["estimator"] == "matching"
    assert matched["max_abs_smd"] > res["numbers"]["balance_threshold"]  # the default run: 0.28
    page = render_html(res, language, run.run_dir)
    warning = page.split('id="balance-warning">', 1)[1].split("</p>", 1)[0]
    assert 'href="#design"' in warning
    num = Numbers(res, language, run.run_dir)
    assert f"{matched['n_flagged']} " in _text(warning)
    assert num.x("balance_matched.max_abs_smd", 2) in _text(warning)
    balanced = copy.deepcopy(res)
    balanced["numbers"]["balance_matched"]["max_abs_smd"] = 0.05
    assert "balance-warning" not in render_html(balanced, language, run.run_dir)
    weighted = copy.deepcopy(res)  # the headline estimator's own sample: weighting
    weighted["headline"]["estimator"] = "ipw"
    assert res["numbers"]["balance_weighted"]["max_abs_smd"] <= 0.1
    assert "balance-warning" not in render_html(weighted, language, run.run_dir)
    # a balance figure the disclosure control withheld (a sample of fewer than k persons):
    # the report renders, with no warning built on a number it cannot show
    withheld = copy.deepcopy(res)
    withheld["numbers"]["balance_matched"]["max_abs_smd"] = "withheld (n<5)"
    assert "balance-warning" not in render_html(withheld, language, run.run_dir)


# --- what the run's data allow ---------------------------------------------------------------
def test_limitations_list_what_applies_to_the_data(results):
    run, res = results
    en = catalogue("en")
    text = _text(render_html(res, "en", run.run_dir))
    assert en["lim_survey"] in text and en["lim_synthetic"] in text
    assert "with 50 mentored persons, effects on employment smaller than about" in text
    changed = copy.deepcopy(res)
    changed["numbers"]["bottomup_inputs"]["survey"] = False
    changed["study"]["synthetic"] = False
    text = _text(render_html(changed, "en", run.run_dir))
    assert en["lim_survey"] not in text and en["lim_synthetic"] not in text


def test_an_absent_optional_input_is_said_once(results):
    run, res = results
    changed = copy.deepcopy(res)
    changed["skipped"] = {k: v for k, v in changed["skipped"].items()
                          if not k.startswith(("subgroup:", "subgroup_design:"))}  # fmt: skip
    changed["skipped"].update({"sessions": "absent", "bottomup_sessions": "absent"})
    page = render_html(changed, "en", run.run_dir)
    listed = page.split(catalogue("en")["data_skipped"], 1)[1].split("</ul>", 1)[0]
    assert listed.count("<li>") == 1
    assert "No session records" in listed


@pytest.mark.parametrize("language", ["en", "sv"])
def test_the_esf_section_and_the_kicker_follow_the_programme(results, language):
    run, res = results
    changed = copy.deepcopy(res)
    changed["programme"].update(
        esf_indicators=False, funder={"en": "A foundation", "sv": "En stiftelse"}
    )
    changed["skipped"]["esf_sex=male"] = "fewer than 5 persons in a group"
    page = render_html(changed, language, run.run_dir)
    assert 'id="tab-esf"' not in page and "ESF" not in _text(page)
    header = _text(page.split("</header>")[0])
    assert {"en": "A foundation", "sv": "En stiftelse"}[language] in header


def test_quarters_and_digit_groups_in_swedish(results):
    run, res = results
    changed = copy.deepcopy(res)
    changed["numbers"]["cs_cohorts_withheld"]["cohorts"] = ["2017Q3"]
    text = _text(render_html(changed, "sv", run.run_dir))
    assert "2017K3" in text and "2017Q3" not in text
    n = res["numbers"]["n_comparison"]
    grouped = f"{n:,}".replace(",", " ")  # a narrow no-break space, as _text leaves it
    assert f"jämförelsegrupp på {grouped} personer" in text  # text and tables group alike
    assert grouped in text.split("Urvalsflöde", 1)[1]


def test_region_names_follow_the_display_labels(results):
    run, res = results
    changed = copy.deepcopy(res)
    changed["labels"] = {"origin_region": {"Syria": {"en": "Syrian Arab Republic", "sv": "Syrien"}}}
    text = _text(render_html(changed, "en", run.run_dir))
    assert "region of origin: Syrian Arab Republic" in text
    assert "region of origin: Syria " not in text


def test_the_index_page_carries_the_list_of_exhibits(results):
    run, res = results
    page = index_page(run.run_dir, res, "en")
    assert 'id="tab-exhibits"' in page and catalogue("en")["index_exhibits"] in page
    assert "evaluation.<wbr>estimate.<wbr>esf.<wbr>estimate_<wbr>indicators" in page


@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_interval_is_labelled_with_the_runs_level(results, language):
    """A site that sets estimation.level: 0.90 reads "90 %" wherever an interval is named."""
    run, res = results
    changed = copy.deepcopy(res)
    for e in [changed["headline"], *changed["effects"]]:
        e["level"] = 0.9
    text = _text(render_html(changed, language, run.run_dir))
    named = "90 % confidence interval" if language == "en" else "90 % konfidensintervall"
    assert text.count(named) >= 3  # the headline, the effects table, the costs
    # the one fixed 95 %: what the simulation study measured (its intervals were at 95 %)
    simulated = catalogue(language)["effects_permutation_caveat"]
    assert text.count("95 %") == simulated.count("95 %")
    assert "95 %" in _text(render_html(res, language, run.run_dir))
    mixed = copy.deepcopy(res)
    mixed["effects"][0]["level"], mixed["headline"] = 0.9, {}
    with pytest.raises(Exception, match="no single confidence level"):
        Numbers(mixed, language, run.run_dir).level()
