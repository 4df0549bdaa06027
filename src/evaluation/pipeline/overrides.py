"""Command-line overrides of a parameter file: ``--set key=value`` and ``--language``.

A variant of a study (another language, another cost assumption, another estimator) needs no
copied parameter file: ``evaluation run --params params/default.yaml --set
costs.cost_per_participant=40000 --language sv``. The overrides are applied to the file's
YAML, the result is validated by the parameter model (:mod:`evaluation.config`) like any
parameter file, and the run records the parameters it ran with (``params.yaml`` of the run
folder: the file's keys with the overrides applied, and a comment naming them), so that
``evaluation verify`` re-executes the variant and not the file.

Keys are dotted paths of the parameter file (``estimation.headline.estimator``); values
are read as YAML (``12``, ``0.5``, ``true``, ``null``, ``[6, 12]``, ``{path: x.csv, sep:
';'}``, text). An unknown key is refused before anything runs (exit 2), with the keys known
at that level. Paths given for ``data.<table>`` (or ``data.<table>.path``) are relative to
the current folder, as paths on a command line are; those in the file stay relative to its
folder.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from evaluation.config import AnyParams, LalondeParams, Params, PoolingParams, parse_params
from evaluation.errors import ParamsError

#: The parameter model of each ``kind`` (the overrides are checked against it).
MODELS: dict[str, type[BaseModel]] = {
    "study": Params,
    "lalonde": LalondeParams,
    "pooling": PoolingParams,
}

#: The report languages ``--language`` accepts (``study.language``).
LANGUAGES = ("en", "sv")


@dataclass(frozen=True)
class Override:
    """One ``--set key=value``: the dotted key split into its parts, and the YAML value."""

    key: str
    parts: tuple[str, ...]
    value: Any
    given: str


def parse_override(given: str) -> Override:
    """``key=value`` as an :class:`Override`; a :class:`ParamsError` (exit 2) if malformed.

    The value is YAML: ``12`` an integer, ``0.5`` a float, ``true`` a boolean, ``null``
    nothing, ``[6, 12]`` a list, anything else text.
    """
    key, sep, text = given.partition("=")
    key = key.strip()
    parts = tuple(key.split("."))
    if not sep or not key or any(not p.strip() for p in parts):
        raise ParamsError(
            f"--set {given!r}: expected KEY=VALUE with a dotted key of the parameter file, "
            "e.g. --set estimation.headline.estimator=ipw or --set study.language=sv."
        )
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ParamsError(
            f"--set {given!r}: the value is not valid YAML ({exc.__class__.__name__}). Quote "
            "text that holds ':' or '#', e.g. --set \"study.site='Göteborg: Hisingen'\"."
        ) from None
    return Override(key, tuple(p.strip() for p in parts), value, given)


def _model_of(annotation: Any) -> type[BaseModel] | None | bool:
    """The section model inside a field's type; ``True`` for a free mapping; else ``None``."""
    candidates = [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        candidates = [a for a in typing.get_args(annotation) if a is not type(None)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        inner = typing.get_origin(candidate) or candidate
        if inner in (dict, Mapping) or candidate is Any:
            return True
    return None


def check_key(model: type[BaseModel], override: Override) -> None:
    """Refuse a key that is not in the parameter model (exit 2), naming the known keys."""
    current: type[BaseModel] | None | bool = model
    for depth, part in enumerate(override.parts):
        if current is True:  # a free mapping (e.g. bottomup.factors): any key
            return
        where = ".".join(override.parts[:depth]) or "the top level"
        if current is None:
            raise ParamsError(
                f"--set {override.given!r}: {where} is a value, not a section; it has no key "
                f"{part!r}. Set it directly: --set {where}=VALUE."
            )
        fields = current.model_fields
        if part not in fields:
            known = ", ".join(sorted(fields))
            raise ParamsError(
                f"--set {override.given!r}: unknown key {override.key!r} ({part!r} is not a key "
                f"of {where}; its keys are: {known}). See params/default.yaml for all keys."
            )
        current = _model_of(fields[part].annotation)


def _set(tree: dict[str, Any], parts: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``tree`` with the value at the dotted path ``parts`` replaced."""
    out = dict(tree)
    head, rest = parts[0], parts[1:]
    if not rest:
        out[head] = value
        return out
    inner = out.get(head)
    if isinstance(inner, str) and head in _TABLES_PARENTS:  # data.<table>: PATH, short form
        inner = {"path": inner}
    out[head] = _set(inner if isinstance(inner, dict) else {}, rest, value)
    return out


#: Sections whose children have a short form ``PATH`` for ``{path: PATH}`` (the tables).
_TABLES_PARENTS = frozenset({"participants", "monthly", "survey", "sessions", "mentors"})


def _command_line_path(override: Override, cwd: Path) -> Any:
    """A table's path given on the command line, made absolute from the current folder."""
    parts = override.parts
    is_path = parts[0] == "data" and (len(parts) == 2 or (len(parts) == 3 and parts[2] == "path"))
    value = override.value
    if is_path and isinstance(value, str) and value.strip():
        return str((cwd / Path(value).expanduser()).resolve())
    if is_path and isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": str((cwd / Path(value["path"]).expanduser()).resolve())}
    return value


def apply_overrides(
    text: str,
    overrides: Sequence[str] = (),
    *,
    language: str | None = None,
    source: Path | str = "parameter file",
    cwd: Path | None = None,
) -> str:
    """The parameter file's text with ``--set`` overrides and ``--language`` applied.

    Parameters
    ----------
    text
        The parameter file's YAML.
    overrides
        ``key=value`` strings, applied in order (a later one wins).
    language
        ``en`` or ``sv``: the report's language (``study.language``); applied last.
    source
        The parameter file, for messages.
    cwd
        The folder command-line paths are relative to (default: the current folder).

    Returns
    -------
    str
        ``text`` unchanged when there is nothing to apply (the run's hash is the file's);
        else the YAML of the file's keys with the overrides applied, under a comment that
        names the file and the overrides (the file's own comments are not kept).

    Raises
    ------
    ParamsError
        A malformed or unknown key, a language other than en/sv, or text that is not a
        mapping of keys (exit code 2). Values are validated by the parameter model when the
        result is parsed (:func:`evaluation.config.parse_params`).
    """
    parsed = [parse_override(o) for o in overrides]
    if language is not None:
        if language not in LANGUAGES:
            raise ParamsError(
                f"--language {language!r}: the report's languages are {', '.join(LANGUAGES)}."
            )
        parsed.append(Override("study.language", ("study", "language"), language,
                               f"study.language={language}"))  # fmt: skip
    if not parsed:
        return text
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(
            f"{source}: expected a mapping of keys (seed, data, ...) at the top level."
        )
    model = MODELS.get(str(raw.get("kind", "study")))
    if model is None:
        raise ParamsError(
            f"{source}: kind: {raw.get('kind')!r} is not known; use 'study' (the default), "
            "'lalonde' (the benchmark) or 'pooling' (partner sites' bundles)."
        )
    here = Path.cwd() if cwd is None else Path(cwd)
    for override in parsed:
        check_key(model, override)
        raw = _set(raw, override.parts, _command_line_path(override, here))
    header = [f"# {Path(source).name} with these command-line overrides (its comments dropped):"]
    header += [f"#   --set {o.given}" for o in parsed]
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return "\n".join(header) + "\n" + body


def parse_with_overrides(
    text: str,
    overrides: Sequence[str] = (),
    *,
    language: str | None = None,
    source: Path,
    base: Path | None = None,
) -> tuple[str, AnyParams]:
    """The parameters with the overrides applied, validated; and their text (recorded).

    A problem the overrides caused is reported like one of the file, with the overrides
    named (exit 2).
    """
    effective = apply_overrides(text, overrides, language=language, source=source)
    try:
        return effective, parse_params(effective, source=source, base=base)
    except ParamsError as err:
        if effective is text:
            raise
        given = " ".join(f"--set {o}" for o in overrides)
        given += f" --language {language}" if language is not None else ""
        raise ParamsError(f"{err} (with the command-line overrides: {given.strip()})") from None
