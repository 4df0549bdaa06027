"""The survey instrument: items, the factor each measures, reverse coding, waves, wording.

The default instrument is ``data/instruments/survey_v1.csv`` (see the README beside it). The
analysis itself takes the factor → items mapping and the reverse-coded items from the
parameter file (``bottomup.factors``, ``bottomup.reverse``); the instrument supplies the
wording shown in the report, and :func:`mapping_differences` keeps the two consistent. The
item wordings stay in the instrument file, not in the text catalogue: an instrument is data a
site brings with its survey.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evaluation.resources import INSTRUMENTS
from evaluation.text import LANGUAGES, catalogue

INSTRUMENT_DIR = INSTRUMENTS
WAVES = ("baseline", "follow_up")
_COLUMNS = ("item", "factor", "reverse", "waves", "text_en", "text_sv")

#: Short factor names in the report's languages, for figures: the text catalogue's category
#: ``factor_short`` (:mod:`evaluation.text`; the report's sentences use ``factor``).
FACTOR_LABELS: dict[str, dict[str, str]] = {
    language: dict(catalogue(language).categories["factor_short"]) for language in LANGUAGES
}


@dataclass(frozen=True)
class Instrument:
    """A survey instrument.

    Attributes
    ----------
    name
        File stem, e.g. ``"survey_v1"``.
    items
        One row per item: ``item``, ``factor``, ``reverse`` (bool), ``waves`` (tuple of
        wave names), ``text_en``, ``text_sv``; in questionnaire order.
    """

    name: str
    items: pd.DataFrame

    def factors(self) -> dict[str, list[str]]:
        """Factor → its items, in questionnaire order."""
        out: dict[str, list[str]] = {}
        for item, factor in zip(self.items["item"], self.items["factor"], strict=True):
            out.setdefault(str(factor), []).append(str(item))
        return out

    def reverse(self) -> list[str]:
        """The reverse-coded items."""
        return [str(i) for i in self.items.loc[self.items["reverse"], "item"]]

    def asked_in(self, wave: str) -> list[str]:
        """The items asked in one wave."""
        return [str(i) for i, w in zip(self.items["item"], self.items["waves"], strict=True)
                if wave in w]  # fmt: skip

    def wording(self, language: str) -> dict[str, str]:
        """Item → its wording in ``language`` (``"en"`` or ``"sv"``)."""
        return dict(zip(self.items["item"], self.items[f"text_{language}"], strict=True))


def load_instrument(name: str = "survey_v1", folder: Path | None = None) -> Instrument:
    """Read an instrument file (``<folder>/<name>.csv``) and check its layout.

    Parameters
    ----------
    name
        The file stem.
    folder
        Where the file is (default: ``data/instruments`` of the project).

    Returns
    -------
    Instrument

    Raises
    ------
    ValueError
        If a column is missing, an item repeats, a flag is not 0/1 or a wave is unknown.
    """
    path = (folder or INSTRUMENT_DIR) / f"{name}.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in _COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: columns missing: {missing}")
    if raw["item"].duplicated().any():
        raise ValueError(
            f"{path.name}: items repeat: {sorted(raw.loc[raw['item'].duplicated(), 'item'])}"
        )
    if not raw["reverse"].isin(["0", "1"]).all():
        raise ValueError(f"{path.name}: 'reverse' must be 0 or 1")
    waves = raw["waves"].map(lambda s: tuple(w.strip() for w in s.split(";") if w.strip()))
    bad = sorted({w for ws in waves for w in ws} - set(WAVES))
    if bad or (waves.map(len) == 0).any():
        raise ValueError(f"{path.name}: waves must be among {WAVES}, got {bad or 'none'}")
    items = raw.assign(reverse=raw["reverse"] == "1", waves=waves)[list(_COLUMNS)]
    return Instrument(name=name, items=items.reset_index(drop=True))


def mapping_differences(
    instrument: Instrument, factors: Mapping[str, Sequence[str]], reverse: Sequence[str]
) -> list[str]:
    """How a factor mapping and reverse list differ from an instrument (empty: they agree).

    Parameters
    ----------
    instrument
        The instrument.
    factors
        Factor → items (e.g. the parameter file's ``bottomup.factors``).
    reverse
        Reverse-coded items (``bottomup.reverse``).

    Returns
    -------
    list of str
        One sentence per difference.
    """
    out = []
    want = instrument.factors()
    for factor in sorted(set(want) | set(factors)):
        a, b = list(want.get(factor, [])), list(factors.get(factor, []))
        if a != b:
            out.append(f"factor {factor}: instrument {a}, parameters {b}")
    if sorted(instrument.reverse()) != sorted(reverse):
        out.append(f"reverse-coded: instrument {instrument.reverse()}, parameters {list(reverse)}")
    return out
