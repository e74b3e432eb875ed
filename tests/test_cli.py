"""The CLI: clean errors with exit status 2 for bad logs, and working commands on good ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

BAD_INPUTS = {
    "missing_column": (lambda df: df.drop(columns=["outcome"]), "outcome", "missing column"),
    "two_roles": (lambda df: df, "outcome", "two roles"),
    "empty": (lambda df: df.iloc[:0], None, "empty table"),
    "treatment_not_binary": (lambda df: df.assign(exposed=df.exposed * 2), "exposed", "binary"),
    "treatment_constant": (lambda df: df.assign(exposed=1), "exposed", "constant"),
    "outcome_nan": (lambda df: df.assign(outcome=df.outcome.where(df.index != 3)), "outcome", "NaN"),
    "outcome_inf": (lambda df: df.assign(outcome=df.outcome.astype(float).where(df.index != 3, np.inf)),
                    "outcome", "infinite"),
    "propensity_outside": (lambda df: df.assign(propensity=df.propensity.where(df.index != 4, 1.0)),
                           "propensity", "(0, 1)"),
    "position_below_1": (lambda df: df.assign(position=df.position - 1), "position", "≥ 1"),
    "text_not_string": (lambda df: df.assign(item_text=np.arange(len(df))), "item_text", "non-string"),
    "outcome_constant": (lambda df: df.assign(outcome=0), "outcome", "constant"),
    "one_exposed_row": (lambda df: df.assign(exposed=(df.index == 0).astype(int)), "exposed", "fewer than 2"),
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recuplift.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_bad_input_exits_2_naming_column_and_rule(tmp_path, small_log, case):
    mutate, column, rule = BAD_INPUTS[case]
    path = tmp_path / f"{case}.parquet"
    mutate(small_log.head(200).copy()).to_parquet(path)
    extra = ["--propensity", "outcome"] if case == "two_roles" else []
    result = run_cli("validate", str(path), *extra)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert rule in result.stderr
    if column:
        assert f"'{column}'" in result.stderr


def test_validate_json_reports_problems_as_json_too(tmp_path, small_log):
    path = tmp_path / "log.parquet"
    small_log.head(200).assign(exposed=2).to_parquet(path)
    bad = run_cli("validate", str(path), "--json")  # a script parsing stdout got nothing before
    assert bad.returncode == 2
    info = json.loads(bad.stdout)
    assert info["valid"] is False and info["problems"][0]["column"] == "exposed" and info["problems"][0]["rows"]
    small_log.head(200).to_parquet(path)
    good = run_cli("validate", str(path), "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["valid"] is True


def test_validate_prints_summary(tmp_path, small_log):
    path = tmp_path / "log.csv"
    small_log.to_csv(path, index=False)
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    for word in ("rows", "users", "items", "exposure_rate", "naive_difference", "text_coverage[item_text]"):
        assert word in result.stdout


def test_validate_with_renamed_columns(tmp_path, small_log):
    path = tmp_path / "renamed.parquet"
    small_log.rename(columns={"exposed": "shown", "outcome": "bought", "user_id": "uid"}).to_parquet(path)
    assert run_cli("validate", str(path)).returncode == 2
    result = run_cli("validate", str(path), "--treatment", "shown", "--outcome", "bought", "--user-id", "uid")
    assert result.returncode == 0, result.stderr
    modifier = run_cli("validate", str(path), "--treatment", "shown", "--outcome", "bought", "--user-id", "uid",
                       "--modifiers", "item_text")  # the audit's --modifiers, checked before an audit is run
    assert modifier.returncode == 2 and "column 'item_text': modifier must be numeric or categorical" in modifier.stderr


def test_simulate_writes_log_and_truth(tmp_path):
    result = run_cli("simulate", "--out", str(tmp_path), "--users", "100", "--seed", "5")
    assert result.returncode == 0, result.stderr
    df = pd.read_parquet(tmp_path / "impressions.parquet")
    assert len(df) == 100 * 20 and "true_uplift" in df


def test_simulate_rejects_bad_knob(tmp_path):
    result = run_cli("simulate", "--out", str(tmp_path), "--text-noise", "3")
    assert result.returncode == 2 and "text_noise" in result.stderr and "Traceback" not in result.stderr
    negative_seed = run_cli("simulate", "--out", str(tmp_path), "--seed", "-1")  # every command's --seed is ≥ 0
    assert negative_seed.returncode == 2 and "'--seed'" in negative_seed.stderr and "Traceback" not in negative_seed.stderr
    randomized = run_cli("simulate", "--out", str(tmp_path / "r"), "--rct", "--confounding", "2")  # was ignored
    assert randomized.returncode == 2 and "--confounding does not apply with --rct" in " ".join(randomized.stderr.split())


@pytest.mark.parametrize("command", ["simulate", "validate", "embed", "audit", "rank", "ope", "plan", "demo"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "Usage" in result.stdout


@pytest.mark.parametrize("command", [["simulate"], ["embed", "log.parquet"], ["audit", "log.parquet"],
                                     ["rank", "log.parquet", "--uplift", "audit"],
                                     ["ope", "--logs", "obd:bts/all", "--truth", "obd:random/all"], ["demo"]])
def test_an_out_folder_that_is_a_file_is_refused_before_any_work(tmp_path, command):
    taken = tmp_path / "results.parquet"
    taken.write_text("not a folder")
    result = run_cli(*command, "--out", str(taken))  # each failed after its work, when writing: FileExistsError
    assert result.returncode == 2 and "'--out'" in result.stderr and "is a file" in result.stderr, result.stderr
    assert taken.read_text() == "not a folder"


def test_version_names_recuplift_and_the_libraries_its_numbers_come_from():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "recuplift 0.1.0" and f"xgboost {version('xgboost')}" in lines and len(lines) == 9


def test_the_main_entry_points_import_from_the_package_top_without_loading_the_heavy_stack():
    probe = ("import sys, recuplift; heavy = {'dowhy', 'econml', 'torch', 'xgboost'} & set(sys.modules); "
             "from recuplift import Audit, UpliftModel, evaluate_rankings, plan_list_test, plan_test; "
             "from recuplift.causal import Audit as A; assert Audit is A, Audit; print(sorted(heavy))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    with pytest.raises(AttributeError, match="no attribute 'Audi'"):
        __import__("recuplift").Audi


def test_plan_prints_n_and_json_has_it_at_the_top_level():
    text = run_cli("plan", "--baseline", "0.05", "--lift", "0.10", "--relative", "--weekly-users", "20000")
    assert text.returncode == 0, text.stderr
    assert "per arm" in text.stdout and "by week" in text.stdout
    as_json = run_cli("plan", "--baseline", "0.05", "--lift", "0.10", "--relative", "--json")
    info = __import__("json").loads(as_json.stdout)
    assert abs(info["n_per_arm"] - 31_200) / 31_200 < 0.01 and info["n_total"] == 2 * info["n_per_arm"]


def test_plan_rejects_impossible_inputs_without_traceback():
    result = run_cli("plan", "--baseline", "1.5", "--lift", "0.1")
    assert result.returncode == 2 and "baseline" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("plan", "--from-audit", "/nonexistent/audit")
    assert missing.returncode == 2 and "no audit output" in missing.stderr and "Usage" not in missing.stderr
    for segments, message in (("", "give at least one top share"), ("abc", "Invalid value for --segments")):
        bad = run_cli("plan", "--from-audit", "/nonexistent/audit", "--segments", segments)  # '' was a KeyError
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    mixed = run_cli("plan", "--from-audit", "/nonexistent/audit", "--baseline", "0.05", "--lift", "0.1", "--relative")
    assert mixed.returncode == 2 and "--baseline, --lift, --relative do not apply with --from-audit" in \
        " ".join(mixed.stderr.split())  # were dropped without a word
    for flags, message in ((["--segments", "0.1,1.0"], "--segments plans targeted tests and needs --from-audit"),
                           (["--accumulation", "0.8"], "--accumulation shapes the runtime and needs --weekly-users")):
        unused = run_cli("plan", "--baseline", "0.05", "--lift", "0.01", *flags)  # each was dropped without a word
        assert unused.returncode == 2 and message in " ".join(unused.stderr.split()), unused.stderr
    for flags, message in ((["--from-ranking", "/nowhere", "--accumulation", "0.8"], "needs --weekly-users"),
                           (["--from-ranking", "/nowhere", "--from-audit", "/nowhere"], "not both"),
                           (["--baseline", "0.05", "--lift", "0.01", "--policy", "uplift"], "needs --from-ranking")):
        wrong = run_cli("plan", *flags)  # usage errors of the list's test, before any folder is read
        assert wrong.returncode == 2 and message in " ".join(wrong.stderr.split()), wrong.stderr
    zero_weeks = run_cli("plan", "--baseline", "0.05", "--lift", "0.01", "--weekly-users", "0")
    assert zero_weeks.returncode == 2 and "weekly units (--weekly-users) must be positive" in zero_weeks.stderr


def test_a_demo_too_small_for_its_reports_is_refused_before_any_work(tmp_path):
    result = run_cli("demo", "--users", "5", "--out", str(tmp_path / "demo"))
    assert result.returncode == 2 and "'--users'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
def test_ope_on_open_bandit_writes_the_documented_json(tmp_path):
    result = run_cli("ope", "--logs", "obd:bts/all", "--policy", "uniform",  # its truth: its own log, random/all
                     "--runs", "3", "--seed", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "truth (on-policy CTR of obd:random/all)" in result.stdout
    info = __import__("json").loads((tmp_path / "results.json").read_text())
    assert f"noise floor {info['noise_floor']:.3f}: resampling alone" in result.stdout and info["noise_floor"] > 0
    assert info["truth"] > 0 and info["recommended"] in info["estimators"]
    assert {"estimate", "relative_error_mean", "relative_error_sd"} <= set(info["estimators"]["dr"])
    assert (tmp_path / "figures" / "estimators.png").stat().st_size > 10_000  # the estimators, compared
    ours = info["estimators"][info["recommended"]]["relative_error_mean"]  # judged against obp's best, DR 0.280
    assert f"obp 0.4.1's best on this protocol: dr 0.280; ours ({info['recommended']}) {ours:.3f}: " \
           f"{'a win' if ours < 0.280 else 'a loss'}" in result.stdout
    bad = run_cli("ope", "--logs", "bts/all", "--truth", "obd:random/all", "--out", str(tmp_path))
    assert bad.returncode == 2 and "obd:BEHAVIOR/CAMPAIGN" in bad.stderr
    # the same uniform policy given as a table: a CSV, and a DuckDB table (it was taken for an unknown name)
    from recuplift.io import write_table

    table = pd.DataFrame({"item_id": np.repeat(np.arange(80), 3), "position": np.tile([1, 2, 3], 80),
                          "probability": 1 / 80})
    for source in (tmp_path / "uniform.csv", f"{tmp_path / 'policies.duckdb'}::uniform"):
        write_table(table, source)
        as_table = run_cli("ope", "--logs", "obd:bts/all", "--policy", str(source), "--truth", "obd:random/all",
                           "--runs", "3", "--seed", "1", "--out", str(tmp_path / "table"))
        assert as_table.returncode == 0, as_table.stderr
        assert "obp 0.4.1's best" not in as_table.stdout  # obp measured its named policies, not this table
        same = json.loads((tmp_path / "table" / "results.json").read_text())["estimators"]["dr"]["estimate"]
        assert same == pytest.approx(info["estimators"]["dr"]["estimate"], rel=1e-12)
    # a table is a policy with no log of its own: no truth, so each estimate gets its range over the runs instead
    untrue = run_cli("ope", "--logs", "obd:bts/all", "--policy", str(tmp_path / "uniform.csv"), "--runs", "3",
                     "--seed", "1", "--out", str(tmp_path / "untrue"))
    assert untrue.returncode == 0, untrue.stderr
    estimated = json.loads((tmp_path / "untrue" / "results.json").read_text())
    dr = estimated["estimators"]["dr"]
    assert estimated["truth"] is None and set(dr) == {"estimate", "ci_low", "ci_high"}
    assert dr["ci_low"] <= dr["estimate"] <= dr["ci_high"] and dr["estimate"] == pytest.approx(same, rel=1e-12)
    assert "no truth" in untrue.stdout and f"the click rate the logging policy reached ({estimated['logged']:.5f})" \
        in untrue.stdout and (tmp_path / "untrue" / "figures" / "estimators.png").stat().st_size > 10_000
    # a wrong option value names the option, before anything is evaluated, never as "a problem in the data"
    for flags, named in ((["--logs", "obd:greedy/all", "--truth", "obd:random/all"], "--logs"),
                         (["--logs", "obd:bts/all", "--truth", "obd:random/kids"], "--truth"),
                         (["--logs", "obd:bts/all", "--truth", "obd:random/all", "--policy", "greedy"], "--policy"),
                         (["--logs", "obd:bts/all", "--truth", "obd:random/all", "--runs", "1"], "--runs"),
                         # another campaign's click rate, or another policy's, was taken as the truth without a word
                         (["--logs", "obd:bts/all", "--truth", "obd:random/men"], "compare within one campaign"),
                         (["--logs", "obd:bts/all", "--truth", "obd:bts/all"], "not obd:bts's")):
        bad = run_cli("ope", *flags, "--out", str(tmp_path / "bad"))
        assert bad.returncode == 2 and named in bad.stderr and "problem in the data" not in bad.stderr, bad.stderr
        assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_rank_writes_rankings_and_report(tmp_path, audited_log):
    sim, result, _ = audited_log
    audit_dir, data = tmp_path / "audit", tmp_path / "log.parquet"
    result.write(audit_dir)
    sim.data.to_parquet(data)
    out = run_cli("rank", str(data), "--uplift", str(audit_dir / "uplift.parquet"), "--k", "3", "--bootstrap", "50",
                  "--out", str(tmp_path / "rank"))
    assert out.returncode == 0, out.stderr
    assert "valuing lists" in out.stderr  # a bar over the bootstrapped valuations
    rankings = pd.read_parquet(tmp_path / "rank" / "ranking.parquet")
    assert list(rankings.columns) == ["policy", "user_id", "item_id", "rank", "score"]
    report = __import__("json").loads((tmp_path / "rank" / "ranking.json").read_text())
    assert set(report["policies"]) == {"logging", "relevance", "uplift", "blend"}
    assert "truth" in report["policies"]["uplift"]
    shared = report["policies"]["uplift"]["shared_with_relevance"]
    assert f"{shared:.0%} of its items also in the relevance list" in out.stdout
    assert (tmp_path / "rank" / "figures" / "policies.png").stat().st_size > 10_000  # the policies, compared
    assert "per 1,000 users" in out.stdout  # the next step: which list to test
    assert report["outcome_per_user_sd"] == pytest.approx(sim.data.groupby("user_id")["outcome"].sum().std())
    assert report["warnings"] == [] and "warning" not in out.stderr
    results = json.loads((audit_dir / "results.json").read_text())  # as if the audit found the propensity off
    results["diagnostics"]["overlap"]["calibration"].update(source="logged", calibrated=False)
    (audit_dir / "results.json").write_text(json.dumps(results))
    off = run_cli("rank", str(data), "--uplift", str(audit_dir), "--k", "3", "--bootstrap", "20",
                  "--out", str(tmp_path / "off"))
    assert off.returncode == 0, off.stderr
    assert "warning: the audit found that the logged propensity does not match who was exposed" in off.stderr
    kept = json.loads((tmp_path / "off" / "ranking.json").read_text())["warnings"]  # for its report and plan
    assert len(kept) == 1 and kept[0].startswith("the audit found that the logged propensity")
    planned = run_cli("plan", "--from-ranking", str(tmp_path / "rank"), "--policy", "uplift", "--lift", "0.05",
                      "--json")  # the test that would confirm the list, sized from the ranking's own figures
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["policy"] == "uplift" and plan["planned_lift"] == 0.05 and plan["plan"]["n_control"] > 0
    assert plan["plan"]["metric"]["sd"] == pytest.approx(report["outcome_per_user_sd"])
    excluded = sim.data[["user_id", "item_id"]].iloc[::5]  # e.g. what each user already bought
    excluded.to_csv(tmp_path / "bought.csv", index=False)
    ruled = run_cli("rank", str(data), "--uplift", str(audit_dir), "--k", "3", "--bootstrap", "20",
                    "--exclude", str(tmp_path / "bought.csv"), "--category", "category", "--max-per-category", "1",
                    "--value", "price", "--out", str(tmp_path / "ruled"))
    assert ruled.returncode == 0, ruled.stderr
    assert set(json.loads((tmp_path / "ruled" / "ranking.json").read_text())["policies"]) == {
        "logging", "relevance", "uplift", "blend", "value"}  # naming a value column adds the policy ranking by it
    assert f"excluded {len(excluded):,} candidate rows" in ruled.stdout
    settings = json.loads((tmp_path / "ruled" / "ranking.json").read_text())["settings"]
    assert settings["category"] == "category" and settings["max_per_category"] == 1 and settings["n_bootstrap"] == 20
    lists = pd.read_parquet(tmp_path / "ruled" / "ranking.parquet")
    assert lists.merge(excluded).empty
    shown = lists.merge(sim.data[["user_id", "item_id", "category"]], on=["user_id", "item_id"])
    assert shown.groupby(["policy", "user_id", "category"], observed=True).size().max() == 1
    sessions = tmp_path / "sessions.parquet"  # each user's candidates came in two requests
    sim.data.assign(request=sim.data["user_id"].astype(str) + np.where(np.arange(len(sim.data)) % 2, "-a", "-b")
                    ).to_parquet(sessions)
    per = run_cli("rank", str(sessions), "--uplift", str(audit_dir), "--k", "2", "--bootstrap", "20", "--per", "request",
                  "--out", str(tmp_path / "per"))
    assert per.returncode == 0, per.stderr
    by_request = pd.read_parquet(tmp_path / "per" / "ranking.parquet")
    assert "request" in by_request.columns and by_request.groupby(["policy", "request"]).size().max() == 2
    assert by_request.groupby(["policy", "user_id"]).size().max() == 4  # two lists of two for every user
    unused = run_cli("rank", str(data), "--uplift", str(audit_dir), "--value", "price", "--policies", "uplift",
                     "--out", str(tmp_path / "v"))
    assert unused.returncode == 2 and "value (--value) sets the 'value' policy, which the policies" in \
        " ".join(unused.stderr.split())
    unknown = run_cli("rank", str(data), "--uplift", str(audit_dir), "--per", "session", "--out", str(tmp_path / "w"))
    assert unknown.returncode == 2 and "'session' is not a column of the log" in unknown.stderr
    half = run_cli("rank", str(data), "--uplift", str(audit_dir), "--max-per-category", "1", "--out", str(tmp_path / "z"))
    assert half.returncode == 2 and "needs both --category COLUMN and --max-per-category N" in half.stderr
    inside = run_cli("rank", str(data), "--uplift", str(audit_dir / "uplift.parquet"), "--out", str(audit_dir))
    assert inside.returncode == 2 and "is the audit's folder, which a rerun of the audit replaces whole" in \
        " ".join(inside.stderr.split()) and not (audit_dir / "ranking.json").exists()
    short = run_cli("rank", str(data), "--uplift", str(tmp_path / "missing"), "--out", str(tmp_path / "x"))
    assert short.returncode == 2 and "no audit output" in short.stderr
    shuffled = tmp_path / "shuffled.parquet"  # the same rows in another order: each would get another row's truth
    sim.data.sample(frac=1.0, random_state=0).to_parquet(shuffled)
    moved = run_cli("rank", str(shuffled), "--uplift", str(audit_dir), "--out", str(tmp_path / "y"))
    assert moved.returncode == 2 and "column 'user_id': differs from the audit's user_id" in moved.stderr
    assert not (tmp_path / "y").exists()


def test_an_audit_told_the_requests_makes_rank_list_per_request(tmp_path):
    from recuplift.simulate import simulate

    log = simulate(n_users=60, n_candidates=8, n_items=40, seed=3).data.drop(columns=["item_text", "user_text"])
    log["session"] = log["user_id"].astype(str) + np.where(np.arange(len(log)) % 2, "-a", "-b")
    path = tmp_path / "log.parquet"
    log.to_parquet(path)
    audited = run_cli("audit", str(path), "--request-id", "session", "--no-refute", "--estimators", "naive,aipw",
                      "--out", str(tmp_path / "audit"))
    assert audited.returncode == 0, audited.stderr
    assert f"recuplift report audit -p audit_dir={tmp_path / 'audit'}" in audited.stdout  # how to see it
    table = pd.read_parquet(tmp_path / "audit" / "uplift.parquet")
    assert (table["request_id"] == log["session"]).all()  # the role reaches the audit's table
    ranked = run_cli("rank", str(path), "--uplift", str(tmp_path / "audit"), "--k", "2", "--bootstrap", "20",
                     "--out", str(tmp_path / "rank"))
    assert ranked.returncode == 0 and "one list per request" in ranked.stdout, ranked.stderr
    assert f"recuplift report uplift_ranking -p ranking_dir={tmp_path / 'rank'}" in ranked.stdout
    lists = pd.read_parquet(tmp_path / "rank" / "ranking.parquet")
    assert lists.groupby(["policy", "request_id"]).size().max() == 2 and lists.groupby(["policy", "user_id"]).size().max() == 4


def test_audit_embeds_with_the_model_it_is_given_and_says_which(tmp_path, tiny_model):
    from recuplift.simulate import simulate

    path = tmp_path / "log.parquet"
    simulate(n_users=80, n_candidates=6, n_items=40, seed=4).data.to_parquet(path)
    folder = tiny_model("encoder")
    common = ("audit", str(path), "--no-refute", "--estimators", "naive,aipw")
    result = run_cli(*common, "--model", str(folder), "--pooling", "cls", "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    text = json.loads((tmp_path / "a" / "results.json").read_text())["diagnostics"]["text"]
    assert text["model"] == str(folder) and text["pooling"] == "cls"
    assert set(text["columns"]) == {"item_text", "user_text"} and text["columns"]["item_text"]["n_distinct"] > 0
    wrong = run_cli(*common, "--model", str(tmp_path / "no-such-model"), "--out", str(tmp_path / "b"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "not a local Hugging Face model" in wrong.stderr and not (tmp_path / "b").exists()
    unused = run_cli(*common, "--text", "", "--model", str(folder), "--out", str(tmp_path / "c"))  # was ignored
    assert unused.returncode == 2 and "--text '' names none" in " ".join(unused.stderr.split())


def test_audit_prints_the_data_warnings_among_them_unnamed_covariates(tmp_path):
    from recuplift.simulate import simulate

    path = tmp_path / "log.parquet"
    simulate(n_users=80, n_candidates=6, n_items=40, seed=4).data.drop(columns=["item_text", "user_text"]).to_parquet(path)
    common = ("audit", str(path), "--no-refute", "--estimators", "naive,aipw")
    auto = run_cli(*common, "--out", str(tmp_path / "a"))
    assert auto.returncode == 0, auto.stderr
    assert "warning: table: covariates not named" in auto.stderr and "user_tenure_days" in auto.stderr
    named = run_cli(*common, "--covariates", "price,category", "--out", str(tmp_path / "b"))
    assert named.returncode == 0, named.stderr
    assert "covariates not named" not in named.stderr


def test_the_largest_seed_runs_and_one_past_it_is_refused(tmp_path):
    from recuplift.schema import MAX_SEED
    from recuplift.simulate import simulate

    path = tmp_path / "log.parquet"
    log = simulate(n_users=60, n_candidates=6, n_items=40, seed=1).data
    log.drop(columns=["item_text", "user_text"]).to_parquet(path)
    top = run_cli("audit", str(path), "--no-refute", "--estimators", "naive,aipw", "--seed", str(MAX_SEED),
                  "--out", str(tmp_path / "a"))  # 2**32 − 1 passed the flag and failed in the fold splitter
    assert top.returncode == 0, top.stderr
    past = run_cli("audit", str(path), "--seed", str(MAX_SEED + 1), "--out", str(tmp_path / "b"))
    assert past.returncode == 2 and "'--seed'" in past.stderr and "Traceback" not in past.stderr


def test_python_warnings_print_as_the_clis_own_warning_lines(tmp_path):
    from recuplift.simulate import simulate

    path = tmp_path / "log.parquet"
    simulate(n_users=20, n_candidates=3, n_items=20, seed=1).data.to_parquet(path)
    (tmp_path / "blocker").write_text("a file where the cache folder would go")
    env = {**os.environ, "RECUPLIFT_CACHE_DIR": str(tmp_path / "blocker" / "cache")}
    result = subprocess.run([sys.executable, "-m", "recuplift.cli", "embed", str(path), "--text", "item_text",
                             "--out", str(tmp_path / "emb")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "warning: the embedding cache at" in result.stderr and "UserWarning" not in result.stderr  # no source line


def test_score_command_writes_scores_lists_report_and_figure(tmp_path):
    from recuplift.simulate import simulate

    size = dict(n_users=200, n_candidates=12, n_items=100, catalog_seed=5)
    observed = simulate(**size, seed=1).data
    fresh = simulate(**size, seed=2).data.drop(columns=["exposed", "outcome", "propensity"])
    observed.to_parquet(tmp_path / "log.parquet")
    fresh.rename(columns={"category": "shelf"}).assign(category=fresh["category"]).to_csv(
        tmp_path / "fresh.csv", index=False)
    out = tmp_path / "scores"
    done = run_cli("score", str(tmp_path / "log.parquet"), "--candidates", str(tmp_path / "fresh.csv"),
                   "--out", str(out), "--text", "", "--k", "3", "--value", "price", "--category", "shelf",
                   "--max-per-category", "2")
    assert done.returncode == 0, done.stderr
    assert "not measurements" in done.stdout
    report = json.loads((out / "scores.json").read_text())
    # the log's data warnings, as the audit prints them: score said nothing of what it adjusted for
    assert report["warnings"] and "warning: table: covariates not named" in done.stderr
    # the log check values lists on the log: its warnings go with it, to its report and the plan sized from it
    assert json.loads((out / "log_check" / "ranking.json").read_text())["warnings"] == report["warnings"]
    assert set(report["policies"]) == {"relevance", "uplift", "blend", "value"}
    assert set(report["seconds"]) == {"fit", "scores_and_lists", "log_check"} and report["seconds"]["fit"] > 0
    assert "seconds per stage: fit " in done.stdout
    lists = pd.read_parquet(out / "ranking.parquet")
    shelves = lists.merge(pd.read_csv(tmp_path / "fresh.csv")[["user_id", "item_id", "shelf"]].drop_duplicates(
        ["user_id", "item_id"]), on=["user_id", "item_id"])
    assert shelves.groupby(["policy", "user_id", "shelf"]).size().max() <= 2
    assert len(pd.read_parquet(out / "scores.parquet")) == len(fresh) and (out / "figures" / "policies.png").stat().st_size
    fresh[["user_id", "item_id"]].head(7).to_csv(tmp_path / "bought.csv", index=False)
    excluded = run_cli("score", str(tmp_path / "log.parquet"), "--candidates", str(tmp_path / "fresh.csv"),
                       "--out", str(tmp_path / "excluded"), "--text", "", "--k", "3", "--exclude",
                       str(tmp_path / "bought.csv"))
    assert excluded.returncode == 0 and "excluded 7 candidate rows (7 pairs given)" in excluded.stdout
    lists = pd.read_parquet(tmp_path / "excluded" / "ranking.parquet")
    assert lists.merge(fresh[["user_id", "item_id"]].head(7)).empty
    # the log check is a ranking folder: the next step's plan command sizes the test from it
    planned = run_cli("plan", "--from-ranking", str(out / "log_check"), "--lift", "0.05", "--json")
    assert f"plan --from-ranking {out / 'log_check'}" in done.stdout
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["policy"] in report["policies"]
    bad = run_cli("score", str(tmp_path / "log.parquet"), "--candidates", str(tmp_path / "fresh.csv"),
                  "--out", str(tmp_path / "bad"), "--text", "", "--per", "session")
    assert bad.returncode == 2 and "'session' is not a column of the candidates" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()
