"""The simulator is deterministic and its knobs do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from recuplift.simulate import PRICE, QUALITY, REACH, TONE, SimulationParams, simulate
from recuplift.schema import validate


def test_same_seed_same_log_and_different_seed_differs():
    a = simulate(n_users=200, n_candidates=8, n_items=60, seed=3).data
    b = simulate(n_users=200, n_candidates=8, n_items=60, seed=3).data
    c = simulate(n_users=200, n_candidates=8, n_items=60, seed=4).data
    assert a.equals(b)
    assert not a["outcome"].equals(c["outcome"])


def test_log_follows_the_contract_and_truth_is_consistent(small_sim):
    df = small_sim.data
    validate(df)
    assert np.allclose(df["true_uplift"], df["true_p1"] - df["true_p0"])
    assert np.allclose(df["propensity"], df["true_propensity"])
    assert small_sim.truth["true_ate"] == pytest.approx(df["true_uplift"].mean())
    assert df.groupby("user_id").size().eq(10).all()
    assert not df.duplicated(["user_id", "item_id"]).any()


def test_uplift_is_heterogeneous_with_a_negative_part(small_sim):
    uplift = small_sim.data["true_uplift"]
    assert (uplift < 0).mean() > 0.02
    assert uplift.quantile(0.9) > 3 * max(uplift.median(), 1e-4)


def test_mainstream_items_have_smaller_uplift_than_niche():
    df = simulate(n_users=400, seed=1).data
    niche = df["item_text"].str.contains("|".join(map(_escape, REACH[1])))
    mainstream = df["item_text"].str.contains("|".join(map(_escape, REACH[0])))
    assert df.loc[niche, "true_uplift"].mean() > 1.5 * df.loc[mainstream, "true_uplift"].mean()


def _escape(s: str) -> str:
    import re

    return re.escape(s)


def test_naive_bias_grows_with_confounding():
    bias = [np.mean([simulate(n_users=1000, seed=s, confounding=c).truth["naive_bias"] for s in range(3)])
            for c in (0.0, 0.5, 1.0, 2.0)]
    assert bias[1] < bias[2] < bias[3]
    assert abs(bias[0]) < 0.25 * bias[1]


def test_no_confounding_gives_constant_propensity():
    df = simulate(n_users=200, seed=0, confounding=0.0).data
    assert df["propensity"].nunique() == 1


def _naive_ci(df):
    y1 = df.loc[df.exposed == 1, "outcome"]
    y0 = df.loc[df.exposed == 0, "outcome"]
    diff = y1.mean() - y0.mean()
    se = np.sqrt(y1.var() / len(y1) + y0.var() / len(y0))
    return diff - 1.96 * se, diff + 1.96 * se


def test_rct_naive_difference_covers_true_ate_in_most_seeds():
    covered = []
    for seed in range(10):
        sim = simulate(n_users=800, seed=100 + seed, rct=True)
        lo, hi = _naive_ci(sim.data)
        covered.append(lo <= sim.truth["true_ate"] <= hi)
    assert sum(covered) >= 8


def test_text_noise_controls_what_the_text_reveals():
    phrases = [p for group in (QUALITY, PRICE, REACH, TONE) for options in group for p in options]

    def revealed_share(noise: float) -> float:
        texts = simulate(n_users=50, n_items=200, seed=2, text_noise=noise).data["item_text"].unique()
        return np.mean([sum(p in t for p in phrases) for t in texts]) / 4

    assert revealed_share(0.0) == 1.0
    assert revealed_share(1.0) == 0.0
    assert 0.4 < revealed_share(0.5) < 0.6


@pytest.mark.parametrize("kwargs", [dict(n_candidates=0), dict(confounding=-1), dict(text_noise=2),
                                    dict(n_candidates=500, n_items=100), dict(exposure_rate=1.0),
                                    # each failed deep inside numpy with a TypeError or its own message
                                    dict(n_users=100.5), dict(n_users="100"), dict(seed=-1), dict(seed=1.5)])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SimulationParams(**kwargs)


def test_a_bad_parameter_error_gives_the_values_it_got():
    with pytest.raises(ValueError, match=r"n_candidates \(20\) cannot exceed n_items \(5\)"):
        SimulationParams(n_candidates=20, n_items=5)
    with pytest.raises(ValueError, match=r"exposure_rate must lie in \(0.02, 0.98\); got 1"):
        SimulationParams(exposure_rate=1.0)


def test_write_creates_parquet_and_json(tmp_path, small_sim):
    small_sim.write(tmp_path)
    import json

    info = json.loads((tmp_path / "simulation.json").read_text())
    assert info["rows"] == len(small_sim.data) and "params" in info and "true_att" in info
    assert (tmp_path / "impressions.parquet").exists()
