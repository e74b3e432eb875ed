"""The ``Audit`` façade: DoWhy's verbs model → identify → estimate → refute over a recommendation log.

- **model**: validate the roles, build the adjustment ladder (tabular, text, pair features) and a DoWhy
  ``CausalModel`` whose common causes are every confounder column.
- **identify**: DoWhy's backdoor identification with the maximal adjustment set — the default search over
  subsets takes minutes with hundreds of embedding columns; the maximal set is what we adjust for anyway.
- **estimate**: the registry's estimators on every rung of the ladder, sharing cross-fitted nuisances;
  a documented rule picks the recommended estimate; per-row uplift and heterogeneity come from a
  doubly robust learner.
- **refute**: DoWhy's placebo, random-common-cause, data-subset and unobserved-confounder refuters (on a
  user subsample, for speed), plus an E-value.

Ground truth (``true_*`` columns) is compared with the estimates only after estimation.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from tqdm.auto import tqdm

from . import diagnostics, plots, versions
from .diagnostics import OVERLAP_MAX_OUTSIDE, SEPARATION_AUC
from .adjustment import LADDER, AdjustmentSets, build_adjustment_sets
from .choices import did_you_mean, unknown_choice
from .estimators import EffectEstimator, make_estimator
from .inference import mean_interval
from .io import output_folder, read_table, write_json, write_table
from .metrics import pehe, qini_curve, uplift_by_quantile
from .nuisance import (Nuisances, check_fold_settings, cross_fit, dr_scores, folds, group_codes, regression_model,
                       treatment_model)
from .schema import DataError, Problem, Roles, validate
from .text import TextEncoder
from .textfeatures import check_concepts
from .upliftmodel import PLUG_IN_COLUMNS, LinearStageInterval, fit_uplift_regressor, plug_in_features

DEFAULT_ESTIMATORS = ("naive", "ipw", "aipw", "linear_dml")
REFUTATION_MAX_ROWS = 20_000
MISSING_LEVEL = "(missing)"  # the group effect of rows without a value in the column


AUDIT_OUTPUTS = frozenset({"results.json", "uplift.parquet", "figures"})


def check_audit_folder(out_dir: str | Path) -> None:
    """Raise ValueError unless ``out_dir`` is new, empty or a previous audit's output. Writing an audit replaces
    its folder whole; ``--out .`` once deleted the log beside it."""
    out = Path(out_dir)
    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out} is a file; give a folder for the audit's results")
    entries = {entry.name for entry in out.iterdir()}
    if entries and not ("results.json" in entries and entries <= AUDIT_OUTPUTS):
        others = sorted(entries - AUDIT_OUTPUTS) or sorted(entries)
        raise ValueError(f"{out} holds {', '.join(others[:5])}{', …' if len(others) > 5 else ''}, which an audit did "
                         f"not write: the audit replaces its folder whole, so give a new or empty folder, or a "
                         f"previous audit's")


@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found; ``to_dict()`` is what ``results.json`` holds."""

    n_rows: int
    ate: dict[str, Any]
    att: dict[str, Any]
    recommended: dict[str, str]
    estimates: pd.DataFrame
    refutations: list[dict[str, Any]]
    diagnostics: dict[str, Any]
    heterogeneity: dict[str, Any]
    uplift: pd.DataFrame  # one row per input row, in input order, on the input's index: df.join(result.uplift) aligns
    seconds: dict[str, float]
    roles: Roles
    ground_truth: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # what reruns it: estimators, their settings, seed
    figures_data: dict[str, Any] = field(default_factory=dict, repr=False)
    folder: Path | None = None  # the folder it was read from (its figures/*.png), for a result read back

    def summary(self) -> pd.DataFrame:
        """The estimates table: one row per estimator × adjustment."""
        return self.estimates[["estimator", "adjustment", "ate", "ci_low", "ci_high", "seconds"]]

    def shared_confounding(self) -> pd.DataFrame:
        """The shared-confounding check, one row per grouping (each item's rows, each user's): the bias a
        confounder they share would give the doubly robust estimate, its standard error, z, and whether it was
        named. Empty with a logged propensity (nothing for it to bias), for a log without item or user ids, or for
        an audit written before the check existed."""
        checks = self.diagnostics.get("shared_confounding") or {}
        return pd.DataFrame([{"rows shared by": f"each {name}", "bias it implies": check["bias"],
                              "standard error": check["se"], "z": check["z"], "named": check["flagged"]}
                             for name, check in checks.items()],
                            columns=["rows shared by", "bias it implies", "standard error", "z", "named"])

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "ate": self.ate, "att": self.att, "recommended": self.recommended,
                "estimates": self.estimates.to_dict(orient="records"), "refutations": self.refutations,
                "diagnostics": self.diagnostics, "heterogeneity": self.heterogeneity,
                "seconds": self.seconds, "roles": self.roles.to_dict(), "settings": self.settings,
                "ground_truth": self.ground_truth}

    def __repr__(self) -> str:  # the dataclass's own repr printed every table and dict, kilobytes of it
        ate, rec = self.ate, self.recommended
        n_est, n_ref = len(self.estimates), len(self.refutations)
        return (f"AuditResult(n_rows={self.n_rows:,}, ATE {ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, "
                f"{ate['ci_high']:+.4f}] from {rec['estimator']} on {rec['adjustment']}; {n_est} "
                f"estimate{'s' * (n_est != 1)}, {n_ref} refutation{'s' * (n_ref != 1)}: see summary(), headline(), "
                f"to_dict())")

    def _repr_html_(self) -> str:
        """In a notebook, the headline table."""
        return self.headline().to_html(index=False)

    def headline(self) -> pd.DataFrame:
        """The decision table a report opens with: the effect with its interval, what text adjustment changed,
        whether the diagnostics pass, and the next step."""
        ate, att, rec = self.ate, self.att, self.recommended
        est = self.estimates.set_index(["estimator", "adjustment"])
        rows = [("effect of showing (ATE)", f"{ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, {ate['ci_high']:+.4f}]"),
                ("effect on shown rows (ATT)", f"{att['estimate']:+.4f} [{att['ci_low']:+.4f}, {att['ci_high']:+.4f}]"),
                ("estimate from", f"{rec['estimator']} on {rec['adjustment']}: {rec['reason']}")]
        if ("naive", "none") in est.index:
            rows.append(("naive exposed − unexposed", f"{est.loc[('naive', 'none'), 'ate']:+.4f}"))
        if (rec["estimator"], "tabular") in est.index and rec["adjustment"] != "tabular":
            before = est.loc[(rec["estimator"], "tabular"), "ate"]
            change = (f"{before:+.4f} with tabular covariates only → {ate['estimate']:+.4f} with text "
                      f"({ate['estimate'] - before:+.4f})")
            if before == ate["estimate"] and self._outcome_models_flat("tabular", rec["adjustment"]):
                change += (": the outcome models learnt nothing on either rung (see the warnings), so this is no "
                           "reading on text")
            rows.append(("what text changed", change))
        overlap, balance = self.diagnostics["overlap"], self.diagnostics["balance"]
        rows.append(("overlap", f"{'pass' if overlap['passed'] else 'WARN'}: {overlap['share_outside']:.1%} of "
                                f"propensities outside [0.01, 0.99]; they separate the arms with AUC "
                                f"{overlap['separation_auc']:.2f}"))
        rows.append(("balance after weighting", f"{'pass' if balance['passed'] else 'WARN'}: "
                                                f"{balance['share_above_0.1_after']:.0%} of {balance['columns']} "
                                                f"columns with |SMD| > 0.1"))
        shared = self.diagnostics.get("shared_confounding") or {}  # absent from audits saved before it existed
        if shared:
            flagged = [name for name, check in shared.items() if check["flagged"]]
            taken = ate.get("subtracted", {})  # absent from audits saved before the estimate subtracted it
            answer = (f"{'WARN' if flagged else 'pass'}: the bias it would cause, "
                      + "; ".join(f"by {name} {check['bias']:+.4f} (z = {check['z']:.1f}"
                                  + (", subtracted from the estimate)" if name in taken else ")")
                                  for name, check in shared.items()))
            if taken:
                before = ate["uncorrected"]
                answer += (f"; before subtracting, the effect read {before['estimate']:+.4f} "
                           f"[{before['ci_low']:+.4f}, {before['ci_high']:+.4f}]")
            rows.append(("confounding shared by an item's or a user's rows", answer))
        else:
            flagged = []
            if overlap.get("calibration", {}).get("source") == "logged":
                rows.append(("confounding shared by an item's or a user's rows",
                             "not needed: with the logged propensity a doubly robust estimate takes no bias from a "
                             "confounder the covariates miss"))
        if self.refutations:
            passed = sum(r["passed"] for r in self.refutations)
            failed = [r["name"] for r in self.refutations if not r["passed"]]
            rows.append(("refutations", f"{passed} of {len(self.refutations)} passed"
                                        + (f" (failed: {', '.join(failed)})" if failed else "")))
        significant = ate["ci_low"] > 0 or ate["ci_high"] < 0
        if not overlap["passed"]:
            step = ("exposure was all but certain for many rows (overlap fails), so the log cannot compare like with "
                    "like there: only a randomized test can tell; size an A/B test for the smallest lift worth shipping")
        elif flagged:
            step = (f"a confounder constant per {' and per '.join(flagged)} is missing (see the warnings): add it to "
                    f"the covariates, or log the propensity, before acting on this estimate; only a randomized test "
                    f"is free of it")
        elif significant:
            step = "confirm with an A/B test targeted at the top uplift segment (see the planning report)"
        else:
            step = "the effect is not distinguishable from zero: size an A/B test for the smallest lift worth shipping"
        rows.append(("next step", step))
        if self.ground_truth:
            truth = self.ground_truth
            rows.append(("simulated truth", f"ATE {truth['ate']:+.4f}; the interval "
                                            f"{'covers it' if truth['covered'] else 'misses it'}"))
        return pd.DataFrame(rows, columns=["question", "answer"])

    def _outcome_models_flat(self, *rungs: str) -> bool:
        """Whether both arms' outcome models predicted one constant in every fold on each of ``rungs``."""
        nuisance = self.diagnostics.get("nuisance", {})
        return all(nuisance.get(rung, {}).get(f"outcome_flat_{arm}", 0.0) == 1.0
                   for rung in rungs for arm in ("unexposed", "exposed"))

    @classmethod
    def read(cls, folder: str | Path) -> "AuditResult":
        """A finished audit back from the folder :meth:`write` made, for reports and comparisons without rerunning
        it. Its figures are the folder's ``figures/*.png``: the balance table, the Qini curve's points and the
        graph's node groups are not kept, so ``plot_balance``, ``plot_qini`` and ``plot_graph`` need a fitted
        audit."""
        path = output_folder(folder)  # or its results.json or uplift.parquet named, as rank takes it
        results, table = path / "results.json", path / "uplift.parquet"
        if not (results.exists() and table.exists()):
            raise DataError(Problem(None, f"no audit output at {path} (it needs results.json and uplift.parquet)",
                                    hint="run `recuplift audit DATA --out DIR` and pass DIR"))
        saved = json.loads(results.read_text())
        lacking = [key for key in ("n_rows", "ate", "att", "recommended", "estimates", "refutations", "diagnostics",
                                   "heterogeneity", "seconds", "roles") if key not in saved]
        if lacking:
            raise DataError(Problem(None, f"{results} lacks {', '.join(lacking)}",
                                    hint="re-run `recuplift audit` with this version of recuplift"))
        roles = Roles(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["roles"].items()})
        return cls(n_rows=saved["n_rows"], ate=saved["ate"], att=saved["att"], recommended=saved["recommended"],
                   estimates=pd.DataFrame(saved["estimates"]), refutations=saved["refutations"],
                   diagnostics=saved["diagnostics"], heterogeneity=saved["heterogeneity"], uplift=read_table(table),
                   seconds=saved["seconds"], roles=roles, ground_truth=saved.get("ground_truth"),
                   settings=saved.get("settings", {}), folder=path)

    def _figure_data(self, name: str) -> Any:
        if name not in self.figures_data:  # a result read back from its folder
            raise ValueError(f"this audit was read from its folder, which keeps this figure as figures/*.png, not "
                             f"its data ({name}): show the PNG, or refit the audit to redraw it")
        return self.figures_data[name]

    # -- figures ---------------------------------------------------------------------------------------------
    def plot_ladder(self):  # noqa: ANN201 - matplotlib Figure
        """Every estimate on every rung and, when the recommended one had a shared-confounding bias subtracted,
        that headline estimate as a last row."""
        truth = self.ground_truth["ate"] if self.ground_truth else None
        rows = self.estimates[["estimator", "adjustment", "ate", "ci_low", "ci_high"]]
        if self.ate.get("subtracted"):
            rows = pd.concat([rows, pd.DataFrame([{
                "estimator": f"{self.ate['estimator']} less shared bias ({', '.join(self.ate['subtracted'])})",
                "adjustment": self.ate["adjustment"], "ate": self.ate["estimate"], "ci_low": self.ate["ci_low"],
                "ci_high": self.ate["ci_high"]}])], ignore_index=True)
        return plots.ladder(rows, truth)

    def plot_overlap(self):  # noqa: ANN201
        return plots.overlap(self.diagnostics["overlap"])

    def plot_balance(self):  # noqa: ANN201
        return plots.love_plot(self._figure_data("balance"))

    def plot_uplift_deciles(self):  # noqa: ANN201
        return plots.uplift_deciles(pd.DataFrame(self.heterogeneity["deciles"]))

    def plot_qini(self):  # noqa: ANN201
        return plots.qini(self._figure_data("qini"))

    def plot_groups(self):  # noqa: ANN201
        return plots.group_effects(self.heterogeneity["by_group"], self.ate["estimate"])

    def plot_drivers(self):  # noqa: ANN201
        return plots.drivers(self.heterogeneity["drivers"]["importances"])

    def plot_graph(self):  # noqa: ANN201
        return plots.causal_graph(self._figure_data("graph_groups"), self.roles.treatment, self.roles.outcome,
                                  list(self.roles.modifiers))

    def write(self, out_dir: str | Path) -> Path:
        """``results.json``, ``uplift.parquet`` and ``figures/*.png``, built in a temporary folder beside
        ``out_dir`` and moved into place only when all of them are written. The folder is replaced whole, so it
        must be new, empty or a previous audit's (:func:`check_audit_folder`)."""
        import shutil
        import tempfile

        import matplotlib.pyplot as plt

        out = Path(out_dir).resolve()  # "." has no name to stage beside
        check_audit_folder(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            (staging / "figures").mkdir()
            for name in ("ladder", "overlap", "balance", "uplift_deciles", "qini", "groups", "drivers", "graph"):
                fig = getattr(self, f"plot_{name}")()
                fig.savefig(staging / "figures" / f"{name}.png", dpi=110, format="png")
                plt.close(fig)
            write_table(self.uplift, staging / "uplift.parquet")
            write_json(self.to_dict(), staging / "results.json")
            if out.exists():
                shutil.rmtree(out)
            staging.rename(out)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return out


class Audit(BaseEstimator):
    """Estimate what exposure caused in a log. ``Audit(roles).fit(df)`` returns an :class:`AuditResult`.

    ``estimators``: registry names run on every rung of the adjustment ladder (``naive`` runs once), as a
    tuple or a comma-separated string.
    ``concepts``: named concept descriptions scored on every text column (interpretable confounders).
    ``estimator_params``: settings per estimator, e.g. ``{"neural": {"epochs": 50}}``; the folds, the seed and
    the nuisance models' settings are the audit's own, the same for every estimator.
    ``run_refuters``: run DoWhy's refuters (the slowest stage).
    """

    def __init__(self, roles: Roles | None = None, estimators: tuple[str, ...] | str = DEFAULT_ESTIMATORS,
                 concepts: dict[str, str] | None = None, encoder: TextEncoder | None = None, n_folds: int = 3,
                 run_refuters: bool = True, random_state: int = 0, progress: bool = True,
                 estimator_params: dict[str, dict[str, Any]] | None = None):
        self.roles = roles
        self.estimators = estimators
        self.estimator_params = estimator_params
        self.concepts = concepts
        self.encoder = encoder
        self.n_folds = n_folds
        self.run_refuters = run_refuters
        self.random_state = random_state
        self.progress = progress

    # -- the four verbs -------------------------------------------------------------------------------------
    def _check_arguments(self) -> None:
        """Wrong arguments are ValueErrors before any work, not errors from deep inside scikit-learn."""
        check_estimators(self._estimator_names(), self.estimator_params)
        check_fold_settings(self.n_folds, self.random_state)
        check_concepts(self.concepts)

    def model(self, df: pd.DataFrame) -> "Audit":
        self._check_arguments()
        self.report_ = validate(df, self.roles, n_folds=self.n_folds)
        roles = self.report_.roles
        if self.concepts and not roles.text:  # they were dropped without a word
            raise ValueError(f"concepts ({', '.join(self.concepts)}) are scored on the text columns, and the audit has "
                             f"none: name the text columns (roles text=…) or leave the concepts out")
        self.roles_ = roles
        self.data_ = df.reset_index(drop=True)
        self.index_ = df.index
        self.y_ = self.data_[roles.outcome].to_numpy(float)
        self.t_ = self.data_[roles.treatment].to_numpy().astype(int)
        self.groups_ = group_codes(self.data_[roles.user_id].to_numpy()) if roles.user_id else None
        self.propensity_ = self.data_[roles.propensity].to_numpy(float) if roles.propensity else None
        self._refuse_estimators_too_costly(n_features=1)  # the rows alone, before the text is embedded
        # progress=False silences the text encoder's bar too, unless the caller brought an encoder of their own
        encoder = self.encoder if self.encoder is not None or self.progress else TextEncoder(progress=False)
        self.sets_: AdjustmentSets = build_adjustment_sets(self.data_, roles, encoder=encoder,
                                                           concepts=self.concepts, random_state=self.random_state)
        self.rungs_ = self.sets_.rungs()
        self.richest_ = self.rungs_[-1]
        from dowhy import CausalModel

        confounders = self.sets_.frame(self.richest_)
        frame = _safe_columns(pd.concat([confounders, self.sets_.modifiers], axis=1))
        frame["__treatment"], frame["__outcome"] = self.t_, self.y_
        self.dowhy_frame_ = frame
        self.common_causes_ = list(frame.columns[: confounders.shape[1]])
        self.effect_modifiers_ = list(frame.columns[confounders.shape[1]:-2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.causal_model_ = CausalModel(data=frame, treatment="__treatment", outcome="__outcome",
                                             common_causes=self.common_causes_ or None,
                                             effect_modifiers=self.effect_modifiers_ or None)
        return self

    def _estimator_names(self) -> tuple[str, ...]:
        """``estimators`` as a tuple: a comma-separated string, as the CLI and the notebooks write it, was
        iterated letter by letter."""
        names = self.estimators.split(",") if isinstance(self.estimators, str) else self.estimators
        return tuple(name.strip() for name in names)

    def _after(self, verb: str, attribute: str, previous: str) -> None:
        """A verb called before the one it builds on gets a clear error, not an AttributeError from inside."""
        if not hasattr(self, attribute):
            raise NotFittedError(f"{verb}() needs {previous} first: the verbs run model(df) → identify() → "
                                 f"estimate() → refute(), or all four at once with fit(df)")

    def identify(self) -> "Audit":
        self._after("identify", "causal_model_", "model(df)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.estimand_ = _in_column_order(self.causal_model_.identify_effect(
                method_name="maximal-adjustment", proceed_when_unidentifiable=True), self.common_causes_)
        return self

    def estimate(self) -> "Audit":
        self._after("estimate", "estimand_", "identify()")
        self._refuse_estimators_too_costly(len(self.common_causes_) + len(self.effect_modifiers_))  # richest rung
        rows: list[dict[str, Any]] = []
        self.nuisances_: dict[str, Nuisances] = {}
        self.cates_: dict[tuple[str, str], np.ndarray] = {}  # per-row effects, kept to score against a known truth
        X_mod = self.sets_.modifiers.to_numpy(float) if self.sets_.modifiers.shape[1] else None
        jobs = [("naive", "none")] if "naive" in self._estimator_names() else []
        jobs += [(e, r) for r in self.rungs_ for e in self._estimator_names() if e != "naive" and r != "none"]
        for name, rung in tqdm(jobs, desc="estimating", disable=not self.progress, leave=False):
            W = self.sets_.matrix(rung)
            if rung not in self.nuisances_ and name != "naive":
                self.nuisances_[rung] = cross_fit(self.y_, self.t_, W if W.shape[1] else np.zeros((len(W), 1)),
                                                  self.groups_, self.propensity_, self.n_folds, self.random_state)
            est = self._make_estimator(name)
            est.fit(self.y_, self.t_, W, X=X_mod if est.gives_cate else None, groups=self.groups_,
                    propensity=self.propensity_, nuisances=self.nuisances_.get(rung))
            rows.append(est.result(rung))
            if est.cate_ is not None:
                self.cates_[(name, rung)] = est.cate_
        self.estimates_ = pd.DataFrame(rows)
        self.recommended_ = self._recommend()
        self._heterogeneity()
        self.shared_ = self._shared_confounding(self.nuisance_richest_)
        self._subtract_shared_confounding()
        return self

    def refute(self) -> "Audit":
        self._after("refute", "estimates_", "estimate()")
        self.refutations_ = self._refutations() if self.run_refuters else []
        return self

    def fit(self, df: pd.DataFrame) -> AuditResult:
        """model → identify → estimate → refute, timed per stage."""
        self._check_arguments()  # before the progress bar starts
        seconds: dict[str, float] = {}
        stages = [("model", lambda: self.model(df)), ("identify", self.identify), ("estimate", self.estimate),
                  ("refute", self.refute)]
        for name, step in tqdm(stages, desc="audit", disable=not self.progress):
            start = time.perf_counter()
            step()
            seconds[name] = time.perf_counter() - start
        seconds["text"] = float(sum(s.seconds for s in (self.sets_.text_features.encode_stats_.values()
                                                      if self.sets_.text_features else [])))
        return self._result(seconds)

    # -- internals -------------------------------------------------------------------------------------------
    def _make_estimator(self, name: str) -> EffectEstimator:
        return make_estimator(name, **(self.estimator_params or {}).get(name, {}), n_folds=self.n_folds,
                              random_state=self.random_state)

    def _refuse_estimators_too_costly(self, n_features: int) -> None:
        """A data problem for each chosen estimator that cannot fit this many rows and features."""
        too_big = [Problem(self.roles_.treatment, problem, hint=f"leave {name} out of the estimators")
                   for name in self._estimator_names()
                   if (problem := self._make_estimator(name).size_problem(self.t_, n_features))]
        if too_big:
            raise DataError(too_big)

    def _recommend(self) -> dict[str, str]:
        """The rule: doubly robust AIPW on the richest rung of adjustment — with the logged propensity when the
        log has one (consistent even if the outcome model is wrong), otherwise with the cross-fitted estimated
        one. Not LinearDML: without effect modifiers it fits one constant effect, which estimates the average
        weighted by e(1 − e), not the ATE, whenever the effect varies with the propensity (on the simulator
        0.021 against an ATE of 0.017). LinearDML is the fallback when AIPW was not run. Without a logged
        propensity, AIPW then has the bias of confounding shared by an item's or a user's rows subtracted where
        the check names it (:meth:`_subtract_shared_confounding`)."""
        available = set(zip(self.estimates_["estimator"], self.estimates_["adjustment"]))
        if ("aipw", self.richest_) in available:
            choice = "aipw"
            reason = ("the log has a logged propensity: doubly robust AIPW uses it and stays consistent if the "
                      "outcome model is misspecified" + ("" if self.report_.stats.get("propensity_calibrated", True)
                                                         else "; but that propensity does not match who was exposed "
                                                              "(see the warnings): if the log was filtered after it "
                                                              "was written, audit it without the propensity")
                      ) if self.propensity_ is not None else (
                      "no logged propensity: doubly robust AIPW with cross-fitted XGBoost propensity and outcome "
                      "models targets the ATE and is first-order insensitive to errors in either")
        elif ("linear_dml", self.richest_) in available:
            choice, reason = "linear_dml", "AIPW was not run: double ML with cross-fitted XGBoost nuisances (a " \
                                           "constant effect: the overlap-weighted average when effects vary)"
        else:  # the last job runs on the richest rung, unless only the naive difference was asked for
            last = self.estimates_.iloc[-1]
            choice, rung = str(last["estimator"]), str(last["adjustment"])
            reason = "only estimator run on the richest adjustment" if rung == self.richest_ else \
                "only the naive difference was run: nothing is adjusted for, so it keeps any confounding"
            return {"estimator": choice, "adjustment": rung, "reason": reason}
        return {"estimator": choice, "adjustment": self.richest_, "reason": reason}

    def _heterogeneity(self) -> None:
        """Per-row uplift from a DR learner (held-out predictions; an interval where the second stage is linear),
        group effects, deciles and drivers."""
        rung = self.richest_
        nuis = self.nuisances_.get(rung) or cross_fit(self.y_, self.t_, self.sets_.matrix(rung), self.groups_,
                                                      self.propensity_, self.n_folds, self.random_state)
        self.dr_ = dr_scores(self.y_, self.t_, nuis)
        features = pd.concat([self.sets_.frame(rung), self.sets_.modifiers], axis=1)
        self.features_ = features
        F = np.column_stack([features.to_numpy(float), plug_in_features(nuis.mu0, nuis.mu1)])
        uplift, half_width = np.empty(len(self.y_)), np.full(len(self.y_), np.nan)
        for k, (train, test) in enumerate(folds(len(self.y_), self.groups_, self.n_folds, self.random_state + 1)):
            groups = None if self.groups_ is None else self.groups_[train]
            model = fit_uplift_regressor(F[train], self.dr_[train], groups, self.random_state + k,
                                         n_plug_in=PLUG_IN_COLUMNS)
            uplift[test] = model.predict(F[test])
            interval = LinearStageInterval.fit(model, F[train], self.dr_[train], groups)  # None where trees won
            if interval is not None:
                half_width[test] = interval.half_width(F[test])
        self.uplift_ = uplift
        self.uplift_ci_ = (uplift - half_width, uplift + half_width)
        self.nuisance_richest_ = nuis

    def _refutations(self) -> list[dict[str, Any]]:
        """DoWhy refuters on a user subsample, plus DoWhy's unobserved-confounder analysis and an E-value.

        DoWhy refutes an estimate it made itself, so the refuters re-estimate with DoWhy's EconML LinearDML (lighter
        nuisances) on the richest rung; each detail names that refit's value, which can differ from the headline
        estimate. The E-value is computed on the headline (recommended) interval."""
        from dowhy import CausalModel

        rng = np.random.default_rng(self.random_state)
        frame = self.dowhy_frame_
        if len(frame) > REFUTATION_MAX_ROWS:
            units = self.groups_ if self.groups_ is not None else np.arange(len(frame))
            uniq = np.unique(units)
            keep_units = rng.choice(uniq, max(2, int(len(uniq) * REFUTATION_MAX_ROWS / len(frame))), replace=False)
            frame = frame[np.isin(units, keep_units)].reset_index(drop=True)
        light = dict(model_y=regression_model(self.random_state, 100),
                     model_t=treatment_model(self.random_state, 100),
                     discrete_treatment=True, cv=self.n_folds, random_state=self.random_state)
        out: list[dict[str, Any]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CausalModel(data=frame, treatment="__treatment", outcome="__outcome",
                                common_causes=self.common_causes_ or None,
                                effect_modifiers=self.effect_modifiers_ or None)
            estimand = _in_column_order(model.identify_effect(method_name="maximal-adjustment",
                                                              proceed_when_unidentifiable=True), self.common_causes_)
            base = model.estimate_effect(estimand, method_name="backdoor.econml.dml.LinearDML",
                                         effect_modifiers=self.effect_modifiers_,
                                         method_params={"init_params": light, "fit_params": {}})
            scale = max(abs(float(base.value)), 1e-12)
            se = float(self._recommended_rows()[0]["se"]) * np.sqrt(len(self.dowhy_frame_) / len(frame))
            specs = [
                ("placebo_treatment", "placebo_treatment_refuter", dict(placebo_type="permute", num_simulations=3),
                 lambda new: abs(new) <= max(0.2 * scale, 2 * se), "a permuted exposure should have ~no effect"),
                ("random_common_cause", "random_common_cause", dict(num_simulations=3),
                 lambda new: abs(new - base.value) <= 0.1 * scale + 2 * se, "adding a random confounder should not move it"),
                ("data_subset", "data_subset_refuter", dict(subset_fraction=0.8, num_simulations=3),
                 lambda new: abs(new - base.value) <= 0.1 * scale + 2 * se, "an 80% subset should agree"),
            ]
            for name, method, kwargs, rule, meaning in specs:
                result = model.refute_estimate(estimand, base, method_name=method, random_seed=self.random_state, **kwargs)
                new = float(result.new_effect)
                out.append({"name": name, "passed": bool(rule(new)), "estimate": float(base.value), "new_effect": new,
                            "detail": f"{meaning}: DoWhy's LinearDML refit {float(base.value):+.4f} → {new:+.4f} "
                                      f"on {len(frame):,} rows"})
            # the confounder flips 5% of exposures and moves the outcome by a quarter of its standard deviation per
            # unit: 0.05–0.08 on a 0/1 outcome at a 5–10% rate, and the same strength on minutes or revenue
            flip, shift = 0.05, 0.25 * float(np.std(frame["__outcome"]))
            result = model.refute_estimate(estimand, base, method_name="add_unobserved_common_cause",
                                           simulation_method="direct-simulation",
                                           confounders_effect_on_treatment="binary_flip",
                                           confounders_effect_on_outcome="linear",
                                           effect_strength_on_treatment=flip, effect_strength_on_outcome=shift)
            new = float(np.mean(np.atleast_1d(result.new_effect)))
            out.append({"name": "unobserved_common_cause", "passed": bool(np.sign(new) == np.sign(base.value)),
                        "estimate": float(base.value), "new_effect": new, "outcome_shift": shift,
                        "detail": f"an unobserved confounder flipping {flip:.0%} of exposures and shifting the "
                                  f"outcome by a quarter of its standard deviation ({shift:.3g}) per unit moves "
                                  f"DoWhy's LinearDML refit {float(base.value):+.4f} → {new:+.4f} (sign kept = pass)"})
        out.append(self._e_value())
        return out

    def _e_value(self) -> dict[str, Any]:
        """The E-value of the headline (recommended) interval, with its pass rule in the detail."""
        ate = self.ate_interval()
        ev = diagnostics.e_value(ate["estimate"], ate["ci_low"], ate["ci_high"], self.y_, self.t_)
        if "undefined" in ev:
            return {"name": "e_value", "passed": False, **ev,
                    "detail": f"E-value undefined: {ev['undefined']}; judge sensitivity from the refuters above"}
        on = "a risk ratio" if ev["scale"] == "risk ratio" else "a standardized difference, as a risk ratio exp(0.91·d)"
        return {"name": "e_value", "passed": bool(ev["e_value_ci"] >= 1.25), **ev,
                "detail": f"an unobserved confounder would need risk ratios of {ev['e_value']:.2f} with both exposure "
                          f"and outcome to explain the effect away ({ev['e_value_ci']:.2f} to move the recommended "
                          f"interval to the null; effect read as {on}); pass if the latter ≥ 1.25"}

    def _recommended_rows(self) -> tuple[dict[str, Any], dict[str, Any], float]:
        """The recommended estimator's ATE and ATT on its rung, as estimated (before any subtraction), and the
        critical value their intervals used."""
        row = self.estimates_[(self.estimates_["estimator"] == self.recommended_["estimator"])
                              & (self.estimates_["adjustment"] == self.recommended_["adjustment"])].iloc[0]
        ate = {"estimate": float(row["ate"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
               "se": float(row["se"]), "estimator": row["estimator"], "adjustment": row["adjustment"]}
        critical = (ate["ci_high"] - ate["estimate"]) / ate["se"] if ate["se"] > 0 else 0.0  # the t quantile used
        att = {"estimate": float(row["att"]), "ci_low": float(row["att_ci_low"]), "ci_high": float(row["att_ci_high"]),
               "se": float(row["att_se"]),
               "estimator": row["estimator"], "adjustment": row["adjustment"]}
        return ate, att, critical

    def _subtract_shared_confounding(self) -> None:
        """The rule's second half: without a logged propensity, the doubly robust ATE and ATT less the bias the
        shared-confounding check reads for each grouping (item, user) it names; the reason says what was taken off.

        Only named ones: a read's error moves against the estimate's (both come from the same residuals), so on a
        log without a shared confounder subtracting every read at least as precise as the estimate costs coverage
        (the film generator's sparse logger, exploratory: 33 → 30 of 35). A named read is a bias several of its
        own standard errors from 0 and at least one of the estimate's, which the interval cannot absorb."""
        ate, att, critical = self._recommended_rows()
        self.intervals_ = {"ate": {**ate, "subtracted": {}}, "att": {**att, "subtracted": {}}}
        chosen = [name for name, check in self.shared_.items() if check["flagged"]]  # the same for both
        if self.recommended_["estimator"] != "aipw" or not chosen:
            return
        for estimand, interval in (("ate", ate), ("att", att)):
            reads = {name: self.shared_[name] if estimand == "ate" else self.shared_[name]["att"] for name in chosen}
            self.intervals_[estimand] = diagnostics.subtract_shared_bias(interval, reads, critical)
        taken = ", ".join(f"by {name} {self.shared_[name]['bias']:+.4f}" for name in chosen)
        self.recommended_["reason"] += (
            "; less the bias that confounding shared by each item's or each user's rows gives it, read from pairs of "
            f"those rows ({taken}; subtracted where the check names such a confounder, its variance added)")

    def ate_interval(self) -> dict[str, Any]:
        """The headline ATE: the recommended estimate, less what shared confounding was read to add."""
        return self.intervals_["ate"]

    def _result(self, seconds: dict[str, float]) -> AuditResult:
        roles = self.roles_
        ate = self.ate_interval()
        att = {key: value for key, value in self.intervals_["att"].items() if key != "se"}
        nuis = self.nuisance_richest_
        confounders = self.sets_.frame(self.richest_)  # balance is judged with the weights the estimates used
        balance_table = diagnostics.balance(confounders, self.t_, nuis.clipped_propensity()) if confounders.shape[1] \
            else pd.DataFrame(columns=["before", "after"])
        # overlap on the propensity before clipping: clipped at the bounds, a treatment the covariates decide
        # (no overlap at all) sat exactly on 0.01 and 0.99 and passed
        overlap = diagnostics.overlap(nuis.propensity, self.t_)
        overlap["calibration"] = {"source": nuis.propensity_source,  # is it who was exposed? (the overlap figure)
                                  **diagnostics.propensity_calibration(nuis.propensity, self.t_, self.groups_)}
        deciles = uplift_by_quantile(self.uplift_, self.dr_, self.groups_)
        shared = self.shared_
        diag = {
            "overlap": overlap,
            "balance": diagnostics.balance_summary(balance_table),
            "nuisance": {rung: {**n.scores, "propensity_source": n.propensity_source, "clipped": n.n_clipped}
                         for rung, n in self.nuisances_.items()},
            "uplift_validation": diagnostics.uplift_validation(self.uplift_, self.dr_, self.groups_),
            "warnings": [str(w) for w in self.report_.warnings] + _nuisance_warnings(nuis, self.t_)
                        + _overlap_warnings(overlap, nuis) + _shared_confounding_warnings(shared, ate),
            "shared_confounding": shared,
            "text": self.sets_.text_features.encoding_summary() if self.sets_.text_features is not None else None,
        }
        heterogeneity = {"deciles": deciles.to_dict(orient="records"), "by_group": self._group_effects(),
                         "drivers": _drivers(self.features_, self.uplift_, self.random_state)}
        # one row per input row, canonical names; what ranking and planning build on: the observed exposure and
        # outcome, the propensity the audit used (logged, or estimated out of fold), predicted outcome with and
        # without exposure, and the doubly robust score
        uplift = pd.DataFrame({
            "row": np.arange(len(self.data_)),
            **({"user_id": self.data_[roles.user_id].to_numpy()} if roles.user_id else {}),
            **({"item_id": self.data_[roles.item_id].to_numpy()} if roles.item_id else {}),
            **({"request_id": self.data_[roles.request_id].to_numpy()} if roles.request_id else {}),
            "exposed": self.t_, "outcome": self.y_, "propensity": nuis.clipped_propensity(), "uplift": self.uplift_,
            "uplift_ci_low": self.uplift_ci_[0], "uplift_ci_high": self.uplift_ci_[1],
            "outcome_if_shown": nuis.mu1, "outcome_if_not_shown": nuis.mu0, "dr_score": self.dr_}, index=self.index_)
        truth = None
        estimates = self.estimates_
        if "true_uplift" in self.data_.columns:  # compared only now, never read by an estimator
            true_uplift = self.data_["true_uplift"].to_numpy(float)
            true_ate = float(true_uplift.mean())
            estimates = estimates.assign(
                bias=estimates["ate"] - true_ate,
                covered=(estimates["ci_low"] <= true_ate) & (true_ate <= estimates["ci_high"]),
                pehe=[pehe(self.cates_[key], true_uplift) if key in self.cates_ else None
                      for key in zip(estimates["estimator"], estimates["adjustment"])])
            truth = {"ate": true_ate, "bias": ate["estimate"] - true_ate,
                     "covered": bool(ate["ci_low"] <= true_ate <= ate["ci_high"]), "pehe": pehe(self.uplift_, true_uplift),
                     "att": float(true_uplift[self.t_ == 1].mean()),
                     "naive_bias": float(self.y_[self.t_ == 1].mean() - self.y_[self.t_ == 0].mean()) - true_ate}
        return AuditResult(n_rows=len(self.data_), ate=ate, att=att, recommended=self.recommended_,
                           estimates=estimates, refutations=self.refutations_, diagnostics=diag,
                           heterogeneity=heterogeneity, uplift=uplift, seconds=seconds, roles=roles,
                           ground_truth=truth,
                           settings=self._settings(),
                           figures_data={"balance": balance_table, "qini": qini_curve(self.uplift_, self.dr_),
                                         "graph_groups": self._graph_groups()})

    def _shared_confounding(self, nuis: Nuisances) -> dict[str, dict[str, Any]]:
        """Per grouping (item, user), the bias a confounder shared by the group's rows gives the recommended
        rung's doubly robust ATE (:func:`diagnostics.shared_confounding`; under ``att`` the ATT's), flagged when it
        lies ``SHARED_CONFOUNDING_Z`` standard errors from 0 and is at least one standard error of the estimate.
        Empty with a logged propensity: AIPW's bias is what the propensity misses times what the outcome models
        miss, and a logged propensity that is who was exposed misses nothing (the calibration check says whether
        it is)."""
        if nuis.propensity_source == "logged":
            return {}
        roles, out = self.roles_, {}
        ate_se = self._recommended_rows()[0]["se"]
        for name, column, across in (("item", roles.item_id, roles.user_id), ("user", roles.user_id, roles.item_id)):
            if column is None:
                continue
            args = (self.t_, self.y_, nuis.clipped_propensity(), nuis.mu0, nuis.mu1, self.data_[column].to_numpy(),
                    self.data_[across].to_numpy() if across else None)
            check = diagnostics.shared_confounding(*args)
            if check is not None:
                att = diagnostics.shared_confounding(*args, estimand="att")
                out[name] = {**check, "flagged": bool(abs(check["z"]) >= diagnostics.SHARED_CONFOUNDING_Z
                                                      and abs(check["bias"]) >= ate_se),
                             "att": {"bias": att["bias"], "se": att["se"]}}
        return out

    def _settings(self) -> dict[str, Any]:
        """What reruns this audit, JSON-safe: an estimator object given as a setting is kept as its repr."""
        def plain(value: Any) -> Any:
            return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)

        return {"estimators": list(self._estimator_names()),
                "estimator_params": {name: {key: plain(value) for key, value in settings.items()}
                                     for name, settings in (self.estimator_params or {}).items()},
                "n_folds": self.n_folds, "random_state": self.random_state, "refuters": self.run_refuters,
                "versions": versions()}

    def _group_effects(self) -> list[dict[str, Any]]:
        rows = []
        candidates = [c for c in (*(self.roles_.covariates or ()), *self.roles_.modifiers)
                      if not pd.api.types.is_numeric_dtype(self.data_[c]) or self.data_[c].nunique() <= 10]
        for col in dict.fromkeys(candidates):
            levels = list(self.data_.groupby(col, observed=True).indices.items())
            # rows missing the column are a group of their own (anonymous users, items never categorized)
            levels.append((MISSING_LEVEL, np.flatnonzero(self.data_[col].isna().to_numpy())))
            for level, idx in levels:
                if len(idx) < 30:
                    continue
                interval = mean_interval(self.dr_[idx], None if self.groups_ is None else self.groups_[idx])
                rows.append({"column": col, "level": str(level), "rows": int(len(idx)), **interval.to_dict()})
        return rows

    def _graph_groups(self) -> dict[str, int]:
        groups = {"tabular covariates": self.sets_.tabular.shape[1]}
        for col in self.roles_.text or ():
            groups[f"{col} embedding"] = sum(1 for c in self.sets_.text.columns if c.startswith(f"{col}_"))
        if self.sets_.pair.shape[1]:
            groups["user–item pair"] = self.sets_.pair.shape[1]
        return groups


def _in_column_order(estimand: Any, columns: list[str]) -> Any:
    """DoWhy returns the backdoor set in set-iteration order, which changes with Python's string hashing from one
    process to the next; the refit's XGBoost samples columns by position, so its estimate changed from run to
    run (+0.0294 and +0.0321 on the same log and seed). Put the set back in the frame's column order."""
    for key, names in estimand.backdoor_variables.items():
        chosen = set(names)
        estimand.backdoor_variables[key] = [c for c in columns if c in chosen] + sorted(chosen - set(columns))
    return estimand


def _nuisance_warnings(nuisances: Nuisances, t: np.ndarray) -> list[str]:
    """What an analyst should know about the richest rung's nuisance models before reading the estimates."""
    arms = {"unexposed": int((1 - t).sum()), "exposed": int(t.sum())}
    flat = [arm for arm in arms if nuisances.scores.get(f"outcome_flat_{arm}", 0.0) == 1.0]
    if not flat:
        return []
    consequence = ("so AIPW here is inverse-propensity weighting around the arms' means and gives the same estimate "
                   "on every rung; compare IPW" if len(flat) == 2 else
                   f"so for the {flat[0]} arm AIPW leans on the propensity alone")
    subject = f"the {flat[0]} arm's model predicts" if len(flat) == 1 else "both arms' models predict"
    return [f"outcome models: {subject} one constant in every fold — no split "
            f"kept held-out users' loss improving ({', '.join(f'{arms[a]:,} {a} rows' for a in flat)}; a tree leaf "
            f"needs a hessian mass of 50: 50 rows of a continuous outcome, about 550 at a 10% click rate) — "
            f"{consequence}, and expect per-row uplift to be weak"]


def _overlap_warnings(overlap: dict[str, Any], nuisances: Nuisances) -> list[str]:
    """Where the overlap check fails: the covariates (or the logger) all but decide exposure, and no weighting can
    compare like with like. Logged propensities outside the bounds are already warned about when the log is
    validated, so for them only the separation is reported here."""
    lo, hi = overlap["bounds"]
    outside = overlap["share_outside"] > OVERLAP_MAX_OUTSIDE and nuisances.propensity_source != "logged"
    separated = overlap["separation_auc"] >= SEPARATION_AUC
    if not (outside or separated):
        return []
    what = (f"{overlap['share_outside']:.1%} of the estimated propensities lie outside [{lo}, {hi}]" if outside else
            f"the {nuisances.propensity_source} propensity separates exposed from unexposed rows almost perfectly "
            f"(AUC {overlap['separation_auc']:.3f})")
    return [f"overlap: {what} — who is shown is all but decided, so the effect there rests on the outcome models' "
            f"extrapolation and on extreme weights; audit the rows where exposure was uncertain, or read the estimate "
            f"as model-based"]


SHARED_EXAMPLES = {"item": "its popularity, price or age in the catalogue",
                   "user": "their activity, tenure or a taste their texts do not state"}


def _shared_confounding_warnings(shared: dict[str, dict[str, Any]], ate: dict[str, Any]) -> list[str]:
    """A confounder constant per item (or user) that the adjustment missed, large enough to matter, and whether
    the recommended estimate (``ate``) already has its bias subtracted — an estimate under the assumption that
    what was missed is shared that way."""
    out = []
    taken = ate.get("subtracted", {})
    se = ate.get("uncorrected", ate)["se"]
    for name, check in shared.items():
        if not check["flagged"]:
            continue
        unit, others = ("an item", "users") if name == "item" else ("a user", "items")
        handled = (f"the recommended estimate has it subtracted ({ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, "
                   f"{ate['ci_high']:+.4f}], its variance added), which holds only if what was missed is shared "
                   f"that way" if name in taken else
                   "the recommended estimate does not subtract it")
        out.append(f"confounding shared by each {name}'s rows: what the propensity model misses about {unit} and "
                   f"what the outcome models miss about it move together across its {others}, enough to bias a "
                   f"doubly robust estimate on the recommended rung by about {check['bias']:+.4f} (z = "
                   f"{check['z']:.1f}; the estimate's standard error is {se:.4f}); {handled} — a confounder "
                   f"constant per {name} ({SHARED_EXAMPLES[name]}) is missing from the covariates and texts: add it "
                   f"with --covariates, or log the propensity")
    return out


# the folds, the seed and the nuisance models (their size, the propensity floor) are the same for every estimator
AUDIT_OWNED_PARAMS = {"n_folds", "random_state", "n_estimators", "clip"}


def check_estimators(names: tuple[str, ...], params: dict[str, dict[str, Any]] | None = None) -> None:
    """An unknown estimator, or a setting for one not chosen or that it does not take, is a wrong argument,
    not a problem in the data: ValueError, before any work."""
    from .estimators import estimator_names

    unknown = [name for name in names if name not in estimator_names()]
    if unknown or not names:
        raise ValueError(unknown_choice("estimator", unknown[0], estimator_names()) if unknown
                         else f"no estimator given; choose from {', '.join(estimator_names())}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # each would be run and reported twice, as two rows of the same estimate
        raise ValueError(f"estimator(s) {repeated} listed more than once")
    for name, settings in (params or {}).items():
        if name not in names:
            raise ValueError(f"settings given for '{name}', which is not among the estimators ({', '.join(names)})")
        estimator = make_estimator(name)
        takes = sorted(set(estimator.get_params()) - AUDIT_OWNED_PARAMS)
        wrong = sorted(set(settings) - set(takes))
        if wrong:
            owned = [w for w in wrong if w in AUDIT_OWNED_PARAMS]
            raise ValueError(f"{name} does not take {wrong}" + (f" ({', '.join(owned)}: the audit's own, the same "
                                                                f"for every estimator)" if owned else "")
                             + (f"; {did_you_mean(wrong[0], takes)}it takes {', '.join(takes)}" if takes
                                else "; it has no settings of its own"))
        estimator.set_params(**settings).check_settings()  # e.g. neural epochs=0, an ensemble member without CATE


def _safe_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """DoWhy parses column names into formulas; give it plain identifiers."""
    out = frame.copy()
    out.columns = [f"c{j}_" + "".join(ch if ch.isalnum() else "_" for ch in str(c))[:40] for j, c in enumerate(frame.columns)]
    return out


def _drivers(features: pd.DataFrame, uplift: np.ndarray, random_state: int) -> dict[str, Any]:
    """What drives predicted uplift: a depth-3 tree's rules and the features it leans on."""
    from sklearn.tree import DecisionTreeRegressor, export_text

    if features.shape[1] == 0:
        return {"importances": {}, "tree": ""}
    tree = DecisionTreeRegressor(max_depth=3, min_samples_leaf=max(20, len(uplift) // 100),
                                 random_state=random_state).fit(features.to_numpy(float), uplift)
    importances = pd.Series(tree.feature_importances_, index=features.columns).sort_values(ascending=False)
    return {"importances": importances[importances > 0].head(15).to_dict(),
            "tree": export_text(tree, feature_names=[str(c) for c in features.columns], decimals=4)}


__all__ = ["Audit", "AuditResult", "LADDER"]
