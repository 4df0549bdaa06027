"""Make a run folder say exactly what the disclosure audit leaves: tables, figures, notebooks.

After the notebooks ran and their results were merged, the disclosure audit
(:mod:`evaluation.disclosure.audit`) decides which published values must be hidden, looking
at all of them together. This module carries its decisions into every file of the run folder
that shows them: the merged results (done by :func:`evaluation.disclosure.audit.apply`), each
notebook's ``results/<notebook>.json``, the tables' CSV files, the figures drawn from a changed
table (drawn again from it, by the function registered with the figure) and the outputs of
the executed notebooks that show a changed table, figure or number (found by their exhibit tag,
:data:`~evaluation.results.recorder.EXHIBIT_METADATA`).
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import nbformat
import pandas as pd

from evaluation.disclosure.audit import AuditResult, apply, audit, is_hidden
from evaluation.disclosure.ledger import Ledger
from evaluation.protocol import resolve_made_by
from evaluation.results.recorder import EXHIBIT_METADATA, table_html, write_figure


def load_facts(private_dir: Path) -> list[Any]:
    """Every fact of every notebook's ledger in a run's private folder (sorted by notebook)."""
    folder = Path(private_dir) / "ledger"
    return [f for path in sorted(folder.glob("*.npz")) for f in Ledger.load(path)]


def audit_run(
    run_dir: Path, results: dict[str, Any], private_dir: Path, *, min_cell: int, language: str
) -> AuditResult:
    """Audit a merged run, hide what it decides in ``results`` and in the run folder's files.

    Returns the audit's result (its record goes into ``provenance``).
    """
    result = audit(results, load_facts(private_dir), min_cell)
    if not result.decisions:
        return result
    changed = apply(results, result)
    write_parts(run_dir, results)
    exhibits = {e["key"]: e for e in results["exhibits"]}
    for key in sorted(changed):
        write_table_csv(run_dir, key, results["tables"][key], exhibits[key])
    redrawn = redraw_figures(run_dir, results, changed, min_cell=min_cell, language=language)
    numbers = {str(d.where[1]) for d in result.decisions if d.where[0] == "numbers"}
    retag_notebooks(run_dir, results, changed | redrawn | numbers)
    return result


def write_parts(run_dir: Path, results: dict[str, Any]) -> None:
    """Write each notebook's results file again from the merged (audited) results."""
    for path in sorted((run_dir / "results").glob("*.json")):
        part = json.loads(path.read_text("utf-8"))
        name = part["notebook"]
        part["numbers"] = {k: results["numbers"][k] for k in part["numbers"]}
        part["tables"] = {k: results["tables"][k] for k in part["tables"]}
        part["effects"] = [e for e in results["effects"] if e.get("notebook") == name]
        path.write_text(json.dumps(part, indent=2, ensure_ascii=False) + "\n", "utf-8")


def table_frame(rows: list[dict[str, Any]], exhibit: dict[str, Any]) -> pd.DataFrame:
    """A registered table as a frame again, with its index (from the exhibit's ``index``)."""
    frame = pd.DataFrame(rows)
    index = [c for c in exhibit.get("index") or () if c in frame.columns]
    return frame.set_index(index) if index else frame


def write_table_csv(run_dir: Path, key: str, rows: list[dict[str, Any]],
                    exhibit: dict[str, Any]) -> None:  # fmt: skip
    """Put the hidden cells of a table's records into its CSV file.

    A CSV laid out as the records (one header line, one line a row) keeps every other cell as
    written; any other layout (several header lines) is written from the records.
    """
    path = run_dir / exhibit["files"][0]
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    names = list(rows[0]) if rows else []
    header = [name or names[i] for i, name in enumerate(table[0])] if table else []
    if header == names and len(table) == len(rows) + 1:
        for i, row in enumerate(rows):
            for j, value in enumerate(row.values()):
                if isinstance(value, str) and is_hidden(value):
                    table[i + 1][j] = value
    else:
        table = [names] + [["" if v is None else v for v in r.values()] for r in rows]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def redraw_figures(run_dir: Path, results: dict[str, Any], changed: set[str], *,
                   min_cell: int, language: str) -> set[str]:  # fmt: skip
    """Draw again every figure whose source table changed; return their keys."""
    exhibits = {e["key"]: e for e in results["exhibits"]}
    redrawn = set()
    for ex in results["exhibits"]:
        if ex["kind"] != "figure" or ex.get("source") not in changed:
            continue
        draw = resolve_made_by(ex["draw"])
        table = table_frame(results["tables"][ex["source"]], exhibits[ex["source"]])
        fig = draw(table, language=language, min_cell=min_cell, **(ex.get("options") or {}))
        write_figure(run_dir, ex["key"], fig, language)
        plt.close(fig)
        redrawn.add(ex["key"])
    return redrawn


def retag_notebooks(run_dir: Path, results: dict[str, Any], keys: set[str]) -> None:
    """Replace the outputs of executed notebooks that show a changed table, figure or number."""
    if not keys:
        return
    exhibits = {e["key"]: e for e in results["exhibits"]}
    for path in sorted((run_dir / "notebooks").glob("**/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        touched = False
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                key = out.get("metadata", {}).get(EXHIBIT_METADATA)
                if key in keys:
                    out["data"] = _rendering(run_dir, results, exhibits[key])
                    touched = True
        if touched:
            nbformat.write(nb, path)


def _rendering(run_dir: Path, results: dict[str, Any], ex: dict[str, Any]) -> dict[str, str]:
    if ex["kind"] == "figure":
        png = (run_dir / ex["files"][0]).read_bytes()
        return {"image/png": base64.b64encode(png).decode("ascii"),
                "text/plain": f"<figure {ex['key']}>"}  # fmt: skip
    if ex["kind"] == "number":  # as Recorder.show writes it
        return {"text/plain": json.dumps(results["numbers"][ex["key"]], indent=1,
                                         ensure_ascii=False)}  # fmt: skip
    frame = table_frame(results["tables"][ex["key"]], ex)
    return {"text/html": table_html(frame), "text/plain": frame.to_string()}
