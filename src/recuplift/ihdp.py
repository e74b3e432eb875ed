"""The IHDP benchmark (Hill 2011, NPCI setting A): 50 realizations with known individual effects and the
standard held-out rows, read from a folder (``../shared/data/ihdp`` in this project; never copied in)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .estimators import EffectEstimator, fitted_members, make_estimator
from .metrics import pehe
from .schema import DataError, Problem

# the project's layout puts the shared data beside the checkout; RECUPLIFT_IHDP_DIR overrides
DEFAULT_DIR = Path(os.environ.get("RECUPLIFT_IHDP_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "ihdp"))
PUBLISHED = {"BART": (2.3, 0.34), "causal forest": (3.8, 0.40), "TARNet": (0.95, 0.28), "CFR-WASS": (0.76, 0.27)}


def load_ihdp(realization: int, data_dir: str | Path = DEFAULT_DIR) -> dict[str, np.ndarray]:
    """``t, y, tau, X`` and the ``held_out`` mask of one realization."""
    folder = Path(data_dir)
    path = folder / f"ihdp_npci_{realization}.csv"
    if not path.exists():
        held = sorted(int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("ihdp_npci_*.csv")
                      if p.stem.rsplit("_", 1)[1].isdigit())
        hint = (f"this folder holds realizations {held[0]}–{held[-1]}" if held
                else "point data_dir at the folder holding ihdp_npci_<r>.csv and test_rows.csv")
        raise DataError(Problem(None, f"IHDP realization {realization} not found at {path}", hint=hint))
    raw = pd.read_csv(path, header=None).to_numpy()
    test_rows = pd.read_csv(folder / "test_rows.csv")
    held_out = np.zeros(len(raw), dtype=bool)
    held_out[test_rows.loc[test_rows["realization"] == realization, "row"].to_numpy()] = True
    return {"t": raw[:, 0].astype(int), "y": raw[:, 1], "tau": raw[:, 4] - raw[:, 3], "X": raw[:, 5:],
            "held_out": held_out}


def evaluate_ihdp(estimators: tuple[str, ...], realizations: range | list[int], data_dir: str | Path = DEFAULT_DIR,
                  progress: bool = True, seed: int = 0) -> pd.DataFrame:
    """One row per realization × estimator: √PEHE and ε_ATE within-sample (training rows) and out-of-sample
    (held-out rows), and seconds. An ensemble adds a row per member, from the member it fitted (the same fit as
    that member alone with the same seed; its seconds leave out the shared nuisances). Realization ``r`` is
    fitted with ``random_state = seed + r``: another ``seed`` reruns the benchmark with other initial weights,
    splits and subsamples, to see how much of a figure is the draw."""
    rows = []
    for r in tqdm(list(realizations), desc="IHDP realizations", disable=not progress):
        d = load_ihdp(r, data_dir)
        train, held = ~d["held_out"], d["held_out"]
        for name in estimators:
            fitted = make_estimator(name, random_state=seed + r).fit(d["y"][train], d["t"][train], d["X"][train])
            for label, est in [(name, fitted), *fitted_members(fitted).items()]:
                rows.append(_scores(r, label, est, d, train, held))
    return pd.DataFrame(rows)


def _scores(realization: int, label: str, est: EffectEstimator, d: dict[str, np.ndarray], train: np.ndarray,
            held: np.ndarray) -> dict[str, float | int | str]:
    inside, outside = est.cate_, est.effect(d["X"][held])
    return {"realization": realization, "estimator": label, "seconds": est.seconds_,
            "pehe_in": pehe(inside, d["tau"][train]), "ate_in": abs(inside.mean() - d["tau"][train].mean()),
            "pehe_out": pehe(outside, d["tau"][held]), "ate_out": abs(outside.mean() - d["tau"][held].mean())}


def summarize_ihdp(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over realizations, per estimator."""
    rows = []
    for name, group in per_run.groupby("estimator", sort=False):
        row = {"estimator": name, "realizations": len(group)}
        for col in ("pehe_in", "ate_in", "pehe_out", "ate_out"):
            row[col] = float(group[col].mean())
            row[f"{col}_se"] = float(group[col].std(ddof=1) / np.sqrt(len(group))) if len(group) > 1 else float("nan")
        row["seconds"] = float(group["seconds"].mean())
        rows.append(row)
    return pd.DataFrame(rows)
