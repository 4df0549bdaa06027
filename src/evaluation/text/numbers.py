"""Numbers written the way a language writes them (the report's and the figures' format)."""

from __future__ import annotations

import math

from evaluation.errors import RunError

#: Per language: thousands separator, decimal sign, minus sign.
_FORMAT = {
    "en": (",", ".", "-"),
    "sv": ("\u202f", ",", "\u2212"),  # narrow no-break space, decimal comma, true minus
}


class MissingNumberError(RunError):
    """A number to be written is missing (None or NaN)."""


def format_number(value: float, language: str, decimals: int = 0) -> str:
    """A number in a language's format: ``12,345.6`` (en) or ``12 345,6`` (sv).

    Parameters
    ----------
    value
        The number.
    language
        ``"en"`` or ``"sv"``.
    decimals
        Digits after the decimal sign.

    Raises
    ------
    MissingNumberError
        If ``value`` is None or not finite.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise MissingNumberError("a number in the report is missing (None/NaN) in the results")
    group, point, minus = _FORMAT[language]
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", point).replace("\0", group).replace("-", minus)


def level_percent(level: float, language: str) -> str:
    """A confidence level as the number of its percentage: ``95`` (0.95), ``99,5`` (sv, 0.995).

    Every interval the report and the figures label takes its level from the run
    (``estimation.level``), never a fixed 95.
    """
    pct = round(100 * float(level), 4)
    decimals = 0 if pct == round(pct) else len(f"{pct:.4f}".rstrip("0").partition(".")[2])
    return format_number(pct, language, decimals)
