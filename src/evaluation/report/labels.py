"""Figure labels in the report's languages (figures are drawn in the notebooks).

The labels themselves live in the text catalogue (``figure.*`` and the categories of
:mod:`evaluation.text`); these are the few helpers the drawing code calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def localise_axes(fig: Any, language: str) -> None:
    """Number ticks of a figure's axes in the report's number format.

    Swedish gets a decimal comma (``0,5``) and a true minus sign; axes whose ticks carry
    their own text (categories) are left alone. English is unchanged.
    """
    if language == "en":
        return
    from matplotlib.ticker import ScalarFormatter  # matplotlib: only when a figure is drawn

    class _Comma(ScalarFormatter):
        def __call__(self, x, pos=None):
            return super().__call__(x, pos).replace(".", ",").replace("-", "\u2212")

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(_Comma())
