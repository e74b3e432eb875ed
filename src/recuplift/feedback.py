"""The feedback loop: log with the current policy → learn from the log → rerank → log again on fresh users.

Two loops run side by side from the same confounded first log: one reranks by predicted uplift, the other
by predicted relevance. Each round's users are new (same catalog), so a loop is judged on people its model
has never seen; the simulator's truth gives each round's incremental outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .ranking import recommended_mask, rerank
from .schema import MAX_SEED, check_whole
from .simulate import relog, simulate
from .text import TextEncoder
from .upliftmodel import UpliftModel

LOOP_POLICIES = ("uplift", "relevance")


@dataclass(frozen=True)
class FeedbackLoop:
    """Per round and policy: true incremental outcomes per 1,000 users and true outcomes per user."""

    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        return self.table.pivot(index="round", columns="policy", values="incremental_per_1000_users")

    def to_dict(self) -> dict:
        return {"rounds": self.table.to_dict(orient="records")}

    def plot(self):  # noqa: ANN201 - matplotlib Figure
        from .plots import feedback_loop

        return feedback_loop(self.table)


def _exposure(candidates: pd.DataFrame, scores: pd.DataFrame, policy: str, k: int, exploration: float) -> np.ndarray:
    """Show the top k with probability 1 − ε and every other candidate with a small chance, so each round's
    log still supports learning about all candidates."""
    ranked = rerank(candidates[["user_id", "item_id"]].join(scores), policy, k=k)
    listed = recommended_mask(candidates, ranked)
    per_user = candidates.groupby("user_id")["item_id"].transform("size").to_numpy(float)
    other = exploration * k / np.maximum(per_user - k, 1)
    return np.clip(np.where(listed > 0, 1 - exploration, other), 0.01, 0.99)


def _truth_row(log: pd.DataFrame, round_: int, policy: str) -> dict:
    users = log["user_id"].nunique()
    p = log["propensity"].to_numpy(float)
    return {"round": round_, "policy": policy,
            "incremental_per_1000_users": float(1000 * (p * log["true_uplift"]).sum() / users),
            "outcomes_per_user": float((p * log["true_p1"] + (1 - p) * log["true_p0"]).sum() / users)}


def simulate_feedback_loop(rounds: int = 3, n_users: int = 1000, k: int = 5, exploration: float = 0.1,
                           seed: int = 0, encoder: TextEncoder | None = None, progress: bool = True,
                           **simulation: object) -> FeedbackLoop:
    """Run both loops for ``rounds`` rounds after the original log; ``simulation`` passes simulator knobs."""
    check_whole(rounds, "rounds", 1)
    if not 0 < exploration < 1:
        raise ValueError("exploration must lie in (0, 1)")
    check_whole(k, "k", 1)  # before a round's model is fitted, not after
    check_whole(seed, "seed", 0, MAX_SEED)
    if encoder is None and not progress:  # progress=False quiets the text encoder's bar too
        encoder = TextEncoder(progress=False)
    catalog = seed + 10_000

    def fresh(round_: int) -> pd.DataFrame:
        data = simulate(n_users=n_users, seed=seed + round_, catalog_seed=catalog, **simulation).data
        return data.assign(user_id=f"r{round_}-" + data["user_id"].astype(str))

    first = fresh(0)
    rows = [_truth_row(first, 0, policy) for policy in LOOP_POLICIES]
    logs = {policy: first for policy in LOOP_POLICIES}
    steps = [(r, p) for r in range(1, rounds + 1) for p in LOOP_POLICIES]
    for round_, policy in tqdm(steps, desc="feedback loop", disable=not progress):
        observed = logs[policy].drop(columns=[c for c in logs[policy].columns if c.startswith("true_")])
        model = UpliftModel(encoder=encoder, random_state=seed).fit(observed)
        users = fresh(round_)
        scores = model.predict(users)
        logs[policy] = relog(users, _exposure(users, scores, policy, k, exploration), seed=seed + 100 * round_)
        rows.append(_truth_row(logs[policy], round_, policy))
    return FeedbackLoop(pd.DataFrame(rows))
