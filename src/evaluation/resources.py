"""Where the study's own files are, in a checkout and in an installed wheel alike.

The notebooks (``notebooks/``) and the survey instruments (``data/instruments/``) live at the
top of the repository, where evaluators open and edit them. A wheel carries them inside the
package (``evaluation/notebooks``, ``evaluation/instruments``: ``pyproject.toml`` maps them), so
that a non-editable install runs the study too. A checkout's own folders come first, so that
an evaluator's edit of a notebook is the one that runs.
"""

from __future__ import annotations

from pathlib import Path

#: The package folder, and the repository above ``src/`` when the package runs from a checkout.
PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parents[1]


def _folder(checkout_relative: str, packaged: str) -> Path:
    checkout = CHECKOUT / checkout_relative
    if checkout.is_dir():
        return checkout
    return PACKAGE / packaged


#: The study's notebooks (jupytext ``.py`` files).
NOTEBOOKS = _folder("notebooks", "notebooks")
#: The survey instruments (item wording in both languages).
INSTRUMENTS = _folder("data/instruments", "instruments")
#: The built-in specification grid of the specification curve (``robustness.specifications``).
SPECIFICATION_GRID = PACKAGE / "robustness" / "specifications.yaml"
