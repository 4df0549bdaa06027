"""``evaluation compare RUN_A RUN_B``: what differs between two finished runs.

What ``esttab``/``modelsummary`` give Stata and R users across models, for two runs of the
study: first the parameters that differ (the recorded ``params.yaml`` of each run, key by
key), then every number of ``results.json`` that moved, the headline first, then the
effects (matched by outcome, estimator and subgroup, not by position), the other numbers and
the tables; as text and as an HTML page.

A number "moved" when it differs beyond the tolerance ``evaluation verify`` uses for
reproduction (:data:`~evaluation.pipeline.verify.REL_TOL`, :data:`~evaluation.pipeline.verify.ABS_TOL`);
the run's own record (``provenance``), the list of exhibits and wall times are not compared.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.errors import RunError
from evaluation.pipeline.verify import ABS_TOL, REL_TOL
from evaluation.results.runfolder import finished_run_folder

#: Sections of results.json in the order the comparison shows them (headline first).
SECTIONS = ("headline", "effects", "numbers", "tables", "study", "skipped")
#: Not compared: the run's own record, the exhibits' titles and files, and wall times.
NOT_COMPARED = frozenset({"provenance", "exhibits", "kind"})
#: Numbers that measure the machine, not the data (wall times of notebook 06).
WALL_TIMES = frozenset({"timing_spec_curve"})
#: Fields that identify an entry of a list (an effect, a table row) across the two runs.
KEY_FIELDS = ("outcome", "estimator", "subgroup", "estimand", "key", "term", "table")


@dataclass(frozen=True)
class Change:
    """One parameter or number that differs: where, and its value in each run."""

    section: str
    path: str
    a: Any
    b: Any

    @property
    def delta(self) -> float | None:
        """``b - a`` for two numbers (not booleans); else ``None``."""
        if _is_number(self.a) and _is_number(self.b):
            return float(self.b) - float(self.a)
        return None


@dataclass(frozen=True)
class Comparison:
    """Two runs compared: the parameters that differ, then the numbers that moved."""

    run_a: Path
    run_b: Path
    parameters: tuple[Change, ...]
    numbers: tuple[Change, ...]
    compared: int


MISSING = "(absent)"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _moved(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return False
        return not math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a != b


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a JSON/YAML value as (dotted path, value); list entries named by their keys.

    An entry of a list of mappings is named by its identifying fields (``[outcome=...,
    estimator=...]``) when it has any, so that the same effect is compared across runs
    whatever its position; else by its position.
    """
    if isinstance(value, Mapping):
        if not value:
            yield path, {}
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            label = _label(item, i)
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                label = f"{label[:-1]}, #{seen[label]}]"
            yield from flatten({k: v for k, v in item.items() if k not in KEY_FIELDS},
                               f"{path}{label}")  # fmt: skip
    else:
        yield path, value


def _label(item: Mapping[str, Any], index: int) -> str:
    parts = [f"{f}={item[f]}" for f in KEY_FIELDS if isinstance(item.get(f), str | int)]
    return f"[{', '.join(parts)}]" if parts else f"[{index}]"


def diff(a: Mapping[str, Any], b: Mapping[str, Any], section: str) -> tuple[list[Change], int]:
    """The leaves of ``a`` and ``b`` that differ (absent on one side included), in order."""
    left, right = dict(flatten(a)), dict(flatten(b))
    keys = list(left) + [k for k in right if k not in left]
    changes = [
        Change(section, key, left.get(key, MISSING), right.get(key, MISSING))
        for key in keys
        if key not in left or key not in right or _moved(left[key], right[key])
    ]
    return changes, len(keys)


def _read_run(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    run = finished_run_folder(folder)
    try:
        results = json.loads((run / "results.json").read_text("utf-8"))
        params = yaml.safe_load((run / "params.yaml").read_text("utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RunError(
            f"{folder}: the run's results.json or params.yaml cannot be read "
            f"({type(exc).__name__}). Compare finished runs of this version."
        ) from None
    return results, params


def compare_runs(run_a: Path | str, run_b: Path | str) -> Comparison:
    """Compare two finished run folders (see the module docstring).

    Raises
    ------
    RunError
        A folder that is not a finished run (exit code 4).
    """
    run_a, run_b = Path(run_a), Path(run_b)
    results_a, params_a = _read_run(run_a)
    results_b, params_b = _read_run(run_b)
    parameters, compared = diff(params_a, params_b, "parameters")
    numbers: list[Change] = []
    sections = [*SECTIONS, *sorted((set(results_a) | set(results_b)) - set(SECTIONS))]
    for section in sections:
        if section in NOT_COMPARED:
            continue
        a, b = results_a.get(section, {}), results_b.get(section, {})
        if section == "numbers":
            a = {k: v for k, v in a.items() if k not in WALL_TIMES}
            b = {k: v for k, v in b.items() if k not in WALL_TIMES}
        found, n = diff({section: a}, {section: b}, section)
        numbers += found
        compared += n
    return Comparison(run_a, run_b, tuple(parameters), tuple(numbers), compared)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def _line(change: Change) -> str:
    delta = change.delta
    moved = f" ({delta:+.6g})" if delta is not None else ""
    return f"  {change.path}: {_show(change.a)} -> {_show(change.b)}{moved}"


def text_lines(result: Comparison) -> list[str]:
    """The comparison as text: parameters, then the numbers by section (headline first)."""
    lines = [f"A: {result.run_a}", f"B: {result.run_b}", ""]
    lines.append(f"Parameters that differ ({len(result.parameters)}):")
    lines += [_line(c) for c in result.parameters] or ["  (none)"]
    lines.append("")
    lines.append(f"Numbers that moved ({len(result.numbers)} of {result.compared} values "
                 "compared, parameters included):")  # fmt: skip
    if not result.numbers:
        lines.append("  (none: every number of the two runs agrees)")
    for section in dict.fromkeys(c.section for c in result.numbers):
        lines.append(f" {section}:")
        lines += [_line(c) for c in result.numbers if c.section == section]
    return lines


def html_page(result: Comparison) -> str:
    """The comparison as a standalone HTML page (one table per section)."""

    def table(changes: list[Change]) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(c.path)}</code></td><td>{html.escape(_show(c.a))}</td>"
            f"<td>{html.escape(_show(c.b))}</td>"
            f"<td>{'' if c.delta is None else html.escape(f'{c.delta:+.6g}')}</td></tr>"
            for c in changes
        )
        return ("<table><thead><tr><th>Key</th><th>A</th><th>B</th><th>B \u2212 A</th></tr>"
                f"</thead><tbody>{rows}</tbody></table>")  # fmt: skip

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Comparison of two runs</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;"
        "padding:.2em .5em;text-align:left}td:nth-child(n+2){font-variant-numeric:tabular-nums}"
        "</style></head><body>",
        "<h1>Comparison of two runs</h1>",
        f"<p>A: <code>{html.escape(str(result.run_a))}</code><br>"
        f"B: <code>{html.escape(str(result.run_b))}</code></p>",
        "<p>Two runs side by side can show what neither shows alone (a count that differs by "
        "a few persons): share this page only where both runs may be shared together.</p>",
        f"<h2>Parameters that differ ({len(result.parameters)})</h2>",
        table(list(result.parameters)) if result.parameters else "<p>None.</p>",
        f"<h2>Numbers that moved ({len(result.numbers)} of {result.compared} values compared)</h2>",
    ]
    if not result.numbers:
        parts.append("<p>None: every number of the two runs agrees.</p>")
    for section in dict.fromkeys(c.section for c in result.numbers):
        parts.append(f"<h3>{html.escape(section)}</h3>")
        parts.append(table([c for c in result.numbers if c.section == section]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
