"""The Open Bandit Dataset (ZOZOTOWN): real logs of two policies, uniform random and Bernoulli Thompson
sampling, on the same fashion-item slots — so one policy's value estimated from the other's log can be
checked against that policy's own click rate.

We read the 10,000-row samples that ship inside the ``obp==0.4.1`` wheel (its Python code needs pandas < 2,
so it is installed without dependencies and only its files are used).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .choices import unknown_choice
from .ope import ESTIMATORS, ItemPositionRates, estimate_value, recommended_estimator, slate_terms, summarize_runs
from .schema import DataError, Problem, offending_rows, pandera_check, rows_breaking

BEHAVIORS = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
# each named policy and the behavior whose log it ran (its on-policy truth); "random" is the uniform policy
# under its log's name
POLICY_LOGS = {"uniform": "random", "random": "random", "bts": "bts"}
POLICY_NAMES = tuple(POLICY_LOGS)
INSTALL = "pip install --no-deps obp==0.4.1"
# Open Bandit Pipeline 0.4.1's mean relative errors on the same protocol (20 bootstrap runs, its logistic reward
# model), measured for the issue that set the targets: what our estimates are compared with. obp names IPS "ipw".
OBP_RELATIVE_ERRORS = {"uniform from bts": {"dr": 0.280, "ipw": 0.391, "dm": 0.425},
                       "bts from random": {"dm": 0.180, "ipw": 0.333, "dr": 0.304}}


def obp_best(case: str, campaign: str = "all") -> tuple[str, float] | None:
    """obp 0.4.1's best estimator and its mean relative error on ``case`` ("uniform from bts", "bts from random"):
    what ours is judged against; None where obp measured nothing (another campaign or policy)."""
    errors = OBP_RELATIVE_ERRORS.get(case) if campaign == "all" else None
    return min(errors.items(), key=lambda item: item[1]) if errors else None


def _package_dir() -> Path:
    spec = util.find_spec("obp")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(Problem(None, "the Open Bandit Dataset sample is not installed", hint=INSTALL))
    return Path(list(spec.submodule_search_locations)[0])


@dataclass(frozen=True)
class OpenBanditLog:
    """One behaviour policy's log: rows with ``item_id``, 0-based ``position``, ``click``, ``propensity_score``
    and the user features; ``n_items`` and ``len_list`` (slots)."""

    behavior: str
    campaign: str
    data: pd.DataFrame
    n_items: int
    len_list: int

    @property
    def on_policy_value(self) -> float:
        """The behaviour policy's own click rate per impression: the truth for evaluating this policy."""
        return float(self.data["click"].mean())


def load_open_bandit(behavior: str = "random", campaign: str = "all") -> OpenBanditLog:
    """Read a behaviour policy's log from the CSVs shipped in ``obp==0.4.1``."""
    if behavior not in BEHAVIORS:
        raise ValueError(unknown_choice("behavior", behavior, BEHAVIORS))
    if campaign not in CAMPAIGNS:
        raise ValueError(unknown_choice("campaign", campaign, CAMPAIGNS))
    path = _package_dir() / "dataset" / "obd" / behavior / campaign / f"{campaign}.csv"
    if not path.exists():
        raise DataError(Problem(None, f"{path} is missing from the obp package", hint=INSTALL))
    data = pd.read_csv(path, index_col=0)
    data["position"] = data["position"] - 1  # 0-based slots
    items = pd.read_csv(path.parent / "item_context.csv", index_col=0)
    return OpenBanditLog(behavior, campaign, data.reset_index(drop=True), int(len(items)),
                         int(data["position"].max() + 1))


def uniform_policy(n_items: int, len_list: int) -> np.ndarray:
    return np.full((n_items, len_list), 1.0 / n_items)


def bernoulli_ts_policy(campaign: str = "all", n_items: int | None = None, len_list: int = 3, n_sim: int = 100_000,
                        random_state: int = 0) -> np.ndarray:
    """The production Bernoulli Thompson sampling policy as an (items, slots) distribution: draw each item's
    click rate from ZOZOTOWN's Beta prior (the one obp ships), rank, and count which item lands in each slot."""
    import yaml

    prior = yaml.safe_load((_package_dir() / "policy" / "conf" / "prior_bts.yaml").read_text())[campaign]
    alpha, beta = np.asarray(prior["alpha"], float), np.asarray(prior["beta"], float)
    if n_items is not None and n_items != len(alpha):
        raise ValueError(f"the prior has {len(alpha)} items, not {n_items}")
    rng = np.random.default_rng(random_state)
    dist = np.zeros((len(alpha), len_list))
    for start in range(0, n_sim, 20_000):
        draws = rng.beta(alpha, beta, size=(min(20_000, n_sim - start), len(alpha)))
        top = np.argsort(-draws, axis=1)[:, :len_list]
        for slot in range(len_list):
            dist[:, slot] += np.bincount(top[:, slot], minlength=len(alpha))
    return dist / n_sim


def policy_by_name(name: str, log: OpenBanditLog) -> np.ndarray:
    """``uniform`` or ``bts`` (the production Thompson sampler), shaped for ``log``."""
    if name not in POLICY_NAMES:
        raise ValueError(f"unknown policy '{name}'; use {', '.join(POLICY_NAMES)} or a POLICY.parquet file")
    if name == "bts":
        return bernoulli_ts_policy(log.campaign, log.n_items, log.len_list)
    return uniform_policy(log.n_items, log.len_list)


def policy_from_table(table: pd.DataFrame, log: OpenBanditLog) -> np.ndarray:
    """A context-free policy from a table with ``item_id, position (1-based), probability``."""
    missing = {"item_id", "position", "probability"} - set(table.columns)
    if missing:
        raise DataError(Problem(None, f"the policy table lacks {sorted(missing)}",
                                hint="give one row per item and slot: item_id, position (1-based), probability"))
    item, position, probability = (pd.to_numeric(table[c], errors="coerce") for c in ("item_id", "position",
                                                                                         "probability"))
    from_zero = position.between(0, log.len_list - 1).all()  # obp's own arrays count slots from 0
    check = pandera_check()
    whole = check(lambda v: v % 1 == 0)
    rules = (
        ("item_id", item, {"in_range": check.between(0, log.n_items - 1), "whole": whole},
         f"item ids must be whole numbers in [0, {log.n_items - 1}], the log's items", ""),
        ("position", position, {"in_range": check.between(1, log.len_list), "whole": whole},
         f"positions must be whole numbers in [1, {log.len_list}], the log's slots",
         "counted from 0 as obp does? add 1 (df['position'] + 1)" if from_zero else ""),
        ("probability", probability, {"in_range": check.between(0, 1)}, "probabilities must lie in [0, 1]", ""),
    )
    problems = [Problem(column, rule, offending_rows(np.logical_or.reduce(list(broken.values()))), hint)
                for column, values, checks, rule, hint in rules
                if (broken := rows_breaking(values, nullable=False, **checks))]
    repeated = table.duplicated(["item_id", "position"], keep=False).to_numpy()
    if repeated.any():
        problems.append(Problem(None, "an (item_id, position) pair appears more than once", offending_rows(repeated),
                                "give each item and slot one probability"))
    if problems:
        raise DataError(problems)
    dist = np.zeros((log.n_items, log.len_list))
    dist[item.to_numpy(int), position.to_numpy(int) - 1] = probability.to_numpy(float)
    sums = dist.sum(axis=0)
    if not np.allclose(sums, 1, atol=1e-6):
        raise DataError(Problem("probability", f"each slot's probabilities must sum to 1; sums are {np.round(sums, 4)}"))
    return dist


def off_policy_benchmark(log: OpenBanditLog, policy: np.ndarray, truth: float | None, runs: int = 20,
                         seed: int = 12345, estimators: tuple[str, ...] = ESTIMATORS,
                         progress: bool = False) -> dict[str, Any]:
    """The Open Bandit Pipeline protocol: ``runs`` bootstrap resamples of the log; on each, fit the reward
    model and estimate the policy's value; report each estimator's mean and range over the runs and, when the
    policy's on-policy value ``truth`` is known (it has its own log), the relative error against it.
    ``noise_floor``: the mean relative change of the log's own click rate over the same resamples, the error that
    run-to-run noise alone gives an estimate (about 0.13 with the ~40 clicks of the dataset's sample)."""
    if runs < 2:
        raise ValueError(f"the protocol reports the mean and sd of the relative error over runs: give at least 2 "
                         f"(--runs); got {runs}")
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {e: [] for e in estimators}
    data = log.data
    sampled_rates = []
    for _ in tqdm(range(runs), desc="bootstrap runs", disable=not progress):
        drawn = rng.integers(0, len(data), len(data))  # obp's bootstrap: rows with replacement
        sample = data.iloc[drawn]
        item, position = sample["item_id"].to_numpy(), sample["position"].to_numpy()
        reward = sample["click"].to_numpy(float)
        sampled_rates.append(reward.mean())
        first_copies = ~pd.Index(drawn).duplicated()
        rates = ItemPositionRates(log.n_items, log.len_list).fit(item, position, reward, first_copies).predict()
        terms = slate_terms(item, position, reward, sample["propensity_score"].to_numpy(), policy, rates)
        for e in estimators:
            values[e].append(estimate_value(terms, e))
    # both logging policies of the dataset are context-free; so is a policy given as an (items, slots) table
    recommended, reason = recommended_estimator(context_free=policy.ndim == 2, estimators=estimators)
    # how far the resampling alone moves a click rate: an estimator that knew the target's value relative to the
    # logging policy's exactly, but saw only each run's clicks, would be off by this much on average
    noise_floor = float(np.mean(np.abs(np.asarray(sampled_rates) / log.on_policy_value - 1)))
    return {"truth": truth, "logged": log.on_policy_value, "recommended": recommended, "reason": reason,
            "runs": runs, "seed": seed, "noise_floor": noise_floor, "estimators": summarize_runs(values, truth)}
