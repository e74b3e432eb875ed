"""The IHDP loader and evaluation on a tiny folder in IHDP's layout (the real one lives in ../shared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recuplift.estimators import fitted_members, make_estimator
from recuplift.ihdp import evaluate_ihdp, load_ihdp, summarize_ihdp
from recuplift.schema import DataError


@pytest.fixture(scope="module")
def ihdp_dir(tmp_path_factory):
    """Two realizations of 160 rows: t, y, y_cf, mu0, mu1, then 4 covariates; rows 140–159 held out."""
    folder = tmp_path_factory.mktemp("ihdp")
    held = []
    for r in (1, 2):
        rng = np.random.default_rng(r)
        X = rng.normal(size=(160, 4))
        t = (rng.random(160) < 0.4).astype(int)
        mu0, mu1 = X[:, 0], X[:, 0] + 2.0 + X[:, 1]
        y = np.where(t == 1, mu1, mu0) + rng.normal(0, 0.1, 160)
        y_cf = np.where(t == 1, mu0, mu1)
        pd.DataFrame(np.column_stack([t, y, y_cf, mu0, mu1, X])).to_csv(folder / f"ihdp_npci_{r}.csv", header=False,
                                                                         index=False)
        held += [{"realization": r, "row": row} for row in range(140, 160)]
    pd.DataFrame(held).to_csv(folder / "test_rows.csv", index=False)
    return folder


def test_loader_reads_effects_and_the_held_out_rows(ihdp_dir):
    d = load_ihdp(2, ihdp_dir)
    assert d["X"].shape == (160, 4) and d["held_out"].sum() == 20 and d["held_out"][140:].all()
    np.testing.assert_allclose(d["tau"], 2.0 + d["X"][:, 1])
    with pytest.raises(DataError, match="realization 3 not found.*this folder holds realizations 1–2"):
        load_ihdp(3, ihdp_dir)
    with pytest.raises(DataError, match="point data_dir at the folder holding"):
        load_ihdp(1, ihdp_dir / "nowhere")


def test_an_ensemble_is_scored_with_each_of_its_members(ihdp_dir):
    per_run = evaluate_ihdp(("ensemble", "t_learner"), [2], ihdp_dir, progress=False)
    assert list(per_run["estimator"]) == ["ensemble", "neural", "gaussian_process", "t_learner"]
    assert per_run[["pehe_out", "ate_out", "pehe_in"]].notna().all().all()
    wide = per_run.pivot(index="realization", columns="estimator", values="pehe_in")
    # the ensemble's effect is the members' mean, so its error is at most their mean error (triangle inequality)
    assert (wide["ensemble"] <= (wide["neural"] + wide["gaussian_process"]) / 2 + 1e-9).all()
    assert (wide["gaussian_process"] < 0.5).all()  # a smooth effect on clean data: the GP finds it
    summary = summarize_ihdp(per_run)
    assert summary.set_index("estimator").loc["ensemble", "realizations"] == 1


def test_a_single_neural_estimator_is_not_taken_for_an_ensemble(ihdp_dir):
    """The network keeps its own networks in ``members_``; only an ensemble's members get rows of their own."""
    d = load_ihdp(1, ihdp_dir)
    network = make_estimator("neural", epochs=3, n_ensemble=1, width=8, head_width=4).fit(d["y"], d["t"], d["X"])
    assert len(network.members_) == 1 and fitted_members(network) == {}


def test_a_seed_refits_every_realization_with_other_draws(ihdp_dir):
    """Realization r is fitted with random_state seed + r: the default reproduces the table, another seed
    re-draws the subsamples (a figure that moves with it is partly the draw)."""
    default = evaluate_ihdp(("t_learner",), [1, 2], ihdp_dir, progress=False)
    same = evaluate_ihdp(("t_learner",), [1, 2], ihdp_dir, progress=False, seed=0)
    other = evaluate_ihdp(("t_learner",), [1, 2], ihdp_dir, progress=False, seed=1000)
    assert default["pehe_in"].tolist() == same["pehe_in"].tolist()
    assert not np.allclose(default["pehe_in"], other["pehe_in"])
