"""Shared fixtures: paths of the project and a small synthetic study written once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


#: A smaller comparison pool than the default keeps the end-to-end tests quick.
N_COMPARISON = 1500
#: Every format of the report: the runs whose report files are tested ask for them (the
#: shared finished run, the Swedish run, another programme's, the whole-tree privacy scan);
#: the other test studies render the HTML page only (the PDF and Word files cost some 8 s a
#: run and are not what they test).
ALL_FORMATS = ["html", "pdf", "docx"]


def write_params(folder: Path, **overrides) -> Path:
    """A study parameter file in ``folder`` with the synthetic data generated beside it."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc["synthetic"]["n_comparison"] = N_COMPARISON
    doc["estimation"]["permutation_draws"] = 99
    doc["estimation"]["bootstrap"]["draws"] = 199
    doc["report"]["formats"] = ["html"]
    for table in doc["data"]:
        doc["data"][table] = f"data/{table}.csv"
    for key, value in overrides.items():
        section, _, leaf = key.partition(".")
        if leaf:
            doc[section][leaf] = value
        else:
            doc[section] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One end-to-end run of the study (HTML and PDF), shared by the tests that read it."""
    from evaluation.pipeline.run import run_study

    folder = tmp_path_factory.mktemp("study")
    params = write_params(folder, **{"report.formats": ALL_FORMATS})
    return run_study(params, folder / "outputs", echo=lambda *a, **k: None), params


@pytest.fixture(scope="session")
def make_params():
    """The function that writes a test study's parameter file (see :func:`write_params`)."""
    return write_params


#: Fixtures that run the study (or write a study to run): a test that uses one is end-to-end,
#: so ``make test-fast`` (``-m "not slow"``) leaves it out without each file having to say so.
STUDY_FIXTURES = frozenset({"finished_run", "make_params"})


def pytest_collection_modifyitems(config, items):
    """Mark every test that runs the study ``slow`` (see :data:`STUDY_FIXTURES`)."""
    for item in items:
        if STUDY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
