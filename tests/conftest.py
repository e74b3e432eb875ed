"""Shared fixtures: small simulated logs, made once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from recuplift.simulate import simulate  # noqa: E402


@pytest.fixture(scope="session")
def small_sim():
    return simulate(n_users=300, n_candidates=10, n_items=120, seed=7)


@pytest.fixture
def small_log(small_sim):
    return small_sim.data.copy()


@pytest.fixture(scope="session")
def audited_log():
    """A small audited log (AIPW only, no refuters) and the randomized test run on the same pairs."""
    from recuplift.causal import Audit

    params = dict(n_users=600, n_candidates=10, n_items=200, seed=11)
    sim = simulate(**params)
    observed = sim.data.drop(columns=[c for c in sim.data.columns if c.startswith("true_")])
    result = Audit(estimators=("aipw",), run_refuters=False, progress=False).fit(observed)
    return sim, result, simulate(**params, rct=True)
