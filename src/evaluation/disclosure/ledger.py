"""The disclosure ledger: for every published value, the persons whose number it gives away.

A published count of persons gives away how many persons are in a set; so does a share (its
numerator, once the denominator is known), a standardised mean difference of a 0/1 term (the
number of persons with the term in each group) or an effect's sample sizes. The ledger keeps,
for each such value, *where* it is published and *which persons* it counts. It is person-level
and private: it is written beside the run's scratch data, never into the run folder, and read
only by the disclosure audit (:mod:`evaluation.disclosure.audit`), which works out from all
published values together whether a count below the threshold can be solved for, and hides
what it must before anything is published.

Where a value is published is a path into ``results.json``:

* ``("numbers", key, *subkeys)`` — a registered number (or a field inside it);
* ``("tables", key, row, column)`` — a cell of a registered table, ``row`` being the value of
  the table's first (index) column as written, ``column`` the column's name;
* ``("effects", notebook, index, field)`` — the ``index``-th effect a notebook registered,
  ``field`` ``"n_treated"`` or ``"n_control"`` (the estimate itself rests on those persons).

Kinds of fact (:data:`KINDS`): ``count`` (the value is the number of persons, or is computed
from it exactly, such as a share over a known denominator), ``sample`` (the value is a
statistic on these persons; it gives away their number only where the number is shown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: What a fact says of its persons (see the module docstring).
KINDS = ("count", "sample")

Where = tuple[Any, ...]


def person_ids(persons: Any) -> np.ndarray:
    """Sorted unique person ids as a string array (from a Series, index, array or list)."""
    if isinstance(persons, pd.DataFrame):
        persons = persons["person_id"]
    values = np.asarray(persons, dtype=object).ravel()
    missing = pd.isna(values)
    if missing.any():
        values = values[~missing]
    # on the object array, not through a Series: a chapter records thousands of facts
    return np.unique(values.astype(str))


@dataclass(frozen=True)
class Fact:
    """One published value and the persons whose number it gives away.

    Attributes
    ----------
    where
        The path of the value in ``results.json`` (see the module docstring).
    persons
        The persons (ids, sorted, unique). Private: never published.
    kind
        ``"count"`` or ``"sample"`` (:data:`KINDS`).
    """

    where: Where
    persons: np.ndarray = field(repr=False, compare=False)
    kind: str = "count"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of fact {self.kind!r}; choose from {KINDS}")

    @property
    def n(self) -> int:
        """How many persons."""
        return int(len(self.persons))


def fact(where: Sequence[Any], persons: Any, kind: str = "count") -> Fact:
    """A :class:`Fact` from any collection of person ids."""
    return Fact(tuple(where), person_ids(persons), kind)


@dataclass
class Ledger:
    """The facts of one notebook, in the order they were recorded."""

    notebook: str
    facts: list[Fact] = field(default_factory=list)

    def add(self, where: Sequence[Any], persons: Any, kind: str = "count") -> None:
        """Record that the value at ``where`` gives away the number of ``persons``."""
        self.facts.append(fact(where, persons, kind))

    def extend(self, facts: Iterable[Fact], prefix: Sequence[Any] = ()) -> None:
        """Record facts made by a chapter function, their paths under ``prefix``."""
        for f in facts:
            self.facts.append(Fact(tuple(prefix) + f.where, f.persons, f.kind))

    def __iter__(self) -> Iterator[Fact]:
        return iter(self.facts)

    def __len__(self) -> int:
        return len(self.facts)

    def save(self, path: Path) -> Path:
        """Write the ledger (person-level: ``path`` must be in a private folder).

        One ``.npz`` file: the persons named by any fact once, and one bit per fact and person
        (a register-sized pool of 500 000 costs 62.5 kB per fact).
        """
        universe = (
            np.unique(np.concatenate([f.persons for f in self.facts]))
            if self.facts
            else np.array([], dtype=str)
        )
        bits = np.zeros((len(self.facts), (len(universe) + 7) // 8), dtype=np.uint8)
        for i, f in enumerate(self.facts):
            member = np.zeros(len(universe), dtype=bool)
            member[np.searchsorted(universe, f.persons)] = True
            bits[i] = np.packbits(member)
        meta = json.dumps({"notebook": self.notebook,
                           "facts": [{"where": list(f.where), "kind": f.kind}
                                     for f in self.facts]}, default=str)  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, universe=universe.astype(str), bits=bits,
                                meta=np.array(meta))  # fmt: skip
        return path

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """Read a ledger written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            universe, bits, meta = z["universe"], z["bits"], json.loads(str(z["meta"]))
        facts = []
        for i, info in enumerate(meta["facts"]):
            member = np.unpackbits(bits[i], count=len(universe)).astype(bool)
            facts.append(Fact(tuple(info["where"]), universe[member], info["kind"]))
        return cls(meta["notebook"], facts)


def row_key(index_value: Any) -> str:
    """How a table row is named in a fact's path: its index value(s) as written."""
    if isinstance(index_value, tuple):
        return " | ".join(str(v) for v in index_value)
    return str(index_value)


@dataclass(frozen=True)
class PublishedTable:
    """A table as it will be published, with the facts its cells give away.

    Attributes
    ----------
    frame
        The table after primary disclosure control (counts below the threshold ``<k``,
        cells hidden to protect them ``..``).
    facts
        Paths ``(row, column)`` (:func:`row_key`) and the persons each cell counts. Private.
    """

    frame: pd.DataFrame
    facts: tuple[Fact, ...] = field(default=(), repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The published table."""
        return self.frame

    def _repr_html_(self) -> str:
        return self.frame.to_html(na_rep="")
