"""Every analysis a notebook can skip has a sentence in both languages, and the report renders it.

The report lists the run's ``skipped`` entries with ``skip_<key>`` texts (ESF groups with the
``skip_esf`` texts; ``evaluation.report.sentences.Sentences.skipped`` picks one). A key without a text stopped the rendering of the whole report: a study
with fewer than five mentored men, or a headline outcome that is not 0/1, could not render.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from evaluation.chapters import bottomup as bottomup_chapter
from evaluation.chapters import effects as effects_chapter
from evaluation.chapters import robustness as robustness_chapter
from evaluation.pipeline.notebooks import NOTEBOOK_DIR
from evaluation.report.render import render_html
from evaluation.text import catalogue

#: The values the placeholders of f-string keys take (a new placeholder fails the test).
EXPANSIONS = {"name": ("survey", "sessions", "mentors"), "n": ("survey", "sessions", "mentors")}
CALL = re.compile(r"rec\.skipped\(\s*(f?)\"([^\"]+)\"|rec\.skipped\(\s*(\w+)\s*,")
#: A chapter function's own ``skipped`` entries (the notebook records them in a loop).
CHAPTER_SKIP = re.compile(r"skipped\[(f?)\"([^\"]+)\"\]()")
#: The bottom-up chapter's entries: keys of the ``skipped`` mappings its parts return.
BOTTOMUP_SKIP = re.compile(r"(f?)\"(bottomup_[a-z_{}]+)\":()")
#: The robustness chapter's sensitivity part returns its ``skipped`` mapping as a literal.
SENSITIVITY_SKIP = re.compile(r"\{(f?)\"(sensitivity_[a-z_]+)\":()")


def _skip_keys() -> set[str]:
    keys = set()
    sources = [(p, CALL) for p in sorted(NOTEBOOK_DIR.glob("0*.py"))]
    sources += [
        (p, CHAPTER_SKIP) for p in sorted(Path(effects_chapter.__file__).parent.glob("*.py"))
    ]
    sources.append((Path(bottomup_chapter.__file__), BOTTOMUP_SKIP))
    sources.append((Path(robustness_chapter.__file__), SENSITIVITY_SKIP))
    for path, pattern in sources:
        for m in pattern.finditer(path.read_text("utf-8")):
            fstring, literal, variable = m.groups()
            if variable:  # rec.skipped(name, ...): a chapter function's entries, in a loop
                assert variable in ("name", "analysis"), (
                    f"{path.name}: rec.skipped({variable}, ...) is new here"
                )
                if path.name.startswith("01_"):  # 01's optional tables
                    keys |= {"survey", "sessions", "mentors"}
            elif fstring and "{" in literal:
                head, field, tail = re.fullmatch(r"(.*)\{(\w+)\}(.*)", literal).groups()
                if head in ("esf_", "subgroup:", "estimator:"):  # one text each, with fields
                    keys.add(head)
                    continue
                assert field in EXPANSIONS, f"{path.name}: skipped key {literal!r} is new here"
                keys |= {f"{head}{v}{tail}" for v in EXPANSIONS[field]}
            else:
                keys.add(literal)
    return keys


@pytest.mark.parametrize("language", ["en", "sv"])
def test_every_skip_key_has_a_text(language):
    strings = catalogue(language)
    keys = _skip_keys()
    assert {"sensitivity_binary", "bottomup_relationship", "esf_"} <= keys
    grouped = {"esf_": "skip_esf", "subgroup:": "skip_subgroup", "estimator:": "skip_estimator"}
    missing = sorted(k for k in keys if k not in grouped and f"skip_{k}" not in strings)
    assert missing == [], f"no skip_ text in {language} for {missing}"
    assert "skip_esf" in strings and "skip_esf_estimator" in strings
    assert all(grouped[k] in strings for k in keys if k in grouped)
    assert "skip_subgroup_design" in strings  # effects.py picks it by the reason


@pytest.mark.parametrize("language", ["en", "sv"])
def test_the_report_lists_skips_it_had_no_text_for(finished_run, language):
    run, _ = finished_run
    res = copy.deepcopy(json.loads((run.run_dir / "results.json").read_text("utf-8")))
    res["skipped"].update({
        "esf_sex=male": "fewer than 5 persons in a group",
        "esf_sex=female:matching": "fewer than 5 persons in a group",
        "sensitivity_binary": "the headline outcome is not 0/1",
        "bottomup_relationship": "fewer than 5 mentored persons scored it",
        "subgroup:education=unknown": "fewer than 5 persons in a group",
        "estimator:ebal": "employed_m6: no weights balance the terms",
        "subgroup_design:swedish_level=none": "the design cannot be estimated",
    })  # fmt: skip
    html = render_html(res, language, run.run_dir)
    if language == "en":
        assert "The ESF indicator for men is withheld" in html
        assert "The ESF indicator for women (propensity-score matching) is withheld" in html
        assert "The E-value and the Rosenbaum bounds are not computed" in html
        assert "The effect in the subgroup education: unknown is not estimated" in html
        assert "Entropy balancing has no solution on one or more outcomes" in html
        assert "The effect in the subgroup Swedish level: none is not estimated: within" in html
    else:
        assert "ESF-indikatorn för män redovisas inte" in html
        assert "Relationen till mentorn ställs inte mot utfallet" in html
        assert "Effekten i undergruppen utbildning: okänd skattas inte" in html
        assert "Entropibalansering saknar lösning för ett eller flera utfall" in html
    assert "{{" not in html
