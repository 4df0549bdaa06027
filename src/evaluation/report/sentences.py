"""Which sentence of the catalogue applies: the report's decisions, made once, in Python.

A sentence of the report that depends on the numbers (the headline turned into persons or
not, pre-trends that hold or not, an interval that covers the headline or not) has one plain
template per case in the catalogue (:mod:`evaluation.text`), keyed ``<sentence>_<case>``.
The rule that picks the case is written here, once, for every language; the templates and
the catalogue hold no ``{% if %}``. Each method returns a :class:`Sentence` or a list of
them (rendered one after the other, separated by a space); a field of a sentence may itself
be a sentence (a word or phrase the catalogue words per language).

The methods read the results only through :class:`~evaluation.report.numbers.Numbers`
(strict: a number the results lack is an error) and format nothing: numbers are written by
the templates, through ``num``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.report.numbers import Numbers, ReportKeyError

#: Pre-trend test of the event study: the months before start count as moving in step when
#: the joint test's p-value is at least this.
PRETREND_LEVEL = 0.05

#: The sample whose balance an estimator rests on (``balance_<sample>`` of the results):
#: matching on the matched sample, weighting on the weighted one, every other estimator on
#: the trimmed sample with no reweighting.
BALANCE_SAMPLE = {"matching": "matched", "ipw": "weighted", "aipw": "weighted"}

#: Optional inputs whose absence the data chapter states once, although the bottom-up chapter
#: registers it again (``bottomup_<input>``).
OPTIONAL_INPUTS = ("survey", "sessions", "mentors")


@dataclass(frozen=True)
class Sentence:
    """A key of the catalogue and the fields its template needs."""

    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def S(key: str, **fields: Any) -> Sentence:
    """A :class:`Sentence` (short form)."""
    return Sentence(key, fields)


def _is_count(value: Any) -> bool:
    """A number of persons that is shown (not withheld as ``..`` or ``<k``)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class Sentences:
    """The report's decisions for one run's results (``say`` in the templates).

    Parameters
    ----------
    num
        Strict access to the run's results.
    """

    def __init__(self, num: Numbers) -> None:
        self.num = num
        self.r = num.results
        self.texts = num.texts

    # --- summary and frame ---------------------------------------------------------------
    @staticmethod
    def _evidence(e: Mapping[str, Any]) -> str:
        """``null`` if the confidence interval includes zero, else the sign: ``up``/``down``."""
        if e["ci_low"] <= 0 <= e["ci_high"]:
            return "null"
        return "up" if e["estimate"] > 0 else "down"

    def headline(self, h: Mapping[str, Any]) -> Sentence:
        """The headline, with a verb that follows the evidence.

        An interval that includes zero reads "the data are consistent with no effect, and with
        effects from ... to ..."; otherwise mentoring raised or lowered the outcome.
        """
        share = h["outcome"].startswith("employed_m")
        what = S("summary_what_share" if share else "summary_what_amount", h=h)
        return S(f"summary_headline_{self._evidence(h)}", h=h, what=what)

    def summary_people(self, h: Mapping[str, Any]) -> Sentence:
        """The headline turned into persons, when it is a share and its size is shown."""
        if not _is_count(h["n_treated"]):
            return S("summary_people_withheld", h=h)
        if not h["outcome"].startswith("employed_m"):
            return S("summary_people_rests_on", h=h)
        case = {"up": "in_work", "down": "out_of_work", "null": "null"}[self._evidence(h)]
        return S(f"summary_people_{case}", h=h)

    def balance_warning(self) -> list[Sentence]:
        """A warning when the headline estimator's sample is not balanced on every term."""
        sample = BALANCE_SAMPLE.get(self.r["headline"]["estimator"], "trimmed")
        key = f"balance_{sample}"
        if not (self.num.has(key) and self.num.has("balance_threshold")):
            return []
        value = self.num.raw(f"{key}.max_abs_smd")
        if not isinstance(value, int | float):  # withheld: the design chapter shows its label
            return []
        if value <= self.num.raw("balance_threshold"):
            return []
        return [S("summary_balance", balance=key, after=S(f"balance_after_{sample}"))]

    def summary_sample(self) -> Sentence:
        """Who the study follows, and for how long after start (its longest horizon)."""
        horizons = [
            int(e["outcome"][len("employed_m") :])
            for e in self.r["effects"]
            if e["outcome"].startswith("employed_m") and e["outcome"][len("employed_m") :].isdigit()
        ]
        if not horizons:
            raise ReportKeyError("the results hold no effect on employment at a horizon")
        return S("summary_sample", months=max(horizons))

    def _programme(self) -> Mapping[str, Any]:
        """The run's programme block (``results.json`` → ``programme``), strictly."""
        block = self.r.get("programme")
        if block is None:
            raise ReportKeyError(
                "the results hold no programme block (they were made before the programme "
                "became a parameter): rerun the study with a parameter file that has one"
            )
        return block

    def programme(self) -> list[Sentence]:
        """The paragraphs on the programme: what it is, its logic if given, the questions."""
        out = [S("programme_text")]
        if self.num.language in self._programme().get("logic", {}):
            out.append(S("programme_logic"))
        return [*out, S("programme_questions")]

    def esf_applies(self) -> bool:
        """Whether the programme is ESF-funded, so that the ESF indicators are reported."""
        return bool(self._programme()["esf_indicators"])

    def skipped_list(self) -> list[str]:
        """The run's skipped analyses that the data chapter lists, each once.

        The absence of an optional input is stated once (the bottom-up chapter registers it
        again as ``bottomup_<input>``); ESF entries only where the ESF indicators apply.
        """
        skipped = self.r.get("skipped", {})
        out = []
        for name in skipped:
            if name.startswith("bottomup_") and name[len("bottomup_") :] in OPTIONAL_INPUTS:
                if name[len("bottomup_") :] in skipped:
                    continue
            if name.startswith("esf_") and not self.esf_applies():
                continue
            out.append(name)
        return out

    def data_flow(self) -> list[Sentence]:
        """The sample-flow paragraph, with the pseudo starts when there were any."""
        out = [S("data_flow_text")]
        if self.num.raw("n_pseudo_starts") != 0:
            out.append(S("data_flow_pseudo"))
        return out

    def skipped(self, name: str) -> Sentence:
        """Why an analysis of the run's ``skipped`` list is not in the report."""
        if name.startswith("esf_") and name != "esf_indicators":
            group, _, estimator = name[4:].partition(":")
            fields: dict[str, Any] = {"group": self.texts.category("subgroup", group)}
            if estimator:
                fields["estimator"] = self.texts.category("estimator", estimator)
                return Sentence("skip_esf_estimator", fields)
            return Sentence("skip_esf", fields)
        if name.startswith("estimator:"):
            estimator = self.texts.category("estimator", name.removeprefix("estimator:"))
            return Sentence("skip_estimator", {"estimator": estimator})
        if name.startswith(("subgroup:", "subgroup_design:")):
            kind, _, label = name.partition(":")
            return Sentence(f"skip_{kind}", {"group": self.texts.characteristic(label)})
        if name == "bottomup_no_variation":
            features = [
                S(f"bu_feature_{f}", unit=1) for f in self.num.raw("bottomup_constant_features")
            ]
            return S("skip_bottomup_no_variation", features=features)
        return S(f"skip_{name}")

    def effects_permutation(self) -> Sentence:
        """The randomisation check, on a subsample of the comparison pool or on everyone."""
        hp = self.num.raw("headline_permutation")
        if self.num.raw("comparison_subsample.used"):
            return S("effects_permutation_subsample", hp=hp)
        return S("effects_permutation", hp=hp)

    def limitations(self) -> list[Sentence]:
        """The limitations that apply to this run's data.

        The small-numbers limitation quotes the minimum detectable effect when the run has it;
        the survey's only where there was a survey; the synthetic data's only on synthetic data.
        """
        num = self.num
        keys = ["lim_selection"]
        keys.append("lim_small_n_mde" if num.has("power") else "lim_small_n")
        keys += ["lim_lockin", "lim_spillover"]
        if num.has("bottomup_inputs") and num.raw("bottomup_inputs").get("survey"):
            keys.append("lim_survey")
        if self.r["study"].get("synthetic"):
            keys.append("lim_synthetic")
        return [S(k) for k in keys]

    # --- LaLonde benchmark ---------------------------------------------------------------
    def lalonde_reading(self) -> list[Sentence]:
        """The reading of the benchmark, naming the comparison samples that were run."""
        have = [c for c in ("psid", "cps") if self.num.has(f"{c}_range")]
        if not have:
            return []
        return [S("lalonde_reading", ranges=S(f"lalonde_range_{'_'.join(have)}"))]

    # --- timing (notebook 04) ------------------------------------------------------------
    def event_study(self) -> list[Sentence]:
        """The event study and whether the groups moved in step before start."""
        p = self.num.raw("es_matched_employed.pretrend_p")
        case = "tm_event_parallel" if p >= PRETREND_LEVEL else "tm_event_not_parallel"
        return [S("tm_event_text"), S(case)]

    def staggered(self) -> Sentence:
        """The staggered DiD's design, in the run's period and comparison."""
        u, control = self.num.raw("cs_unit"), self.num.raw("cs_control")
        return S(
            "tm_staggered_text",
            periods=S(f"tm_periods_{u}"),
            period=S(f"tm_period_{u}"),
            control=S(f"tm_control_{control}"),
        )

    def cohorts_withheld(self) -> list[Sentence]:
        """The start cohorts whose own estimate is withheld, in the report's calendar terms."""
        cohorts = self.num.raw("cs_cohorts_withheld.cohorts")
        if not cohorts:
            return []
        write = self.num.quarter if self.num.raw("cs_unit") == "q" else self.num.month
        return [S("tm_cohorts_withheld", cohorts=[write(c) for c in cohorts])]

    def staggered_against_headline(self) -> list[Sentence]:
        """The overall Callaway–Sant'Anna effect set against the headline and TWFE."""
        h = self.r["headline"]
        if not h["outcome"].startswith("employed_m"):
            return [S("tm_cs_not_share")]
        u = self.num.raw("cs_unit")
        cs = self.num.effect(f"employed_{u}_overall", "cs_dr")
        tw = self.num.effect(f"employed_{u}_overall", "twfe")

        def word(a: float, b: float) -> Sentence:
            return S("tm_word_smaller" if a < b else "tm_word_larger")

        period = S(f"tm_period_{u}")
        out = [
            S(
                "tm_cs_headline",
                h=h,
                cs=cs,
                tw=tw,
                than_headline=word(cs["estimate"], h["estimate"]),
                than_twfe=word(cs["estimate"], tw["estimate"]),
                period=period,
                control=S(f"tm_cs_control_{self.num.raw('cs_control')}", period=period),
            )
        ]
        in_h = cs["ci_low"] <= h["estimate"] <= cs["ci_high"]
        in_t = cs["ci_low"] <= tw["estimate"] <= cs["ci_high"]
        covers = {(True, True): "both", (True, False): "headline", (False, True): "twfe"}
        out.append(S(f"tm_cs_covers_{covers.get((in_h, in_t), 'neither')}"))
        if cs["ci_low"] <= 0 <= cs["ci_high"]:
            out.append(S("tm_cs_includes_zero"))
        return out

    # --- bottom-up factors (notebook 05) -------------------------------------------------
    def factor_analysis(self) -> Sentence:
        """What the exploratory factor analysis gave."""
        efa = self.num.raw("bottomup_efa_summary")
        if efa["stable"]:
            return S("bu_efa_text")
        if efa.get("heywood"):
            return S("bu_efa_heywood")
        if efa.get("too_few"):
            return S("bu_efa_too_few")
        return S("bu_efa_unconverged")

    def share_item(self, b: Mapping[str, Any]) -> Sentence:
        """One ranked survey item, in the instrument's wording, with the share agreeing."""
        text = self.num.raw("bottomup_item_text")[b["item"]][self.num.language]
        key = "bu_share_item_reverse" if b["reverse"] else "bu_share_item"
        if isinstance(b["share"], str):  # hidden by the run's disclosure audit: its label
            return S(f"{key}_hidden", text=text, label=b["share"])
        return S(key, text=text, share=b["share"])

    def moderation_flagged(self, flagged: Sequence[str]) -> Sentence:
        """The factors whose moderation survives the multiplicity correction, if any."""
        if not flagged:
            return S("bu_moderation_none")
        labels = [self.texts.category("factor", f, default=f) for f in flagged]
        return S("bu_moderation_flagged", factors=labels)

    # --- the mentorship model (notebook 05) ----------------------------------------------
    #: The mentoring feature each component rests on (its association with the outcome).
    MODEL_FEATURES = {
        "match_field": "same_field",
        "match_background": "migrant_mentor",
        "length": "minutes_per_meeting",
        "frequency": "meetings",
    }

    def model_component(self, c: Mapping[str, Any]) -> list[Sentence]:
        """One component of the mentorship model: what to do, and the estimate behind it."""
        num = self.num
        if c["evidence"] == "not_assessed":
            return [self._not_assessed(c)]
        o = num.raw("bottomup_outcome")
        assoc = (
            num.raw("bottomup_mentor_associations")
            if num.has("bottomup_mentor_associations")
            else {}
        )
        found = c["evidence"] != "none"
        up, down = c["direction"] == "positive", c["direction"] == "negative"
        name = c["name"]
        if name == "match_field":
            e = dict(assoc["same_field"], outcome=o)
            case = "yes" if up and found else "no"
            return [S(f"model_match_field_{case}"), S("model_match_field_estimate", e=e)]
        if name == "match_background":
            e = dict(assoc["migrant_mentor"], outcome=o)
            case = "migrant" if up and found else ("native" if down and found else "neutral")
            return [S(f"model_match_background_{case}"), S("model_match_background_estimate", e=e)]
        if name == "frequency":
            e = dict(assoc["meetings"], outcome=o) if "meetings" in assoc else None
            if c["detail"].get("source") == "linear" and found:
                case = "fewer" if down else "more"
            elif c["direction"] == "rising_then_flat" and found:
                case = "knot"
            elif c["direction"] == "rising" and found:
                case = "rising"
            else:
                case = "none"
            s = num.raw("bottomup_dose_slopes")
            return [S(f"model_frequency_{case}", e=e), S("model_frequency_slopes", s=s, o=o)]
        if name == "length":
            e = dict(assoc["minutes_per_meeting"], outcome=o)
            case = "yes" if up and found else "no"
            return [S(f"model_length_{case}"), S("model_length_estimate", e=e)]
        if name == "focus":
            factor = c["detail"]["factor"]
            label = self.texts.category("factor", factor, default=factor)
            e = dict(num.raw("bottomup_moderation")["factors"][factor], outcome=o)
            case = ("positive" if up else "negative") if found else "none"
            out = [
                S(f"model_focus_{case}", factor=label),
                S("model_focus_estimate", factor=label, e=e),
            ]
            top = num.raw("bottomup_ranking")["barrier"][:2] if num.has("bottomup_ranking") else []
            if top:
                out.append(S("model_focus_barriers", items=[self.share_item(b) for b in top]))
            return out
        if name == "relationship":
            e = dict(num.raw("bottomup_relationship"), outcome=o)
            case = "yes" if up and found else "no"
            return [S(f"model_relationship_{case}"), S("model_relationship_estimate", e=e)]
        raise ReportKeyError(f"the report has no sentence for the model component {name!r}")

    def _not_assessed(self, c: Mapping[str, Any]) -> Sentence:
        """Why a component of the model is not assessed."""
        skipped = self.r.get("skipped", {})
        constant = (
            self.num.raw("bottomup_constant_features")
            if self.num.has("bottomup_constant_features")
            else []
        )
        if f"bottomup_{c['name']}" in skipped:
            return S("model_too_few")
        if "bottomup_mentoring" in skipped and c["name"] != "focus":
            return S("model_few_mentors")
        if self.MODEL_FEATURES.get(c["name"]) in constant:
            return S("model_no_variation")
        return S("model_not_assessed")

    # --- robustness (notebook 06) --------------------------------------------------------
    def power_reading(self) -> list[Sentence]:
        """The minimum detectable effect set against the headline estimate."""
        mde, estimate = self.num.raw("power.costs_horizon_mde"), self.r["headline"]["estimate"]
        if not all(isinstance(v, int | float) for v in (mde, estimate)):
            return [S("rob_power_reading")]  # one of the two withheld by the disclosure audit
        case = "below" if abs(estimate) < mde else "above"
        return [S("rob_power_reading"), S(f"rob_power_headline_{case}")]

    def placebo_design(self) -> list[Sentence]:
        """The placebo designs, with the comparison persons the fake start leaves out."""
        out = [S("rob_placebo_text")]
        if self.num.raw("placebo_fake_dropped_control") != 0:
            out.append(S("rob_placebo_dropped"))
        return out

    def placebo_reading(self) -> list[Sentence]:
        """Whether every adjusted placebo estimate covers zero."""
        ps = self.num.raw("placebo_summary")
        case = "all_cover" if ps["n_cover_zero"] == ps["n_adjusted"] else "some_differ"
        return [S("rob_placebo_reading"), S(f"rob_placebo_{case}")]

    def evalue(self) -> list[Sentence]:
        """The E-value of the estimate and of its confidence interval."""
        case = "ci_covers_null" if self.num.raw("evalue.ci_covers_null") else "ci"
        return [S("rob_evalue_text"), S(f"rob_evalue_{case}")]

    def rosenbaum(self) -> list[Sentence]:
        """How much hidden bias the matched-pair difference survives."""
        if not self.num.raw("rosenbaum.significant_at_1"):
            case = "not_significant"
        elif self.num.raw("rosenbaum.gamma_critical") is None:
            case = "beyond"
        else:
            case = "gamma"
        return [S("rob_rosenbaum_text"), S(f"rob_rosenbaum_{case}")]

    def ovb(self) -> list[Sentence]:
        """The regression estimate's Cinelli-Hazlett robustness values and benchmark bounds."""
        r = self.num.raw("ovb")
        out = [S("rob_ovb_text", e={"outcome": r["outcome"], "estimate": r["estimate"]})]
        out.append(S("rob_ovb_rv_zero" if r["rv_qa"] == 0 else "rob_ovb_rv"))
        rows = self.num.results["tables"].get("ovb_bounds", [])
        for bench in r["benchmarks"]:
            mine = [row for row in rows if row["benchmark"] == bench]
            if mine:  # the strongest multiple: what the contour plot marks furthest out
                top = max(mine, key=lambda row: float(row["kd"]))
                e = {"outcome": r["outcome"], "estimate": top["adjusted_estimate"],
                     "ci_low": top["adjusted_low"], "ci_high": top["adjusted_high"]}  # fmt: skip
                out.append(S("rob_ovb_bench", bench=bench, k=f"{float(top['kd']):g}", e=e))
        return out

    def spec_reading(self) -> list[Sentence]:
        """The specification curve's summary, with the specifications that failed."""
        out = [S("rob_spec_reading")]
        if self.num.raw("spec_curve_summary.n_failed") != 0:
            out.append(S("rob_spec_failed"))
        return out

    def spec_timing(self) -> Sentence:
        """The specification curve's wall time (and the sequential one, if measured)."""
        seq = "sequential_seconds" in self.num.measured("timing_spec_curve")
        return S("rob_spec_timing_sequential" if seq else "rob_spec_timing")

    # --- costs (notebook 06) -------------------------------------------------------------
    def costs(self) -> list[Sentence]:
        """The additional persons in work, and which persons that count applies to."""
        c = self.num.raw("costs")
        out = [S(f"cost_additional_{c['status']}")]
        if c["status"] == "undefined":
            return out
        ce = self.num.effect(f"employed_m{c['horizon']}", c["estimator"])
        if ce["n_treated"] == self.num.raw("costs_served"):
            return [*out, S("cost_base_same_persons")]
        h = self.r["headline"]
        if not _is_count(ce["n_treated"]):
            matched = S("cost_base_matched_withheld", ce=ce)
        elif (ce["outcome"], ce["estimator"]) == (h["outcome"], h["estimator"]):
            matched = S("cost_base_matched_summary", ce=ce)
        else:
            matched = S("cost_base_matched", ce=ce)
        return [*out, S("cost_base_all_served"), matched, S("cost_base_same_effect")]

    # --- pooling -------------------------------------------------------------------------
    @staticmethod
    def pool_prediction(df: int) -> Sentence:
        """The prediction interval's sentence (one degree of freedom or several)."""
        return S("pool_het_prediction_one_df" if df == 1 else "pool_het_prediction")
