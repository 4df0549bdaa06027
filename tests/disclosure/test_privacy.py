"""The identifier scan finds input IDs and personal-identity-number shapes in any output."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evaluation.disclosure.privacy import PIN_PATTERN, scan_run_folder
from evaluation.errors import DisclosureError


@pytest.fixture
def participants():
    return pd.DataFrame({"person_id": ["P000123", "P000456", "Q9"]})


def test_clean_folder_passes(tmp_path, participants):
    (tmp_path / "results.json").write_text(json.dumps({"n": 50, "hash": "a3f9c2"}))
    (tmp_path / "t.csv").write_text("group,n\nmentored,50\n")
    assert scan_run_folder(tmp_path, participants) == 2


@pytest.mark.parametrize(
    "name,content",
    [
        ("tables/t.csv", "id,x\nP000456,1\n"),
        ("notebooks/n.ipynb", json.dumps({"metadata": {"x": "P000123"}})),
        ("report/r.html", "<td>19850101-1234</td>"),
        ("log.txt", "person 850101+1234 failed"),
    ],
)
def test_leak_fails_and_does_not_echo_the_id(tmp_path, participants, name, content):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    with pytest.raises(DisclosureError) as exc:
        scan_run_folder(tmp_path, participants)
    assert name in str(exc.value)
    for secret in ("P000123", "P000456", "19850101-1234", "850101+1234"):
        assert secret not in str(exc.value)


def test_id_as_part_of_longer_token_is_not_a_hit(tmp_path, participants):
    (tmp_path / "a.txt").write_text("XP000123Y")
    assert scan_run_folder(tmp_path, participants) == 1


def test_inlined_images_are_not_scanned_but_their_text_is(tmp_path, participants):
    blob = "iVBORw0KGgo+P000123/AAAA=="  # base64 bytes that happen to contain an id token
    (tmp_path / "r.html").write_text(f'<img src="data:image/png;base64,{blob}" alt="chart">')
    nb = {"cells": [{"outputs": [{"data": {"image/png": blob, "text/plain": "<Figure>"}}]}]}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    assert scan_run_folder(tmp_path, participants) == 2
    nb["cells"][0]["outputs"][0]["data"]["text/plain"] = "P000123"
    (tmp_path / "n.ipynb").write_text(json.dumps(nb))
    with pytest.raises(DisclosureError, match="n.ipynb"):
        scan_run_folder(tmp_path, participants)


def test_pdf_text_is_scanned(tmp_path, participants):
    from weasyprint import HTML

    HTML(string="<p>Person P000123 was here</p>").write_pdf(tmp_path / "r.pdf")
    with pytest.raises(DisclosureError, match="r.pdf"):
        scan_run_folder(tmp_path, participants)


@pytest.mark.parametrize(
    "text,hit",
    [
        ("198501011234", True),
        ("19850101-1234", True),
        ("8501011234", True),
        ("850161-1234", True),  # co-ordination number (day + 60)
        ("851301-1234", False),  # month 13
        ("sha 0a3f8501011234ff", False),  # inside a hex hash
        ("earnings 1234567", False),
        ("2026-11-29T03:10:00", False),
        ('"ci_high": 80897.2312210415,', False),  # decimals of a float
        ("8501011234.5", False),
        ("id 8501011234.", True),
    ],
)
def test_pin_pattern(text, hit):
    assert bool(PIN_PATTERN.search(text)) is hit


@pytest.mark.slow
def test_a_run_that_leaks_an_identifier_fails(tmp_path, make_params, monkeypatch):
    """A notebook that prints a person_id makes the whole run fail at the scan, kept as failed."""
    import shutil

    from evaluation.errors import RunError
    from evaluation.pipeline import notebooks as nbmod
    from evaluation.pipeline.run import run_study

    leaky = tmp_path / "nb"
    shutil.copytree(nbmod.NOTEBOOK_DIR, leaky)
    first = leaky / "01_data.py"
    first.write_text(
        first.read_text("utf-8") + '\n# %%\nprint(tables.participants["person_id"].iloc[0])\n',
        "utf-8",
    )
    monkeypatch.setattr(nbmod, "NOTEBOOK_DIR", leaky)
    params = make_params(tmp_path / "s")
    with pytest.raises(RunError) as exc:
        run_study(params, tmp_path / "outputs", echo=lambda *a, **k: None)
    msg = str(exc.value)
    assert "identifier scan" in msg and "notebooks/01_data.ipynb" in msg
    assert "P0" not in msg.split("identifier scan")[1].split("Outputs must")[0]
    failed = [p for p in (tmp_path / "outputs").iterdir() if p.name.endswith("-failed")]
    assert len(failed) == 1
    status = json.loads((failed[0] / "status.json").read_text())
    assert status["stage"] == "privacy scan"
    assert not (tmp_path / "outputs" / "study-latest").exists()
