"""The study's text catalogue: every sentence, label and category name, keyed, per language.

See :mod:`evaluation.text.catalogue` for the layout of the catalogue files. Use::

    from evaluation.text import catalogue

    T = catalogue("sv")
    T["h_summary"]                              # a text
    T.format("figure.effect_ci", outcome="…")   # a label with fields
    T.category("education", "post_secondary")   # a category value's label
"""

from evaluation.text.catalogue import LANGUAGES, Catalogue, TextKeyError, catalogue, load

__all__ = ["LANGUAGES", "Catalogue", "TextKeyError", "catalogue", "load"]
