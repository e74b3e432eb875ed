"""The data contract: which column plays which role, and the checks that turn bad logs into clear errors.

Every entry point takes a :class:`Roles`; nothing past this module hard-codes a column name. ``validate``
collects *all* problems before raising, so an analyst fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .choices import did_you_mean

MAX_LEVELS = 50  # a category's most frequent levels the tabular encoder keeps; rarer ones are pooled

TRUTH_PREFIX = "true_"
LIST_ROLES = ("text", "covariates", "modifiers")
MAX_ROWS_SHOWN = 5

PROPENSITY_WARN_LOW, PROPENSITY_WARN_HIGH = 0.01, 0.99
PROPENSITY_WARN_SHARE = 0.01
TEXT_MISSING_WARN_SHARE = 0.05
OUTCOME_RARE_RATE = 0.001


@dataclass(frozen=True)
class Problem:
    """One broken rule: the column, the rule, a few offending row numbers and what to do about it."""

    column: str | None
    rule: str
    rows: tuple[int, ...] = ()
    hint: str = ""

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        text = f"{where}: {self.rule}"
        if self.rows:
            text += f" (rows {', '.join(str(r) for r in self.rows)})"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "rule": self.rule, "rows": list(self.rows), "hint": self.hint}


class DataError(ValueError):
    """Raised for input that breaks the data contract; carries every problem found, not just the first."""

    def __init__(self, problems: Problem | Iterable[Problem]):
        self.problems: list[Problem] = [problems] if isinstance(problems, Problem) else list(problems)
        lines = [str(p) for p in self.problems]
        head = "1 problem in the data" if len(lines) == 1 else f"{len(lines)} problems in the data"
        super().__init__(head + ":\n  - " + "\n  - ".join(lines))


@dataclass(frozen=True)
class Roles:
    """Which column plays which role.

    Optional roles (``propensity``, ``position``, ids, ``text``) left at their contract default are used when
    the column exists and silently dropped when it does not; a name the analyst set explicitly must exist.
    ``covariates=None`` means every remaining numeric or categorical column that is not ground truth.
    """

    treatment: str = "exposed"
    outcome: str = "outcome"
    propensity: str | None = "propensity"
    position: str | None = "position"
    user_id: str | None = "user_id"
    item_id: str | None = "item_id"
    request_id: str | None = None
    text: tuple[str, ...] | None = None
    covariates: tuple[str, ...] | None = None
    modifiers: tuple[str, ...] = ()

    DEFAULT_TEXT = ("item_text", "user_text")

    def __post_init__(self) -> None:
        for name in LIST_ROLES:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            elif value is not None:  # a column named twice is one column (two would repeat it in every design)
                object.__setattr__(self, name, tuple(dict.fromkeys(value)))

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any] | None) -> "Roles":
        """Build from a plain dict (CLI flags, notebook parameters); unknown keys are an error, not ignored.

        ``None`` keeps a role's default; an empty string switches an optional role off (``--text ''`` too).
        """
        mapping = {k: v for k, v in (mapping or {}).items() if v is not None}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise DataError(Problem(None, f"unknown role(s) {unknown}", hint=f"use some of {sorted(known)}"))
        for key, value in list(mapping.items()):
            if key in LIST_ROLES and isinstance(value, (str, list, tuple)):
                parts = [value] if isinstance(value, str) else value  # a repeated flag: --text a --text b,c
                mapping[key] = tuple(s.strip() for part in parts for s in str(part).split(",") if s.strip())
            elif value == "":
                mapping[key] = None
        return cls(**mapping)

    def _explicit(self, name: str) -> bool:
        return getattr(self, name) != getattr(Roles, name, None)

    def bind(self, df: pd.DataFrame) -> "Roles":
        """Resolve defaults against a table: drop absent default optional roles, expand auto covariates.

        Raises ``DataError`` for explicitly named columns that are missing and for a column given two roles.
        """
        problems: list[Problem] = []
        updates: dict[str, Any] = {}
        for name in ("treatment", "outcome"):
            col = getattr(self, name)
            if col not in df.columns:
                problems.append(_missing(col, name, df))
        for name in ("propensity", "position", "user_id", "item_id", "request_id"):
            col = getattr(self, name)
            if col is not None and col not in df.columns:
                if self._explicit(name):
                    problems.append(_missing(col, name, df))
                else:
                    updates[name] = None
        if self.text is None:
            updates["text"] = tuple(c for c in self.DEFAULT_TEXT if c in df.columns)
        else:
            problems += [_missing(c, "text", df) for c in self.text if c not in df.columns]
        for name in ("covariates", "modifiers"):
            problems += [_missing(c, name, df) for c in (getattr(self, name) or ()) if c not in df.columns]
        if problems:
            raise DataError(problems)
        bound = dataclasses.replace(self, **updates)
        if bound.covariates is None:
            taken = set(bound.single_columns().values()) | set(bound.text or ())
            auto = tuple(
                c for c in df.columns
                if c not in taken and not str(c).startswith(TRUTH_PREFIX) and df[c].notna().any()
                and _is_tabular(df[c])
            )
            bound = dataclasses.replace(bound, covariates=auto)
        bound._check_no_double_roles()
        return bound

    def columns(self) -> set[str]:
        """Every column given a role."""
        return (set(self.single_columns().values()) | set(self.text or ()) | set(self.covariates or ())
                | set(self.modifiers or ()))

    def single_columns(self) -> dict[str, str]:
        """role -> column for the one-column roles that are set."""
        names = ("treatment", "outcome", "propensity", "position", "user_id", "item_id", "request_id")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def _check_no_double_roles(self) -> None:
        seen: dict[str, str] = {}
        problems: list[Problem] = []
        pairs = list(self.single_columns().items())
        pairs += [("text", c) for c in self.text or ()]
        pairs += [("covariates", c) for c in self.covariates or ()]
        for role, col in pairs:
            if col in seen and seen[col] != role:
                problems.append(Problem(col, f"given two roles ({seen[col]} and {role})",
                                        hint="give each column one role"))
            seen.setdefault(col, role)
        if problems:
            raise DataError(problems)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}


@dataclass(frozen=True)
class ValidationReport:
    """What ``validate`` found: the bound roles, warnings that do not stop a run, and a summary of the log."""

    roles: Roles
    warnings: tuple[Problem, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"value": self.stats}).rename_axis("statistic")

    def to_dict(self) -> dict[str, Any]:
        return {"roles": self.roles.to_dict(), "warnings": [w.to_dict() for w in self.warnings],
                "stats": self.stats}


def check_frame(df: object) -> None:
    """A log is a pandas DataFrame: an array or a dict fails here, not on a missing pandas method inside."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(Problem(None, f"expected a pandas DataFrame, got {type(df).__name__}",
                                hint="read the log with recuplift.io.read_table or pandas"))
    unnamed = [c for c in df.columns if not isinstance(c, str)]
    if unnamed:  # a pivot's or a numpy array's columns: roles, features and files are all named by strings
        shown = ", ".join(f"{c!r} ({type(c).__name__})" for c in unnamed[:5]) + (", …" if len(unnamed) > 5 else "")
        raise DataError(Problem(None, f"column names must be strings, not {shown}",
                                hint="rename them, e.g. df.columns = df.columns.astype(str)"))


def validate(df: pd.DataFrame, roles: Roles | Mapping[str, Any] | None = None,
             n_folds: int | None = None) -> ValidationReport:
    """Check ``df`` against the contract; raise one ``DataError`` listing every problem, else report.

    ``roles``: a :class:`Roles`, or a plain mapping such as ``{"treatment": "shown", "covariates": "a,b"}``.
    ``n_folds``: the cross-fitting folds the caller will hold out whole users in, so a log with fewer users
    than folds is a data problem here rather than a splitter's error deep inside an estimator."""
    check_frame(df)
    if df.columns.duplicated().any():
        dups = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataError([Problem(c, "appears more than once in the header", hint="rename one") for c in dups])
    if isinstance(roles, Mapping):
        roles = Roles.from_mapping(dict(roles))
    elif roles is not None and not isinstance(roles, Roles):
        raise DataError(Problem(None, f"roles must be a Roles or a mapping of role to column, got "
                                      f"{type(roles).__name__}", hint='e.g. Roles(treatment="shown")'))
    roles = roles or Roles()
    covariates_named, text_named = roles.covariates is not None, roles.text is not None
    roles = roles.bind(df)
    if len(df) == 0:
        raise DataError(Problem(None, "empty table (no rows)", hint="check the file and any filter upstream"))
    nested = _nested_columns(df)  # a JSON log's objects and arrays, a Parquet struct: no role can take them
    given = [c for c in nested if c in roles.columns()]
    if given:
        raise DataError([Problem(c, "holds nested values (objects or lists), which no role can take",
                                 hint="flatten it first (pd.json_normalize) and name the fields you need")
                         for c in given])
    problems: list[Problem] = []
    warnings: list[Problem] = []
    df = df.reset_index(drop=True)

    treatment = _check_treatment(df, roles.treatment, problems)
    outcome = _check_outcome(df, roles.outcome, problems)
    propensity = None
    if roles.propensity:
        propensity = _check_propensity(df, roles.propensity, problems)
        if propensity is not None:
            extreme = float(((propensity < PROPENSITY_WARN_LOW) | (propensity > PROPENSITY_WARN_HIGH)).mean())
            if extreme > PROPENSITY_WARN_SHARE:
                warnings.append(Problem(roles.propensity,
                                        f"{extreme:.1%} of propensities lie outside "
                                        f"[{PROPENSITY_WARN_LOW}, {PROPENSITY_WARN_HIGH}]",
                                        hint="they are used as logged (clipping a known propensity would bias the "
                                             "estimate); expect large weights and wide intervals"))
    if roles.position:
        _check_position(df, roles.position, problems)
    for col in (roles.user_id, roles.item_id, roles.request_id):
        if col:
            _check_ids(df, col, problems)
    text_coverage: dict[str, float] = {}
    for col in roles.text or ():
        coverage = check_text(df, col, problems, named=text_named)
        if coverage is not None:
            text_coverage[col] = coverage
            if 1 - coverage > TEXT_MISSING_WARN_SHARE:
                warnings.append(Problem(col, f"{1 - coverage:.1%} of texts are missing or empty",
                                        hint="they become zero vectors with a missing indicator"))
    for role in ("covariates", "modifiers"):
        for col in getattr(roles, role) or ():
            _check_covariate(df, col, role, problems, warnings)
    copies = df.drop(columns=nested).duplicated().to_numpy()  # nested values cannot be hashed, nor compared
    if copies.any():  # an impression logged twice is one impression: copies from a join narrow every interval
        warnings.append(Problem(None, f"{int(copies.sum()):,} rows are exact copies of an earlier row",
                                offending_rows(copies), "fine if they are distinct impressions that no column "
                                                        "tells apart; if a join or an export duplicated them, drop "
                                                        "them (df.drop_duplicates()): copies narrow every interval"))
    if not roles.user_id:  # a user's candidates share the user: counted as independent rows, intervals are too narrow
        looks_like = [str(c) for c in df.columns if _looks_like_user_id(str(c))]
        warnings.append(Problem(None, "no user id: intervals treat every row as independent, and cross-fitting "
                                      "splits rows, not users",
                                hint=(f"if {looks_like[0]!r} names the user, pass --user-id {looks_like[0]}"
                                      if looks_like else "if a user has several rows (a list's candidates), name "
                                                         "the user column with --user-id")))
    if not (roles.covariates or roles.text or roles.propensity):
        warnings.append(Problem(None, "nothing to adjust for: no covariates, no text and no logged propensity, so "
                                      "every estimate is, up to noise, the naive difference in outcome rates",
                                hint="unless exposure was randomized, name the confounders (--covariates, --text) "
                                     "or the logged propensity (--propensity)"))
    if not covariates_named and roles.covariates:
        shown = ", ".join(roles.covariates[:8]) + (", …" if len(roles.covariates) > 8 else "")
        warnings.append(Problem(None, f"covariates not named: adjusting for every other numeric or categorical "
                                      f"column ({shown})",
                                hint="a column measured after exposure (another outcome, a post-click metric) "
                                     "biases the effect; name the confounders with --covariates"))
    if not covariates_named:
        left_out = _left_out_of_covariates(df, roles, set(nested))
        if left_out:  # a price read as text or a date is a confounder the automatic choice drops without a word
            advice = dict.fromkeys(todo for _, todo in left_out)
            warnings.append(Problem(None, "not adjusted for: " + "; ".join(text for text, _ in left_out),
                                    hint="; ".join([*advice, "or name the covariates with --covariates"])))

    if treatment is not None:
        for arm in (0, 1):
            n_arm = int((treatment == arm).sum())
            if n_arm < 2:
                problems.append(Problem(roles.treatment, f"fewer than 2 rows with {roles.treatment}={arm} "
                                                         f"({n_arm})", hint="an effect needs both arms"))
    if n_folds is not None:
        _check_enough_units(df, roles.user_id, n_folds, problems)
        if treatment is not None and roles.user_id:
            _check_arms_spread(df, treatment, roles.user_id, roles.treatment, problems)
    if problems:
        raise DataError(problems)
    miscalibrated = _miscalibrated_propensity(df, roles, treatment, propensity) if propensity is not None else []
    warnings += miscalibrated

    rate = float(outcome.mean())
    binary_outcome = bool(outcome.isin([0, 1]).all())
    if binary_outcome and rate < OUTCOME_RARE_RATE:
        warnings.append(Problem(roles.outcome, f"outcome rate {rate:.3%} is below {OUTCOME_RARE_RATE:.1%}",
                                hint="effects will be very noisy; consider a denser outcome"))
    exposed = treatment == 1
    warnings += _outcome_needs_exposure(roles.outcome, outcome, exposed)
    warnings += [w for col in dict.fromkeys((*(roles.covariates or ()), *(roles.modifiers or ())))
                 if (w := _measured_after_exposure(df[col], col, exposed))]
    stats: dict[str, Any] = {
        "rows": int(len(df)),
        "users": int(df[roles.user_id].nunique()) if roles.user_id else None,
        "items": int(df[roles.item_id].nunique()) if roles.item_id else None,
        **({"requests": int(df[roles.request_id].nunique())} if roles.request_id else {}),
        "exposure_rate": float(exposed.mean()),
        "outcome_mean_exposed": float(outcome[exposed].mean()),
        "outcome_mean_unexposed": float(outcome[~exposed].mean()),
        "naive_difference": float(outcome[exposed].mean() - outcome[~exposed].mean()),
        "binary_outcome": binary_outcome,
    }
    stats.update({f"text_coverage[{c}]": v for c, v in text_coverage.items()})
    if propensity is not None:
        stats["propensity_calibrated"] = not miscalibrated
    return ValidationReport(roles=roles, warnings=tuple(warnings), stats=stats)


# Seeds go up to 2**31 − 1, not numpy's 2**32 − 1: each fold, round and network seeds its models with the seed
# plus a small offset, which must stay a valid seed too (2**32 − 1 failed in scikit-learn's fold splitter).
MAX_SEED = 2**31 - 1


def check_whole(value: object, name: str, minimum: int, maximum: int | None = None, why: str = "") -> None:
    """A setting that must be a whole number in range: a ValueError naming it, before any work uses it."""
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not (whole and value >= minimum and (maximum is None or value <= maximum)):
        bounds = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be a whole number {bounds}{f' ({why})' if why else ''}; got {value!r}")


def offending_rows(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    """The first few row numbers where ``mask`` holds, as a Problem shows them."""
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return tuple(int(i) for i in idx[:MAX_ROWS_SHOWN])


# what logs call the roles whose contract names they do not use (Open Bandit's "click", a shop's "purchased")
ROLE_SYNONYMS = {
    "treatment": ("shown", "is_shown", "displayed", "impressed", "exposure", "treated", "treatment", "recommended"),
    "outcome": ("click", "clicked", "clicks", "purchase", "purchased", "converted", "conversion", "reward", "label",
                "revenue", "y"),
    "propensity": ("pscore", "p_score", "propensity_score", "action_prob", "logging_prob", "prob"),
    "position": ("slot", "rank", "pos"),
    "item_id": ("item", "product_id", "product", "sku", "article_id", "content_id", "offer_id"),
}


def _missing(col: str, role: str, df: pd.DataFrame) -> Problem:
    cols = ", ".join(map(str, list(df.columns)[:12]))
    columns = [str(c) for c in df.columns]
    guess = did_you_mean(col, columns)
    if not guess:  # no near spelling: a column under a name logs often give this role
        lower = {c.lower(): c for c in columns}
        found = ([c for c in columns if _looks_like_user_id(c)] if role == "user_id"
                 else [lower[name] for name in ROLE_SYNONYMS.get(role, ()) if name in lower])
        guess = f"is it '{found[0]}'? " if found else ""
    return Problem(col, f"missing column (needed as {role})",
                   hint=f"{guess}pass the right name with --{role.replace('_', '-')}; the table has: {cols}")


def _numeric(series: pd.Series) -> pd.Series | None:
    """The series as float64, or None if any non-missing value is not a number."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        try:
            return series.astype("float64")
        except (TypeError, ValueError):
            return None
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        return None
    return converted.astype("float64")


def _non_numeric_rows(series: pd.Series) -> tuple[int, ...]:
    converted = pd.to_numeric(series, errors="coerce")
    return offending_rows(converted.isna() & series.notna())


def rows_breaking(values: pd.Series, nullable: bool = True, **rules: Any) -> dict[str, np.ndarray]:
    """The rows of ``values`` that break each named rule (a pandera ``Check``), found by pandera in one lazy pass;
    ``"missing"`` for nulls where ``nullable`` is False. Only the rules some row breaks are returned: the messages
    and hints are ours, the checking is pandera's."""
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    names = list(rules)
    try:
        pa.SeriesSchema(checks=list(rules.values()), nullable=nullable).validate(values.reset_index(drop=True),
                                                                                  lazy=True)
        return {}
    except SchemaErrors as err:
        cases = err.failure_cases
    broken: dict[str, np.ndarray] = {}
    for number, row in zip(cases["check_number"], cases["index"]):
        name = "missing" if number is None or pd.isna(number) else names[int(number)]
        broken.setdefault(name, np.zeros(len(values), bool))[int(row)] = True
    return broken


def pandera_check() -> Any:  # noqa: ANN401 - pandera's Check class
    """pandera's ``Check``, imported when a log is validated: at import it would add a quarter of a second to the
    start of every command."""
    import pandera.pandas as pa

    return pa.Check


_USER_ID_WORDS = ("user", "customer", "client", "visitor", "member", "account", "uid")


def _looks_like_user_id(name: str) -> bool:
    """``customer_id``, ``visitorId``, ``uid``, ``member_no``: a user word and an id ending (``user_tenure_days``
    is not one)."""
    lower = name.lower()
    return any(w in lower for w in _USER_ID_WORDS) and (
        lower in _USER_ID_WORDS or lower.endswith(("id", "_no", "key", "number", "_nr")))


_UNEXPOSED_LABELS = {"no", "n", "false", "f", "control", "off", "not shown", "unexposed", "hidden"}


def _values_seen(series: pd.Series, limit: int = 4) -> str:
    """A few of the distinct values a column holds, as the reader would type them."""
    seen = pd.unique(series.dropna())
    plain = [v.item() if isinstance(v, np.generic) else v for v in seen[:limit]]
    shown = ", ".join(f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else repr(v) for v in plain)
    return shown + (f" and {len(seen) - limit} more" if len(seen) > limit else "")


def _outcome_needs_exposure(col: str, outcome: pd.Series, exposed: pd.Series) -> list[Problem]:
    """An outcome that never happens unexposed: a click on the recommendation itself can only follow showing it,
    so the estimate is the exposed rows' outcome rate, not what showing added. Judged by evidence: the unexposed
    rows, behaving as the exposed do, would have given several outcomes (under a 0.1% chance of none)."""
    unexposed = outcome[~exposed]
    happened = float((outcome[exposed] != 0).mean())
    if (unexposed != 0).any() or not 0 < happened < 1 or len(unexposed) * -np.log1p(-happened) < np.log(1000):
        return []
    return [Problem(col, f"the outcome never happens without exposure: 0 in all {len(unexposed):,} unexposed rows, "
                         f"against {happened:.1%} of exposed rows",
                    hint="an outcome that only showing makes possible (a click on the recommendation itself) "
                         "measures how often it was taken, not what showing changed; audit one that can happen "
                         "either way (a purchase of the item from any page, a visit, minutes watched)")]


def _measured_after_exposure(series: pd.Series, col: str, exposed: pd.Series) -> Problem | None:
    """A covariate with one value in every unexposed row (0, or missing) that the exposed rows mostly lack: a dwell
    time or a click count recorded because the item was shown. Adjusting for it removes part of the effect it
    carries. Judged by evidence as the outcome is: had exposure nothing to do with it, every unexposed row sharing
    the value would be a 0.1% chance."""
    unexposed = series[~exposed.to_numpy()]
    if len(unexposed) == 0 or unexposed.nunique(dropna=False) != 1:  # the common case, decided without text
        return None
    values = unexposed.astype("string").fillna("(missing)").unique()
    shown = series[exposed.to_numpy()].astype("string").fillna("(missing)")
    share = float((shown == values[0]).mean())
    if share >= 0.5 or (share > 0 and len(unexposed) * -np.log(share) < np.log(1000)):
        return None
    return Problem(col, f"looks measured after exposure: {values[0]} in all {len(unexposed):,} unexposed rows, "
                        f"against {share:.1%} of exposed rows",
                   hint="a value recorded because the item was shown (dwell time, clicks, a rating) is part of "
                        "the effect, and adjusting for it hides that part; leave it out of --covariates (when they "
                        "were chosen automatically, name them without it)")


def _miscalibrated_propensity(df: pd.DataFrame, roles: Roles, treatment: pd.Series,
                              propensity: pd.Series) -> list[Problem]:
    """A logged propensity that does not match who was exposed (diagnostics.propensity_calibration)."""
    from .diagnostics import propensity_calibration

    check = propensity_calibration(propensity.to_numpy(), treatment.to_numpy(),
                                   df[roles.user_id].to_numpy() if roles.user_id else None)
    worst = check["worst"]
    if worst is None:
        return []
    overall = check["bins"][0]
    where = "over all rows" if worst is overall else (
        f"for rows whose propensity lies in {worst['propensity']} ({worst['rows']:,} rows; over all rows "
        f"{overall['exposure_rate']:.1%} against {overall['mean_propensity']:.1%})")
    return [Problem(roles.propensity, f"the logged propensity does not match who was exposed: {where}, "
                                      f"{worst['exposure_rate']:.1%} of rows were exposed against the "
                                      f"{worst['mean_propensity']:.1%} it predicts (z = {worst['z']:+.1f}, clustered "
                                      f"by user)",
                    hint="IPW and AIPW weight by it as logged; if the log was filtered after it was written "
                         "(impressions dropped, a join) or the column is a score rather than the logger's "
                         "probability of showing, leave it out (--propensity '', or Roles(propensity=None)) so the "
                         "audit estimates it")]


def _check_treatment(df: pd.DataFrame, col: str, problems: list[Problem]) -> pd.Series | None:
    values = _numeric(df[col])
    if values is None:
        levels = sorted(pd.unique(df[col].dropna()), key=lambda v: str(v).strip().lower() not in _UNEXPOSED_LABELS)
        hint = (f"map the two labels to 0/1 with the unexposed one as 0, e.g. "
                f"df[{col!r}].map({{{levels[0]!r}: 0, {levels[1]!r}: 1}})" if len(levels) == 2
                else "encode exposure as 0/1")
        problems.append(Problem(col, f"treatment must be binary 0/1 but holds {_values_seen(df[col])}",
                                _non_numeric_rows(df[col]), hint))
        return None
    broken = rows_breaking(values, nullable=False, binary=pandera_check().isin([0.0, 1.0]))
    if "missing" in broken and "binary" not in broken:
        problems.append(Problem(col, "treatment is missing (NaN)", offending_rows(broken["missing"]),
                                "drop the rows whose exposure was not logged"))
        return None
    if broken:
        bad = np.logical_or.reduce(list(broken.values()))
        problems.append(Problem(col, f"treatment must be binary 0/1 but holds {_values_seen(df[col])}",
                                offending_rows(bad),
                                "encode exposure as 0/1 and drop rows with missing exposure"))
        return None
    if values.nunique() < 2:
        problems.append(Problem(col, f"treatment is constant ({int(values.iloc[0])} in every row)",
                                hint="an effect needs exposed and unexposed rows"))
        return None
    return values.astype(int)


def _check_outcome(df: pd.DataFrame, col: str, problems: list[Problem]) -> pd.Series | None:
    values = _numeric(df[col])
    if values is None:
        problems.append(Problem(col, f"outcome must be numeric but holds {_values_seen(df[col])}",
                                _non_numeric_rows(df[col]),
                                "encode the outcome as a number (0/1 for rates)"))
        return None
    broken = rows_breaking(values, nullable=False, finite=pandera_check()(lambda v: ~np.isinf(v)))
    if "missing" in broken:
        problems.append(Problem(col, "outcome is missing (NaN)", offending_rows(broken["missing"]),
                                "drop or impute those rows"))
        return None
    if "finite" in broken:
        problems.append(Problem(col, "outcome is infinite", offending_rows(broken["finite"]), "drop those rows"))
        return None
    if values.nunique() < 2:
        problems.append(Problem(col, f"outcome is constant ({values.iloc[0]:g} in every row)",
                                hint="an effect needs rows whose outcomes differ (every estimate would be exactly 0 "
                                     "with a zero-width interval); a rare outcome needs a longer log"))
        return None
    return values


def _check_enough_units(df: pd.DataFrame, user_id: str | None, n_folds: int, problems: list[Problem]) -> None:
    """Cross-fitting holds out whole users (rows when there is no user id): it needs at least one per fold."""
    units = int(df[user_id].nunique()) if user_id else len(df)
    if units < n_folds:
        what = ("distinct user(s): cross-fitting holds out whole users" if user_id
                else "row(s): cross-fitting holds out rows")
        problems.append(Problem(user_id, f"the log has {units} {what} in {n_folds} folds and needs at least "
                                         f"{n_folds}",
                                hint="audit a longer log; with so few users no interval is meaningful anyway"))


def _check_arms_spread(df: pd.DataFrame, treatment: pd.Series, user_id: str, column: str,
                       problems: list[Problem]) -> None:
    """Each fold's models are fitted on the users outside it: when one user holds all of an arm's rows, the fold
    that holds that user out has none of that arm to learn from. (More users can still land in one fold by
    chance; cross-fitting then says so.)"""
    for arm, label in ((1, "exposed"), (0, "unexposed")):
        users = df.loc[(treatment == arm).to_numpy(), user_id].unique()
        if len(users) == 1:
            problems.append(Problem(column, f"every {label} row ({column}={arm}) is user {users[0]}'s: the "
                                             f"cross-fitting fold that holds that user out has no {label} row to "
                                             f"learn from",
                                    hint="audit a log in which more users were shown (and not shown) items"))


def _check_propensity(df: pd.DataFrame, col: str, problems: list[Problem]) -> pd.Series | None:
    values = _numeric(df[col])
    if values is None:
        problems.append(Problem(col, "propensity must be numeric", _non_numeric_rows(df[col])))
        return None
    broken = rows_breaking(values, nullable=False,
                            inside=pandera_check().between(0, 1, include_min=False, include_max=False))
    if "missing" in broken:
        problems.append(Problem(col, "propensity is missing (NaN)", offending_rows(broken["missing"]),
                                "drop the column (it will be estimated) or fill it from the logger"))
        return None
    if "inside" in broken:
        outside = broken["inside"]
        if values.min() > 0 and values.max() < 100 and (values > 1).mean() > 0.5:
            hint = f"these look like percentages: divide by 100, df[{col!r}] / 100"
        else:
            hint = ("a logging probability of 0 or 1 leaves no overlap: nothing in the log says what those rows "
                    "would have done in the other arm; keep the rows the logger randomized, "
                    f"df[df[{col!r}].between(0, 1, inclusive='neither')], and read the effect as theirs")
        problems.append(Problem(col, f"propensity must lie strictly inside (0, 1); {int(outside.sum()):,} rows "
                                     f"({outside.mean():.1%}) lie outside (values run from {values.min():g} to "
                                     f"{values.max():g})", offending_rows(outside), hint))
        return None
    return values


def _check_position(df: pd.DataFrame, col: str, problems: list[Problem]) -> None:
    values = _numeric(df[col])
    if values is None:
        problems.append(Problem(col, "position must be an integer ≥ 1", _non_numeric_rows(df[col])))
        return
    broken = rows_breaking(values, at_least_1=pandera_check().ge(1),
                            whole=pandera_check()(lambda v: np.isfinite(v) & (v == np.floor(v))))
    if "at_least_1" in broken:
        smallest = values.min()
        hint = (f"slots are counted from 1 and this log counts them from 0: shift it, df[{col!r}] + 1"
                if smallest == 0 else "slots are counted from 1")
        problems.append(Problem(col, f"position must be ≥ 1; its smallest is {smallest:g}",
                                offending_rows(broken["at_least_1"]), hint))
    # a slot below 1 is said once, above; an infinite one is both
    fractional = broken.get("whole", np.zeros(len(values), bool)) & ~(
        broken.get("at_least_1", np.zeros(len(values), bool)) & np.isfinite(values.to_numpy()))
    if fractional.any():
        problems.append(Problem(col, "position must be a whole number", offending_rows(fractional)))


def _check_ids(df: pd.DataFrame, col: str, problems: list[Problem]) -> None:
    broken = rows_breaking(df[col], nullable=False)
    if "missing" in broken:
        problems.append(Problem(col, "id is missing", offending_rows(broken["missing"]), "every row needs its id"))


def check_text(df: pd.DataFrame, col: str, problems: list[Problem], named: bool = True) -> float | None:
    """Append a problem unless ``col`` holds strings (or nulls) with ≥ 2 distinct texts; else its coverage.

    ``named``: whether the analyst named ``col`` with --text, or it was taken as a contract default; the way out
    of an empty default column is to name other text columns, or none."""
    series = df[col]
    missing = series.isna()
    not_str = ~missing & ~series.map(lambda v: isinstance(v, (str, bytes)))
    if not_str.any():
        numbers = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        problems.append(Problem(col, "text column holds non-string values", offending_rows(not_str),
                                "it holds numbers: adjust for it as a covariate (--covariates), not as text"
                                if numbers else "cast to str or set missing texts to null"))
        return None
    empty = missing | series.map(lambda v: isinstance(v, (str, bytes)) and not v.strip())
    n_distinct = series[~empty].nunique()
    if n_distinct < 2:
        problems.append(Problem(col, f"text column has {n_distinct} distinct non-empty text(s): nothing to adjust for",
                                hint="fill it, or leave it out of --text" if named else
                                f"with no --text, the contract's text columns are used ({', '.join(Roles.DEFAULT_TEXT)}"
                                f"): fill it, name the text columns to use with --text, or pass --text '' for none"))
        return None
    return float(1 - empty.mean())


def _check_covariate(df: pd.DataFrame, col: str, role: str, problems: list[Problem],
                     warnings: list[Problem]) -> None:
    """A covariate or effect modifier: a number (finite), a boolean or a category; not free text, not a date. A
    named column of short labels with many levels (a zip code, a store) is taken with a warning: its most frequent
    levels become indicators and the rest are pooled."""
    series, kind = df[col], role.removesuffix("s")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        broken = rows_breaking(series.astype("float64"), finite=pandera_check()(lambda v: ~np.isinf(v)))
        if "finite" in broken:
            problems.append(Problem(col, f"{kind} is infinite", offending_rows(broken["finite"]),
                                    "drop or cap those rows"))
    elif pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        problems.append(Problem(col, f"{kind} is a date or time",
                                hint="turn it into a number first (days since a reference date, hour of day, "
                                     "weekday as a category)"))
    elif not _is_tabular(series):
        conversion = _numbers_as_text(col, series)
        if conversion:
            problems.append(Problem(col, f"{kind} holds numbers stored as text ({_values_seen(series, 2)})",
                                    hint=f"convert it first: {conversion}"))
        elif _short_labels(series.dropna()):
            warnings.append(_many_levels(col, kind, series))
        else:
            problems.append(Problem(col, f"{kind} must be numeric or categorical",
                                    hint="pass long free text with --text instead"))
    elif isinstance(series.dtype, pd.CategoricalDtype) and series.nunique() > MAX_LEVELS:
        warnings.append(_many_levels(col, kind, series))


def _many_levels(col: str, kind: str, series: pd.Series) -> Problem:
    """The warning for a named category with more levels than the tabular encoder keeps."""
    counts = series.dropna().astype(str).value_counts()
    pooled = int(counts.iloc[MAX_LEVELS:].sum())
    return Problem(col, f"{kind} has {len(counts):,} distinct values: the {MAX_LEVELS} most frequent become "
                        f"indicators and the other {len(counts) - MAX_LEVELS:,} are pooled as one level "
                        f"({pooled / len(series):.1%} of rows)",
                   hint="map it to fewer groups first (a region for a zip code) to adjust for all of it; if it "
                        "is an id, give it its id role instead")


_DATES_ADVICE = "turn dates into numbers (e.g. days since a fixed date) to adjust for them"
_NUMBER_DECORATION = r"\s$€£¥₹%"  # currency signs, percent signs and spaces around numbers a spreadsheet wrote


def _numbers_as_text(col: str, series: pd.Series) -> str | None:
    """The pandas line that turns a text column of numbers into numbers ('12.50', '$1,234.50', '3,50 €', '12%'),
    or None when its values are not numbers; the line says which separators the column uses, which pd.to_numeric
    alone does not handle."""
    sample = series.dropna().astype(str).str.strip().head(1000)
    if not len(sample):
        return None
    if pd.to_numeric(sample, errors="coerce").notna().mean() > 0.9:
        return f"df[{col!r}] = pd.to_numeric(df[{col!r}])"
    bare = sample.str.replace(f"[{_NUMBER_DECORATION}]", "", regex=True)
    if bare.str.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?|-?\d+(\.\d+)?").mean() > 0.9:  # 1,234.50
        return (f"df[{col!r}] = pd.to_numeric(df[{col!r}].str.replace(r'[{_NUMBER_DECORATION},]', '', "
                f"regex=True))")
    if bare.str.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d+)?|-?\d+(,\d+)?").mean() > 0.9:  # 1.234,50: a decimal comma
        return (f"df[{col!r}] = pd.to_numeric(df[{col!r}].str.replace(r'[{_NUMBER_DECORATION}.]', '', "
                f"regex=True).str.replace(',', '.'))")
    return None


def _nested_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose values are objects or lists (JSON records, Parquet structs), judged on their first values."""
    nested = []
    for col in df.columns:
        if df[col].dtype == object:
            values = df[col].dropna().head(1000)
            if values.map(lambda v: isinstance(v, (dict, list, tuple, set, np.ndarray))).any():
                nested.append(col)
    return nested


def _left_out_of_covariates(df: pd.DataFrame, roles: Roles, nested: set[str]) -> list[tuple[str, str]]:
    """Columns with no role that the automatic covariate choice skipped: (description, what to do) for each;
    ``nested``: the columns of objects or lists, described as such."""
    taken = set(roles.single_columns().values()) | set(roles.text or ()) | set(roles.covariates or ())
    described = []
    for col in df.columns:
        if col in taken or str(col).startswith(TRUTH_PREFIX):
            continue
        values = df[col].dropna()
        sample = values.astype(str).head(1000)
        if col in nested:
            described.append((f"{col} (nested values)", "flatten nested columns (pd.json_normalize) to adjust for "
                                                        "their fields"))
            continue
        if values.empty:  # nothing in it to adjust for, and nothing to do but know it
            described.append((f"{col} (empty)", "an empty column holds nothing to adjust for"))
            continue
        conversion = _numbers_as_text(str(col), values) if len(values) else None
        if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
            described.append((f"{col} (dates or durations)", _DATES_ADVICE))
        elif conversion:
            described.append((f"{col} (numbers stored as text: {_values_seen(values, 2)})",
                              f"to adjust for {col}, convert it: {conversion}"))
        elif len(values) and pd.to_datetime(sample, errors="coerce", format="mixed", utc=True).notna().mean() > 0.9:
            described.append((f"{col} (dates stored as text)", _DATES_ADVICE))
        elif _short_labels(values):
            described.append((f"{col} (labels or ids: {values.nunique():,} distinct values)",
                              f"name a column of labels in --covariates to adjust for its {MAX_LEVELS} most "
                              f"frequent values"))
        else:
            described.append((f"{col} (text: {values.nunique():,} distinct values)",
                              "give free text with --text"))
    return described


def _is_tabular(series: pd.Series) -> bool:
    """Numeric, boolean or categorical-looking (few distinct short strings); long free text is not."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    if isinstance(series.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        values = series.dropna()
        return _short_labels(values) and values.nunique() <= max(MAX_LEVELS, 0.05 * len(values))
    return False


def _short_labels(values: pd.Series) -> bool:
    """Strings short enough to be labels or codes rather than free text (40 characters on average)."""
    strings = values.map(lambda v: isinstance(v, str))
    return bool(strings.all()) and (values.str.len().mean() if len(values) else 0) < 40
