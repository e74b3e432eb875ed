"""TextEncoder: agreement with sentence-transformers, the cache, determinism, dirty text, other models."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from recuplift.text import TextEncoder, default_model_path
from recuplift.textcache import DB_NAME, EmbeddingCache, clear_cache
from recuplift.textfeatures import TextFeatures, embed_column, segments

TEXTS = [
    "A rare handmade piece from a tiny independent artisan workshop.",
    "Cheap and affordable, a budget buy on sale.",
    "Searched for 'camping tent', 'sleeping bag'. I love rare, obscure finds.",
    "Award-winning craftsmanship built to last a lifetime. " * 3,
    "short",
    "Émojis 🎉🔥 and accents: café, naïve, 東京",
]
DIRTY = [None, float("nan"), "", "   ", b"caf\xe9 \xff bytes", "lone surrogate \ud800 here", "word " * 2000, "🎉"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> TextEncoder:
    return TextEncoder(cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_matches_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    texts = TEXTS + [t for t in DIRTY if isinstance(t, str) and t.strip()]
    ours = encoder.encode(texts)
    theirs = reference.encode([t.encode("utf-8", "replace").decode() for t in texts], normalize_embeddings=True)
    cosine = np.sum(ours * theirs, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cosine.min() >= 0.999


def test_cache_hits_and_misses(tmp_path):
    enc = TextEncoder(cache_dir=tmp_path, progress=False)
    first = enc.encode(TEXTS[:3] * 5)
    assert (enc.last_stats_.n_distinct, enc.last_stats_.cache_hits, enc.last_stats_.encoded) == (3, 0, 3)
    second = enc.encode(TEXTS[:4])
    assert (enc.last_stats_.cache_hits, enc.last_stats_.encoded) == (3, 1)
    np.testing.assert_array_equal(first[:3], second[:3])
    other = TextEncoder(cache_dir=tmp_path, pooling="cls", progress=False)
    other.encode(TEXTS[:1])
    assert other.last_stats_.cache_hits == 0, "a different pooling must not reuse mean-pooled vectors"
    assert clear_cache(tmp_path) == 5
    enc2 = TextEncoder(cache_dir=tmp_path, progress=False)
    enc2.encode(TEXTS[:1])
    assert enc2.last_stats_.cache_hits == 0


def test_each_distinct_text_is_encoded_once(encoder):
    vectors = encoder.encode([TEXTS[0], TEXTS[1]] * 500)
    assert encoder.last_stats_.n_distinct == 2
    np.testing.assert_array_equal(vectors[0], vectors[998])


def test_deterministic_without_cache():
    a = TextEncoder(cache_dir=False, progress=False).encode(TEXTS)
    b = TextEncoder(cache_dir=False, progress=False, batch_size=2).encode(TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_dirty_text_never_crashes(encoder):
    vectors = encoder.encode(DIRTY)
    assert vectors.shape == (len(DIRTY), 384) and vectors.dtype == np.float32
    assert np.all(vectors[:4] == 0), "missing and blank texts become zero vectors"
    assert np.all(np.abs(np.linalg.norm(vectors[4:], axis=1) - 1) < 1e-4)
    assert encoder.last_stats_.n_missing == 4
    assert encoder.last_stats_.truncated >= 1
    nothing = encoder.encode([None, "", "   "])  # no text at all: zero rows of the model's width, no crash
    assert nothing.shape == (3, 384) and not nothing.any() and encoder.last_stats_.n_distinct == 0


def _writer(path: str, start: int) -> None:
    cache = EmbeddingCache(path)
    for k in range(200):
        cache.put("m", [(f"{start}-{k}-{j}", np.full(384, k, np.float32), 3) for j in range(50)])


def test_two_processes_share_the_cache(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), s)) for s in (1, 2, 3, 4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    cache = EmbeddingCache(tmp_path)
    assert cache.count("m") == 4 * 200 * 50
    got = cache.get("m", ["1-7-3", "2-199-49"])
    assert got["1-7-3"][0][0] == 7 and got["2-199-49"][0][0] == 199


def test_kill_mid_write_leaves_a_readable_cache(tmp_path):
    script = (f"import numpy as np; from recuplift.textcache import EmbeddingCache\n"
              f"c = EmbeddingCache({str(tmp_path)!r})\n"
              f"for k in range(100000):\n"
              f"    c.put('m', [(f'{{k}}-{{j}}', np.full(384, k, np.float32), 5) for j in range(200)])\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some batches have landed, then kill mid-stream
        time.sleep(0.3)
        if (tmp_path / DB_NAME).exists() and EmbeddingCache(tmp_path).count("m") >= 600:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = EmbeddingCache(tmp_path)
    n = cache.count("m")
    assert n > 0 and n % 200 == 0, "each transaction lands whole or not at all"
    got = cache.get("m", ["0-0", "1-199"])
    assert got["0-0"][0].shape == (384,) and got["1-199"][0][0] == 1 and got["1-199"][1] == 5


@pytest.mark.parametrize("kind, pooling", [("encoder", "cls"), ("encoder", "mean"), ("decoder", "last")])
def test_any_local_model_directory(tmp_path, tiny_model, kind, pooling):
    folder = tiny_model(kind)
    enc = TextEncoder(model=folder, pooling=pooling, cache_dir=tmp_path / "c", progress=False)
    vectors = enc.encode(TEXTS + [None])
    assert vectors.shape == (len(TEXTS) + 1, 32)
    assert np.all(vectors[-1] == 0) and np.all(np.isfinite(vectors))
    again = TextEncoder(model=folder, pooling=pooling, cache_dir=tmp_path / "c", progress=False)
    np.testing.assert_array_equal(again.encode(TEXTS), vectors[:-1])
    assert again.last_stats_.cache_hits == len(TEXTS)


def test_loading_the_model_is_quiet_unless_progress_is_asked_for(tmp_path, tiny_model, capsys):
    """transformers draws a weight-loading bar on stderr, which lands in every CLI run and rendered report; we
    hide it unless progress=True, and leave transformers' own switch as we found it."""
    from transformers.utils import logging as hf_logging

    folder = tiny_model("encoder")
    capsys.readouterr()
    TextEncoder(model=folder, cache_dir=False, progress=False).encode(["a quiet load"])
    assert "Loading weights" not in capsys.readouterr().err
    assert hf_logging.is_progress_bar_enabled()
    TextEncoder(model=folder, cache_dir=False, progress=True).encode(["a loud load"])
    assert "Loading weights" in capsys.readouterr().err


def test_bad_model_and_pooling_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not a local Hugging Face model"):
        TextEncoder(model=tmp_path, cache_dir=False).encode(["x"])
    with pytest.raises(ValueError, match="pooling"):
        TextEncoder(pooling="max", cache_dir=False).encode(["x"])


def test_segments_split_sentences_and_quoted_queries():
    parts = segments("Searched for 'camping tent', 'sleeping bag'. I'm happy! Product: Aurora lamp.")
    assert "camping tent" in parts and "sleeping bag" in parts and "I'm happy!" in parts
    assert segments("one") == ["one"]


@pytest.fixture(scope="module")
def text_log(tmp_path_factory):
    from recuplift.simulate import simulate

    return simulate(n_users=120, n_candidates=8, n_items=60, seed=11).data


def test_text_features_shapes_missing_and_pairs(text_log, encoder):
    df = text_log.copy()
    df.loc[df.index[:5], "item_text"] = None
    features = TextFeatures(encoder=encoder, max_components=8, pair_components=4,
                            concepts={"luxury": "an expensive luxury product", "cheap": "a cheap bargain"})
    out = features.fit_transform(df)
    assert len(out) == len(df) and out.notna().all().all()
    assert out["item_text_missing"].iloc[:5].eq(1).all() and out["item_text_missing"].iloc[5:].eq(0).all()
    assert out.loc[df.index[:5], [c for c in out if c.startswith("item_text_pc")]].eq(0).all().all()
    groups = features.feature_groups(list(out.columns))
    assert "user_text__item_text_cosine" in groups["pair"] and "user_text__item_text_maxsim" in groups["pair"]
    assert out["user_text__item_text_cosine"].between(-1, 1).all()
    luxury = df["item_text"].str.contains("luxury", na=False)
    assert out.loc[luxury, "item_text_concept_luxury"].mean() > out.loc[~luxury, "item_text_concept_luxury"].mean()
    np.testing.assert_allclose(features.transform(df).to_numpy(), out.to_numpy(), atol=1e-5)


def test_item_group_affinity_finds_the_users_favourite_group(encoder):
    """Users who search for one category's products are closer to that category's item texts as a group,
    even though no description names the product they searched for."""
    items = {"kitchen": ["A cast-iron pan for searing steaks.", "A sharp knife for slicing vegetables.",
                         "A pot for simmering soups and stews."],
             "outdoor": ["A waterproof shelter for camping trips.", "A pack with hip belt for long hikes.",
                         "A lantern that lights the campsite."]}
    users = {"kitchen": "Searched for 'espresso maker', 'spice grinder'.",
             "outdoor": "Searched for 'sleeping bag', 'water filter'."}
    rows = [{"user_id": f"u_{fav}", "item_id": f"{cat}{j}", "category": cat, "item_text": text,
             "user_text": users[fav], "favourite": fav}
            for fav in users for cat, texts in items.items() for j, text in enumerate(texts)]
    df = pd.DataFrame(rows)
    df.loc[0, "category"] = None  # an unknown group scores zero, never NaN
    out = TextFeatures(encoder=encoder, item_groups=("category",), pair_components=2).fit_transform(df)
    rel = out["user_text__item_text__category_affinity_rel"]
    assert rel.notna().all() and rel.iloc[0] == 0
    same = (df["category"] == df["favourite"]).to_numpy()
    assert rel[same].min() > 0 > rel[~same & df["category"].notna().to_numpy()].max()


def test_audit_uses_item_level_categories_as_groups(text_log):
    from recuplift.adjustment import item_group_columns
    from recuplift.schema import Roles

    df = text_log.assign(device=np.where(np.arange(len(text_log)) % 2, "phone", "desktop"))  # varies per item
    roles = Roles(covariates=("category", "price", "device"), item_id="item_id")
    assert item_group_columns(df, roles) == ("category",)
    assert item_group_columns(df, Roles(covariates=("category",), item_id=None)) == ()


def test_pair_sides_are_read_from_the_data_not_the_column_names(text_log, encoder):
    """A column named ``reviews`` that varies within an item is the user's side; ``description``, one value per
    item, is the item's — a name-only rule would find no user side here and drop every pair feature."""
    from recuplift.adjustment import build_adjustment_sets, text_pairs
    from recuplift.schema import Roles

    df = text_log.rename(columns={"item_text": "description", "user_text": "reviews"})
    roles = Roles(text=("description", "reviews"), item_id="item_id", covariates=())
    assert text_pairs(df, roles) == [("reviews", "description")]
    sets = build_adjustment_sets(df, roles, encoder=encoder, pair_components=2)
    assert "reviews__description_cosine" in sets.pair.columns
    assert text_pairs(df, Roles(text=("description", "reviews"), item_id=None)) == "auto"  # no item id: the names
    scrambled = df.assign(description=df["description"].sample(frac=1, random_state=0).to_numpy())
    assert text_pairs(scrambled, roles) == "auto"  # neither column is one value per item: the names decide


def test_pca_is_fitted_on_distinct_texts(text_log, encoder):
    popular = pd.concat([text_log, pd.concat([text_log.iloc[[0]]] * 2000)], ignore_index=True)
    a = TextFeatures(columns=("item_text",), encoder=encoder, max_components=5).fit(text_log)
    b = TextFeatures(columns=("item_text",), encoder=encoder, max_components=5).fit(popular)
    np.testing.assert_allclose(np.abs(a.pca_["item_text"].components_[:5]),
                               np.abs(b.pca_["item_text"].components_[:5]), atol=1e-4)


def test_embed_cli_writes_parquet_and_reports(tmp_path, text_log):
    path = tmp_path / "log.parquet"
    text_log.to_parquet(path)
    env = {**os.environ, "RECUPLIFT_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "recuplift.cli", "embed", str(path), "--out", str(tmp_path / "emb")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "distinct sentences" in first.stdout and "texts/s" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert second.stdout.count(" 0 encoded") == 2  # both columns, every sentence from the cache
    n_items = text_log["item_text"].nunique()
    items = pd.read_parquet(tmp_path / "emb" / "item_text.parquet")
    rows = pd.read_parquet(tmp_path / "emb" / "rows.parquet")
    assert len(items) == n_items and len(rows) == len(text_log)
    assert items["text"].iloc[rows["item_text"].iloc[3]] == text_log["item_text"].iloc[3]
    # the vectors are the audit's (the mean of each text's sentences), and the audit finds them all in the cache
    features = TextFeatures(encoder=TextEncoder(cache_dir=tmp_path / "cache", progress=False)).fit(text_log)
    assert all(stats.encoded == 0 for stats in features.encode_stats_.values())
    audit_vectors = embed_column(TextEncoder(cache_dir=tmp_path / "cache"), text_log["item_text"]).vectors
    np.testing.assert_allclose(np.stack(items["embedding"].to_numpy()), audit_vectors, atol=1e-6)
    whole = subprocess.run(cmd[:-1] + [str(tmp_path / "whole"), "--granularity", "text"], capture_output=True,
                           text=True, env=env)
    assert whole.returncode == 0 and "distinct texts" in whole.stdout, whole.stderr
    whole_items = np.stack(pd.read_parquet(tmp_path / "whole" / "item_text.parquet")["embedding"].to_numpy())
    assert whole_items.shape == audit_vectors.shape and not np.allclose(whole_items, audit_vectors, atol=1e-3)
    cleared = subprocess.run([sys.executable, "-m", "recuplift.cli", "embed", "--clear-cache"],
                             capture_output=True, text=True, env=env)
    assert cleared.returncode == 0 and "cleared" in cleared.stdout
    ids = subprocess.run(cmd[:-2] + ["--text", "item_text,user_tenure_days", "--out", str(tmp_path / "ids")],
                         capture_output=True, text=True, env=env)
    assert ids.returncode == 2 and "Usage" not in ids.stderr and "column 'user_tenure_days': text column holds non-string values" in ids.stderr, ids.stderr
    assert not (tmp_path / "ids").exists()


def test_unknown_item_group_column_is_a_clear_error(text_log, encoder):
    with pytest.raises(ValueError, match="item group column.*'brand'.*not in the table"):
        TextFeatures(encoder=encoder, item_groups=("brand",)).fit(text_log)


def test_concepts_are_parsed_and_checked_before_any_text_is_embedded():
    from recuplift.textfeatures import check_concepts, parse_concepts

    assert parse_concepts("premium: an expensive product; budget : a cheap one;") == {
        "premium": "an expensive product", "budget": "a cheap one"}
    with pytest.raises(ValueError, match=r"\['budget a cheap one'\] lack a name"):  # was silently dropped
        parse_concepts("premium: an expensive product; budget a cheap one")
    for bad in ({"lux": ""}, {"": "luxury"}, {"lux": 3}):  # each was embedded, as an empty text or a number
        with pytest.raises(ValueError, match="need a non-empty name and a non-empty description"):
            check_concepts(bad)
    with pytest.raises(ValueError, match="concepts must map names to descriptions.*got str"):  # an AttributeError
        check_concepts("luxury")
    from recuplift.causal import Audit

    with pytest.raises(ValueError, match="need a non-empty name"):  # from the audit's arguments, before any work
        Audit(concepts={"lux": ""}, progress=False).fit(pd.DataFrame({"exposed": [0, 1], "outcome": [0, 1]}))


def test_an_unusable_cache_folder_slows_embedding_down_but_does_not_stop_it(tmp_path, encoder):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    texts = ["a red lamp", "a blue mug"]
    stranded = TextEncoder(cache_dir=blocker / "cache", progress=False)
    with pytest.warns(UserWarning, match="embedding cache at .* is unusable.*writable folder"):
        vectors = stranded.encode(texts)  # was a FileExistsError traceback from inside the cache
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-5)
    assert stranded.last_stats_.cache_hits == 0 and stranded.last_stats_.encoded == 2


def test_max_length_cannot_exceed_the_models_positions():
    with pytest.raises(ValueError, match="max_length 100000 exceeds the 512 token positions"):
        TextEncoder(max_length=100_000, cache_dir=False, progress=False).encode(["word " * 600])  # a RuntimeError
    assert TextEncoder(max_length=512, cache_dir=False, progress=False).checked().max_length == 512


def test_a_model_folder_without_weights_or_with_a_broken_config_is_refused_before_any_text(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')  # a config copied without its weights
    with pytest.raises(ValueError, match="no weights file .* pass the whole folder save_pretrained wrote"):
        TextEncoder(model=tmp_path, cache_dir=False, progress=False).checked()  # was a traceback at the first text
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json is not a model config \(not JSON"):
        TextEncoder(model=tmp_path, cache_dir=False, progress=False).checked()
