"""Semi-synthetic recommendation logs whose confounding runs through text, with the causal truth attached.

The world: items have latent quality, price tier, niche-vs-mainstream and tone; users have a favourite
category, a budget, a taste for quality, for discovery and for a tone, and an activity level. None of these
latents is a tabular column; they show only through the item descriptions and the users' recent searches
and review snippets. A logging recommender shows items it believes the user would buy anyway (high organic
affinity), so the naive exposed-vs-unexposed difference overstates the effect. The effect itself is largest
for good matches the user would not find alone (niche items), near zero for mainstream items they buy
anyway, and negative when a budget shopper is pushed a luxury item or a quality seeker a shoddy one.

Ground truth goes into ``true_*`` columns, which no estimator may read.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .io import atomic_paths, write_json, write_table
from .schema import check_whole

CATEGORIES: dict[str, list[str]] = {
    "kitchen": ["skillet", "chef's knife", "espresso maker", "cutting board", "stock pot", "spice grinder"],
    "outdoor": ["camping tent", "hiking backpack", "trail lantern", "sleeping bag", "water filter"],
    "books": ["novel", "cookbook", "travel guide", "poetry collection", "graphic novel"],
    "electronics": ["wireless headphones", "bluetooth speaker", "e-reader", "smartwatch", "webcam"],
    "beauty": ["face serum", "hair dryer", "moisturizer", "perfume", "makeup palette"],
    "toys": ["board game", "building set", "plush bear", "puzzle", "toy train"],
    "fitness": ["yoga mat", "dumbbell set", "running shoes", "resistance bands", "jump rope"],
    "home": ["table lamp", "throw blanket", "wall clock", "vase", "bookshelf"],
}
CATEGORY_NAMES = list(CATEGORIES)

# Each level has its own vocabulary (defects vs craftsmanship, bargains vs luxury), as real product copy
# does; several phrasings per level so no single template carries the signal.
QUALITY = [  # 0 poor, 1 decent, 2 excellent
    ["Many buyers report it broke after a few uses.", "Frequent complaints about defects and breakage.",
     "Often returned because it falls apart quickly.", "Flimsy parts that crack and snap easily.",
     "Poorly made; reviewers warn that it breaks fast."],
    ["Average, ordinary quality: it works, nothing special.", "Adequate everyday quality, neither great nor bad.",
     "An ordinary, serviceable build that does the basic job.", "Standard quality, about what you would expect.",
     "Works as described; an unremarkable, basic build."],
    ["Award-winning craftsmanship built to last a lifetime.",
     "Superbly crafted from the finest materials, a true heirloom.",
     "Exceptional quality praised by experts and reviewers alike.",
     "Meticulous craftsmanship and outstanding long-lasting durability.",
     "Rated five stars for superb build quality and longevity."],
]
PRICE = [  # 0 budget, 1 mid, 2 premium
    ["Rock-bottom price, a cheap bargain for tight budgets.", "Discount pricing: one of the cheapest deals around.",
     "Cheap and affordable, a budget buy on sale.", "A bargain-bin price that saves you money.",
     "A low-cost option for shoppers on a budget."],
    ["Moderately priced, in the middle of the range.", "A mid-range price, neither cheap nor expensive.",
     "Reasonably priced for the average shopper.", "Sensible mid-market pricing.", "Fairly priced at a moderate cost."],
    ["An expensive luxury splurge for wealthy buyers.", "Luxury designer pricing, exclusive and costly.",
     "High-end luxury with a lavish price tag.", "An opulent, pricey status purchase.",
     "An exclusive luxury item at a premium price."],
]
REACH = [  # 0 mainstream, 1 niche
    ["A best-seller that millions of people already own.", "The most popular choice, a mass-market hit everywhere.",
     "A famous best-selling brand found in every store.", "Hugely popular with millions of shoppers nationwide.",
     "A chart-topping best-seller, sold everywhere."],
    ["A rare handmade piece from a tiny independent artisan workshop.",
     "Obscure small-batch craft from an independent maker.", "A rare artisan find that few people have heard of.",
     "Handcrafted in tiny quantities by an independent studio.", "An obscure, niche artisan creation for collectors."],
]
TONE = [  # 0 playful, 1 classic, 2 minimalist
    ["Bright colors and a fun, quirky design.", "Playful, cheerful styling.",
     "A whimsical look that makes people smile.", "Bold patterns and a sense of humour."],
    ["Timeless, traditional styling.", "A classic design that never goes out of fashion.",
     "Elegant and understated in a traditional way.", "Old-world charm with heritage details."],
    ["Clean lines and a minimalist, modern look.", "Sleek, simple and uncluttered.",
     "Pared-back Scandinavian minimalism.", "A quiet, modern design with nothing superfluous."],
]
FILLER = ["Ships in recyclable packaging.", "Available in several sizes.", "Easy to clean.",
          "Comes with a one-year warranty.", "Makes a thoughtful gift.", "Setup takes a few minutes.",
          "Check the size chart before ordering.", "Free returns within thirty days.",
          "Photos show the standard version.", "Stock is replenished weekly."]
OPENERS = ["The {name}.", "Meet the {name}.", "Introducing our {name}.", "{Name}.", "This {name}:",
           "Product: {name}."]
NAME_ADJ = ["Aurora", "Summit", "Nova", "Willow", "Atlas", "Ember", "Harbor", "Juniper", "Orbit", "Maple",
            "Cobalt", "Meadow", "Vista", "Pioneer", "Sable"]

# user side: search modifiers and review snippets that reveal tastes
BUDGET_QUERIES = [["cheap {n}", "{n} on sale", "best budget {n}", "{n} under $20", "discount {n}"],
                  ["{n} reviews", "good {n}", "{n} comparison", "{n} recommendations"],
                  ["luxury {n}", "high-end {n}", "best premium {n}", "designer {n}", "expensive {n} worth it"]]
BUDGET_REVIEWS = [["Always hunting for the cheapest deal and discount coupons.",
                   "Money is tight; I only buy cheap items on sale.",
                   "Bargains and discounts only, I refuse to pay full price."],
                  ["Price matters somewhat; I compare a few options.", "I look for reasonable value at a fair price."],
                  ["I gladly pay for luxury and designer brands.", "Only expensive, high-end luxury goods for me.",
                   "Price is no object; I buy premium luxury."]]
QUALITY_REVIEWS = [["Basic, ordinary stuff is good enough for me.", "I'm not fussy about quality at all.",
                    "Anything that works will do; quality is not a priority."],
                   ["Craftsmanship and durability matter most; it must last.",
                    "I only want top-quality, well-made products that last.",
                    "Poor build quality is a dealbreaker; I want excellent craftsmanship."]]
EXPLORER_REVIEWS = [["I stick to famous, best-selling, popular brands.",
                     "I buy what everyone else buys, the mainstream hits.",
                     "Best-sellers are best-sellers for a reason."],
                    ["I love rare, obscure finds from small independent artisans.",
                     "Always hunting for niche handmade gems nobody else owns.",
                     "Bored of mainstream stuff; show me obscure artisan pieces."]]
TONE_QUERIES = [["fun colorful {n}", "quirky {n}", "cute {n}"],
                ["traditional {n}", "classic {n}", "vintage style {n}"],
                ["minimalist {n}", "sleek modern {n}", "simple {n}"]]
ACTIVITY_REVIEWS = [["Just browsing; I almost never actually buy anything.",
                     "I mostly window-shop and rarely place an order."],
                    ["I place an order every month or so.", "I buy something here from time to time."],
                    ["My cart is always full; I order new things constantly.",
                     "I'm a loyal customer placing orders every single day."]]
USER_FILLER = ["Delivery was quick.", "The app keeps logging me out.", "Gift for my sister.",
               "Need it before the weekend.", "Customer service was friendly."]

# price fit by user budget (rows: budget-minded, neutral, premium-seeker) x item tier (budget, mid, premium)
PRICE_FIT = np.array([[1.0, 0.0, -1.0], [0.0, 0.2, -0.3], [-0.6, 0.0, 1.0]])
FLOOR = 0.02  # the logger explores: every candidate keeps at least this chance of being shown


@dataclass(frozen=True)
class SimulationParams:
    """Knobs of the simulator. ``confounding`` scales how strongly the logger targets organic affinity
    (0 = exposure independent of everything, an RCT-like log); ``text_noise`` is the chance that each
    attribute sentence is left out of a text, so 1 means the text reveals nothing."""

    n_users: int = 2000
    n_candidates: int = 20
    n_items: int = 1000
    seed: int = 0
    rct: bool = False
    confounding: float = 1.0
    text_noise: float = 0.1
    exposure_rate: float = 0.3
    catalog_seed: int | None = None  # a fixed catalog (items and their texts) across logs of fresh users

    def __post_init__(self) -> None:
        check_whole(self.n_users, "n_users", 2)  # a fractional or text count failed deep inside numpy
        check_whole(self.n_items, "n_items", 2)
        check_whole(self.n_candidates, "n_candidates", 1)
        check_whole(self.seed, "seed", 0)  # any: the simulator draws from numpy generators seeded with it
        if self.catalog_seed is not None:
            check_whole(self.catalog_seed, "catalog_seed", 0)
        checks = [
            (self.n_candidates <= self.n_items, f"n_candidates ({self.n_candidates}) cannot exceed n_items "
                                                f"({self.n_items}): a user's candidates are distinct items"),
            (self.confounding >= 0, f"confounding must be ≥ 0; got {self.confounding:g}"),
            (0 <= self.text_noise <= 1, f"text_noise must lie in [0, 1]; got {self.text_noise:g}"),
            (FLOOR < self.exposure_rate < 1 - FLOOR,
             f"exposure_rate must lie in ({FLOOR}, {1 - FLOOR}); got {self.exposure_rate:g}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass(frozen=True)
class Simulation:
    """A simulated log and its truth."""

    data: pd.DataFrame
    truth: dict[str, Any]
    params: SimulationParams

    def summary(self) -> pd.DataFrame:
        rows = {k: v for k, v in self.truth.items() if not isinstance(v, dict)}
        return pd.DataFrame({"value": rows}).rename_axis("quantity")

    def to_dict(self) -> dict[str, Any]:
        return {**self.truth, "params": dataclasses.asdict(self.params)}

    def write(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        with atomic_paths(out / "impressions.parquet", out / "simulation.json") as (table, description):
            write_table(self.data, table)
            write_json(self.to_dict(), description)
        return out


def simulate(**kwargs: Any) -> Simulation:
    """Simulate a log; keyword arguments are :class:`SimulationParams` fields. Same seed, same log."""
    params = SimulationParams(**kwargs)
    rng = np.random.default_rng(params.seed)
    text_rng = random.Random(params.seed)
    fixed_catalog = params.catalog_seed is not None
    items = _make_items(params, np.random.default_rng(params.catalog_seed) if fixed_catalog else rng)
    users = _make_users(params, rng)
    item_idx = _sample_candidates(params, items, users, rng)  # (n_users, K)

    u = {k: v[:, None] for k, v in users.items() if isinstance(v, np.ndarray)}
    it = {k: v[item_idx] for k, v in items.items() if isinstance(v, np.ndarray)}
    cat_match = (it["category"] == u["favourite"]).astype(float)
    tone_match = (it["tone"] == u["tone"]).astype(float)
    price_fit = PRICE_FIT[u["budget"], it["tier"]]
    quality_term = (it["quality"] - 1.0) * (0.4 + 0.6 * u["quality_seeker"])
    niche = it["niche"].astype(float)

    organic_logit = (-3.3 + 0.6 * (u["activity"] - 1.0) + 1.0 * cat_match + 0.2 * tone_match
                     + 0.3 * price_fit + 0.6 * (it["quality"] - 1.0) + 0.7 * (1 - niche)
                     + 0.3 * u["explorer"] * niche)
    match = 1.0 * cat_match + 0.5 * tone_match + 0.4 * price_fit + 0.4 * quality_term
    discovery_gap = np.where(niche == 1, 1.0 - 0.3 * u["explorer"], 0.35)
    effect_logit = (0.6 * np.maximum(match, 0.0) * discovery_gap
                    - 0.5 * ((it["tier"] == 2) & (u["budget"] == 0))
                    - 0.4 * ((it["quality"] == 0) & (u["quality_seeker"] == 1)))
    p0 = expit(organic_logit)
    p1 = expit(organic_logit + effect_logit)

    propensity = _logging_propensity(params, organic_logit, rng)
    exposed = (rng.random(propensity.shape) < propensity).astype(np.int8)
    outcome = (rng.random(p0.shape) < np.where(exposed == 1, p1, p0)).astype(np.int8)
    logger_score = organic_logit + rng.normal(0, 0.5, organic_logit.shape)
    position = np.argsort(np.argsort(-logger_score, axis=1), axis=1) + 1

    item_text = _item_texts(items, params.text_noise, random.Random(params.catalog_seed) if fixed_catalog else text_rng)
    user_text = _user_texts(users, params.text_noise, text_rng)
    n, k = item_idx.shape
    user_rows = np.repeat(np.arange(n), k)
    flat_items = item_idx.ravel()
    data = pd.DataFrame({
        "user_id": [f"u{i:06d}" for i in user_rows],
        "item_id": [f"i{j:05d}" for j in flat_items],
        "exposed": exposed.ravel(),
        "outcome": outcome.ravel(),
        "propensity": propensity.ravel(),
        "position": position.ravel().astype(np.int16),
        "category": np.array(CATEGORY_NAMES)[items["category"][flat_items]],
        "price": np.round(items["price"][flat_items], 2),
        "user_tenure_days": users["tenure_days"][user_rows],
        "item_text": np.array(item_text, dtype=object)[flat_items],
        "user_text": np.array(user_text, dtype=object)[user_rows],
        "true_propensity": propensity.ravel(),
        "true_p0": p0.ravel(),
        "true_p1": p1.ravel(),
        "true_uplift": (p1 - p0).ravel(),
    })
    data["category"] = data["category"].astype("category")
    return Simulation(data=data, truth=_truth(data), params=params)


def relog(data: pd.DataFrame, propensity: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """The same simulated population logged by another policy: exposure drawn with ``propensity`` (which
    becomes the logged propensity), outcomes from the true ``true_p0`` / ``true_p1``."""
    p = np.asarray(propensity, float)
    if p.shape != (len(data),) or ((p <= 0) | (p >= 1)).any():
        raise ValueError("propensity needs one value per row, strictly inside (0, 1)")
    rng = np.random.default_rng(seed)
    exposed = (rng.random(len(p)) < p).astype(np.int8)
    chance = np.where(exposed == 1, data["true_p1"].to_numpy(), data["true_p0"].to_numpy())
    return data.assign(exposed=exposed, outcome=(rng.random(len(p)) < chance).astype(np.int8), propensity=p,
                       true_propensity=p)


def _make_items(params: SimulationParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    m = params.n_items
    category = rng.integers(0, len(CATEGORIES), m)
    tier = rng.choice(3, m, p=[0.35, 0.40, 0.25])
    base_price = np.exp(rng.normal(3.3, 0.3, len(CATEGORIES)))[category]
    return {
        "category": category,
        "quality": rng.choice(3, m, p=[0.25, 0.45, 0.30]),
        "tier": tier,
        "niche": (rng.random(m) < 0.45).astype(int),
        "tone": rng.integers(0, 3, m),
        "price": base_price * np.exp(0.45 * tier + rng.normal(0, 0.35, m)),
        "name_adj": rng.integers(0, len(NAME_ADJ), m),
        "noun": rng.integers(0, 1000, m),
    }


def _make_users(params: SimulationParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = params.n_users
    activity = rng.choice(3, n, p=[0.35, 0.45, 0.20])
    return {
        "favourite": rng.integers(0, len(CATEGORIES), n),
        "budget": rng.choice(3, n, p=[0.35, 0.40, 0.25]),
        "quality_seeker": (rng.random(n) < 0.4).astype(int),
        "explorer": (rng.random(n) < 0.4).astype(int),
        "tone": rng.integers(0, 3, n),
        "activity": activity,
        "tenure_days": np.round(np.exp(5.0 + 0.25 * activity + rng.normal(0, 0.8, n))).astype(int),
    }


def _sample_candidates(params: SimulationParams, items: dict[str, np.ndarray], users: dict[str, np.ndarray],
                       rng: np.random.Generator) -> np.ndarray:
    """K distinct candidates per user, favouring mainstream items and the user's category (Gumbel top-k)."""
    weight = 1.0 + (1 - items["niche"])[None, :] + 3.0 * (items["category"][None, :] == users["favourite"][:, None])
    keys = np.log(weight) + rng.gumbel(size=(params.n_users, params.n_items))
    top = np.argpartition(-keys, params.n_candidates - 1, axis=1)[:, : params.n_candidates]
    return np.sort(top, axis=1)


def _logging_propensity(params: SimulationParams, organic_logit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure probability: the logger targets its (noisy) estimate of organic affinity, with a floor."""
    if params.rct:
        return np.full(organic_logit.shape, params.exposure_rate)
    belief = organic_logit + rng.normal(0, 0.5, organic_logit.shape)
    z = (belief - belief.mean()) / belief.std()
    target = (params.exposure_rate - FLOOR) / (1 - 2 * FLOOR)
    lo, hi = -20.0, 20.0
    for _ in range(60):  # bisection: the intercept that hits the target exposure rate
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expit(mid + params.confounding * z).mean() < target else (lo, mid)
    return FLOOR + (1 - 2 * FLOOR) * expit((lo + hi) / 2 + params.confounding * z)


def _keep(noise: float, rng: random.Random) -> bool:
    return rng.random() >= noise


def _item_texts(items: dict[str, np.ndarray], noise: float, rng: random.Random) -> list[str]:
    texts = []
    for i in range(len(items["category"])):
        nouns = CATEGORIES[CATEGORY_NAMES[items["category"][i]]]
        name = f"{NAME_ADJ[items['name_adj'][i]]} {nouns[items['noun'][i] % len(nouns)]}"
        attributes = [QUALITY[items["quality"][i]], PRICE[items["tier"][i]], REACH[items["niche"][i]],
                      TONE[items["tone"][i]]]
        sentences = [rng.choice(options) for options in attributes if _keep(noise, rng)]
        sentences += rng.sample(FILLER, rng.randint(0, 1))
        rng.shuffle(sentences)
        opener = rng.choice(OPENERS).format(name=name, Name=name[0].upper() + name[1:])
        texts.append(" ".join([opener, *sentences]))
    return texts


def _user_texts(users: dict[str, np.ndarray], noise: float, rng: random.Random) -> list[str]:
    texts = []
    for u in range(len(users["favourite"])):
        nouns = CATEGORIES[CATEGORY_NAMES[users["favourite"][u]]]
        queries = []
        # active users have longer search histories: 1, 3 or 5 plain product searches
        queries += [rng.choice(nouns) for _ in range(1 + 2 * int(users["activity"][u])) if _keep(noise, rng)]
        if _keep(noise, rng):
            queries.append(rng.choice(BUDGET_QUERIES[users["budget"][u]]).format(n=rng.choice(nouns)))
        if _keep(noise, rng):
            queries.append(rng.choice(TONE_QUERIES[users["tone"][u]]).format(n=rng.choice(nouns)))
        rng.shuffle(queries)
        reviews = [rng.choice(pool) for pool, keep in (
            (BUDGET_REVIEWS[users["budget"][u]], _keep(noise, rng)),
            (QUALITY_REVIEWS[users["quality_seeker"][u]], _keep(noise, rng)),
            (EXPLORER_REVIEWS[users["explorer"][u]], _keep(noise, rng)),
            (ACTIVITY_REVIEWS[users["activity"][u]], _keep(noise, rng)),
        ) if keep]
        if rng.random() < 0.5:
            reviews.append(rng.choice(USER_FILLER))
        rng.shuffle(reviews)
        query_part = ", ".join(f"'{q}'" for q in queries) or "none"
        review_part = " ".join(reviews)
        layout = rng.randrange(3)
        if layout == 0:
            texts.append(f"Recent searches: {query_part}. Reviews: {review_part}")
        elif layout == 1:
            texts.append(f"{review_part} Searched for {query_part}.")
        else:
            texts.append(f"Looked up {query_part} this month. {review_part}")
    return texts


def _truth(data: pd.DataFrame) -> dict[str, Any]:
    exposed = data["exposed"] == 1
    outcome = data["outcome"]
    naive = float(outcome[exposed].mean() - outcome[~exposed].mean())
    ate = float(data["true_uplift"].mean())
    return {
        "rows": int(len(data)),
        "users": int(data["user_id"].nunique()),
        "items": int(data["item_id"].nunique()),
        "exposure_rate": float(exposed.mean()),
        "outcome_rate": float(outcome.mean()),
        "true_ate": ate,
        "true_att": float(data.loc[exposed, "true_uplift"].mean()),
        "naive_difference": naive,
        "naive_bias": naive - ate,
        "share_negative_uplift": float((data["true_uplift"] < 0).mean()),
    }
