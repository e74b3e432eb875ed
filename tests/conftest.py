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
