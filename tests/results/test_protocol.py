"""The result protocol and the recorder's private ledger, without running the study."""

from __future__ import annotations

import json
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from evaluation.disclosure.ledger import Ledger, fact
from evaluation.estimate.results import EffectResult
from evaluation.protocol import Result, made_by, private, produced_by, resolve_made_by
from evaluation.results.recorder import EXHIBIT_METADATA, Recorder, ledger_path

K = 5


@dataclass(frozen=True)
class _Toy(Result):
    estimate: float
    n: int
    secret: tuple = private(default=())


@produced_by
def make_toy(x: float) -> _Toy:
    """A toy result maker."""
    return _Toy(estimate=x, n=3, secret=("a", "b"))


def draw_bars(table: pd.DataFrame, *, language: str, min_cell: int, colour: str):
    """Bars of the published 'share' column (missing where hidden)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(range(len(table)), pd.to_numeric(table["share"], errors="coerce").fillna(0),
           color=colour)  # fmt: skip
    return fig


def test_made_by_names_code_by_its_import_path_and_resolves_back():
    assert made_by(made_by) == "evaluation.protocol.made_by"
    assert (
        made_by(EffectResult.from_normal) == "evaluation.estimate.results.EffectResult.from_normal"
    )
    toy = make_toy(0.5)
    assert made_by(toy) == f"{__name__}.make_toy"  # the producing function, not the class
    assert resolve_made_by("evaluation.protocol.made_by") is made_by
    assert resolve_made_by("params: design.trimming") == "params: design.trimming"
    with pytest.raises(LookupError):
        resolve_made_by("evaluation.protocol.no_such_function")
    with pytest.raises(ValueError, match="no importable name"):
        made_by(lambda x: x)


def test_a_result_records_and_shows_its_public_fields_only():
    toy = make_toy(0.25)
    assert toy.to_record() == {"estimate": 0.25, "n": 3}
    assert "secret" not in toy._repr_html_()
    assert list(toy.to_frame().columns) == ["estimate", "n"]
    eff = EffectResult.from_normal(
        estimate=0.1, se=0.05, outcome="y", estimator="naive", estimand="ATT", n_treated=2,
        n_control=3, persons=(np.array(["a", "b"]), np.array(["c", "d", "e"])),
    )  # fmt: skip
    assert "persons" not in eff.to_dict() and "persons" not in json.dumps(eff.to_record())


def test_recorder_refuses_a_hand_typed_maker(tmp_path):
    rec = Recorder(tmp_path, "01_data", min_cell=K)
    with pytest.raises(ValueError, match="neither a code object"):
        rec.number("x", 1, title="x", made_by="notebooks/01_data.py")
    rec.number("y", 1, title="y", made_by="params: seed")
    rec.number("z", 1, title="z", made_by=made_by)


def test_the_ledger_keeps_whom_each_published_value_counts(tmp_path):
    rec = Recorder(tmp_path / "run", "02_design", min_cell=K, private_dir=tmp_path / "private")
    ids = pd.Series([f"p{i}" for i in range(7)])
    assert rec.count("n_matched", ids, title="matched", made_by=made_by) == 7
    assert rec.count("n_unmatched", ids[:2], title="unmatched", made_by=made_by) == f"<{K}"
    eff = EffectResult.from_normal(
        estimate=0.1, se=0.05, outcome="y", estimator="naive", estimand="ATT", n_treated=2,
        n_control=3, persons=(np.array(["p0", "p1"]), np.array(["c1", "c2", "c3"])),
    )  # fmt: skip
    rec.effects([eff], made_by=EffectResult.from_normal)
    rec.table("t", pd.DataFrame({"a": [1]}), title="t", made_by=made_by,
              reveals=[fact(("0", "a"), ["p3"])])  # fmt: skip
    rec.save()
    assert not list((tmp_path / "run").rglob("*.npz")), "the ledger is private"
    back = Ledger.load(ledger_path(tmp_path / "private", "02_design"))
    got = {f.where: list(f.persons) for f in back}
    assert got[("numbers", "n_matched")] == [f"p{i}" for i in range(7)]
    assert got[("numbers", "n_unmatched")] == ["p0", "p1"]
    assert got[("effects", "02_design", 0, "n_treated")] == ["p0", "p1"]
    assert got[("effects", "02_design", 0, "n_control")] == ["c1", "c2", "c3"]
    assert got[("tables", "t", "0", "a")] == ["p3"]


def test_a_figure_is_drawn_from_its_table_as_published_and_shown_tagged(tmp_path):
    rec = Recorder(tmp_path, "01_data", min_cell=K)
    rec.table("bins", pd.DataFrame({"share": [0.5, "..", 0.2]}), title="bins", made_by=made_by)
    rec.plot("bars", draw_bars, "bins", title="bars", alt="bars", colour="#123456")
    rec.save()
    part = json.loads((tmp_path / "results" / "01_data.json").read_text("utf-8"))
    ex = next(e for e in part["exhibits"] if e["key"] == "bars")
    assert ex["draw"] == f"{__name__}.draw_bars" and ex["source"] == "bins"
    assert ex["options"] == {"colour": "#123456"}
    assert (tmp_path / "figures" / "bars.png").is_file()
    data, meta = rec.show("bars")._repr_mimebundle_()
    assert "image/png" in data and meta == {EXHIBIT_METADATA: "bars"}
    data, meta = rec.show("bins")._repr_mimebundle_()
    assert ".." in data["text/html"] and meta == {EXHIBIT_METADATA: "bins"}
