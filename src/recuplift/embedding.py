"""The ``embed`` job: read a log, embed its text columns once per distinct text, write compact Parquet.

Output per column: ``<column>.parquet`` with one row per distinct text (``text``, ``embedding``), and
``rows.parquet`` mapping each input row to its distinct text per column (-1 for missing) — a 200,000-row
log with 2,000 distinct texts stores 2,000 vectors, not 200,000. A text's vector is the mean of its sentences'
vectors, as the audit embeds it, so embedding a log first fills the cache the audit reads; or, with
``granularity="text"``, the whole text's vector.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .io import atomic_paths, read_table, write_table
from .schema import DataError, Problem, Roles, check_text
from .text import EncodeStats, TextEncoder
from .textfeatures import GRANULARITIES, embed_column


def embed_columns(data: str | pd.DataFrame, columns: list[str] | None, out: str | os.PathLike[str],
                  granularity: str = "sentence", **encoder_params: object) -> dict[str, EncodeStats]:
    """Embed ``columns`` (default: the contract's text columns present) and write them under ``out``; the stats
    count sentences encoded where ``granularity`` is ``"sentence"``, texts where it is ``"text"``."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got '{granularity}'")
    df = read_table(data) if not isinstance(data, pd.DataFrame) else data
    columns_named = columns is not None
    columns = list(columns) if columns_named else [c for c in Roles.DEFAULT_TEXT if c in df.columns]
    if not columns:
        raise DataError(Problem(None, "no text column to embed", hint="name text columns with --text"))
    problems = [Problem(c, "missing text column", hint="name text columns with --text") for c in columns
                if c not in df.columns]
    if problems:
        raise DataError(problems)
    for column in columns:  # the audit's own rule: a number column embedded as text would pass here, then fail there
        check_text(df, column, problems, named=columns_named)
    if problems:
        raise DataError(problems)
    encoder = TextEncoder(**{k: v for k, v in encoder_params.items() if v is not None}, progress=None)
    out = Path(out)
    stats: dict[str, EncodeStats] = {}
    rows: dict[str, np.ndarray] = {}
    tables: dict[str, pa.Table] = {}
    for column in columns:
        embedded = embed_column(encoder, df[column], granularity)
        stats[column] = EncodeStats(**{**encoder.last_stats_.__dict__, "n_texts": len(df),
                                       "n_missing": int(embedded.missing.sum())})
        vectors = embedded.vectors
        tables[column] = pa.table({"text": pa.array(embedded.texts, pa.string()),
                                   "embedding": pa.FixedSizeListArray.from_arrays(vectors.ravel(), vectors.shape[1])})
        rows[column] = embedded.codes
    # every column's table and the row index are replaced together: a run stopped half-way used to leave a new
    # item_text.parquet beside the previous run's rows.parquet
    with atomic_paths(*(out / f"{column}.parquet" for column in columns), out / "rows.parquet") as paths:
        for column, path in zip(columns, paths):
            pq.write_table(tables[column], path)
        write_table(pd.DataFrame(rows), paths[-1])
    return stats
