"""The text catalogue: both languages hold the same keys, no sentence decides anything.

The parity checks here are static (the catalogue files, the templates and the sentence
rules); ``tests/report/test_swedish_run.py`` checks a rendered Swedish report end to end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evaluation.report import sentences
from evaluation.text import LANGUAGES, TextKeyError, catalogue, load
from evaluation.text.catalogue import HERE as CATALOGUE_DIR
from evaluation.text.numbers import format_number

TEMPLATES = Path(sentences.__file__).resolve().parent / "templates"

#: Catalogue keys allowed to hold Jinja branching (``{% %}`` or an inline ``if``): none.
#: A sentence with variants is one key per variant, picked in evaluation.report.sentences.
BRANCHING_ALLOWED: frozenset[str] = frozenset()

#: Category values whose label is the same word in English and Swedish (names, and
#: "start", which is Swedish too). Any other identical label is an untranslated value.
SAME_IN_BOTH = frozenset({
    "categories.origin_region.Afghanistan", "categories.origin_region.Eritrea",
    "categories.origin_region.Somalia", "categories.wave.baseline",
    "categories.currency.SEK", "categories.country.FI", "categories.country.PT",
    "categories.origin_region.Iran",
})  # fmt: skip

_BRANCH = re.compile(r"\{%|\{\{[^}]*\bif\b[^}]*\}\}", re.S)
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
_FORMAT_FIELD = re.compile(r"(?<!\{)\{([a-z_]+)\}(?!\})")


@pytest.fixture(scope="module")
def en():
    return catalogue("en")


@pytest.fixture(scope="module")
def sv():
    return catalogue("sv")


def test_both_languages_hold_the_same_keys(en, sv):
    assert set(en.keys()) - set(sv.keys()) == set(), "keys in English only"
    assert set(sv.keys()) - set(en.keys()) == set(), "keys in Swedish only"
    files = {
        lang: sorted(p.name for p in (CATALOGUE_DIR / lang).glob("*.yaml")) for lang in LANGUAGES
    }
    assert files["en"] == files["sv"], "the languages are split into the same files"


def test_every_text_is_filled(en, sv):
    for texts in (en, sv):
        empty = [k for k, v in texts.texts() if not v.strip()]
        assert empty == [], f"{texts.language}: empty texts {empty}"


def test_no_sentence_holds_a_decision(en, sv):
    for texts in (en, sv):
        branching = sorted(k for k, v in texts.texts() if _BRANCH.search(v))
        assert set(branching) <= BRANCHING_ALLOWED, f"{texts.language}: {branching}"


def test_both_languages_use_the_same_numbers_and_fields(en, sv):
    """A translation quotes the same numbers (``num.*``), fields and texts as the original."""
    swedish = dict(sv.texts())
    for key, text in en.texts():
        other = swedish[key]
        a = {re.sub(r"\s+", "", e) for e in _EXPRESSION.findall(text)}
        b = {re.sub(r"\s+", "", e) for e in _EXPRESSION.findall(other)}
        assert a == b, f"{key}: en {sorted(a - b)} / sv {sorted(b - a)}"
        assert set(_FORMAT_FIELD.findall(text)) == set(_FORMAT_FIELD.findall(other)), key


def test_every_category_value_is_translated(en, sv):
    swedish = dict(sv.texts())
    same = sorted(k for k, v in en.texts() if k.startswith("categories.") and swedish[k] == v)
    assert set(same) <= SAME_IN_BOTH, f"untranslated category values: {set(same) - SAME_IN_BOTH}"


def test_a_category_value_with_a_number_keeps_it(en, sv):
    assert en.category("outcome", "employed_m18") == "employed 18 months after start"
    assert sv.category("flow_step", "analysed, coverage ends before month 36") == (
        "analyserad, uppgifterna tar slut före månad 36"
    )
    with pytest.raises(TextKeyError, match="no label"):
        sv.category("education", "doctorate")
    assert sv.category("origin_region", "Atlantis", default="Atlantis") == "Atlantis"


def test_characteristics_read_as_the_tables_write_them(en, sv):
    assert sv.characteristic("education=post_secondary") == "utbildning: eftergymnasial"
    assert en.characteristic("swedish_level: sfi_completed") == "Swedish level: SFI completed"
    assert sv.characteristic("origin_region: Syria") == "ursprungsregion: Syrien"
    assert sv.characteristic("origin_region: Atlantis") == "ursprungsregion: Atlantis"
    assert en.characteristic("pre_months_employed_12") == (
        "months employed in the 12 months before start"
    )
    assert sv.characteristic("municipality: Lund") == "municipality: Lund"  # a site's own covariate


def test_glossary_terms_are_used_and_worded_once(en, sv):
    """The Swedish texts call the participants one thing: the glossary's term."""
    text = " ".join(v for _, v in sv.texts()).lower()
    for other in ("mentorstödd", "mentorsstödd"):
        assert other not in text
    assert sv.term("participants") == "mentorsdeltagare"
    assert en.term("propensity_score") in en["design_text"]


def test_every_key_the_templates_and_rules_name_exists(en, sv):
    pages = [p.read_text("utf-8") for p in TEMPLATES.rglob("*.j2")]
    rules = Path(sentences.__file__).read_text("utf-8")
    literal, prefixes = set(), set(re.findall(r"""\bS\(\s*f["']([a-z_0-9]+)\{""", rules))
    for page in pages:
        for key, joined in re.findall(r"""\bt\(\s*["']([a-z_0-9]+)["']\s*(~?)""", page):
            (prefixes if joined else literal).add(key)
    literal |= set(re.findall(r"""\bS\(\s*["']([a-z_0-9]+)["']""", rules))
    categories = set()
    for page in pages:
        categories |= set(re.findall(r"""\bcat\(\s*["']([a-z_]+)["']""", page))
    assert literal and prefixes and categories
    for texts in (en, sv):
        assert sorted(k for k in literal if k not in texts) == [], texts.language
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in texts.strings), (texts.language, prefix)
        assert categories <= set(texts.categories), texts.language


def _write(folder: Path, name: str, text: str) -> None:
    (folder / "xx").mkdir(parents=True, exist_ok=True)
    (folder / "xx" / name).write_text(text, "utf-8")


def test_a_key_defined_twice_is_refused(tmp_path):
    _write(tmp_path, "a.yaml", 'h_one: "One"\nh_one: "Again"\n')
    with pytest.raises(TextKeyError, match="defined twice"):
        load("xx", tmp_path)
    _write(tmp_path, "a.yaml", 'h_one: "One"\n')
    _write(tmp_path, "b.yaml", 'h_one: "Again"\n')
    with pytest.raises(TextKeyError, match="defines 'h_one'"):
        load("xx", tmp_path)


def test_glossary_references_resolve_or_fail(tmp_path):
    _write(tmp_path, "g.yaml", 'glossary:\n  participants: "mentored persons"\n')
    _write(tmp_path, "a.yaml", 'a: "[[Participants]] and [[participants]]"\n')
    assert load("xx", tmp_path)["a"] == "Mentored persons and mentored persons"
    _write(tmp_path, "a.yaml", 'a: "[[nobody]]"\n')
    with pytest.raises(TextKeyError, match="nobody"):
        load("xx", tmp_path)


def test_an_unknown_language_or_key_is_a_clear_error(en):
    with pytest.raises(TextKeyError, match="no catalogue"):
        catalogue("de")
    with pytest.raises(TextKeyError, match="no text 'no_such_key' in the en catalogue"):
        en["no_such_key"]
    with pytest.raises(TextKeyError, match="field"):
        en.format("figure.effect_ci")


def test_numbers_in_each_language():
    assert format_number(3254321, "sv") == "3\u202f254\u202f321"
    assert format_number(-0.125, "sv", 3) == "\u22120,125"
    assert format_number(3254321.5, "en", 1) == "3,254,321.5"


def test_the_catalogue_is_the_bottom_layer():
    """``evaluation.text`` imports nothing of the study but its errors, so every layer can use it."""
    imports = set()
    for path in CATALOGUE_DIR.glob("*.py"):
        imports |= set(
            re.findall(r"^\s*(?:from|import) (evaluation[\w.]*)", path.read_text("utf-8"), re.M)
        )
    assert imports <= {"evaluation.errors", "evaluation.text", "evaluation.text.catalogue"}, imports
