"""Shared fixtures: small simulated logs, made once per session."""

from __future__ import annotations

import os
import shutil

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


@pytest.fixture
def tiny_model(tmp_path):
    """Make a randomly initialised two-layer Hugging Face model folder (``"encoder"``: BERT, ``"decoder"``: GPT-2)
    with all-MiniLM-L6-v2's tokenizer: a stand-in for "any other local model"."""

    def make(kind: str):
        import transformers

        from recuplift.text import default_model_path

        folder = tmp_path / f"tiny-{kind}"
        if kind == "encoder":
            config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=2, intermediate_size=64)
            model = transformers.BertModel(config)
        else:
            config = transformers.GPT2Config(vocab_size=30522, n_embd=32, n_layer=2, n_head=2, n_positions=512)
            model = transformers.GPT2Model(config)
        model.save_pretrained(folder)
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            shutil.copy(default_model_path() / name, folder / name)
        return folder

    return make
