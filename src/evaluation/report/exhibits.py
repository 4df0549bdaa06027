"""The exhibit registry: every table, figure and number a notebook hands to the report.

A notebook creates one :class:`Recorder` and passes every exhibit through it. The recorder

* writes tables as CSV (after disclosure control) and figures as PNG and SVG,
* registers each exhibit with the notebook and the function that made it and its file,
* collects numbers and effect estimates,

and ``save()`` writes ``results/<notebook>.json``. The runner merges these files into the run's
``results.json``; the report reads only that file and the tables and figures registered in it.
The reproducibility appendix and the README's list of exhibits are generated from the registry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.estimate.results import EffectResult
from evaluation.report.disclosure import protect_counts, suppressed_label

#: Counts of persons an effect's ``spec`` may carry (shown ``<k`` below the threshold).
SPEC_COUNTS = ("n_unmatched_treated", "n_missing_outcome_dropped")

#: Metadata keys matplotlib writes into PNG/SVG that would break "same run, same bytes".
_STABLE_PNG = {"Software": None}
_STABLE_SVG = {"Date": None, "Creator": None}


@dataclass(frozen=True)
class Exhibit:
    """One registered exhibit."""

    key: str
    kind: str  # "table" | "figure" | "number"
    title: str
    notebook: str
    made_by: str
    files: tuple[str, ...] = ()
    alt: str = ""
    note: str = ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA or value is None:
        return None
    return value


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
    """

    def __init__(
        self, run_dir: str | Path, notebook: str, *, min_cell: int, language: str = "en"
    ) -> None:
        self.run_dir = Path(run_dir)
        self.notebook = notebook
        self.min_cell = int(min_cell)
        #: the report's language: figures' number ticks are written in its format
        self.language = language
        self._exhibits: list[Exhibit] = []
        self._numbers: dict[str, Any] = {}
        self._effects: list[dict[str, Any]] = []
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._skipped: dict[str, str] = {}
        self._measured: dict[str, Any] = {}
        for sub in ("tables", "figures", "results"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)

    def _register(self, exhibit: Exhibit) -> None:
        if any(e.key == exhibit.key for e in self._exhibits):
            raise ValueError(f"exhibit '{exhibit.key}' registered twice in {self.notebook}")
        self._exhibits.append(exhibit)

    def table(
        self,
        key: str,
        frame: pd.DataFrame,
        *,
        title: str,
        made_by: str,
        count_table: bool = False,
        note: str = "",
    ) -> pd.DataFrame:
        """Write a table (CSV) after disclosure control and register it.

        Parameters
        ----------
        key
            File stem and registry key (unique within the run).
        frame
            The table (index written as the first column(s)).
        title
            What the table shows.
        made_by
            The function (or parameter) that made it.
        note
            A note shown with the table.
        count_table
            ``True`` if the cells are counts: they pass :func:`protect_counts`. Otherwise the
            caller has applied :func:`~evaluation.report.disclosure.withhold_small` to
            statistics resting on few persons.

        Returns
        -------
        pandas.DataFrame
            The table as written (what the notebook should display).
        """
        shown = protect_counts(frame, self.min_cell).table if count_table else frame.copy()
        path = self.run_dir / "tables" / f"{key}.csv"
        shown.to_csv(path, index=True, lineterminator="\n")
        rel = str(path.relative_to(self.run_dir))
        self._tables[key] = json.loads(shown.reset_index().to_json(orient="records"))
        self._register(Exhibit(key, "table", title, self.notebook, made_by, (rel,), note=note))
        return shown

    def figure(self, key: str, fig: Any, *, title: str, alt: str, made_by: str) -> None:
        """Write a matplotlib figure as PNG and SVG (stable bytes) and register it.

        Number ticks are put in the report language's format first (Swedish decimal comma;
        :func:`~evaluation.report.labels.localise_axes`, which leaves text ticks alone).
        """
        from evaluation.report.labels import localise_axes

        localise_axes(fig, self.language)
        png = self.run_dir / "figures" / f"{key}.png"
        svg = self.run_dir / "figures" / f"{key}.svg"
        fig.savefig(png, dpi=110, bbox_inches="tight", metadata=_STABLE_PNG)
        fig.savefig(svg, bbox_inches="tight", metadata=_STABLE_SVG)
        files = (str(png.relative_to(self.run_dir)), str(svg.relative_to(self.run_dir)))
        self._register(Exhibit(key, "figure", title, self.notebook, made_by, files, alt=alt))

    def number(self, key: str, value: Any, *, title: str, made_by: str) -> Any:
        """Register one number the report may quote."""
        if key in self._numbers:
            raise ValueError(f"number '{key}' registered twice in {self.notebook}")
        self._numbers[key] = _jsonable(value)
        self._register(Exhibit(key, "number", title, self.notebook, made_by))
        return value

    def measured(self, key: str, value: Any, *, title: str, made_by: str) -> Any:
        """Register a value that measures the machine, not the study (a wall time, a speed-up).

        It goes into ``results.json`` under ``provenance.measured``, never among the results,
        so that two runs of the same parameters give the same results byte for byte (and
        ``evaluation verify`` compares every one of them); the report may quote it from there.
        """
        if key in self._measured or key in self._numbers:
            raise ValueError(f"number '{key}' registered twice in {self.notebook}")
        self._measured[key] = _jsonable(value)
        self._register(Exhibit(key, "number", title, self.notebook, made_by))
        return value

    def count(self, key: str, n: int, *, title: str, made_by: str) -> int | str:
        """Register a count of persons; below the disclosure threshold it is stored as ``"<k"``.

        Returns what was stored (the count, or the suppressed label) for display.
        """
        n = int(n)
        shown: int | str = suppressed_label(self.min_cell) if 0 < n < self.min_cell else n
        self.number(key, shown, title=title, made_by=made_by)
        return shown

    def effects(self, results: Iterable[EffectResult], *, made_by: str) -> pd.DataFrame:
        """Register effect estimates (each becomes an entry of ``results.json`` ``effects``)."""
        rows = []
        for r in results:
            d = r.to_dict()
            spec = d.get("spec") or {}
            for key in SPEC_COUNTS:  # counts of persons inside the spec: primary suppression
                n = spec.get(key)
                if isinstance(n, int) and not isinstance(n, bool) and 0 < n < self.min_cell:
                    spec[key] = suppressed_label(self.min_cell)
            d["notebook"] = self.notebook
            d["made_by"] = made_by
            rows.append(_jsonable(d))
        self._effects.extend(rows)
        return pd.DataFrame(rows)

    def skipped(self, analysis: str, reason: str) -> None:
        """Record that an analysis was skipped (for example: an optional table is absent)."""
        self._skipped[analysis] = reason

    def save(self) -> Path:
        """Write ``results/<notebook>.json``; return its path relative to the run folder.

        Relative, because a notebook's last cell shows it and the run is built in a
        temporary folder (``.incomplete/``) that no longer exists once the run is done.
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
        path.write_text(json.dumps(_jsonable(out), indent=2, ensure_ascii=False) + "\n", "utf-8")
        return path.relative_to(self.run_dir)


README_START = "<!-- exhibits:start (generated by `evaluation exhibits --write-readme`) -->"
README_END = "<!-- exhibits:end -->"


def exhibit_list_markdown(results: dict[str, Any]) -> str:
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
