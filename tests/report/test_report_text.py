"""The report's wording follows its numbers, and its tables speak the report's language.

Tolerances: none. Every check is an exact string or pattern match on the rendered HTML
(numbers are compared as the report formats them, with :func:`fmt_number`).

Each test renders the finished study's results (or a copy changed in one place, to reach a
branch of a sentence the default run does not take) and reads one sentence or one table.
"""

from __future__ import annotations

import copy
import html as htmllib
import json
import re
from pathlib import Path

import pytest

from evaluation.chapters.costs import COSTS_SERVED_FIELDS
from evaluation.report.render import (
    Numbers,
    fmt_number,
    index_page,
    localise_numbers,
    render_html,
)
from evaluation.text import catalogue

TEMPLATES = Path(__file__).resolve().parents[2] / "src/evaluation/report/templates"


@pytest.fixture(scope="module")
def results(finished_run):
    run, _ = finished_run
    return run, json.loads((run.run_dir / "results.json").read_text("utf-8"))


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    no_tags = re.sub(r"<[^>]+>", " ", fragment)
    return re.sub(r"[ \t\r\n]+", " ", htmllib.unescape(no_tags)).strip(" ")


def _paragraph(page: str, starts: str) -> str:
    """The text of the first paragraph whose text starts with ``starts``."""
    for m in re.finditer(r"<p[^>]*>(.*?)</p>", page, flags=re.S):
        text = _text(m[1])
        if text.startswith(starts):
            return text
    raise AssertionError(f"no paragraph starting with {starts!r}")


def _table_cells(page: str, table_id: str) -> list[list[str]]:
    """The body cells of one table, row by row."""
    m = re.search(rf'<table[^>]*id="{re.escape(table_id)}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert m, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", m[1], flags=re.S)
    return [[_text(c) for c in re.findall(r"<td>(.*?)</td>", r, flags=re.S)] for r in rows]


def _unit(num: Numbers, outcome: str, value: float) -> str:
    return num.unit(outcome, value)


# --- 1. the permutation p-value names the estimate it belongs to ----------------------------
@pytest.mark.parametrize(
    ("language", "starts", "says_sample"),
    [
        ("en", "Randomisation test", "the p-value refers to the sample's estimate"),
        ("sv", "Slumptest", "p-värdet avser urvalets skattning"),
    ],
)
def test_permutation_on_a_subsample_quotes_the_sample_estimate(
    results, language, starts, says_sample
):
    run, res = results
    changed = copy.deepcopy(res)
    h = changed["headline"]
    changed["numbers"]["comparison_subsample"].update(used=True, n_drawn=5000, n_pool=60000)
    changed["numbers"]["headline_permutation"]["observed"] = h["estimate"] + 0.104
    page = render_html(changed, language, run.run_dir)
    text = _paragraph(page, starts)
    num = Numbers(changed, language, run.run_dir)
    observed = _unit(num, h["outcome"], h["estimate"] + 0.104)
    assert text.count(observed) == 2  # the sample's estimate, and what the p-value refers to
    assert num.est(h) in text  # the headline, named as such
    assert says_sample in text
    assert fmt_number(5000, language) in text and fmt_number(60000, language) in text
    assert "the one found" not in text and "den funna" not in text


@pytest.mark.parametrize("language", ["en", "sv"])
def test_permutation_on_everyone_quotes_the_headline(results, language):
    run, res = results
    assert not res["numbers"]["comparison_subsample"]["used"]
    page = render_html(res, language, run.run_dir)
    text = _paragraph(page, "Randomisation test" if language == "en" else "Slumptest")
    num = Numbers(res, language, run.run_dir)
    observed = res["numbers"]["headline_permutation"]["observed"]
    assert _unit(num, res["headline"]["outcome"], observed) in text
    assert num.p(res["numbers"]["headline_permutation"]["p_value"]) in text


# --- 2. and 3. tables: identifiers as they are, numbers in the report's format -------------
def test_file_names_are_never_translated(results):
    run, res = results
    page = render_html(res, "sv", run.run_dir)
    cells = _table_cells(page, "tab-input_tables")
    files = [row["file"] for row in res["tables"]["input_tables"]]
    assert [c[1] for c in cells] == files
    assert "deltagare.csv" not in page and "månadsdata.csv" not in page
    # the table's name is a label and is translated
    assert cells[0][0] == "deltagare"


def test_cells_are_translated_by_their_column_never_by_their_text(results):
    run, res = results
    num = Numbers(res, "sv", run.run_dir)
    assert num.table_cell("input_tables", "table", "participants") == "deltagare"
    for identifier in (
        "participants.csv",
        "data/participants",
        "participants_v2",
        "monthly.parquet",
    ):
        assert num.table_cell("input_tables", "file", identifier) == identifier
        assert num.cell(identifier) == identifier  # numbers only: words are never rewritten
    assert num.table_cell("input_tables", "file", "participants") == "participants"


def test_numbers_in_cells_follow_the_language():
    assert localise_numbers("32.12 (6.53)", "sv") == "32,12 (6,53)"
    assert localise_numbers("22 (44.0 %)", "sv") == "22 (44,0 %)"
    # amounts of a thousand or more are whole (kronor), with the language's grouping
    assert localise_numbers("78,186.14 (121,850.76)", "sv") == "78\u202f186 (121\u202f851)"
    assert localise_numbers("78,186.14 (121,850.76)", "en") == "78,186 (121,851)"
    assert localise_numbers("-0.5", "sv") == "\u22120,5"
    # dates, identifiers, ranges and years are not numbers to reformat
    for keep in ("2017-09", "2017Q3", "goal_1", "1-3", "Wahba (1999, 2002)", "<5", "a.csv"):
        assert localise_numbers(keep, "sv") == keep


SV_TABLES = ("tab-input_tables", "tab-sample_flow", "tab-short_coverage", "tab-descriptives",
             "tab-trimming")  # fmt: skip
ENGLISH_IN_SV = ("Europe outside EU", "Iraq", "Other Africa", "Other Asia", "Syria", "valid",
                 "before trimming", "secondary", "sfi_completed", "female")  # fmt: skip


def test_swedish_tables_have_swedish_numbers_and_words(results):
    run, res = results
    page = render_html(res, "sv", run.run_dir)
    for table in SV_TABLES:
        for row in _table_cells(page, table):
            for i, cell in enumerate(row):
                if table == "tab-input_tables" and i == 1:
                    continue  # file names
                assert not re.search(r"\d\.\d", cell), (table, cell)
                assert not re.search(r"\d,\d{3}\b", cell), (table, cell)
                for english in ENGLISH_IN_SV:
                    assert not re.search(rf"\b{english}\b", cell), (table, cell, english)
    desc = {r[0]: r for r in _table_cells(page, "tab-descriptives")}
    assert desc["ålder"][1].count(",") == 2  # mean and SD with a decimal comma
    earnings = next(r for k, r in desc.items() if k.startswith("arbetsinkomst"))
    assert re.fullmatch(r"\d{1,3}(\u202f\d{3})* \(\d{1,3}(\u202f\d{3})*\)", earnings[1])


def test_english_characteristics_have_readable_labels(results):
    run, res = results
    page = render_html(res, "en", run.run_dir)
    for row in _table_cells(page, "tab-descriptives"):
        assert not re.search(r"[a-z]_[a-z0-9]", row[0]), row[0]
        if row[0].startswith("earnings"):
            assert re.fullmatch(r"[\d,]+ \([\d,]+\)", row[1]), row  # whole kronor
    labels = [r[0] for r in _table_cells(page, "tab-descriptives")]
    assert "months employed in the 12 months before start" in labels
    assert "Swedish level: SFI completed" in labels


def test_swedish_labels_cover_every_category_of_the_run(results):
    """Every characteristic of the run's descriptives has a Swedish label."""
    run, res = results
    num = Numbers(res, "sv", run.run_dir)
    en_words = re.compile(r"\b(Europe|Other|Syria|Iraq|primary|secondary|level|region)\b")
    for row in res["tables"]["descriptives"]:
        label = num.table_cell("descriptives", "variable", row["variable"])
        assert not en_words.search(label), row["variable"]


# --- 4. the costs chapter says which persons its count applies to -------------------------
@pytest.mark.parametrize("language", ["en", "sv"])
def test_costs_count_names_its_base(results, language):
    run, res = results
    res = copy.deepcopy(res)
    c = res["numbers"]["costs"]
    e = next(
        x for x in res["effects"]
        if x["outcome"] == f"employed_m{c['horizon']}" and x["estimator"] == c["estimator"]
        and x["subgroup"] == "all"
    )  # fmt: skip
    if not isinstance(e["n_treated"], int):
        # the test study leaves few mentored unmatched, so the audit withholds the matched
        # count; a study that shows it (the default run: 44 matched of 50 served) reads so
        e["n_treated"] = res["numbers"]["costs_served"] - 6
        if (res["headline"]["outcome"], res["headline"]["estimator"]) == (
            e["outcome"],
            e["estimator"],
        ):
            res["headline"]["n_treated"] = e["n_treated"]
    page = render_html(res, language, run.run_dir)
    served = res["numbers"]["costs_served"]
    assert e["n_treated"] != served  # the default run: 44 matched of 50 served
    text = _paragraph(page, "The estimate means" if language == "en" else "Skattningen innebär")
    assert fmt_number(round(c["additional_persons"]), language) in text
    assert fmt_number(round(e["estimate"] * e["n_treated"]), language) in text
    assert f" {served} " in text and f" {e['n_treated']} " in text
    summary = _paragraph(page, "In people" if language == "en" else "I personer")
    assert fmt_number(round(e["estimate"] * e["n_treated"]), language) in summary


@pytest.mark.parametrize("language", ["en", "sv"])
def test_costs_hidden_by_the_audit_render_as_their_label(results, language):
    # issue 16 item 2: with one mentored person excluded, "served 50" beside "follows 49"
    # gives the exclusion back; the audit hides the persons served and every cost computed
    # from their number, and the report says ".." where it said them
    run, res = results
    changed = copy.deepcopy(res)
    changed["numbers"]["costs_served"] = ".."
    for name in COSTS_SERVED_FIELDS:
        if changed["numbers"]["costs"][name] is not None:
            changed["numbers"]["costs"][name] = ".."
    page = render_html(changed, language, run.run_dir)
    # the costs table (the text may quote the budget per *planned* participant, a parameter,
    # which equals the cost per participant when as many were served as planned)
    table = _text(re.search(r'<table[^>]*id="tab-costs".*?</table>', page, re.S)[0])
    budget = fmt_number(res["numbers"]["programme_budget"], language)
    per = fmt_number(res["numbers"]["costs"]["cost_per_participant"], language)
    assert budget in table and per not in table
    assert f"{catalogue(language)['cost_row_per_participant']} .. " in table


# --- 5. the ESF table says why the sexes do not add up -------------------------------------
@pytest.mark.parametrize("language", ["en", "sv"])
def test_esf_table_explains_its_counts(results, language):
    run, res = results
    page = render_html(res, language, run.run_dir)
    after = page.split('id="tab-esf"', 1)[1].split("</table>", 1)[1]
    note = _text(after.split("</p>", 1)[0])
    strings = catalogue(language)
    assert ("do not add up" in note) if language == "en" else ("summerar inte" in note)
    assert note and strings["esf_note"].split()[0] in note


# --- 6. leftovers ---------------------------------------------------------------------------
def test_exhibit_list_in_the_language_and_wrapping_between_parts(results):
    """The list of exhibits is an annex of the reviewers' index page; the report points to it."""
    run, res = results
    page = index_page(run.run_dir, res, "sv")
    kinds = {r[1] for r in _table_cells(page, "tab-exhibits")}
    report = render_html(res, "sv", run.run_dir)
    assert 'id="tab-exhibits"' not in report and "index.html" in report
    assert kinds <= {"tabell", "figur", "siffra"}
    assert "evaluation.<wbr>estimate.<wbr>esf.<wbr>estimate_<wbr>indicators" in page
    css = (TEMPLATES / "report.css").read_text("utf-8")
    assert "break-word" not in css and "break-all" not in css


@pytest.mark.parametrize("language", ["en", "sv"])
def test_placebo_amounts_are_signed(results, language):
    run, res = results
    page = render_html(res, language, run.run_dir)
    rows = _table_cells(page, "tab-placebo")
    currency = Numbers(res, language, run.run_dir).currency()
    money = [r[1] for r in rows if r[1].endswith(currency)]
    assert money
    for cell in money:
        assert re.match(r"^[+\u2212-]|^0 ", cell), cell


def test_swedish_texts_use_one_term_for_the_propensity_score():
    sv = json.dumps([text for _, text in catalogue("sv").texts()], ensure_ascii=False)
    assert "propensity" not in sv.lower().replace("propensity-score", "")


# --- 7. the staggered DiD against the headline ----------------------------------------------
def _with_cs(res, low, high, estimate):
    changed = copy.deepcopy(res)
    u = changed["numbers"]["cs_unit"]
    for e in changed["effects"]:
        if e["outcome"] == f"employed_{u}_overall" and e["estimator"] == "cs_dr":
            e.update(estimate=estimate, ci_low=low, ci_high=high)
    return changed


def _twfe(res):
    u = res["numbers"]["cs_unit"]
    return next(
        e for e in res["effects"]
        if e["outcome"] == f"employed_{u}_overall" and e["estimator"] == "twfe"
    )  # fmt: skip


@pytest.mark.parametrize("language", ["en", "sv"])
def test_staggered_sentence_follows_the_intervals(results, language):
    run, res = results
    h, tw = res["headline"]["estimate"], _twfe(res)["estimate"]
    lo, hi = min(h, tw), max(h, tw)
    start = "How does this fit" if language == "en" else "Hur går detta ihop"
    both = "cannot tell the three apart" if language == "en" else "kan inte skilja de tre åt"
    neither = "covers neither" if language == "en" else "omfattar varken"
    only_h = (
        "covers the headline estimate but not"
        if language == "en"
        else ("omfattar huvudresultatet men inte")
    )

    wide = render_html(_with_cs(res, lo - 0.3, hi + 0.3, (lo + hi) / 2), language, run.run_dir)
    text = _paragraph(wide, start)
    assert both in text and neither not in text
    num = Numbers(res, language, run.run_dir)
    assert num.pp((lo + hi) / 2) in text and num.est(res["headline"]) in text

    far = render_html(_with_cs(res, hi + 0.5, hi + 0.7, hi + 0.6), language, run.run_dir)
    text = _paragraph(far, start)
    assert neither in text and both not in text
    assert ("larger than the headline" if language == "en" else "större än huvudresultatet") in text

    if abs(h - tw) > 0.01:
        around_h = render_html(
            _with_cs(res, h - abs(h - tw) / 2, h + abs(h - tw) / 2, h), language, run.run_dir
        )
        assert only_h in _paragraph(around_h, start)


def test_figure_helpers_speak_the_language():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.report.labels import labels, localise_axes, outcome_label, term_label

    assert outcome_label("employed_m12", "sv") == "i arbete 12 månader efter start"
    assert outcome_label("employed_m12", "en") == "employed 12 months after start"
    assert term_label("education=post_secondary", "sv") == "utbildning: eftergymnasial"
    assert term_label("origin_region=Syria", "en") == "region of origin: Syria"
    for language in ("en", "sv"):
        lab = labels(language)
        assert {
            f"est_{e}" for e in ("naive", "regression", "ra", "ipw", "aipw", "matching")
        } <= set(lab)
    fig, ax = plt.subplots()
    ax.plot([-0.25, 0.25], [0, 1])
    ax.set_xticks([0, 1], ["a.b", "c"])  # category ticks keep their own text
    localise_axes(fig, "sv")
    fig.canvas.draw()
    y = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert any("," in t for t in y) and not any("." in t for t in y)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a.b", "c"]
    plt.close(fig)


def test_no_swedish_table_has_a_decimal_point(results):
    """Every table of the Swedish report (the appendix's identifiers aside)."""
    run, res = results
    page = render_html(res, "sv", run.run_dir)
    tables = re.findall(r'<table[^>]*id="([^"]+)"(.*?)</table>', page, flags=re.S)
    assert len(tables) > 10
    for table_id, body in tables:
        if table_id in ("tab-exhibits", "tab-provenance"):
            continue
        assert not re.search(r"\d\.\d", _text(body)), table_id
