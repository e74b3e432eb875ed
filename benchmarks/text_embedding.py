"""Issue 3: text encoding speed, dedup and cache, measured in one run against sentence-transformers.

- 2,000 distinct texts of realistic length: our throughput vs SentenceTransformer.encode on the same texts
  (same batch size, normalized, same model, same threads); the two runs alternate to share machine noise.
- 100,000 rows drawn from those 2,000 texts, cold (no cache): should cost ≤ 1.1× the 2,000 alone.
- The same 100,000 rows again with a warm on-disk cache: ≤ 1 s.
- Peak resident memory of the process.
"""

from __future__ import annotations

import resource
import tempfile
import time

import numpy as np

from _harness import report
from recuplift.simulate import simulate
from recuplift.text import TextEncoder, default_model_path

N_DISTINCT, N_ROWS, BATCH = 2000, 100_000, 64


def realistic_texts() -> list[str]:
    sim = simulate(n_users=1500, n_items=1000, seed=42)
    texts = list(dict.fromkeys([*sim.data["item_text"].unique(), *sim.data["user_text"].unique()]))
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.choice(len(texts), N_DISTINCT, replace=False)]


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    started = time.perf_counter()
    from sentence_transformers import SentenceTransformer

    texts = realistic_texts()
    rows = list(np.random.default_rng(1).choice(np.array(texts, dtype=object), N_ROWS))
    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    ours = TextEncoder(cache_dir=False, batch_size=BATCH, progress=False)
    ours.encode(texts[:8])  # load weights outside the timings, as the reference model already is
    reference.encode(texts[:8], batch_size=BATCH)
    ours_s, st_s = [], []
    for _ in range(2):  # alternate so both see the same machine load
        ours_s.append(timed(lambda: ours.encode(texts))[0])
        st_s.append(timed(lambda: reference.encode(texts, batch_size=BATCH, normalize_embeddings=True))[0])
    t_ours, t_st = min(ours_s), min(st_s)
    t_rows, _ = timed(lambda: ours.encode(rows))
    with tempfile.TemporaryDirectory() as cache_dir:
        TextEncoder(cache_dir=cache_dir, batch_size=BATCH, progress=False).encode(texts)
        warm = TextEncoder(cache_dir=cache_dir, batch_size=BATCH, progress=False)  # a fresh process-like start
        t_warm, _ = timed(lambda: warm.encode(rows))
        hits = warm.last_stats_.cache_hits
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mean_words = float(np.mean([len(t.split()) for t in texts]))
    result_rows = [
        {"case": "sentence-transformers, 2,000 distinct", "seconds": t_st, "texts_per_s": N_DISTINCT / t_st},
        {"case": "recuplift, 2,000 distinct", "seconds": t_ours, "texts_per_s": N_DISTINCT / t_ours},
        {"case": "recuplift, 100,000 rows (dedup, no cache)", "seconds": t_rows, "texts_per_s": N_ROWS / t_rows},
        {"case": "recuplift, 100,000 rows (warm cache)", "seconds": t_warm, "texts_per_s": N_ROWS / t_warm},
    ]
    summary = {
        "mean words per text": round(mean_words, 1),
        "throughput vs sentence-transformers": f"{t_st / t_ours:.2f}x (target ≥ 0.95x)",
        "100k rows / 2k distinct cost": f"{t_rows / t_ours:.2f}x (target ≤ 1.1x)",
        "warm-cache 100k rows": f"{t_warm:.2f} s, {hits} cache hits (target ≤ 1 s)",
        "peak RSS": f"{peak_mib:.0f} MiB",
        "pass": bool(t_st / t_ours >= 0.95 and t_rows / t_ours <= 1.1 and t_warm <= 1.0),
    }
    report("text_embedding", result_rows, summary, started)


if __name__ == "__main__":
    main()
