"""Figures, one function each, each returning a matplotlib ``Figure`` (saved by the caller)."""

from __future__ import annotations

from itertools import cycle
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _literal(text: object) -> str:
    """Text from the data, shown as written: matplotlib reads ``$…$`` as maths, so a price band '$5-$10' lost its
    dollar signs and a label such as 'x$\\frac$' stopped the figure, and the audit's write, with a parse error."""
    return str(text).replace("$", r"\$")


def _grouped_thousands(axis: Any) -> None:  # noqa: ANN401 - a matplotlib Axis
    """Tick labels with thousands grouped (12,000, not 12000): per-1,000-user counts of revenue run to five digits."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.6g}"))


def _interval_rows(ax: Any, labels: list[str], estimate: Any, low: Any, high: Any,  # noqa: ANN401 - an Axes
                   label: str | None = None, reference: tuple[float, str, str] | None = None,
                   highlight: int | None = None) -> np.ndarray:
    """One row per label, top down: the estimate with its 95% interval bar, a line at zero and, given
    ``(x, label, colour)``, a dashed reference line (the truth, the overall effect); row ``highlight`` in red (the
    recommended one). Returns the rows' y."""
    estimate, low, high = (np.asarray(a, float) for a in (estimate, low, high))
    y = np.arange(len(labels))[::-1]
    ax.errorbar(estimate, y, xerr=[estimate - low, high - estimate], fmt="o", color="#1f77b4", capsize=3, label=label)
    if highlight is not None:
        i = highlight
        ax.errorbar(estimate[i], y[i], xerr=[[estimate[i] - low[i]], [high[i] - estimate[i]]], fmt="o",
                    color="#d62728", capsize=3)
    ax.set_yticks(y, [_literal(label) for label in labels])
    ax.axvline(0, color="grey", lw=0.8)
    if reference is not None:
        x, text, colour = reference
        ax.axvline(x, color=colour, ls="--", label=text)
        ax.set_ylim(-0.6, len(labels) + 0.5)  # a free band above the top row holds the legend: "best" put it on a bar
        ax.legend(loc="upper right", fontsize="small")
    return y


def ladder(estimates: pd.DataFrame, truth: float | None = None) -> Figure:
    """ATE with 95% intervals per adjustment rung and estimator: what each rung of adjustment changed."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(estimates) + 1.5))
    _interval_rows(ax, [f"{r.estimator} · {r.adjustment}" for r in estimates.itertuples()], estimates["ate"],
                   estimates["ci_low"], estimates["ci_high"],
                   reference=None if truth is None else (truth, f"true ATE {truth:.4f}", "#d62728"))
    ax.set_xlabel("average effect of exposure (95% interval, clustered by user)")
    ax.set_title("Adjustment ladder")
    fig.tight_layout()
    return fig


def overlap(diag: dict[str, Any]) -> Figure:
    """Propensity histograms by arm: where the arms do not overlap, no estimator can compare them. Beside them,
    when the audit recorded it, the propensity's calibration: each decile's exposure rate against its mean
    propensity, on the diagonal when the propensity says who was exposed."""
    edges = np.asarray(diag["edges"])
    centers, width = (edges[1:] + edges[:-1]) / 2, np.diff(edges)
    calibration = diag.get("calibration")  # audits written before it was recorded have the histogram alone
    fig, axes = plt.subplots(1, 2 if calibration else 1, figsize=(12 if calibration else 7, 3.8), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1]} if calibration else None)
    ax = axes[0, 0]
    ax.bar(centers, diag["unexposed"], width=width, alpha=0.6, label="unexposed")
    ax.bar(centers, diag["exposed"], width=width, alpha=0.6, label="exposed")
    for bound in diag["bounds"]:
        ax.axvline(bound, color="grey", ls=":")
    ax.set_xlabel("propensity of exposure")
    ax.set_ylabel("rows")
    separation = diag.get("separation_auc", float("nan"))
    ax.set_title(f"Overlap: {diag['share_outside']:.1%} of rows outside {diag['bounds']};\n"  # one line ran off the figure
                 f"the propensity separates the arms with AUC {separation:.2f}")
    ax.legend()
    if calibration:
        bins = [b for b in calibration["bins"] if b["propensity"] != "all rows"]
        mean = np.array([b["mean_propensity"] for b in bins])
        rate = np.array([b["exposure_rate"] for b in bins])
        side = axes[0, 1]
        top = float(max(mean.max(), rate.max())) * 1.05
        side.plot([0, top], [0, top], color="grey", ls=":", label="calibrated")
        side.plot(mean, rate, "o-", color="#d62728" if not calibration["calibrated"] else "#1f77b4",
                  label=f"deciles of the {calibration['source']} propensity")
        side.set_xlabel("mean propensity in the decile")
        side.set_ylabel("share of its rows exposed")
        side.set_title("Calibration: " + ("it matches who was exposed" if calibration["calibrated"] else
                                          "it does NOT match who was exposed"))
        side.legend(loc="upper left")
    fig.tight_layout()
    return fig


def love_plot(table: pd.DataFrame, top: int = 25) -> Figure:
    """Standardized mean differences before and after weighting (Love plot)."""
    shown = table.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(shown) + 1.5))
    y = np.arange(len(shown))
    ax.scatter(shown["before"], y, label="before weighting", marker="o")
    ax.scatter(shown["after"], y, label="after weighting", marker="x")
    ax.axvline(0.1, color="grey", ls="--")
    ax.set_yticks(y, [_literal(name) for name in shown.index], fontsize=7)
    ax.set_xlabel("|standardized mean difference|")
    ax.set_title("Covariate balance")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def uplift_deciles(table: pd.DataFrame) -> Figure:
    """Measured (doubly robust) effect per decile of predicted uplift, with intervals."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.errorbar(table["quantile"], table["effect"], yerr=[table["effect"] - table["ci_low"], table["ci_high"] - table["effect"]],
                fmt="o-", capsize=3, label="measured (DR)")
    ax.plot(table["quantile"], table["predicted"], "s--", label="predicted")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("decile of predicted uplift (1 = lowest)")
    ax.set_ylabel("effect of exposure")
    ax.set_title("Does predicted uplift sort real uplift?")
    ax.legend()
    fig.tight_layout()
    return fig


def drivers(importances: dict[str, float]) -> Figure:
    """What predicted uplift varies with: each feature's share of the variance reduction of the audit's depth-3
    tree on predicted uplift (the tree's rules are in ``results.json``), largest on top."""
    from matplotlib.ticker import PercentFormatter

    table = pd.Series(importances, dtype=float).sort_values(ascending=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(table) + 1.8))
    if table.empty:
        ax.text(0.5, 0.5, "predicted uplift is the same on every row: no feature drives it", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ax.barh(np.arange(len(table)), table.to_numpy(), color="#1f77b4")
    ax.set_yticks(np.arange(len(table)), [_literal(name) for name in table.index])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("each feature's share of the variance a depth-3 tree on it explains")
    ax.set_title("What predicted uplift varies with")
    fig.tight_layout()
    return fig


def group_effects(rows: list[dict[str, Any]], ate: float, levels_per_column: int = 12) -> Figure:
    """Effect of exposure per level of each categorical column (doubly robust, 95% intervals clustered by
    user), beside the overall ATE: for whom showing works. A column's largest levels only, to stay legible."""
    table = pd.DataFrame(rows, columns=["column", "level", "rows", "estimate", "ci_low", "ci_high"])
    table = (table.sort_values(["column", "rows"], ascending=[True, False], kind="stable")
             .groupby("column", sort=False).head(levels_per_column))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(table) + 1.6))
    if table.empty:
        ax.text(0.5, 0.5, "no categorical column with a level of 30 rows or more", ha="center", va="center")
        ax.set_axis_off()
        return fig
    _interval_rows(ax, [f"{r.column} = {r.level} ({r.rows:,})" for r in table.itertuples()], table["estimate"],
                   table["ci_low"], table["ci_high"], reference=(ate, f"overall ATE {ate:+.4f}", "#2ca02c"))
    ax.set_xlabel("effect of exposure (doubly robust, 95% interval clustered by user)")
    ax.set_title("Effect by group (rows per level)")
    fig.tight_layout()
    return fig


def feedback_loop(table: pd.DataFrame) -> Figure:
    """True incremental outcomes per 1,000 users, round by round, of each policy's loop."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    styles = cycle([dict(marker="o", ls="-", ms=7), dict(marker="s", ls="--", ms=4)])
    for (policy, rows), style in zip(table.groupby("policy"), styles):  # equal rounds (round 0 always): both seen
        ax.plot(rows["round"], rows["incremental_per_1000_users"], label=f"rank by {policy}", **style)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole: no tick at round 0.2
    ax.set_xlabel("round (0 = the original logger)")
    ax.set_ylabel("incremental outcomes per 1,000 users")
    _grouped_thousands(ax.yaxis)
    ax.set_title("Feedback loop: what each round's recommendations caused")
    ax.legend()
    fig.tight_layout()
    return fig


def ope_errors(estimators: dict[str, dict[str, float]], recommended: str,
               reference: tuple[str, float] | None = None, noise_floor: float | None = None) -> Figure:
    """Each off-policy estimator's mean relative error |V̂ − V| / V over the bootstrap runs (± one sd), the
    recommended one in red, beside Open Bandit Pipeline's best on the same protocol when it was measured there
    and the error resampling alone gives the log's own click rate."""
    names = list(estimators)
    mean = np.array([estimators[n]["relative_error_mean"] for n in names])
    sd = np.array([estimators[n]["relative_error_sd"] for n in names])
    y = np.arange(len(names))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 2.4))
    ax.barh(y, mean, xerr=sd, capsize=3, alpha=0.85,
            color=["#d62728" if n == recommended else "#1f77b4" for n in names])
    ax.set_yticks(y, [f"{n} (recommended)" if n == recommended else n for n in names])
    if reference is not None:
        ax.axvline(reference[1], color="black", ls="--", label=f"obp 0.4.1's best: {reference[0]} {reference[1]:.3f}")
    if noise_floor is not None:
        ax.axvline(noise_floor, color="grey", ls=":", lw=2, label=f"noise floor (resampling alone): {noise_floor:.3f}")
    if reference is not None or noise_floor is not None:  # below the axes: inside, it hid the last bars
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.set_xlabel("mean relative error over the bootstrap runs (± sd; lower is better)")
    ax.set_title("Off-policy estimates against the policy's own click rate")
    fig.tight_layout()
    return fig


def ope_estimates(estimators: dict[str, dict[str, float]], recommended: str, logged: float) -> Figure:
    """A policy with no log of its own: each estimator's value with its range over the bootstrap runs, beside the
    click rate the logging policy reached — would the policy do better than what was logged?"""
    names = list(estimators)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.8))
    _interval_rows(ax, [f"{n} (recommended)" if n == recommended else n for n in names],
                   *([estimators[n][k] for n in names] for k in ("estimate", "ci_low", "ci_high")),
                   reference=(logged, f"the logging policy's click rate {logged:.4f}", "black"),
                   highlight=names.index(recommended))
    ax.set_xlabel("estimated click rate per impression (2.5–97.5% of the bootstrap runs)")
    ax.set_title("Off-policy estimates of the policy's click rate")
    fig.tight_layout()
    return fig


def qini(curve: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(curve["share"], curve["uplift"], label="rank by predicted uplift")
    ax.plot(curve["share"], curve["random"], ls="--", color="grey", label="random")
    ax.set_xlabel("share of rows targeted")
    ax.set_ylabel("cumulative uplift per row")
    ax.set_title("Qini curve (held-out folds)")
    ax.legend()
    fig.tight_layout()
    return fig


def causal_graph(groups: dict[str, int], treatment: str, outcome: str, modifiers: list[str]) -> Figure:
    """The assumed graph: confounder groups point to exposure and outcome; modifiers to the outcome."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axis("off")
    names = [f"{_literal(g)}\n({n} features)" for g, n in groups.items()] + ["unobserved U\n(sensitivity)"]
    xs = np.linspace(0.1, 0.9, len(names))
    pos = {"T": (0.25, 0.15), "Y": (0.75, 0.15)}
    for x, name in zip(xs, names):
        style = dict(boxstyle="round", fc="#eef" if "unobserved" not in name else "#fee", ls="-" if "unobserved" not in name else "--")
        ax.text(x, 0.8, name, ha="center", va="center", fontsize=8, bbox=style)
        for target in ("T", "Y"):
            ax.annotate("", xy=pos[target], xytext=(x, 0.72), arrowprops=dict(arrowstyle="->", color="grey",
                                                                              ls="--" if "unobserved" in name else "-"))
    ax.text(*pos["T"], f"exposure\n{_literal(treatment)}", ha="center", va="center", bbox=dict(boxstyle="round", fc="#dfd"))
    ax.text(*pos["Y"], f"outcome\n{_literal(outcome)}", ha="center", va="center", bbox=dict(boxstyle="round", fc="#ffd"))
    ax.annotate("", xy=(0.66, 0.15), xytext=(0.34, 0.15), arrowprops=dict(arrowstyle="->", lw=2))
    if modifiers:
        ax.text(0.5, 0.42, "modifiers: " + ", ".join(_literal(m) for m in modifiers[:6]), ha="center", fontsize=8)
    ax.set_title("Assumed causal graph (backdoor adjustment for all confounder groups)")
    return fig


def policy_incremental(report: dict[str, Any]) -> Figure:
    """Incremental outcomes per 1,000 users of each ranking policy (doubly robust, 95% bootstrap interval), with
    the simulated truth where it is known: what a decision-maker compares before shipping a ranking."""
    names = list(report["policies"])
    dr = [next(r for r in report["policies"][n]["incremental_per_user"] if r["estimator"] == "dr") for n in names]
    est = 1000 * np.array([r["estimate"] for r in dr])
    low, high = 1000 * np.array([r["ci_low"] for r in dr]), 1000 * np.array([r["ci_high"] for r in dr])
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.5))
    y = _interval_rows(ax, names, est, low, high, label="off-policy estimate (DR)")
    truths = [report["policies"][n].get("truth", {}).get("incremental_per_user") for n in names]
    if all(t is not None for t in truths):
        ax.scatter(1000 * np.array(truths), y, marker="x", color="#d62728", zorder=3, label="simulated truth")
    ax.set_xlabel(f"incremental outcomes per 1,000 users from the top-{report['k']} list")
    _grouped_thousands(ax.xaxis)
    ax.set_title("What each ranking would cause")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def predicted_incremental(report: dict[str, Any]) -> Figure:
    """What the model learned on the log predicts each policy's lists of fresh candidates cause, per 1,000 users
    (with its 95% interval where the model gives one), beside what lists chosen the same way caused on the log's
    own users (held out, doubly robust) and the simulated truth (with its bootstrap interval over users) where the
    candidates carry it."""
    names = list(report["policies"])
    predicted = [report["policies"][n]["predicted_incremental_per_1000_users"] for n in names]
    fig, ax = plt.subplots(figsize=(7.5, 0.8 * len(names) + 2))
    y = np.arange(len(names))[::-1]
    ax.barh(y, predicted, height=0.5, color="#9ecae1", label="model's prediction")
    low = [report["policies"][n]["predicted_incremental_ci_low"] for n in names]
    if all(b is not None for b in low):  # a linear second stage: the interval of its prediction
        high = [report["policies"][n]["predicted_incremental_ci_high"] for n in names]
        ax.errorbar(predicted, y + 0.12, xerr=[np.subtract(predicted, low), np.subtract(high, predicted)], fmt="none",
                    ecolor="#08519c", capsize=3, label="its 95% interval")
    checks = [report["policies"][n]["log_check"] for n in names]
    if all(c is not None for c in checks):
        measured = np.array([c["estimate"] for c in checks])
        ax.errorbar(measured, y, xerr=[measured - [c["ci_low"] for c in checks], [c["ci_high"] for c in checks] - measured],
                    fmt="s", color="#31a354", capsize=3, label="the same lists on the log's users, held out (DR)")
    truths = [report["policies"][n].get("truth") for n in names]
    if all(t is not None for t in truths):
        est = np.array([t["incremental_per_1000_users"] for t in truths])
        t_low = np.array([t["incremental_per_1000_users_ci_low"] for t in truths])
        t_high = np.array([t["incremental_per_1000_users_ci_high"] for t in truths])
        ax.errorbar(est, y - 0.12, xerr=[est - t_low, t_high - est], fmt="x", color="#d62728", capsize=3,
                    label="simulated truth (95% over users)")
    ax.set_yticks(y, [_literal(n) for n in names])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"incremental outcomes per 1,000 users from the top-{report['k']} list")
    _grouped_thousands(ax.xaxis)
    ax.set_title("What each ranking of the fresh candidates is predicted to cause")
    ax.set_ylim(-0.6, len(names) + 0.6)  # a free band above the top bar holds the legend
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
