"""The feedback loop and the predictive uplift model behind it."""

from __future__ import annotations

import numpy as np
import pytest

from recuplift.feedback import simulate_feedback_loop
from recuplift.simulate import relog, simulate
from recuplift.upliftmodel import UpliftModel


def test_relog_draws_exposure_from_the_given_policy_and_outcomes_from_the_truth():
    data = simulate(n_users=400, n_candidates=10, n_items=100, seed=4).data
    logged = relog(data, np.full(len(data), 0.8), seed=1)
    assert logged["exposed"].mean() == pytest.approx(0.8, abs=0.02)
    assert (logged["propensity"] == 0.8).all()
    expected = (0.8 * data["true_p1"] + 0.2 * data["true_p0"]).mean()
    assert logged["outcome"].mean() == pytest.approx(expected, abs=0.01)
    with pytest.raises(ValueError, match="inside"):
        relog(data, np.ones(len(data)), seed=1)


def test_a_fixed_catalog_keeps_items_across_fresh_users():
    a = simulate(n_users=50, n_items=80, seed=1, catalog_seed=9).data
    b = simulate(n_users=50, n_items=80, seed=2, catalog_seed=9).data
    shared = set(a["item_id"]) & set(b["item_id"])
    assert shared
    texts_a = a.drop_duplicates("item_id").set_index("item_id")["item_text"]
    texts_b = b.drop_duplicates("item_id").set_index("item_id")["item_text"]
    assert all(texts_a[i] == texts_b[i] for i in shared)
    assert a["user_text"].iloc[0] != b["user_text"].iloc[0]


@pytest.mark.slow
def test_uplift_model_scores_unseen_users():
    train = simulate(n_users=300, n_candidates=10, n_items=100, seed=5, catalog_seed=3).data
    fresh = simulate(n_users=100, n_candidates=10, n_items=100, seed=6, catalog_seed=3).data
    observed = train.drop(columns=[c for c in train.columns if c.startswith("true_")])
    scores = UpliftModel().fit(observed).predict(fresh)
    assert list(scores.columns) == ["uplift", "uplift_ci_low", "uplift_ci_high", "relevance"]
    assert len(scores) == len(fresh) and scores["relevance"].between(0, 1).all()
    assert np.isfinite(scores[["uplift", "relevance"]].to_numpy()).all()
    assert np.corrcoef(scores["relevance"], fresh["true_p1"])[0, 1] > 0.2  # it learned something transferable


@pytest.mark.slow
def test_feedback_loop_reports_each_round_and_policy(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("RECUPLIFT_CACHE_DIR", str(tmp_path))  # a cold cache: the encoder has texts to encode
    loop = simulate_feedback_loop(rounds=1, n_users=200, seed=3, progress=False, n_candidates=10, n_items=100)
    assert "encoding texts" not in capfd.readouterr().err  # progress=False quiets the encoder's bar too
    table = loop.table
    assert set(table["policy"]) == {"uplift", "relevance"} and set(table["round"]) == {0, 1}
    round0 = table[table["round"] == 0]["incremental_per_1000_users"]
    assert round0.nunique() == 1  # both loops start from the same log
    assert loop.summary().shape == (2, 2)
    ticks = loop.plot().axes[0].get_xticks()
    assert np.allclose(ticks, np.round(ticks))  # whole rounds only: the axis used to read 0.0, 0.2, … 1.0
    with pytest.raises(ValueError, match="rounds"):
        simulate_feedback_loop(rounds=0)


@pytest.mark.parametrize("setting, named", [({"rounds": 1.5}, "rounds"), ({"k": 0}, "k"), ({"seed": -1}, "seed")])
def test_feedback_loop_settings_fail_before_any_round(setting, named):
    # rounds=1.5 was a TypeError from range(), seed=-1 numpy's error, k=0 came after a model was fitted
    with pytest.raises(ValueError, match=f"{named} must be a whole number"):
        simulate_feedback_loop(**{"rounds": 1, "n_users": 60, "progress": False, **setting})
