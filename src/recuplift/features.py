"""Tabular covariates as a numeric matrix: numbers pass through (NaN kept for XGBoost), categories one-hot.

Categories seen at fit time define the columns, so a transform of new rows yields the same layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

MAX_LEVELS = 50  # rarer levels fold into "<column>=other"


class TabularEncoder(TransformerMixin, BaseEstimator):
    def __init__(self, columns: tuple[str, ...] = (), max_levels: int = MAX_LEVELS):
        self.columns = columns
        self.max_levels = max_levels

    def fit(self, df: pd.DataFrame, y: Any = None) -> "TabularEncoder":
        self.levels_: dict[str, list[Any]] = {}
        for col in self.columns:
            series = df[col]
            if _is_numeric(series):
                continue
            counts = series.astype("string").value_counts()
            self.levels_[col] = list(counts.index[: self.max_levels])
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        blocks: dict[str, np.ndarray] = {}
        for col in self.columns:
            series = df[col]
            if col not in self.levels_:
                blocks[col] = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
                continue
            values = series.astype("string")
            for level in self.levels_[col]:
                blocks[f"{col}={level}"] = (values == level).fillna(False).to_numpy(dtype=float)
            blocks[f"{col}=other"] = (~values.isin(self.levels_[col])).to_numpy(dtype=float)
        return pd.DataFrame(blocks, index=df.index)


def _is_numeric(series: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)) and not isinstance(
        series.dtype, pd.CategoricalDtype)
