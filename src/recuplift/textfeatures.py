"""``TextFeatures``: embeddings reduced to a few confounder columns, user–item pair features and named
concept scores.

- Each text column gets a PCA fitted on its *distinct* texts, so an item shown 10,000 times weighs as much
  as one shown once; k is the smallest number of components reaching ``variance`` explained, capped.
- ``granularity="sentence"`` (default) embeds each sentence-like segment once and averages them per text:
  a description that states quality, price and style in separate sentences keeps each attribute legible,
  where one pooled pass over the whole text blurs them; segments also repeat across a catalog far more
  than whole texts, so there is less to encode. The number of segments (how long a user's history is)
  is kept as a feature. ``"text"`` embeds whole texts.
- Relevance is a property of the pair, not of either side: for each (user text, item text) pair we add
  the cosine of the two embeddings, the best match between any user segment and any item segment (a search
  query against a product's sentences), and the leading components of the elementwise product.
- ``item_groups`` (categorical columns describing items, such as a category): a user's affinity to the
  row's group — the cosine between the user's text and the centroid of that group's item texts, raw and
  standardized across groups (how much more this user's text resembles this group than the others). A user
  who searches for skillets is close to the kitchen items as a group even when no single description names
  a skillet; with it, plain DML removed 80% of the confounding bias instead of 71% (benchmarks/text_confounding.py).
- ``concepts={"premium": "an expensive luxury product"}`` scores each text by its best-matching segment's
  similarity to a described concept: confounders and effect modifiers an analyst can name in a report.
- Missing or empty texts become zero vectors plus a ``<column>_missing`` indicator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA

from .text import TextEncoder, clean_text

GRANULARITIES = ("sentence", "text")  # what a text vector averages: its sentences, or the whole text at once
PAIR_FIT_ROWS = 20000  # distinct pairs used to fit the pair PCA (the transform covers every row)
# sentence ends, list separators and quote marks around search queries (apostrophes inside words survive)
SEGMENT_SPLIT = re.compile(r"(?<=[.!?:])\s+|[;\n|]+|(?<![A-Za-z])'|'(?![A-Za-z])|\"")


def segments(text: str) -> list[str]:
    """Split a text into sentence-like segments (at least the whole text)."""
    parts = [p.strip(" ,.:") for p in SEGMENT_SPLIT.split(text)]
    return [p for p in parts if len(p) > 2] or [text]


@dataclass
class EmbeddedColumn:
    """One text column, embedded: distinct texts, the row → distinct map, and per-text segments."""

    vectors: np.ndarray  # (n_distinct, d) mean of segment vectors (or whole-text vectors)
    codes: np.ndarray  # (n_rows,) index into vectors, -1 for missing
    segment_vectors: np.ndarray  # (n_segments_total, d)
    segment_owner: np.ndarray  # (n_segments_total,) index of the distinct text each segment belongs to
    texts: list[str]  # (n_distinct,) the distinct texts, cleaned, in the order of ``vectors``

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    @property
    def n_segments(self) -> np.ndarray:
        return np.bincount(self.segment_owner, minlength=len(self.vectors))


def embed_column(encoder: TextEncoder, texts: pd.Series, granularity: str = "sentence") -> "EmbeddedColumn":
    """Embed a text column once per distinct text: with ``granularity="sentence"`` (the audit's) each text's
    sentence-like segments are embedded and averaged, with ``"text"`` the whole text at once. The encoder's
    ``last_stats_`` counts what was encoded (segments, for sentences)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be 'sentence' or 'text', got '{granularity}'")
    codes, uniques = pd.factorize(texts.map(clean_text), use_na_sentinel=True)
    distinct = list(uniques)
    pieces = [segments(t) if granularity == "sentence" else [t] for t in distinct]
    owner = np.repeat(np.arange(len(distinct)), [len(p) for p in pieces])
    seg_vectors = encoder.encode([p for ps in pieces for p in ps])
    sums = np.zeros((len(distinct), seg_vectors.shape[1]))
    np.add.at(sums, owner, seg_vectors)
    means = (sums / np.maximum(np.bincount(owner, minlength=len(distinct)), 1)[:, None]).astype(np.float32)
    return EmbeddedColumn(means, codes, seg_vectors, owner, distinct)


def _chosen_components(pca: PCA, variance: float, cap: int) -> int:
    reached = np.searchsorted(np.cumsum(pca.explained_variance_ratio_), variance) + 1
    return int(min(reached, cap, pca.n_components_))


def _project(pca: PCA, vectors: np.ndarray) -> np.ndarray:
    """PCA scores, also of no vectors at all (a column whose texts are all missing in the rows scored)."""
    return pca.transform(vectors) if len(vectors) else np.zeros((0, pca.n_components_))


def parse_concepts(spec: str) -> dict[str, str]:
    """``"premium: an expensive luxury product; budget: a cheap product"`` → ``{name: description}`` (how a
    report's parameter or a command line spells concepts); a part without ``name:`` is an error, not dropped."""
    parts = [part.strip() for part in spec.split(";") if part.strip()]
    unnamed = [part for part in parts if ":" not in part]
    if unnamed:
        raise ValueError(f"concept(s) {unnamed} lack a name: write 'name: description; name: description'")
    concepts = dict(tuple(piece.strip() for piece in part.split(":", 1)) for part in parts)
    check_concepts(concepts)
    return concepts


def check_concepts(concepts: object) -> None:
    """Concepts are ``{name: description}`` with both non-empty strings; checked before any text is embedded."""
    if concepts is None:
        return
    example = '{"premium": "an expensive luxury product"}'
    if not isinstance(concepts, Mapping):
        raise ValueError(f"concepts must map names to descriptions, e.g. {example}; got {type(concepts).__name__}")
    bad = [name for name, text in concepts.items()
           if not (isinstance(name, str) and name.strip() and isinstance(text, str) and text.strip())]
    if bad:
        raise ValueError(f"concept(s) {bad} need a non-empty name and a non-empty description, e.g. {example}")


class TextFeatures(TransformerMixin, BaseEstimator):
    """Fit on a log (``fit(df)``), then ``transform(df)`` gives a DataFrame of numeric text features."""

    def __init__(self, columns: tuple[str, ...] = ("item_text", "user_text"), encoder: TextEncoder | None = None,
                 variance: float = 0.95, max_components: int = 64, pairs: Any = "auto", pair_components: int = 16,
                 concepts: dict[str, str] | None = None, granularity: str = "sentence",
                 item_groups: tuple[str, ...] = (), random_state: int = 0):
        self.columns = columns
        self.item_groups = item_groups
        self.encoder = encoder
        self.variance = variance
        self.max_components = max_components
        self.pairs = pairs
        self.pair_components = pair_components
        self.concepts = concepts
        self.granularity = granularity
        self.random_state = random_state

    def _pairs(self) -> list[tuple[str, str]]:
        if self.pairs == "auto":
            users = [c for c in self.columns if "user" in c or "query" in c]
            items = [c for c in self.columns if c not in users]
            return [(u, i) for u in users for i in items]
        return [tuple(p) for p in (self.pairs or ())]  # type: ignore[misc]

    def _encoder(self) -> TextEncoder:
        return self.encoder if self.encoder is not None else TextEncoder()

    def encoding_summary(self) -> dict[str, Any]:
        """Which model embedded the text and what embedding each column cost: provenance for results.json."""
        encoder = self._encoder()
        return {"model": str(encoder.model_path), "pooling": encoder.pooling, "max_length": encoder.max_length,
                "columns": {col: stats.to_dict() for col, stats in self.encode_stats_.items()}}

    # -- embedding -------------------------------------------------------------------------------------------
    def _embed(self, df: pd.DataFrame) -> dict[str, EmbeddedColumn]:
        encoder = self._encoder()
        out = {}
        self.encode_stats_ = {}
        for col in self.columns:
            if col not in df.columns:
                raise ValueError(f"text column '{col}' is not in the table")
            out[col] = embed_column(encoder, df[col], self.granularity)
            self.encode_stats_[col] = encoder.last_stats_
        return out

    # -- fit / transform -------------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, y: Any = None) -> "TextFeatures":
        check_concepts(self.concepts)
        missing = [g for g in self.item_groups if g not in df.columns]
        if missing:
            raise ValueError(f"item group column(s) {missing} are not in the table; item_groups names categorical "
                             f"columns that describe items, such as a category")
        embedded = self._embed(df)
        self.pca_: dict[str, PCA] = {}
        self.n_components_: dict[str, int] = {}
        for col, emb in embedded.items():
            if len(emb.vectors) < 2:
                raise ValueError(f"text column '{col}' has fewer than 2 distinct texts; nothing to learn from")
            pca = PCA(n_components=min(len(emb.vectors), emb.vectors.shape[1], 4 * self.max_components),
                      random_state=self.random_state).fit(emb.vectors)
            self.pca_[col] = pca
            self.n_components_[col] = _chosen_components(pca, self.variance, self.max_components)
        self.pair_pca_: dict[tuple[str, str], PCA] = {}
        rng = np.random.default_rng(self.random_state)
        for u, i in self._pairs():
            pairs = self._distinct_pairs(embedded[u], embedded[i])
            if len(pairs) > PAIR_FIT_ROWS:
                pairs = pairs[rng.choice(len(pairs), PAIR_FIT_ROWS, replace=False)]
            products = embedded[u].vectors[pairs[:, 0]] * embedded[i].vectors[pairs[:, 1]]
            k = min(self.pair_components, len(products), products.shape[1])
            if k >= 1:
                self.pair_pca_[(u, i)] = PCA(n_components=k, random_state=self.random_state).fit(products)
        self.group_centroids_ = {(i, g): _group_centroids(embedded[i], df[g]) for _, i in self._pairs()
                                 for g in self.item_groups}
        self.concept_vectors_ = (self._encoder().encode(list(self.concepts.values())) if self.concepts else None)
        self._cached = (id(df), embedded)  # transform(df) right after fit(df) reuses the embeddings
        return self

    @staticmethod
    def _distinct_pairs(user: EmbeddedColumn, item: EmbeddedColumn) -> np.ndarray:
        ok = (user.codes >= 0) & (item.codes >= 0)
        return np.unique(np.stack([user.codes[ok], item.codes[ok]], axis=1), axis=0)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        cached = getattr(self, "_cached", None)
        embedded = cached[1] if cached and cached[0] == id(df) else self._embed(df)
        self._cached = None
        blocks: dict[str, np.ndarray] = {}
        for col, emb in embedded.items():
            k = self.n_components_[col]
            present = ~emb.missing
            per_text = {f"{col}_pc{j + 1}": c for j, c in enumerate(_project(self.pca_[col], emb.vectors)[:, :k].T)}
            per_text[f"{col}_n_segments"] = np.log1p(emb.n_segments)
            if self.concept_vectors_ is not None:
                best = _segment_max(emb.segment_vectors @ self.concept_vectors_.T, emb.segment_owner, len(emb.vectors))
                per_text.update({f"{col}_concept_{name}": best[:, j] for j, name in enumerate(self.concepts)})
            for name, values in per_text.items():
                rows = np.zeros(len(emb.codes))
                rows[present] = values[emb.codes[present]]
                blocks[name] = rows
            blocks[f"{col}_missing"] = emb.missing.astype(float)
        for (u, i), pca in self.pair_pca_.items():
            blocks.update(self._pair_block(embedded[u], embedded[i], pca, f"{u}__{i}"))
        for u, i in self._pairs():
            for g in self.item_groups:
                blocks.update(_group_affinity(embedded[u], df[g], *self.group_centroids_[(i, g)], f"{u}__{i}__{g}"))
        return pd.DataFrame(blocks, index=df.index)

    def _pair_block(self, user: EmbeddedColumn, item: EmbeddedColumn, pca: PCA, prefix: str) -> dict[str, np.ndarray]:
        pairs = self._distinct_pairs(user, item)
        vu, vi = user.vectors[pairs[:, 0]], item.vectors[pairs[:, 1]]
        cosine = np.einsum("ij,ij->i", _unit(vu), _unit(vi))
        matches = _segment_matches(user, item, pairs)
        comps = _project(pca, vu * vi)
        values = np.column_stack([cosine, matches, comps])
        names = [f"{prefix}_cosine", f"{prefix}_best_match", f"{prefix}_maxsim"] + [f"{prefix}_prod_pc{j + 1}" for j in range(comps.shape[1])]
        ok = (user.codes >= 0) & (item.codes >= 0)
        rows = np.zeros((len(user.codes), len(names)))
        if len(pairs):
            lookup = pd.MultiIndex.from_arrays([pairs[:, 0], pairs[:, 1]])
            where = lookup.get_indexer(pd.MultiIndex.from_arrays([user.codes[ok], item.codes[ok]]))
            rows[ok] = values[where]
        return {name: rows[:, j] for j, name in enumerate(names)}

    def feature_groups(self, columns: list[str]) -> dict[str, list[str]]:
        """Split feature names into ``text`` (per-column components, indicators, concepts) and ``pair``."""
        pair = [c for c in columns if "__" in c]
        return {"text": [c for c in columns if c not in pair], "pair": pair}


def _segment_max(scores: np.ndarray, owner: np.ndarray, n_texts: int) -> np.ndarray:
    """Per text, the maximum over its segments of each score column."""
    out = np.full((n_texts, scores.shape[1]), -np.inf)
    np.maximum.at(out, owner, scores)
    return out


def _segment_matches(user: EmbeddedColumn, item: EmbeddedColumn, pairs: np.ndarray) -> np.ndarray:
    """For each (user text, item text) pair: the best cosine between any user segment and any item segment,
    and the late-interaction score (ColBERT's MaxSim): each user segment's best item match, averaged."""
    def by_text(emb: EmbeddedColumn) -> list[np.ndarray]:
        unit = _unit(emb.segment_vectors)
        order = np.argsort(emb.segment_owner, kind="stable")
        bounds = np.searchsorted(emb.segment_owner[order], np.arange(len(emb.vectors) + 1))
        return [unit[order[bounds[t]:bounds[t + 1]]] for t in range(len(emb.vectors))]

    user_segments, item_segments = by_text(user), by_text(item)
    best = np.empty((len(pairs), 2))
    starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]) if len(pairs) else []
    ends = np.r_[starts[1:], len(pairs)] if len(pairs) else []
    for start, end in zip(starts, ends):  # pairs are sorted by user: one matrix product per user
        u, rows = pairs[start, 0], np.arange(start, end)
        items = [item_segments[i] for i in pairs[rows, 1]]
        sims = user_segments[u] @ np.vstack(items).T
        edges = np.cumsum([0] + [len(s) for s in items[:-1]])
        per_user_segment = np.maximum.reduceat(sims, edges, axis=1)  # (user segments, items)
        best[rows, 0] = per_user_segment.max(axis=0)
        best[rows, 1] = per_user_segment.mean(axis=0)
    return best


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def _labels(group: pd.Series) -> np.ndarray:
    """Group levels as strings (object array), missing as None."""
    return group.astype("string").to_numpy(dtype=object, na_value=None)


def _group_centroids(item: EmbeddedColumn, group: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Levels of an item group column and the unit centroid of each level's distinct item texts."""
    first = pd.DataFrame({"code": item.codes, "level": _labels(group)}).dropna().drop_duplicates("code")
    levels = np.array(sorted(first["level"].unique()), dtype=object)
    if len(levels) == 0:
        return levels, np.zeros((0, item.vectors.shape[1]))
    where = np.searchsorted(levels, first["level"].to_numpy())
    sums = np.zeros((len(levels), item.vectors.shape[1]))
    np.add.at(sums, where, item.vectors[first["code"].to_numpy()])
    return levels, _unit(sums)


def _group_affinity(user: EmbeddedColumn, group: pd.Series, levels: np.ndarray, centroids: np.ndarray,
                    prefix: str) -> dict[str, np.ndarray]:
    """Each row's user-text cosine to its item group's centroid, raw and standardized across the groups."""
    n = len(user.codes)
    if len(levels) < 2:
        return {}
    cos = _unit(user.vectors) @ centroids.T  # (distinct user texts, levels)
    rel = (cos - cos.mean(axis=1, keepdims=True)) / (cos.std(axis=1, keepdims=True) + 1e-12)
    position = pd.Index(levels).get_indexer(_labels(group))  # -1: missing or a level the fit never saw
    known = (position >= 0) & (user.codes >= 0)
    raw, standardized = np.zeros(n), np.zeros(n)
    raw[known] = cos[user.codes[known], position[known]]
    standardized[known] = rel[user.codes[known], position[known]]
    return {f"{prefix}_affinity": raw, f"{prefix}_affinity_rel": standardized}
