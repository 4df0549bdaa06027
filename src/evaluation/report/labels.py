"""Figure labels in the report's languages (figures are drawn in the notebooks).

The labels themselves live in the text catalogue (``figure.*`` and the categories of
:mod:`evaluation.text`); these are the few helpers the drawing code calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluation.plots.theme import localise_axes  # noqa: F401  (re-exported)
from evaluation.report.numbers import display_labels
from evaluation.text import catalogue
from evaluation.text.numbers import format_number


def labels(language: str) -> dict[str, str]:
    """The figure labels of one language (``en`` or ``sv``): the catalogue's ``figure.*``."""
    return catalogue(language).section("figure")


def number(value: float, language: str, decimals: int = 1) -> str:
    """A number on a figure in the report's format (``-0.5`` / ``−0,5``)."""
    return format_number(value, language, decimals)


def outcome_label(outcome: str, language: str) -> str:
    """An outcome's name in the report's language, as the report writes it.

    ``employed_m12`` becomes ``employed 12 months after start`` (en) or ``i arbete 12
    månader efter start`` (sv).
    """
    return catalogue(language).category("outcome", outcome)


def term_label(term: str, language: str, labels: Mapping[str, Any] | None = None) -> str:
    """A design term as the report's tables write it.

    ``education=post_secondary`` becomes ``education: post-secondary`` (en) or
    ``utbildning: eftergymnasial`` (sv). ``labels``: the parameter file's ``report.labels``
    (display labels of the data's values, e.g. origin regions), which come first.
    """
    own = display_labels(labels or {}, language)
    return catalogue(language).characteristic(term, own)
