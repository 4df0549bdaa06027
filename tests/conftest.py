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


def write_params(folder: Path, **overrides) -> Path:
    """A study parameter file in ``folder`` with the synthetic data generated beside it."""
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc["synthetic"]["n_comparison"] = N_COMPARISON
    doc["estimation"]["permutation_draws"] = 99
    doc["estimation"]["bootstrap"]["draws"] = 199
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
    params = write_params(folder)
    return run_study(params, folder / "outputs", echo=lambda *a, **k: None), params


@pytest.fixture(scope="session")
def make_params():
    """The function that writes a test study's parameter file (see :func:`write_params`)."""
    return write_params


#: Fixtures that run the study (or write a study to run): a test that uses one is end-to-end,
#: so ``make test-fast`` (``-m "not slow"``) leaves it out without each file having to say so.
STUDY_FIXTURES = frozenset({"finished_run", "make_params"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test that runs the study ``slow``; group and order the tests for xdist.

    * ``slow``: a test that uses one of :data:`STUDY_FIXTURES`.
    * ``xdist_group``: under ``--dist loadgroup`` (``make test``) a group goes to one worker.
      A test module is a group, so that its module-scoped study run is made once; the
      modules that use the session's ``finished_run`` are one group, so that it too is made
      once (each worker would otherwise make its own).
    * Order: modules with slow tests first, so that the last groups to start are short ones
      and the two workers finish together.
    """
    slow_modules, shared = set(), set()
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if STUDY_FIXTURES & names:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("slow"):
            slow_modules.add(item.module.__name__)
        if "finished_run" in names:
            shared.add(item.module.__name__)
    for item in items:  # a whole module to one group: its module-scoped fixtures made once
        module = item.module.__name__
        item.add_marker(pytest.mark.xdist_group("finished_run" if module in shared else module))
    order = {name: i for i, name in enumerate(dict.fromkeys(i.module.__name__ for i in items))}
    items.sort(key=lambda i: (i.module.__name__ not in slow_modules, order[i.module.__name__]))
