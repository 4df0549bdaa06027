"""The text catalogue: every sentence, label and category name of one language, keyed.

A language is a folder ``text/<language>/`` of YAML files (split by chapter for the
translator's sake) loaded into **one** namespace; a key defined twice, in one file or in two,
is an error. A file holds three kinds of entries:

``glossary``
    The study's terms (the participants, the comparison group, the propensity score, ...),
    one wording per language. Any other text refers to a term as ``[[term]]`` (``[[Term]]``
    for a capital first letter); references are resolved when the catalogue is read, so a
    term is worded once.
``categories``
    Keyed maps, ``name -> value -> label``: the values of a categorical column (education,
    Swedish level, sex, origin region, ...), estimator names, exhibit kinds, the steps of a
    sample-flow table. A table cell is translated by looking its value up in its column's
    map, never by rewriting text. A value may hold ``{n}`` for a whole number
    (``pre_months_employed_{n}``); the label then uses the same ``{n}``.
everything else
    Sentences and labels. A nested mapping gives dotted keys (``figure.before``). Report
    sentences are small Jinja templates (numbers come only from the run's results through
    ``num``; :mod:`evaluation.report.render` renders them); labels with fields use
    :meth:`str.format` fields (``{outcome}``). A sentence holds no decision: where a sentence
    has variants, each variant is its own key and Python code picks one
    (:mod:`evaluation.report.sentences`).

What is *not* here: the wording of survey items. A survey instrument is data that a site
brings with its survey (``data/instruments/<name>.csv``, one column per language); the
report quotes it from there.

This package is the bottom layer of the study's text: it imports nothing of
:mod:`evaluation` except :mod:`evaluation.errors`, so the report, the chapter functions and
the plotting code can all use it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from evaluation.errors import RunError

HERE = Path(__file__).resolve().parent

#: The languages of the study's reports.
LANGUAGES: tuple[str, ...] = ("en", "sv")

#: Top-level sections of a catalogue file that are not sentences.
GLOSSARY, CATEGORIES = "glossary", "categories"

#: Categories whose values are the data owner's own coding (CONTRACT.md: "category values
#: (origin regions, municipalities) are whatever the data owner uses"): a value the catalogue
#: does not know is shown as the data hold it. Every other category the catalogue has is
#: closed: an unknown value is an error.
OPEN_CATEGORIES = frozenset({"origin_region", "municipality"})

_REFERENCE = re.compile(r"\[\[([A-Za-z][A-Za-z0-9_]*)\]\]")
_NUMBER_SLOT = "{n}"


class TextKeyError(RunError):
    """A text, term or category value that the catalogue does not hold (a bug to report)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (YAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise TextKeyError(
                f"{getattr(loader, 'name', 'a catalogue file')}: the key {key!r} is defined twice "
                f"(line {key_node.start_mark.line + 1})"
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class _Pattern:
    """A category value with a ``{n}`` slot, matched against a whole value."""

    regex: re.Pattern[str]
    label: str


@dataclass(frozen=True)
class Catalogue:
    """The texts of one language.

    Attributes
    ----------
    language
        ``"en"`` or ``"sv"``.
    strings
        Key → text (sentences and labels; glossary references resolved).
    categories
        Category name → value → label.
    glossary
        Term → its wording.
    sources
        Key → the file that defines it (for messages).
    """

    language: str
    strings: Mapping[str, str]
    categories: Mapping[str, Mapping[str, str]]
    glossary: Mapping[str, str]
    sources: Mapping[str, str] = field(repr=False)
    _patterns: Mapping[str, tuple[_Pattern, ...]] = field(repr=False)

    # --- sentences and labels ---------------------------------------------------------------
    def __getitem__(self, key: str) -> str:
        """The text of ``key`` (a :class:`TextKeyError` if the catalogue lacks it)."""
        try:
            return self.strings[key]
        except KeyError:
            raise TextKeyError(f"no text '{key}' in the {self.language} catalogue") from None

    def __contains__(self, key: object) -> bool:
        return key in self.strings

    def format(self, key: str, **fields: Any) -> str:
        """A label with fields filled in (:meth:`str.format`: ``{outcome}``, ``{k}``)."""
        try:
            return self[key].format(**fields)
        except (KeyError, IndexError) as exc:
            raise TextKeyError(
                f"the {self.language} text '{key}' needs the field {exc}, which was not given"
            ) from None

    def section(self, prefix: str) -> dict[str, str]:
        """The texts under a dotted prefix, keyed by the rest (``figure`` → ``{"before": ...}``)."""
        head = prefix + "."
        return {k[len(head) :]: v for k, v in self.strings.items() if k.startswith(head)}

    def term(self, name: str) -> str:
        """A glossary term."""
        try:
            return self.glossary[name]
        except KeyError:
            raise TextKeyError(f"no term '{name}' in the {self.language} glossary") from None

    # --- categories -------------------------------------------------------------------------
    def category(self, name: str, value: Any, default: str | None = None) -> str:
        """The label of ``value`` in the category ``name``.

        Parameters
        ----------
        name
            The category (``education``, ``estimator``, ``flow_step``, ...).
        value
            The value as the data or the results hold it (``post_secondary``).
        default
            What to show for a value the catalogue does not know. ``None`` (the default): a
            value the catalogue does not know is an error; categories whose values are the data
            owner's own coding (origin regions) pass the value itself.

        Returns
        -------
        str
            The label.
        """
        text = str(value)
        labels = self.categories.get(name)
        if labels is None:
            raise TextKeyError(f"no category '{name}' in the {self.language} catalogue")
        if text in labels:
            return labels[text]
        for pattern in self._patterns.get(name, ()):
            m = pattern.regex.fullmatch(text)
            if m:
                return pattern.label.replace(_NUMBER_SLOT, m["n"])
        if default is not None:
            return default
        raise TextKeyError(
            f"the {self.language} catalogue has no label for '{text}' in the category '{name}'"
        )

    def characteristic(
        self, term: str, labels: Mapping[str, Mapping[str, str]] | None = None
    ) -> str:
        """A characteristic of the persons, with its category value if it has one.

        ``education=post_secondary`` (a design term) and ``education: post_secondary`` (a row
        of a descriptive table) both become ``education: post-secondary`` (sv: ``utbildning:
        eftergymnasial``); ``pre_months_employed_12`` becomes ``months employed in the 12
        months before start``. A characteristic the catalogue does not know (a site's own
        extra covariate) keeps its name; so does a value of an open category
        (:data:`OPEN_CATEGORIES`) or of a characteristic without a category.

        Parameters
        ----------
        term
            The term.
        labels
            The run's own display labels, category → value → label in this language (the
            parameter file's ``report.labels``): they come before the catalogue's.
        """
        if "=" in term:
            variable, _, value = term.partition("=")
        else:
            variable, sep, value = term.partition(": ")
            value = value if sep else None
        label = self.category("variable", variable, default=variable)
        if value is None:
            return label
        own = (labels or {}).get(variable, {})
        if value in own:
            return f"{label}: {own[value]}"
        if variable not in self.categories:
            return f"{label}: {value}"
        default = value if variable in OPEN_CATEGORIES else None
        return f"{label}: {self.category(variable, value, default=default)}"

    def knows(self, name: str, value: Any) -> bool:
        """Whether ``value`` has a label in the category ``name``."""
        try:
            self.category(name, value)
        except TextKeyError:
            return False
        return True

    # --- the whole catalogue ----------------------------------------------------------------
    def keys(self) -> Iterator[str]:
        """Every key: texts, ``glossary.<term>`` and ``categories.<name>.<value>``."""
        yield from self.strings
        yield from (f"{GLOSSARY}.{t}" for t in self.glossary)
        for name, labels in self.categories.items():
            yield from (f"{CATEGORIES}.{name}.{v}" for v in labels)

    def texts(self) -> Iterator[tuple[str, str]]:
        """Every (key, text) pair, categories and glossary included."""
        yield from self.strings.items()
        yield from ((f"{GLOSSARY}.{t}", v) for t, v in self.glossary.items())
        for name, labels in self.categories.items():
            yield from ((f"{CATEGORIES}.{name}.{v}", lab) for v, lab in labels.items())


def _flatten(prefix: str, value: Any, out: dict[str, Any], where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, where)
        return
    if not isinstance(value, str):
        raise TextKeyError(f"{where}: '{prefix}' must be text, not {type(value).__name__}")
    out[prefix] = value


def _resolve(text: str, glossary: Mapping[str, str], where: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m[1]
        term = glossary.get(name) or glossary.get(name[0].lower() + name[1:])
        if term is None:
            raise TextKeyError(f"{where}: [[{name}]] names no term of the glossary")
        return term[0].upper() + term[1:] if name[0].isupper() else term

    return _REFERENCE.sub(one, text)


def _compile(labels: Mapping[str, str]) -> tuple[_Pattern, ...]:
    out = []
    for value, label in labels.items():
        if _NUMBER_SLOT in value:
            regex = re.escape(value).replace(re.escape(_NUMBER_SLOT), r"(?P<n>\d+)")
            out.append(_Pattern(re.compile(regex), label))
    return tuple(out)


def load(language: str, folder: Path | None = None) -> Catalogue:
    """Read the catalogue of one language from ``<folder>/<language>/*.yaml``.

    Parameters
    ----------
    language
        The language's folder name.
    folder
        The catalogue's root (default: this package's folder).

    Returns
    -------
    Catalogue

    Raises
    ------
    TextKeyError
        If a key is defined twice, a value is not text or a ``[[term]]`` names no term.
    """
    root = (folder or HERE) / language
    files = sorted(root.glob("*.yaml"))
    if not files:
        raise TextKeyError(f"no catalogue for the language '{language}' ({root})")
    flat: dict[str, str] = {}
    cats: dict[str, dict[str, str]] = {}
    gloss: dict[str, str] = {}
    sources: dict[str, str] = {}

    def claim(key: str, path: Path) -> None:
        if key in sources:
            raise TextKeyError(
                f"{language}/{path.name} defines '{key}', which {language}/{sources[key]} "
                "defines already"
            )
        sources[key] = path.name

    for path in files:
        loader = _UniqueKeyLoader(path.read_text("utf-8"))
        loader.name = f"{language}/{path.name}"
        try:
            doc = loader.get_single_data() or {}
        finally:
            loader.dispose()
        for top, value in doc.items():
            where = f"{language}/{path.name}"
            if top == GLOSSARY:
                for term, text in value.items():
                    claim(f"{GLOSSARY}.{term}", path)
                    gloss[str(term)] = str(text)
            elif top == CATEGORIES:
                for name, labels in value.items():
                    for v, label in labels.items():
                        claim(f"{CATEGORIES}.{name}.{v}", path)
                        if not isinstance(label, str):
                            raise TextKeyError(f"{where}: category {name}.{v} must be text")
                        cats.setdefault(str(name), {})[str(v)] = label
            else:
                part: dict[str, str] = {}
                _flatten(str(top), value, part, where)
                for key, text in part.items():
                    claim(key, path)
                    flat[key] = text
    for term, text in gloss.items():
        if _REFERENCE.search(text):
            raise TextKeyError(f"{language}: the glossary term '{term}' refers to another term")
    flat = {k: _resolve(v, gloss, f"{language}/{sources[k]}: {k}") for k, v in flat.items()}
    cats = {
        name: {v: _resolve(lab, gloss, f"{language}: category {name}.{v}") for v, lab in m.items()}
        for name, m in cats.items()
    }
    return Catalogue(
        language=language,
        strings=MappingProxyType(flat),
        categories=MappingProxyType({n: MappingProxyType(m) for n, m in cats.items()}),
        glossary=MappingProxyType(gloss),
        sources=MappingProxyType(sources),
        _patterns=MappingProxyType({name: _compile(m) for name, m in cats.items()}),
    )


@functools.cache
def catalogue(language: str) -> Catalogue:
    """The catalogue of ``language`` (read once per process).

    Raises
    ------
    TextKeyError
        If the language has no catalogue.
    """
    if language not in LANGUAGES:
        raise TextKeyError(f"no catalogue for the language '{language}'; known: {LANGUAGES}")
    return load(language)
