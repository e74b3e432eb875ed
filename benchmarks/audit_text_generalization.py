"""Issue 4, with text, off our own simulator: the audit's recommended estimate when the confounders live only in
text written by a generator that shares nothing with ``recuplift.simulate`` but the column names.

Films, not products. Each film has a genre (action, romance, documentary) and is acclaimed or panned by
critics; each user has a favourite genre, is a cinephile or not, and has an account age (``tenure``, the only
tabular covariate). Genre, acclaim and taste appear only in the texts, in words our simulator never uses: a
film's description states its genre and its reviews; a user's text states what they like to watch. The logger
shows a film more often when its genre matches the user's (a user × item text interaction), when it is
acclaimed, and most when an acclaimed film meets a cinephile; the organic watch rate follows the same
things plus an unobserved user random effect; the effect of showing is larger for cinephiles and smaller for
a film of the user's genre, which they would find anyway. Two loggers: ``balanced`` shows about 40% of the
candidates (propensities in [0.03, 0.97]); ``sparse`` about 8% (down to 0.002).

Per seed and logger the audit (``naive, aipw``; no refuters) runs as logged and with the propensity column
removed. Reported per case: coverage of the true sample ATE by the recommended estimate's interval, its mean
bias, the share of the naive bias removed, the root mean square of bias / standard error, and the mean bias of
AIPW on each rung of the ladder (what the text and the pair features changed).

``python benchmarks/audit_text_generalization.py [N_SEEDS [FIRST_SEED]]`` (default 10).
"""

from __future__ import annotations

import random
import time

import numpy as np
import pandas as pd
from scipy.special import expit

from _harness import audit_record, audit_summary, report, seed_range
from recuplift.causal import Audit
from recuplift.schema import Roles

GENRE = [["An explosive action thriller packed with car chases and shootouts.", "Non-stop fights, stunts and explosions.",
          "A high-octane heist with gunfights."],
         ["A tender love story about two strangers who fall for each other.", "A heartwarming romance set in Paris.",
          "A bittersweet romantic drama about first love."],
         ["A documentary that investigates climate science.", "An observational documentary about deep-sea life.",
          "A true-crime documentary built from archive footage."]]
ACCLAIM = [["Critics panned it as lazy and forgettable.", "Reviewers called it a dull mess."],
           ["Winner of the festival's grand prize, hailed as a masterpiece.",
            "Critics call it the best film of the decade."]]
FILM_FILLER = ["Runs about two hours.", "Available with subtitles.", "Shot on location.", "Rated for teens and up.",
               "Streaming in 4K."]
LIKES = [["I watch action movies with big explosions every weekend.", "Give me fights and car chases."],
         ["I adore romantic films and love stories.", "Romance is my favourite genre."],
         ["I mostly watch documentaries to learn things.", "Nature and science documentaries are my thing."]]
CINEPHILE = [["I just want something easy to have on in the background.", "Popcorn films are fine by me."],
             ["I follow film festivals and only watch acclaimed cinema.", "I read the critics before choosing anything."]]
USER_FILLER = ["My TV is old.", "I watch on my phone on the train.", "I share the account with family."]

# logger: (intercept, lowest propensity; the highest is 1 minus it)
LOGGERS = {"balanced": (-0.6, 0.03), "sparse": (-3.2, 0.002)}
RUNGS = ("tabular", "tabular+text", "tabular+text+pair")


def _texts(pools: list[list[list[str]]], levels: list[np.ndarray], filler: list[str], rng: random.Random) -> list[str]:
    """One text per unit: a sentence for each attribute level plus a filler sentence, in random order."""
    texts = []
    for unit in range(len(levels[0])):
        sentences = [rng.choice(pool[level[unit]]) for pool, level in zip(pools, levels)] + [rng.choice(filler)]
        texts.append(" ".join(rng.sample(sentences, len(sentences))))
    return texts


def film_log(seed: int, n_users: int = 1500, per_user: int = 12, n_items: int = 300,
             logger: str = "balanced") -> pd.DataFrame:
    """A log whose confounders (genre match, acclaim, cinephile taste) are stated only in the texts."""
    rng, text_rng = np.random.default_rng(seed), random.Random(seed)
    genre, acclaimed = rng.integers(0, 3, n_items), rng.integers(0, 2, n_items)
    favourite, cinephile = rng.integers(0, 3, n_users), rng.integers(0, 2, n_users)
    tenure = rng.exponential(1.0, n_users)
    item_text = np.array(_texts([GENRE, ACCLAIM], [genre, acclaimed], FILM_FILLER, text_rng), dtype=object)
    user_text = np.array(_texts([LIKES, CINEPHILE], [favourite, cinephile], USER_FILLER, text_rng), dtype=object)
    user = np.repeat(np.arange(n_users), per_user)
    item = rng.integers(0, n_items, len(user))
    match = (genre[item] == favourite[user]).astype(float)
    acclaim, taste = acclaimed[item], cinephile[user]
    random_effect = rng.normal(0, 0.6, n_users)[user]
    intercept, bound = LOGGERS[logger]
    propensity = np.clip(expit(intercept + 1.3 * match + 0.7 * acclaim + 0.8 * acclaim * taste + 0.2 * tenure[user]),
                         bound, 1 - bound)
    exposed = (rng.random(len(user)) < propensity).astype(int)
    control_logit = -2.2 + 1.0 * match + 0.4 * acclaim + 0.6 * acclaim * taste + 0.2 * tenure[user] + random_effect
    p0, p1 = expit(control_logit), expit(control_logit + 0.35 + 0.3 * taste - 0.3 * match)
    outcome = (rng.random(len(user)) < np.where(exposed == 1, p1, p0)).astype(int)
    return pd.DataFrame({"user_id": user, "item_id": item, "exposed": exposed, "outcome": outcome,
                         "propensity": propensity, "tenure": tenure[user], "item_text": item_text[item],
                         "user_text": user_text[user], "true_uplift": p1 - p0})


def main(seeds: range = range(10)) -> None:
    started = time.perf_counter()
    runs = []
    for seed, logger in ((seed, logger) for logger in LOGGERS for seed in seeds):
        log = film_log(seed, logger=logger)
        for case in ("logged", "removed"):
            roles = Roles.from_mapping(dict(treatment="exposed", outcome="outcome", user_id="user_id", item_id="item_id",
                                            propensity="propensity" if case == "logged" else None,
                                            text="item_text,user_text", covariates="tenure"))
            data = log if case == "logged" else log.drop(columns=["propensity"])
            t0 = time.perf_counter()
            result = Audit(roles, estimators=("naive", "aipw"), run_refuters=False, random_state=seed,
                           progress=False).fit(data)
            aipw = {e["adjustment"]: e["ate"] for e in result.to_dict()["estimates"] if e["estimator"] == "aipw"}
            runs.append(audit_record(result, time.perf_counter() - t0, seed=seed, logger=logger, propensity=case,
                                     **{f"aipw_bias_{rung}": aipw[rung] - result.ground_truth["ate"] for rung in RUNGS}))
            print(f"{logger} logger, seed {seed}, propensity {case}: bias {runs[-1]['bias']:+.4f}, "
                  f"covered {runs[-1]['covered']}", flush=True)
    rows, summary = audit_summary(runs, mean_columns=tuple(f"aipw_bias_{rung}" for rung in RUNGS))
    report("audit_text_generalization", rows, summary, started)


if __name__ == "__main__":
    main(seed_range(10))
