"""Reading and writing tables, always atomically: a run that dies half-way leaves no half-written file.

Sources: Parquet (a file, or a folder of files), CSV, JSON Lines and DuckDB tables (``path.duckdb::table``).
Writes go to a temporary name in the destination folder and are renamed into place, which is atomic on POSIX file
systems.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .choices import did_you_mean
from .schema import DataError, Problem

DUCKDB_SEPARATOR = "::"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result should read like any other file
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Temporary paths beside each of ``paths``, renamed onto them only if the whole block succeeds: files that
    belong together (a table and the JSON that describes it) are replaced together or not at all, so a failed
    rerun never leaves a new table beside an old description."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(atomic_path(path)) for path in paths]


DECIMAL_COMMA = r"[+-]?(\d+|\d*,\d+)"  # 12, 0,25 or ,5: a number written with a decimal comma


def read_table(source: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file or folder, a CSV file, JSON records or a DuckDB table (``file.duckdb::table``) into
    pandas."""
    source = str(source)
    if DUCKDB_SEPARATOR in source:
        return _read_duckdb(source, columns)
    path = Path(source)
    if not path.exists():
        raise DataError(Problem(None, f"no such file: {source}", hint="check the path"))
    suffix = path.suffix.lower()
    if suffix == ".duckdb":
        import duckdb

        with duckdb.connect(source, read_only=True) as con:
            tables = _duckdb_tables(con)
        raise DataError(Problem(None, f"{source} is a DuckDB file: name its table as {source}{DUCKDB_SEPARATOR}TABLE",
                                hint=f"its tables: {', '.join(tables) or 'none'}"))
    try:
        if path.is_dir():
            return _read_parquet_folder(path, columns)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path, columns=columns)
        if suffix in (".csv", ".gz", ".txt", ".tsv"):
            return _read_csv(path, columns, "\t" if suffix == ".tsv" else ",")
        if suffix in JSON_SUFFIXES:
            return _read_json_records(path, columns)
    except DataError:
        raise
    except (ValueError, OSError) as err:
        raise DataError(Problem(None, f"could not read {source}: {err}",
                                hint="is it a valid Parquet or CSV file?")) from err
    raise DataError(Problem(None, f"unknown file type '{suffix}' for {source}",
                            hint="save the sheet as CSV UTF-8 (Excel: File → Save As) and pass the .csv"
                            if suffix in (".xlsx", ".xls", ".xlsm", ".ods") else
                            "use .parquet, .csv, .jsonl or file.duckdb::table"))


def output_folder(source: str | os.PathLike[str]) -> Path:
    """A command's output folder, given the folder or a file in it (``AUDIT_DIR`` or ``AUDIT_DIR/uplift.parquet``,
    which need not exist yet: a name with a suffix is a file's)."""
    path = Path(source)
    return path if path.is_dir() or (not path.exists() and not path.suffix) else path.parent


def output_file(source: str | os.PathLike[str], name: str) -> Path:
    """The file ``name`` of an output folder given as the folder; a file given by itself is taken as it is."""
    path = Path(source)
    return path / name if path.is_dir() else path


def _csv_encoding(path: Path) -> str:
    """UTF-8 (a byte-order mark is skipped), or Windows-1252 for a file that is not UTF-8 — as spreadsheets in
    Western European locales export CSV; read as UTF-8 it failed on its first accented letter."""
    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    with open(path, "rb") as handle:  # in chunks: a log of gigabytes is never held twice
        while True:
            chunk = handle.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                warnings.warn(f"{path.name} is not UTF-8 (byte {err.object[err.start]:#04x} near offset "
                              f"{offset + err.start:,}): read as Windows-1252; if its texts look wrong, re-save it "
                              f"as UTF-8", stacklevel=3)
                return "cp1252"
            if not chunk:
                return "utf-8-sig"
            offset += len(chunk)


def _read_csv(path: Path, columns: list[str] | None, sep: str) -> pd.DataFrame:
    """A CSV file; one exported with semicolons, tabs or pipes (as spreadsheets in many locales write them)
    read as a single column whose name held every header, so every role was reported missing. Semicolon files
    usually write decimal commas (0,25): columns made only of such numbers are read as numbers."""
    encoding = _csv_encoding(path)
    header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding).columns
    if len(header) == 1:
        other = next((s for s in (";", "\t", "|") if s != sep and s in str(header[0])), None)
        if other is not None:
            sep = other
    table = pd.read_csv(path, usecols=columns, sep=sep, encoding=encoding)
    if sep == ";":
        for col in table.columns:
            values = table[col].dropna()
            if len(values) and values.map(lambda v: isinstance(v, str)).all() and values.str.fullmatch(DECIMAL_COMMA).all():
                table[col] = pd.to_numeric(table[col].str.replace(",", ".", regex=False))
    return table


def _read_parquet_folder(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """A folder of Parquet files (hive-partitioned or not) as one table; other files beside them — the
    ``simulation.json`` that ``recuplift simulate`` writes, a ``_SUCCESS`` marker — are skipped."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True)
    if not dataset.files:
        raise DataError(Problem(None, f"the folder {path} holds no Parquet files",
                                hint="pass a Parquet or CSV file, or a folder of Parquet files"))
    return dataset.to_table(columns=columns).to_pandas()


JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def _read_json_records(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """JSON Lines (one object per line, as event pipelines export logs) or one array of objects, through DuckDB's
    reader, which infers each field's type over the whole file."""
    import duckdb

    with duckdb.connect() as con:
        try:
            frame = con.execute("SELECT * FROM read_json_auto(?)", [str(path)]).df()
        except duckdb.Error as err:
            raise DataError(Problem(None, f"could not read {path} as JSON records: {str(err).splitlines()[0]}",
                                    hint="give one JSON object per row: one per line (JSON Lines), or an array "
                                         "of objects")) from None
    return frame[columns] if columns else frame


def _duckdb_tables(con: Any) -> list[str]:  # noqa: ANN401 - a duckdb connection, imported lazily
    return sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall())


def _read_duckdb(source: str, columns: list[str] | None) -> pd.DataFrame:
    import duckdb

    db_path, table = source.rsplit(DUCKDB_SEPARATOR, 1)
    if not Path(db_path).exists():
        raise DataError(Problem(None, f"no such DuckDB file: {db_path}"))
    if not table.replace("_", "").replace(".", "").isalnum():
        raise DataError(Problem(None, f"'{table}' is not a plain table name", hint="use file.duckdb::table"))
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    with duckdb.connect(db_path, read_only=True) as con:
        try:
            return con.execute(f"SELECT {cols} FROM {table}").df()
        except duckdb.Error as err:
            tables = _duckdb_tables(con)
            if table not in tables and "." not in table:
                raise DataError(Problem(None, f"no table '{table}' in {db_path}",
                                        hint=f"{did_you_mean(table, tables)}its tables: {', '.join(tables) or 'none'}")
                                ) from err
            raise DataError(Problem(None, f"could not read table '{table}' from {db_path}: {err}")) from err


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write Parquet, CSV or a DuckDB table (``file.duckdb::table``), atomically."""
    path_str = str(path)
    if DUCKDB_SEPARATOR in path_str:
        return _write_duckdb(df, path_str)
    target = Path(path_str)
    with atomic_path(target) as tmp:
        if target.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return target


def _write_duckdb(df: pd.DataFrame, dest: str) -> Path:
    import shutil

    import duckdb

    db_path, table = dest.rsplit(DUCKDB_SEPARATOR, 1)
    target = Path(db_path)
    with atomic_path(target) as tmp:
        if target.exists():
            shutil.copyfile(target, tmp)
        else:
            tmp.unlink()  # duckdb refuses to open an empty non-database file
        with duckdb.connect(str(tmp)) as con:
            con.register("frame", df)
            con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM frame')
    return target


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def to_json_safe(obj: Any) -> Any:
    """Recursively replace NaN/inf floats with None so the JSON is valid everywhere."""
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    return obj


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write JSON atomically, NaN-free."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(to_json_safe(obj), indent=2, default=_json_default) + "\n")
    return target


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())
