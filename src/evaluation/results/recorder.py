"""The recorder: every table, figure, number and estimate a notebook hands to the run.

A notebook creates one :class:`Recorder` and passes every exhibit through it. The recorder

* writes tables as CSV (counts after primary suppression) and figures as PNG and SVG,
* registers each exhibit with the notebook and the code object that made it (``made_by`` is
  taken from the function or result, :func:`evaluation.protocol.made_by`; a hand-typed name
  is accepted only for a parameter, ``"params: section.key"``, or a shipped file),
* collects numbers, result records and effect estimates,
* keeps, privately, the disclosure ledger: for every published value the persons whose number
  it gives away (:mod:`evaluation.disclosure.ledger`), for the run's disclosure audit,

and ``save()`` writes ``results/<notebook>.json`` (and the ledger beside the scratch data).
The runner merges the results files into ``results.json`` (checked against
``results/schema.json``); the report reads only that file and the registered files.

Notebooks show what they record through :meth:`Recorder.show`: the output carries the
exhibit's key, so that what the audit later hides is hidden in the executed notebook too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from evaluation.disclosure.ledger import Fact, Ledger, PublishedTable, person_ids
from evaluation.disclosure.rules import protect_counts, suppressed_label
from evaluation.plots.theme import localise_axes
from evaluation.protocol import (
    FILE_PREFIX,
    PARAMS_PREFIX,
    Skipped,
    jsonable,
    made_by,
    resolve_made_by,
)

#: Counts of persons an effect's ``spec`` may carry (shown ``<k`` below the threshold).
SPEC_COUNTS = ("n_unmatched_treated", "n_missing_outcome_dropped")

#: Metadata keys matplotlib writes into PNG/SVG that would break "same run, same bytes".
_STABLE_PNG = {"Software": None}
_STABLE_SVG = {"Date": None, "Creator": None}

#: The metadata key that ties a notebook output to the exhibit it shows.
EXHIBIT_METADATA = "evaluation_exhibit"


@dataclass(frozen=True)
class Exhibit:
    """One registered exhibit.

    ``draw``, ``source`` and ``options`` are set for a figure drawn from a registered table
    (:meth:`Recorder.plot`): the function that draws it, the table, and its options, so the
    run can draw it again from the table as published. ``index`` names a table's index
    columns (the first columns of its CSV and of its records in ``results.json``).
    """

    key: str
    kind: str  # "table" | "figure" | "number"
    title: str
    notebook: str
    made_by: str
    files: tuple[str, ...] = ()
    alt: str = ""
    note: str = ""
    draw: str = ""
    source: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    index: tuple[str, ...] = ()


def source_name(source: Any) -> str:
    """``made_by`` of what made a value: a code object, a result, or a parameter/file source.

    Raises
    ------
    ValueError
        A string that is neither ``"params: ..."``, ``"file: ..."`` nor an importable name.
    """
    if isinstance(source, str):
        if source.startswith((PARAMS_PREFIX, FILE_PREFIX)):
            return source
        try:
            resolve_made_by(source)
        except LookupError as exc:
            raise ValueError(
                f"made_by {source!r} is neither a code object, an importable name, nor a "
                "'params: ...' or 'file: ...' source"
            ) from exc
        return source
    return made_by(source)


class _Shown:
    """What :meth:`Recorder.show` returns: renders in Jupyter with the exhibit's key."""

    def __init__(self, key: str, data: dict[str, Any]) -> None:
        self._key = key
        self._data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return self._data, {EXHIBIT_METADATA: self._key}


def table_html(frame: pd.DataFrame) -> str:
    """How a registered table is shown in a notebook (index as written, empty for missing)."""
    return frame.to_html(na_rep="", border=0, classes="exhibit")


class Recorder:
    """Collect a notebook's exhibits, numbers and effects for the run.

    Parameters
    ----------
    run_dir
        The run folder (tables/, figures/ and results/ are created inside).
    notebook
        The notebook's name, e.g. ``"01_data"``.
    min_cell
        Disclosure threshold for counts.
    language
        The report's language: figures' number ticks are written in its format.
    private_dir
        The run's private scratch folder: the disclosure ledger is written there
        (``ledger/<notebook>.npz``). ``None``: no ledger is kept (benchmark runs on public
        data).
    """

    def __init__(
        self,
        run_dir: str | Path,
        notebook: str,
        *,
        min_cell: int,
        language: str = "en",
        private_dir: str | Path | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.notebook = notebook
        self.min_cell = int(min_cell)
        self.language = language
        self.private_dir = Path(private_dir) if private_dir is not None else None
        self.ledger = Ledger(notebook)
        self._exhibits: list[Exhibit] = []
        self._numbers: dict[str, Any] = {}
        self._effects: list[dict[str, Any]] = []
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._frames: dict[str, pd.DataFrame] = {}
        self._skipped: dict[str, str] = {}
        self._measured: dict[str, Any] = {}
        self._absent: dict[str, str] = {}
        for sub in ("tables", "figures", "results"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)

    # --- registry --------------------------------------------------------------------------
    def _register(self, exhibit: Exhibit) -> None:
        if any(e.key == exhibit.key for e in self._exhibits):
            raise ValueError(f"exhibit '{exhibit.key}' registered twice in {self.notebook}")
        self._exhibits.append(exhibit)

    def _absent_as(self, key: str, value: Any) -> bool:
        """Note an exhibit a chapter did not compute (:class:`~evaluation.protocol.Skipped`)."""
        if isinstance(value, Skipped):
            self._absent[key] = value.reason
            return True
        return False

    def _reveal(self, prefix: tuple[Any, ...], reveals: Iterable[Fact]) -> None:
        self.ledger.extend(reveals, prefix=prefix)

    # --- numbers ---------------------------------------------------------------------------
    def number(
        self,
        key: str,
        value: Any,
        *,
        title: str,
        made_by: Any,
        reveals: Iterable[Fact] = (),
    ) -> Any:
        """Register one number (or a dict of numbers) the report may quote.

        ``reveals``: facts whose paths are relative to the number (``()`` for the number
        itself, ``("first",)`` for a field of it). A :class:`~evaluation.protocol.Skipped`
        value registers nothing.
        """
        if self._absent_as(key, value):
            return value
        if key in self._numbers:
            raise ValueError(f"number '{key}' registered twice in {self.notebook}")
        self._numbers[key] = jsonable(value)
        self._register(Exhibit(key, "number", title, self.notebook, source_name(made_by)))
        self._reveal(("numbers", key), reveals)
        return value

    def measured(self, key: str, value: Any, *, title: str, made_by: Any) -> Any:
        """Register a value that measures the machine, not the study (a wall time, a speed-up).

        It goes into ``results.json`` under ``provenance.measured``, never among the results,
        so that two runs of the same parameters give the same results byte for byte (and
        ``evaluation verify`` compares every one of them); the report may quote it from there.
        It says nothing about persons, so it has no ledger entry.
        """
        if key in self._measured or key in self._numbers:
            raise ValueError(f"number '{key}' registered twice in {self.notebook}")
        self._measured[key] = jsonable(value)
        self._register(Exhibit(key, "number", title, self.notebook, source_name(made_by)))
        return value

    def count(self, key: str, persons: Any, *, title: str, made_by: Any) -> int | str:
        """Register a count of persons; below the disclosure threshold it is stored as ``<k``.

        ``persons``: the persons counted (ids: a Series, array or list), so that the audit
        knows whom the count counts. A bare integer is accepted for counts of things that
        are not persons of the inputs.

        Returns what was stored (the count, or the suppressed label) for display.
        A :class:`~evaluation.protocol.Skipped` count registers nothing.
        """
        if self._absent_as(key, persons):
            return persons
        if isinstance(persons, int | float) and not isinstance(persons, bool):
            n, reveals = int(persons), ()
        else:
            fact = Fact((), person_ids(persons))
            n, reveals = fact.n, (fact,)
        shown: int | str = suppressed_label(self.min_cell) if 0 < n < self.min_cell else n
        self.number(key, shown, title=title, made_by=made_by, reveals=reveals)
        return shown

    def result(self, key: str, res: Any, *, title: str, made_by: Any = None,
               reveals: Iterable[Fact] = ()) -> Any:  # fmt: skip
        """Register a result object (the protocol's ``to_record()``) as a number.

        ``made_by`` defaults to the result itself (the function that produced it, or its
        class): :func:`evaluation.protocol.made_by`.
        """
        own = getattr(res, "facts", None)
        facts = [*reveals, *(own() if callable(own) else ())]
        self.number(key, res.to_record(), title=title,
                    made_by=made_by if made_by is not None else res, reveals=facts)  # fmt: skip
        return res

    # --- tables ----------------------------------------------------------------------------
    def table(
        self,
        key: str,
        frame: pd.DataFrame | PublishedTable,
        *,
        title: str,
        made_by: Any = None,
        count_table: bool = False,
        note: str = "",
        reveals: Iterable[Fact] = (),
    ) -> pd.DataFrame:
        """Write a table (CSV) after disclosure control and register it.

        Parameters
        ----------
        key
            File stem and registry key (unique within the run).
        frame
            The table (index written as the first column(s)), or a
            :class:`~evaluation.disclosure.ledger.PublishedTable` (its facts are recorded,
            and it is its own ``made_by`` unless one is given).
        title
            What the table shows.
        made_by
            The function (or result) that made it, or a ``params:`` source.
        count_table
            ``True`` if the cells are counts: they pass
            :func:`~evaluation.disclosure.rules.protect_counts`. Otherwise the caller has
            applied :func:`~evaluation.disclosure.rules.withhold_small` to statistics
            resting on few persons.
        note
            A note shown with the table.
        reveals
            Facts whose paths are ``(row, column)`` of this table.

        Returns
        -------
        pandas.DataFrame
            The table as written (what the notebook shows); empty for a
            :class:`~evaluation.protocol.Skipped` table, which registers nothing.
        """
        if self._absent_as(key, frame):
            return pd.DataFrame()
        if isinstance(frame, PublishedTable):
            reveals = [*frame.facts, *reveals]
            made_by = frame if made_by is None else made_by
            frame = frame.frame
        if made_by is None:
            raise TypeError(f"table {key}: made_by is needed for a plain DataFrame")
        shown = protect_counts(frame, self.min_cell).table if count_table else frame.copy()
        path = self.run_dir / "tables" / f"{key}.csv"
        shown.to_csv(path, index=True, lineterminator="\n")
        rel = str(path.relative_to(self.run_dir))
        self._tables[key] = json.loads(shown.reset_index().to_json(orient="records"))
        self._frames[key] = shown
        index = tuple(shown.reset_index().columns[: shown.index.nlevels].astype(str))
        self._register(Exhibit(key, "table", title, self.notebook, source_name(made_by), (rel,),
                               note=note, index=index))  # fmt: skip
        self._reveal(("tables", key), reveals)
        return shown

    def published(self, key: str) -> pd.DataFrame:
        """A table of this notebook as written (after primary disclosure control)."""
        return self._frames[key].copy()

    # --- figures ---------------------------------------------------------------------------
    def _save_figure(self, key: str, fig: Any) -> tuple[str, str]:
        return write_figure(self.run_dir, key, fig, self.language)

    def figure(self, key: str, fig: Any, *, title: str, alt: str, made_by: Any) -> None:
        """Write a matplotlib figure as PNG and SVG (stable bytes) and register it.

        Prefer :meth:`plot`, which draws the figure from a registered table.
        """
        files = self._save_figure(key, fig)
        self._register(
            Exhibit(key, "figure", title, self.notebook, source_name(made_by), files, alt=alt)
        )

    def plot(
        self,
        key: str,
        draw: Callable[..., Any],
        source: str,
        *,
        title: str,
        alt: str,
        **options: Any,
    ) -> Any:
        """Draw a figure from a registered table as published, save it and register it.

        ``draw(table, language=..., min_cell=..., **options)`` returns a matplotlib figure;
        it sees only the published table, so the figure cannot show what the table hides,
        and the run can draw it again from the table as the audit leaves it. ``options``
        must be JSON-ready. Returns the figure (closed: show it with :meth:`show`). A source
        table that was skipped (:class:`~evaluation.protocol.Skipped`) skips the figure too.
        """
        if source in self._absent:
            self._absent[key] = self._absent[source]
            return None
        table = self.published(source)
        fig = draw(table, language=self.language, min_cell=self.min_cell, **options)
        files = self._save_figure(key, fig)
        plt.close(fig)
        self._register(
            Exhibit(key, "figure", title, self.notebook, made_by(draw), files, alt=alt,
                    draw=made_by(draw), source=source, options=jsonable(options))
        )  # fmt: skip
        return fig

    # --- estimates -------------------------------------------------------------------------
    def effects(self, results: Iterable[Any], *, made_by: Any = None) -> pd.DataFrame:
        """Register effect estimates (each becomes an entry of ``results.json`` ``effects``).

        ``made_by`` defaults to each result's own maker (:func:`evaluation.protocol.made_by`).
        An effect that carries its persons (``EffectResult.persons``) records that its sample
        sizes count them. :class:`~evaluation.protocol.Skipped` records none.
        """
        if isinstance(results, Skipped):
            return pd.DataFrame()
        rows = []
        for r in results:
            d = r.to_dict()
            spec = d.get("spec") or {}
            for name in SPEC_COUNTS:  # counts of persons inside the spec: primary suppression
                n = spec.get(name)
                if isinstance(n, int) and not isinstance(n, bool) and 0 < n < self.min_cell:
                    spec[name] = suppressed_label(self.min_cell)
            d["notebook"] = self.notebook
            d["made_by"] = source_name(made_by if made_by is not None else r)
            index = len(self._effects) + len(rows)
            persons = getattr(r, "persons", None)
            if persons is not None:
                for fieldname, ids in zip(("n_treated", "n_control"), persons, strict=True):
                    self.ledger.add(("effects", self.notebook, index, fieldname), ids)
            for path, ids in (getattr(r, "spec_persons", None) or {}).items():
                self.ledger.add(("effects", self.notebook, index, "spec", *path), ids)
            rows.append(jsonable(d))
        self._effects.extend(rows)
        return pd.DataFrame(rows)

    def skipped(self, analysis: str, reason: str) -> None:
        """Record that an analysis was skipped (for example: an optional table is absent)."""
        self._skipped[analysis] = reason

    # --- showing ---------------------------------------------------------------------------
    def show(self, key: str) -> _Shown:
        """A registered table or figure for display, tagged with its key.

        The run's disclosure audit may hide more after all notebooks ran; it finds the
        outputs to redo by this tag, so the executed notebook never shows what the report
        hides. An exhibit the chapter skipped shows why.
        """
        if key in self._absent:
            return _Shown(key, {"text/plain": f"not computed: {self._absent[key]}"})
        ex = next((e for e in self._exhibits if e.key == key), None)
        if ex is None:
            raise KeyError(f"no exhibit '{key}' registered in {self.notebook}")
        if ex.kind == "table":
            return _Shown(key, {"text/html": table_html(self._frames[key]),
                                "text/plain": self._frames[key].to_string()})  # fmt: skip
        if ex.kind == "figure":
            png = (self.run_dir / ex.files[0]).read_bytes()
            return _Shown(key, {"image/png": _b64(png), "text/plain": f"<figure {key}>"})
        value = json.dumps(self._numbers[key], indent=1, ensure_ascii=False)
        return _Shown(key, {"text/plain": value})

    # --- saving ----------------------------------------------------------------------------
    def save(self) -> Path:
        """Write ``results/<notebook>.json`` (and the ledger, privately); return its path.

        The path is relative to the run folder, because a notebook's last cell shows it and
        the run is built in a temporary folder that no longer exists once the run is done.
        """
        out = {
            "notebook": self.notebook,
            "numbers": self._numbers,
            "effects": self._effects,
            "tables": self._tables,
            "skipped": self._skipped,
            "exhibits": [asdict(e) for e in self._exhibits],
            "measured": self._measured,
        }
        path = self.run_dir / "results" / f"{self.notebook}.json"
        path.write_text(json.dumps(jsonable(out), indent=2, ensure_ascii=False) + "\n", "utf-8")
        if self.private_dir is not None:
            self.ledger.save(ledger_path(self.private_dir, self.notebook))
        return path.relative_to(self.run_dir)


def write_figure(run_dir: Path, key: str, fig: Any, language: str) -> tuple[str, str]:
    """Write a figure as PNG and SVG with stable bytes; return the files, run-relative.

    Number ticks are put in the report language's format first (Swedish decimal comma).
    """
    localise_axes(fig, language)
    png = run_dir / "figures" / f"{key}.png"
    svg = run_dir / "figures" / f"{key}.svg"
    fig.savefig(png, dpi=110, bbox_inches="tight", metadata=_STABLE_PNG)
    fig.savefig(svg, bbox_inches="tight", metadata=_STABLE_SVG)
    return str(png.relative_to(run_dir)), str(svg.relative_to(run_dir))


def ledger_path(private_dir: Path, notebook: str) -> Path:
    """Where a notebook's disclosure ledger is kept in the run's private folder."""
    return Path(private_dir) / "ledger" / f"{Path(notebook).name}.npz"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


README_START = "<!-- exhibits:start (generated by `evaluation exhibits --write-readme`) -->"
README_END = "<!-- exhibits:end -->"


def exhibit_list_markdown(results: Mapping[str, Any]) -> str:
    """The list of exhibits as a Markdown table, from a run's registry."""
    lines = [
        "| exhibit | kind | title | notebook | made by | file(s) in the run folder |",
        "|---|---|---|---|---|---|",
    ]
    for ex in results["exhibits"]:
        files = ", ".join(f"`{f}`" for f in ex.get("files", [])) or "`results.json`"
        lines.append(
            f"| `{ex['key']}` | {ex['kind']} | {ex['title']} | {ex['notebook']} | "
            f"`{ex['made_by']}` | {files} |"
        )
    return "\n".join(lines)


def replace_readme_section(readme: str, table: str) -> str:
    """Put ``table`` between the exhibit markers of a README text."""
    if README_START not in readme or README_END not in readme:
        raise ValueError("the README has no exhibits markers")
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{table}\n{README_END}{tail}"
