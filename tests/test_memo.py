"""Content-addressed memos of the work after the notebooks (pipeline/memo.py).

No tolerances: a memo returns the very bytes it stored, and a hit must never hide a change.
"""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from evaluation.disclosure import privacy
from evaluation.errors import DisclosureError
from evaluation.memo import Memo, fingerprint, key
from evaluation.report import render


def test_keys_separate_their_parts():
    assert key("ab", "c") != key("a", "bc")
    assert key(b"x") == key("x")
    assert fingerprint(["b", "a", "a"]) == fingerprint(["a", "b"])


def test_put_get_and_prune_keep_the_most_recently_used(tmp_path):
    memo = Memo(tmp_path, "t")
    assert memo.get("k0") is None
    for i in range(5):
        memo.put(f"k{i}", f"v{i}".encode())
        old = time.time() - 100 + i
        os.utime(memo.folder / f"k{i}", (old, old))
    assert memo.get("k0") == b"v0"  # a hit refreshes its time of use
    assert memo.prune(keep=2) == 3
    assert sorted(p.name for p in memo.folder.iterdir()) == ["k0", "k4"]
    assert not list(memo.folder.glob(".tmp-*"))
    nothing = Memo(None, "t")
    nothing.put("k", b"v")
    assert nothing.get("k") is None and nothing.prune() == 0


def _folder(tmp_path, text):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "table.csv").write_text(text, "utf-8")
    return run


def test_a_clean_file_is_scanned_once_and_a_hit_is_never_memoised(tmp_path, monkeypatch):
    ids = pd.DataFrame({"person_id": ["P000123", "P000456"]})
    calls = []
    real = privacy.file_text
    monkeypatch.setattr(privacy, "file_text", lambda p: calls.append(p.name) or real(p))
    run = _folder(tmp_path, "group,share\nmentored,0.4\n")
    memo = tmp_path / "cache"
    assert privacy.scan_run_folder(run, ids, memo_dir=memo) == 1
    assert privacy.scan_run_folder(run, ids, memo_dir=memo) == 1
    assert calls == ["table.csv"]  # read once: the second scan knew these bytes were clean
    # other identifiers: the memo does not apply
    privacy.scan_run_folder(run, pd.DataFrame({"person_id": ["P000999"]}), memo_dir=memo)
    assert calls == ["table.csv", "table.csv"]
    # a file with an identifier fails every time
    run = _folder(tmp_path, "person_id\nP000123\n")
    for _ in range(2):
        with pytest.raises(DisclosureError, match="table.csv"):
            privacy.scan_run_folder(run, ids, memo_dir=memo)


def test_the_pdf_of_a_page_rendered_before_comes_from_the_memo(tmp_path, monkeypatch):
    page = "<html><body><h1>Report</h1><p>Effect 9.9 pp.</p></body></html>"
    memo = tmp_path / "cache"
    first = render.render_pdf(page, tmp_path / "a.pdf", tmp_path, memo).read_bytes()
    assert first.startswith(b"%PDF")

    import weasyprint

    def refuse(*a, **k):
        raise AssertionError("WeasyPrint called for a page already rendered")

    monkeypatch.setattr(weasyprint, "HTML", refuse)
    again = render.render_pdf(page, tmp_path / "b.pdf", tmp_path, memo).read_bytes()
    assert again == first
    with pytest.raises(AssertionError, match="WeasyPrint called"):
        render.render_pdf(page.replace("9.9", "9.8"), tmp_path / "c.pdf", tmp_path, memo)


def test_a_damaged_memo_is_a_miss_and_is_removed(tmp_path):
    memo = Memo(tmp_path, "html")
    memo.put("k", b"<html>effect 9.9 pp</html>")
    path = memo.folder / "k"
    path.write_bytes(path.read_bytes().replace(b"9.9", b"9.8"))
    assert memo.get("k") is None, "a changed page would be published"
    assert not path.exists()
    path.write_bytes(b"<html>an entry of an earlier version, without its checksum</html>")
    assert memo.get("k") is None
    memo.put("k", b"")
    assert memo.get("k") == b""  # an empty marker (a clean scan) round-trips
