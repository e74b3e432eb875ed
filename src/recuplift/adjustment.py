"""The adjustment ladder: none → tabular → tabular + text → tabular + text + pair features.

Every audit estimates the effect under each rung, so the analyst sees what text adjustment changed. This
module builds the design matrices once (text is embedded once, then sliced per rung).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .choices import unknown_choice
from .features import TabularEncoder
from .schema import DataError, Problem, Roles
from .text import TextEncoder
from .textfeatures import TextFeatures

LADDER = ("none", "tabular", "tabular+text", "tabular+text+pair")


@dataclass
class AdjustmentSets:
    """Named confounder matrices plus the frames they came from (for diagnostics and reports)."""

    tabular: pd.DataFrame
    text: pd.DataFrame
    pair: pd.DataFrame
    text_features: TextFeatures | None = None
    modifiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    encoders: tuple[TabularEncoder, TabularEncoder] | None = None  # fitted (covariates, modifiers)

    def transform(self, df: pd.DataFrame) -> "AdjustmentSets":
        """The same features for new rows (fresh users, a later log): encoders and PCA stay as fitted."""
        if self.encoders is None:
            raise ValueError("these adjustment sets were not built by build_adjustment_sets")
        needed = [c for encoder in self.encoders for c in encoder.columns]
        if self.text_features is not None:
            needed += [*self.text_features.columns, *self.text_features.item_groups]
        missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
        if missing:
            raise DataError([Problem(c, "missing column (the model was fitted on it)",
                                     hint="score rows that carry every column the fitted log had") for c in missing])
        tabular, modifiers = (encoder.transform(df) for encoder in self.encoders)
        if self.text_features is None:
            empty = pd.DataFrame(index=df.index)
            return AdjustmentSets(tabular, empty, empty, None, modifiers, self.encoders)
        frame = self.text_features.transform(df)
        return AdjustmentSets(tabular, frame[list(self.text.columns)], frame[list(self.pair.columns)],
                              self.text_features, modifiers, self.encoders)

    def frame(self, rung: str) -> pd.DataFrame:
        if rung not in LADDER:
            raise ValueError(unknown_choice("adjustment", rung, LADDER))
        parts = {"none": [], "tabular": [self.tabular], "tabular+text": [self.tabular, self.text],
                 "tabular+text+pair": [self.tabular, self.text, self.pair]}[rung]
        if not parts:
            return pd.DataFrame(index=self.tabular.index)
        return pd.concat(parts, axis=1)

    def matrix(self, rung: str) -> np.ndarray:
        frame = self.frame(rung)
        return frame.to_numpy(dtype=float) if frame.shape[1] else np.zeros((len(frame), 0))

    def rungs(self) -> list[str]:
        """The rungs this log supports (no text rungs without text columns, no pair rung without pairs)."""
        out = ["none", "tabular"]
        if self.text.shape[1]:
            out.append("tabular+text")
        if self.pair.shape[1]:
            out.append("tabular+text+pair")
        return out


def build_adjustment_sets(df: pd.DataFrame, roles: Roles, encoder: TextEncoder | None = None,
                          concepts: dict[str, str] | None = None, random_state: int = 0,
                          **text_params: object) -> AdjustmentSets:
    """Encode tabular covariates and text columns of a validated log into the ladder's matrices."""
    encoders = (TabularEncoder(tuple(roles.covariates or ())).fit(df), TabularEncoder(tuple(roles.modifiers or ())).fit(df))
    tabular, modifiers = (encoder.transform(df) for encoder in encoders)
    empty = pd.DataFrame(index=df.index)
    if not roles.text:
        return AdjustmentSets(tabular, empty, empty, None, modifiers, encoders)
    text_params.setdefault("item_groups", item_group_columns(df, roles))
    text_params.setdefault("pairs", text_pairs(df, roles))
    features = TextFeatures(columns=tuple(roles.text), encoder=encoder, concepts=concepts,
                            random_state=random_state, **text_params)
    frame = features.fit_transform(df)
    groups = features.feature_groups(list(frame.columns))
    return AdjustmentSets(tabular, frame[groups["text"]], frame[groups["pair"]], features, modifiers, encoders)


def item_group_columns(df: pd.DataFrame, roles: Roles) -> tuple[str, ...]:
    """Categorical covariates that describe items (one value per item id): the groups whose item texts a
    user's text is compared with. Without an item id, nothing is assumed to describe items."""
    if not roles.item_id:
        return ()
    categorical = [c for c in roles.covariates or () if not pd.api.types.is_numeric_dtype(df[c])]
    if not categorical:
        return ()
    per_item = df.groupby(roles.item_id, observed=True)[categorical].nunique(dropna=False).max()
    return tuple(c for c in categorical if per_item[c] <= 1)


def text_pairs(df: pd.DataFrame, roles: Roles) -> list[tuple[str, str]] | str:
    """(context text, item text) pairs for the pair features, read from the data rather than the names: a text
    with one value per item id describes the item; any other text — a user's reviews, a request's search
    query — is context, compared with each item text. Falls back to ``"auto"`` (names containing ``user`` or
    ``query`` are context) without an item id, or when the data does not split the texts into both sides."""
    text = list(roles.text or ())
    if not roles.item_id or len(text) < 2:
        return "auto"
    per_item = df.groupby(roles.item_id, observed=True)[text].nunique(dropna=True).max()
    items = [c for c in text if per_item[c] <= 1]
    context = [c for c in text if c not in items]
    if not items or not context:
        return "auto"
    return [(c, i) for c in context for i in items]
