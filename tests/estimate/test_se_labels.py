"""Every estimator's standard error has a label in the report's catalogue (en and sv)."""

import numpy as np
import pandas as pd

from evaluation.estimate import effects as fx
from evaluation.estimate.att import METHODS, estimate_all
from evaluation.text import catalogue


def test_every_estimator_has_a_known_se_label():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(1.5 - x))).astype(int)
    df = pd.DataFrame({"d": d, "x": x, "y": x + 0.5 * d + rng.normal(size=n)})
    results = estimate_all(df, "d", ["y"], ["x"], METHODS,
                           options={"matching": {"se": "ai2016"}})  # fmt: skip
    labels = fx.se_labels(results, "y")
    assert set(labels) == set(METHODS)
    assert "other" not in labels.values(), labels
    assert labels["matching"] == "ai2016"
    ai2006 = estimate_all(df, "d", ["y"], ["x"], ["matching"])
    assert fx.se_label_key(ai2006[0]) == "ai2006"
    for lang in ("en", "sv"):
        texts = catalogue(lang)
        for _, key in (*fx.SE_LABELS, ("", "other")):
            assert f"se_{key}" in texts, (lang, key)
