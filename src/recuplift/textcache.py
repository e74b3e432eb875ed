"""On-disk embedding cache: one SQLite file, keyed by model identity and the text's sha256.

SQLite gives what the cache needs without pickle: every write is a transaction (a process killed mid-write
leaves the previous, readable state), and concurrent processes are serialized by its file locks. Vectors
are stored as raw float32 bytes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable

import numpy as np

CACHE_ENV = "RECUPLIFT_CACHE_DIR"
DB_NAME = "embeddings-v2.sqlite"  # bump the version when the table layout changes
CHUNK = 900  # stay below SQLite's bound-parameter limit
INIT_WAIT_S = 60.0  # as long as a connection waits for a lock


def default_cache_dir() -> Path:
    """``$RECUPLIFT_CACHE_DIR`` if set, else ``~/.cache/recuplift``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "recuplift")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors for (model key, text hash) pairs, safe under kills and concurrent writers."""

    def __init__(self, cache_dir: str | os.PathLike[str]):
        self.path = Path(cache_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + INIT_WAIT_S
        while True:
            try:
                self._create()
                return
            except sqlite3.OperationalError as error:
                # two processes creating the same new file: switching it to WAL needs an exclusive lock, and
                # SQLite refuses at once (no busy wait) when that could deadlock; the winner's WAL setting
                # persists in the file, so trying again shortly succeeds
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create(self) -> None:
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, key TEXT NOT NULL, "
                        "dim INTEGER NOT NULL, n_tokens INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, key))")
            con.execute("CREATE TABLE IF NOT EXISTS fingerprints (path TEXT PRIMARY KEY, size INTEGER, "
                        "mtime_ns INTEGER, sha256 TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, model: str, keys: list[str]) -> dict[str, tuple[np.ndarray, int]]:
        """The cached (vector, token count) pairs among ``keys`` (missing keys are simply absent)."""
        found: dict[str, tuple[np.ndarray, int]] = {}
        with self._connect() as con:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start:start + CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(f"SELECT key, vec, n_tokens FROM vectors WHERE model = ? AND key IN ({marks})",
                                   [model, *chunk])
                for key, blob, n_tokens in rows:
                    found[key] = (np.frombuffer(blob, dtype=np.float32), n_tokens)
        return found

    def put(self, model: str, items: Iterable[tuple[str, np.ndarray, int]]) -> None:
        """Store (key, vector, token count) in one transaction: all of them land, or none."""
        rows = [(model, key, int(vec.shape[0]), int(n_tokens), np.ascontiguousarray(vec, dtype=np.float32).tobytes())
                for key, vec, n_tokens in items]
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", rows)

    def fingerprint(self, path: Path) -> str:
        """sha256 of a weights file, remembered by (path, size, mtime) so warm runs skip re-hashing."""
        stat = path.stat()
        with self._connect() as con:
            row = con.execute("SELECT size, mtime_ns, sha256 FROM fingerprints WHERE path = ?",
                              [str(path)]).fetchone()
            if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
                return row[2]
            digest = file_sha256(path)
            con.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?)",
                        [str(path), stat.st_size, stat.st_mtime_ns, digest])
            return digest

    def count(self, model: str | None = None) -> int:
        with self._connect() as con:
            if model is None:
                return con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", [model]).fetchone()[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Delete the cache file (and its WAL side files); returns how many vectors it held."""
    directory = Path(cache_dir) if cache_dir else default_cache_dir()
    db = directory / DB_NAME
    if not db.exists():
        return 0
    n = EmbeddingCache(directory).count()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return n
