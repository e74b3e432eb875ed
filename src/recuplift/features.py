"""Tabular covariates as a numeric matrix: numbers pass through, categories one-hot.

A missing number becomes the column's fit-time median plus a ``<column>_missing`` indicator: XGBoost could
route NaN itself, but EconML's linear final stages, DoWhy's refuters and the torch estimator cannot, and an
indicator keeps "missing" visible to every learner. Categories, missing indicators and medians seen at fit
time define the columns, so a transform of new rows yields the same layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from .schema import MAX_LEVELS, DataError, Problem, offending_rows


class TabularEncoder(TransformerMixin, BaseEstimator):
    def __init__(self, columns: tuple[str, ...] = (), max_levels: int = MAX_LEVELS):
        self.columns = columns
        self.max_levels = max_levels

    def fit(self, df: pd.DataFrame, y: Any = None) -> "TabularEncoder":
        self.levels_: dict[str, list[Any]] = {}
        self.medians_: dict[str, float] = {}
        self.flag_missing_: set[str] = set()
        for col in self.columns:
            series = df[col]
            if _is_numeric(series):
                values = _as_float(series)
                self.medians_[col] = float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
                if np.isnan(values).any():
                    self.flag_missing_.add(col)
                continue
            counts = series.astype("string").value_counts()
            self.levels_[col] = list(counts.index[: self.max_levels])
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        blocks: dict[str, np.ndarray] = {}
        for col in self.columns:
            series = df[col]
            if col not in self.levels_:
                values = _as_float(series)
                missing = np.isnan(values)
                not_numbers = missing & series.notna().to_numpy()
                if not_numbers.any():
                    raise DataError(Problem(col, "was numeric when fitted but holds values that are not numbers",
                                            offending_rows(not_numbers),
                                            "give the column as numbers, the missing ones as null"))
                blocks[col] = np.where(missing, self.medians_[col], values)
                if col in self.flag_missing_:
                    blocks[f"{col}_missing"] = missing.astype(float)
                continue
            values = series.astype("string")
            for level in self.levels_[col]:
                blocks[f"{col}={level}"] = (values == level).fillna(False).to_numpy(dtype=float)
            blocks[f"{col}=other"] = (~values.isin(self.levels_[col])).to_numpy(dtype=float)
        return pd.DataFrame(blocks, index=df.index)


def _as_float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def _is_numeric(series: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)) and not isinstance(
        series.dtype, pd.CategoricalDtype)
