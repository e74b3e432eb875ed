"""Every rule of the data contract yields a DataError naming the column, the rule and offending rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from recuplift.features import TabularEncoder
from recuplift.schema import DataError, Roles, validate


def base_frame(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{i % 3}" for i in range(n)],
        "item_id": [f"i{i}" for i in range(n)],
        "exposed": [0, 1] * (n // 2),
        "outcome": [0, 1, 1, 0, 0, 1, 0, 0][:n],
        "propensity": [0.3, 0.6, 0.5, 0.4, 0.2, 0.7, 0.5, 0.5][:n],
        "position": list(range(1, n + 1)),
        "price": np.linspace(1, 2, n),
        "item_text": ["a red lamp", "a blue mug", "cheap tent", None, "luxury watch", "a book", "game", "mat"][:n],
    })


def problems_of(df: pd.DataFrame, roles: Roles | None = None) -> list:
    with pytest.raises(DataError) as info:
        validate(df, roles)
    return info.value.problems


def test_clean_frame_passes_with_summary():
    report = validate(base_frame())
    assert report.stats["rows"] == 8
    assert report.stats["users"] == 3
    assert report.stats["naive_difference"] == pytest.approx(0.5 - 0.25)
    assert report.roles.covariates == ("price",)
    assert report.roles.text == ("item_text",)
    assert "requests" not in report.stats
    sessions = validate(base_frame().assign(session=[f"s{i // 2}" for i in range(8)]), Roles(request_id="session"))
    assert sessions.stats["requests"] == 4 and "session" not in sessions.roles.covariates  # a role, not a confounder


def test_missing_column_names_it_and_the_flag():
    [p] = problems_of(base_frame(), Roles(treatment="shown"))
    assert p.column == "shown" and "missing column" in p.rule and "--treatment" in p.hint


def test_a_near_miss_column_name_is_named_in_the_hint():
    [p] = problems_of(base_frame(), Roles(treatment="Exposed_"))
    assert p.hint.startswith("did you mean 'exposed'? pass the right name with --treatment")
    [p] = problems_of(base_frame(), Roles(treatment="banner_clicks"))
    assert "did you mean" not in p.hint and "is it" not in p.hint  # nothing near, nothing named like it: no guess
    renamed = base_frame().rename(columns={"exposed": "is_shown", "outcome": "Purchased"})
    shown, bought = problems_of(renamed)  # what logs call the roles: a guess by name, not by spelling
    assert shown.hint.startswith("is it 'is_shown'? pass the right name with --treatment")
    assert bought.hint.startswith("is it 'Purchased'? pass the right name with --outcome")


@pytest.mark.parametrize("given, meant", [("lineardml", "linear_dml"), ("Linear-DML", "linear_dml"),
                                          ("causal_forrest", "causal_forest"), ("xlearner", "x_learner"),
                                          ("bart", None), ("dml", None)])
def test_unknown_estimators_name_the_one_probably_meant(given, meant):
    from recuplift.choices import nearest
    from recuplift.estimators import estimator_names, make_estimator

    assert nearest(given, estimator_names()) == meant
    with pytest.raises(ValueError, match="choose from naive") as err:
        make_estimator(given)
    assert (f"did you mean '{meant}'?" in str(err.value)) == (meant is not None)


def test_default_optional_roles_are_dropped_when_absent_but_explicit_ones_must_exist():
    df = base_frame().drop(columns=["propensity"])
    assert validate(df).roles.propensity is None
    [p] = problems_of(df, Roles(propensity="logged_p"))
    assert p.column == "logged_p"


def test_column_with_two_roles():
    [p] = problems_of(base_frame(), Roles(propensity="outcome"))
    assert p.column == "outcome" and "two roles" in p.rule


def test_empty_table():
    [p] = problems_of(base_frame().iloc[:0])
    assert "empty" in p.rule


@pytest.mark.parametrize("values, rule", [
    ([0, 1, 2, 0, 1, 0, 1, 0], "binary 0/1 but holds 0, 1, 2"),
    ([0, 1, np.nan, 0, 1, 0, 1, 0], "treatment is missing (NaN)"),
    ([0, 2, np.nan, 0, 1, 0, 1, 0], "binary 0/1 but holds 0, 2, 1"),
    (["yes", "no"] * 4, "binary 0/1 but holds 'yes', 'no'"),
    ([1] * 8, "constant"),
])
def test_treatment_rules(values, rule):
    df = base_frame()
    df["exposed"] = values
    [p] = problems_of(df)
    assert p.column == "exposed" and rule in p.rule


@pytest.mark.parametrize("labels, mapping", [(["shown", "not shown"], "{'not shown': 0, 'shown': 1}"),
                                             (["True", "False"], "{'False': 0, 'True': 1}")])
def test_two_text_labels_get_the_mapping_that_fixes_them(labels, mapping):
    df = base_frame()
    df["exposed"] = labels * 4
    [p] = problems_of(df)
    assert f"df['exposed'].map({mapping})" in p.hint and p.rows == (0, 1, 2, 3, 4)


def test_treatment_rows_are_reported():
    df = base_frame()
    df["exposed"] = [0, 1, 2, 0, 1, 0, 3, 0]
    [p] = problems_of(df)
    assert p.rows == (2, 6)


@pytest.mark.parametrize("value, rule", [("abc", "numeric but holds"), (np.nan, "NaN"), (np.inf, "infinite")])
def test_outcome_rules(value, rule):
    df = base_frame().astype({"outcome": object})
    df.loc[3, "outcome"] = value
    [p] = problems_of(df)
    assert p.column == "outcome" and rule in p.rule and p.rows == (3,)


@pytest.mark.parametrize("value, rule", [(np.nan, "NaN"), (0.0, "(0, 1)"), (1.2, "(0, 1)")])
def test_propensity_rules(value, rule):
    df = base_frame()
    df.loc[5, "propensity"] = value
    [p] = problems_of(df)
    assert p.column == "propensity" and rule in p.rule and p.rows == (5,)


def test_propensities_given_as_percentages_are_recognized():
    df = base_frame()
    df["propensity"] = np.linspace(10, 60, len(df))
    [p] = problems_of(df)
    assert f"{len(df)} rows (100.0%) lie outside (values run from 10 to 60)" in p.rule
    assert "these look like percentages: divide by 100, df['propensity'] / 100" in p.hint
    df["propensity"] = 0.5
    df.loc[[1, 2], "propensity"] = 1.0  # an always-shown row is no percentage
    [p] = problems_of(df)
    assert "2 rows (25.0%) lie outside" in p.rule and "leaves no overlap" in p.hint
    assert "df[df['propensity'].between(0, 1, inclusive='neither')]" in p.hint


@pytest.mark.parametrize("value, rule", [(0, "≥ 1"), (2.5, "whole number")])
def test_position_rules(value, rule):
    df = base_frame().astype({"position": float})
    df.loc[1, "position"] = value
    [p] = problems_of(df)
    assert p.column == "position" and rule in p.rule and p.rows == (1,)


def test_positions_counted_from_zero_get_the_shift_that_fixes_them():
    df = base_frame()
    df["position"] = np.arange(len(df)) % 3
    [p] = problems_of(df)
    assert "its smallest is 0" in p.rule and "counts them from 0: shift it, df['position'] + 1" in p.hint
    df["position"] = np.arange(len(df)) % 3 - 1  # a -1 is no off-by-one: no shift is suggested
    [p] = problems_of(df)
    assert "its smallest is -1" in p.rule and "shift" not in p.hint


def test_text_with_non_strings():
    df = base_frame()
    df["item_text"] = df["item_text"].astype(object)
    df.loc[2, "item_text"] = 42
    [p] = problems_of(df)
    assert p.column == "item_text" and "non-string" in p.rule and p.rows == (2,) and "cast to str" in p.hint
    [numbers] = problems_of(base_frame(), Roles(text=("price",)))  # a number column named as text
    assert numbers.column == "price" and "as a covariate (--covariates), not as text" in numbers.hint


@pytest.mark.parametrize("texts", [[""] * 8, [None] * 8, ["same words"] * 4 + [" "] * 4])
def test_a_text_column_with_fewer_than_two_distinct_texts(texts):
    df = base_frame().assign(item_text=texts)
    [p] = problems_of(df, Roles(text=("item_text",)))
    assert p.column == "item_text" and "distinct non-empty" in p.rule and "leave it out of --text" in p.hint
    [default] = problems_of(df)  # not named: taken because the contract calls it item_text
    assert "with no --text" in default.hint and "--text ''" in default.hint


def test_covariates_and_modifiers_must_be_numbers_or_categories():
    df = base_frame().assign(seen=pd.date_range("2026-01-01", periods=8), note=[f"free text number {i}" * 5 for i in range(8)])
    [p] = problems_of(df, Roles(covariates=("price", "seen")))
    assert p.column == "seen" and "covariate is a date or time" in p.rule and "days since" in p.hint
    [p] = problems_of(df, Roles(modifiers=("note",)))  # free text as an effect modifier was one-hot encoded silently
    assert p.column == "note" and "modifier must be numeric or categorical" in p.rule


def test_a_named_column_of_many_short_labels_is_adjusted_for_with_a_warning_of_what_is_pooled():
    n = 160  # 80 zip codes, two rows each: more levels than the tabular encoder keeps
    df = pd.concat([base_frame()] * (n // 8), ignore_index=True).assign(zip=[f"z{i % 80:03d}" for i in range(n)])
    for column in (df["zip"], df["zip"].astype("category")):  # labels as strings or as a pandas category
        report = validate(df.assign(zip=column), Roles(covariates=("price", "zip")))
        [w] = [w for w in report.warnings if w.column == "zip"]
        assert "80 distinct values" in w.rule and "the 50 most frequent become indicators" in w.rule
        assert "other 30 are pooled as one level (37.5% of rows)" in w.rule and "fewer groups" in w.hint
    encoder = TabularEncoder(("zip",)).fit(df)  # what the warning says is what the encoder does
    assert len(encoder.levels_["zip"]) == 50
    few = validate(df.assign(zip=[f"z{i % 20:03d}" for i in range(n)]), Roles(covariates=("price", "zip")))
    assert not [w for w in few.warnings if w.column == "zip"]


def test_column_names_that_are_not_strings_are_a_clear_error():
    df = base_frame()
    df[0] = 1.0  # chosen as a covariate automatically, it crashed the warning that lists the covariates
    with pytest.raises(DataError, match=r"column names must be strings, not 0 \(int\)") as error:
        validate(df)
    assert "df.columns.astype(str)" in error.value.problems[0].hint


def test_a_logged_propensity_that_does_not_match_the_exposures_is_warned_about():
    rng = np.random.default_rng(0)
    n, per_user = 6_000, 10
    propensity = 1 / (1 + np.exp(-rng.normal(-0.8, 1.0, n)))
    log = pd.DataFrame({"user_id": np.repeat(np.arange(n // per_user), per_user), "item_id": np.arange(n) % 97,
                        "exposed": (rng.random(n) < propensity).astype(int), "outcome": rng.integers(0, 2, n),
                        "propensity": propensity})
    assert not [w for w in validate(log).warnings if w.column == "propensity"]
    joined = log[(log["exposed"] == 0) | (rng.random(n) >= 0.3)]  # a join that lost 30% of the exposed rows
    [w] = [w for w in validate(joined).warnings if w.column == "propensity"]
    assert "does not match who was exposed" in w.rule and "clustered by user" in w.rule
    assert "--propensity ''" in w.hint and "filtered" in w.hint


def test_an_outcome_that_never_happens_unexposed_is_warned_about_once_the_evidence_is_clear():
    rng = np.random.default_rng(0)
    n = 2_000
    exposed = rng.integers(0, 2, n)
    clicked = np.where(exposed == 1, rng.random(n) < 0.05, 0).astype(int)  # a click on the recommendation itself
    log = pd.DataFrame({"user_id": np.arange(n) // 10, "item_id": np.arange(n) % 50, "exposed": exposed,
                        "outcome": clicked})
    [w] = [w for w in validate(log).warnings if w.column == "outcome"]
    assert "never happens without exposure: 0 in all" in w.rule and "either way" in w.hint
    bought = log.assign(outcome=np.maximum(clicked, (rng.random(n) < 0.01).astype(int)))  # also bought elsewhere
    assert not [w for w in validate(bought).warnings if w.column == "outcome"]
    # 44 unexposed rows at a 5% rate show no outcome about one time in ten: not evidence enough to warn
    assert not [w for w in validate(log.head(100)).warnings if w.column == "outcome"]


def test_a_covariate_recorded_only_for_shown_items_is_warned_about_as_measured_after_exposure():
    rng = np.random.default_rng(0)
    n = 1_000
    exposed = rng.integers(0, 2, n)
    log = pd.DataFrame({"user_id": np.arange(n) // 10, "item_id": np.arange(n) % 50, "exposed": exposed,
                        "outcome": rng.integers(0, 2, n), "price": rng.normal(size=n),
                        "dwell_seconds": np.where(exposed == 1, rng.exponential(30, n), 0.0),
                        "rating": np.where(exposed == 1, rng.integers(1, 6, n), np.nan),
                        "coupon": (rng.random(n) < 0.1).astype(int)})  # a confounder that is mostly 0 everywhere
    flagged = {w.column: w for w in validate(log).warnings if "after exposure" in w.rule}
    assert set(flagged) == {"dwell_seconds", "rating"}
    assert "0.0 in all" in flagged["dwell_seconds"].rule and "(missing) in all" in flagged["rating"].rule
    assert "leave it out of --covariates" in flagged["rating"].hint
    # a handful of unexposed rows sharing a value is no evidence: 4 rows of a value 30% of exposed rows hold
    few = log.drop(index=log.index[log["exposed"].eq(0)][4:]).assign(coupon=lambda d: np.where(
        d["exposed"].eq(0), 1, (rng.random(len(d)) < 0.3).astype(int)))
    assert not [w for w in validate(few, Roles(covariates=("coupon",))).warnings if "after exposure" in w.rule]


def test_a_constant_outcome_is_a_problem_not_a_zero_width_interval():
    df = base_frame().assign(outcome=0)
    [p] = problems_of(df)
    assert p.column == "outcome" and "constant (0 in every row)" in p.rule


@pytest.mark.parametrize("user_ids, n_folds, ok", [(["u0", "u1", "u1", "u0"] * 2, 3, False), (["u0", "u1", "u2", "u0"] * 2, 3, True),
                                                   (["u0", "u1", "u2", "u0"] * 2, 4, False)])
def test_cross_fitting_needs_a_user_per_fold(user_ids, n_folds, ok):
    df = base_frame().assign(user_id=user_ids)
    if ok:
        assert validate(df, n_folds=n_folds).stats["users"] == 3
        return
    with pytest.raises(DataError) as info:
        validate(df, n_folds=n_folds)
    [p] = info.value.problems
    assert p.column == "user_id" and f"{df.user_id.nunique()} distinct user(s)" in p.rule and f"{n_folds} folds" in p.rule


def test_each_arm_needs_rows_from_a_user_per_fold():
    df = base_frame().assign(user_id=["u0", "u0", "u1", "u0", "u2", "u0", "u1", "u0"])  # every exposed row is u0's
    validate(df)  # fine as a contract; only cross-fitting needs the arm spread
    with pytest.raises(DataError) as info:
        validate(df, n_folds=3)
    [p] = info.value.problems
    assert p.column == "exposed" and "every exposed row (exposed=1) is user u0's" in p.rule


def test_without_user_ids_cross_fitting_needs_a_row_per_fold():
    df = base_frame().drop(columns="user_id")
    validate(df, n_folds=8)
    with pytest.raises(DataError, match="8 row"):
        validate(df, n_folds=9)


def test_fewer_than_two_rows_in_an_arm():
    df = base_frame()
    df["exposed"] = [1, 0, 0, 0, 0, 0, 0, 0]
    [p] = problems_of(df)
    assert "fewer than 2 rows" in p.rule and "exposed=1" in p.rule


def test_all_problems_are_reported_at_once():
    df = base_frame()
    df.loc[0, "propensity"] = 1.5
    df.loc[1, "position"] = 0
    df.loc[2, "outcome"] = np.nan
    problems = problems_of(df)
    assert {p.column for p in problems} == {"propensity", "position", "outcome"}
    assert "3 problems" in str(DataError(problems))


def test_warnings_do_not_stop_the_run():
    df = pd.concat([base_frame()] * 300, ignore_index=True)
    df["propensity"] = np.where(np.arange(len(df)) % 10 == 0, 0.001, 0.5)
    df["outcome"] = 0.0
    df.loc[1, "outcome"] = 1.0
    df["item_text"] = df["item_text"].where(np.arange(len(df)) % 4 != 0, None)
    report = validate(df)
    rules = " | ".join(w.rule for w in report.warnings)
    assert "outside [0.01, 0.99]" in rules
    assert "missing or empty" in rules
    assert "below 0.1%" in rules


def test_unnamed_covariates_are_listed_in_a_warning_and_named_ones_are_not():
    df = base_frame().assign(spend=np.arange(8.0))  # e.g. a post-click metric that must not be adjusted for
    rules = [w for w in validate(df).warnings if "covariates not named" in w.rule]
    assert len(rules) == 1 and "spend" in rules[0].rule and "--covariates" in rules[0].hint
    named = validate(df, Roles(covariates=("price",))).warnings
    assert not any("covariates not named" in w.rule for w in named)


def test_columns_the_automatic_covariates_skip_are_named_with_what_they_look_like():
    n = 160  # over 50 distinct strings, so none of them reads as a category
    df = pd.concat([base_frame()] * (n // 8), ignore_index=True).assign(
        price=[f"{v:.2f}" for v in np.linspace(1, 90, n)],             # a CSV column read as text
        seen_at=pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="h"),
        logged=[f"2026-02-{1 + i % 28:02d} {i % 24:02d}:00" for i in range(n)],
        session=[f"s{i:04d}x" for i in range(n)],
        review=[f"a long review of the item, number {i}, that no category could hold" for i in range(n)])
    rules = [w for w in validate(df).warnings if w.rule.startswith("not adjusted for")]
    assert len(rules) == 1
    rule, hint = rules[0].rule, rules[0].hint
    for part in ("price (numbers stored as text: '1.00'", "seen_at (dates or durations)", "logged (dates stored as text)",
                 "session (labels or ids: 160 distinct values)", "review (text: 160 distinct values)"):
        assert part in rule
    assert "pd.to_numeric" in hint and "days since" in hint and "--text" in hint
    assert "name a column of labels in --covariates" in hint
    assert "item_text" not in rule and "user_id" not in rule  # columns with a role are not left out
    named = validate(df, Roles(covariates=())).warnings  # the analyst chose: nothing was skipped behind their back
    assert not any(w.rule.startswith("not adjusted for") for w in named)


def _decimal_comma(v: float) -> str:
    return f"{v:,.2f}".translate(str.maketrans(",.", ".,")) + " €"


@pytest.mark.parametrize("write", [lambda v: f"${v:,.2f}",  # currency and thousands separators: $1,234.50
                                   _decimal_comma,            # 1.234,50 €
                                   lambda v: f"{v:.2f}%",
                                   lambda v: f"{v:.2f}"])
def test_numbers_a_spreadsheet_wrote_as_text_get_the_line_that_converts_them(write):
    n = 160  # many distinct values, so the column is not read as a category
    prices = np.round(np.linspace(-5, 4000, n), 2)
    df = pd.concat([base_frame()] * (n // 8), ignore_index=True).assign(price=[write(v) for v in prices])
    skipped = [w for w in validate(df).warnings if w.rule.startswith("not adjusted for")]
    assert len(skipped) == 1 and f"price (numbers stored as text: {write(prices[0])!r}" in skipped[0].rule
    named = pytest.raises(DataError, validate, df, Roles(covariates=("price",))).value.problems
    assert named[0].column == "price" and "numbers stored as text" in named[0].rule
    line = named[0].hint.removeprefix("convert it first: ")
    assert line in skipped[0].hint  # the same fix either way
    exec(line, {"pd": pd, "df": df})  # the line the analyst is told to run does turn the text into the numbers
    assert df["price"].to_numpy(dtype=float) == pytest.approx(prices)


def test_nested_and_empty_columns_of_a_json_log_are_named_not_a_traceback():
    df = base_frame().assign(meta=[{"device": "ios"}] * 4 + [{"device": "web", "ab": [1, 2]}] * 4,
                             tags=[["a"], ["b", "c"]] * 4, empty=None)
    report = validate(df)  # the copy check hashed every column: TypeError: unhashable type: 'dict'
    skipped = next(w for w in report.warnings if w.rule.startswith("not adjusted for"))
    assert "meta (nested values)" in skipped.rule and "tags (nested values)" in skipped.rule
    assert "empty (empty)" in skipped.rule and "pd.json_normalize" in skipped.hint
    assert "empty" not in report.roles.covariates  # an all-missing column is nothing to adjust for
    [p] = problems_of(df, Roles(covariates=("price", "meta")))
    assert p.column == "meta" and "nested values" in p.rule and "pd.json_normalize" in p.hint


def test_a_log_with_nothing_to_adjust_for_is_warned_about():
    bare = base_frame()[["user_id", "item_id", "exposed", "outcome"]]
    rules = [w for w in validate(bare).warnings if "nothing to adjust for" in w.rule]
    assert len(rules) == 1 and "--covariates" in rules[0].hint
    for keep in ("propensity", "price", "item_text"):  # any one of them is something to adjust with
        log = base_frame()[["user_id", "item_id", "exposed", "outcome", keep]]
        assert not any("nothing to adjust for" in w.rule for w in validate(log).warnings), keep


def test_a_log_without_user_ids_is_warned_about_and_a_likely_id_column_named():
    def user_warnings(df):
        return [w for w in validate(df).warnings if w.rule.startswith("no user id")]

    assert not user_warnings(base_frame())
    [bare] = user_warnings(base_frame().drop(columns="user_id"))
    assert "intervals treat every row as independent" in bare.rule and "--user-id" in bare.hint
    renamed = base_frame().rename(columns={"user_id": "visitorId"}).assign(user_tenure_days=3)
    [guess] = user_warnings(renamed)  # a user word and an id ending; user_tenure_days is no id
    assert guess.hint == "if 'visitorId' names the user, pass --user-id visitorId"


def test_exact_copies_of_rows_are_warned_about():
    df = base_frame()
    copied = pd.concat([df, df.iloc[[2, 5]]], ignore_index=True)
    rules = [w for w in validate(copied).warnings if "exact copies" in w.rule]
    assert len(rules) == 1 and rules[0].rule.startswith("2 rows") and rules[0].rows == (8, 9)
    assert not any("exact copies" in w.rule for w in validate(df).warnings)


def test_roles_may_be_given_as_a_plain_mapping():
    df = base_frame().rename(columns={"exposed": "shown"})
    report = validate(df, {"treatment": "shown", "covariates": "price", "text": ""})  # an AttributeError before
    assert report.roles.treatment == "shown" and report.roles.covariates == ("price",) and report.roles.text == ()
    with pytest.raises(DataError, match="roles must be a Roles or a mapping of role to column, got str"):
        validate(df, "shown")
    with pytest.raises(DataError, match="unknown role"):
        validate(df, {"treatmnet": "shown"})


def test_a_column_named_twice_in_a_list_role_is_one_column():
    assert Roles(covariates=("price", "category", "price")).covariates == ("price", "category")
    assert Roles.from_mapping({"text": "a,b,a", "modifiers": ["c", "c"]}).text == ("a", "b")


def test_roles_from_mapping_parses_lists_and_rejects_unknown_keys():
    roles = Roles.from_mapping({"text": "a, b", "covariates": "x,y", "propensity": ""})
    assert roles.text == ("a", "b") and roles.covariates == ("x", "y") and roles.propensity is None
    # a repeated CLI flag arrives as a list: --text '' switches text off (it was read as a column named '')
    assert Roles.from_mapping({"text": ("",)}).text == () and Roles.from_mapping({"text": ["a,b", " c"]}).text == ("a", "b", "c")
    with pytest.raises(DataError, match="unknown role"):
        Roles.from_mapping({"treatmnt": "x"})


def test_simulated_log_is_valid(small_log):
    report = validate(small_log)
    assert not any(c.startswith("true_") for c in report.roles.covariates)
    assert set(report.roles.covariates) == {"category", "price", "user_tenure_days"}


column_values = st.one_of(
    st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.none(),
    st.booleans(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hpd.data_frames([hpd.column(name, elements=column_values, dtype=object)
                        for name in ("exposed", "outcome", "propensity", "position", "user_id", "item_text")],
                       index=hpd.range_indexes(min_size=0, max_size=12)))
def test_malformed_frames_raise_data_error_or_pass(df):
    try:
        validate(df)
    except DataError as err:
        assert err.problems and all(p.rule for p in err.problems)
