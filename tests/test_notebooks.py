"""Notebooks: committed stripped, each executed through papermill, rendered to HTML and looked at in a browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from recuplift.ihdp import DEFAULT_DIR
from recuplift.schema import DataError
from recuplift.report import NOTEBOOK_DIR, REPORTS, ReportError, parse_parameters, render_report, typed_value

SMALL = {
    "audit": {"n_users": 150, "refute": False, "estimators": "naive,aipw"},
    "text_confounders": {"n_users": 150, "estimators": "naive,aipw"},
    "uplift_ranking": {"n_users": 150, "rounds": 1, "loop_users": 80, "loop_items": 100},
    "ab_test_planning": {"n_users": 150},
    "open_bandit_validation": {"runs": 3},
    "ihdp_benchmark": {"realizations": 1, "estimators": "t_learner"},
}
# figures each report shows at least
FIGURES = {"audit": 7, "text_confounders": 2, "uplift_ranking": 2, "ab_test_planning": 1,
           "open_bandit_validation": 2, "ihdp_benchmark": 1}


@pytest.mark.parametrize("filename", sorted(REPORTS.values()))
def test_notebook_is_committed_stripped_with_parameters_first(filename):
    book = nbformat.read(NOTEBOOK_DIR / filename, as_version=4)
    assert "parameters" in book.cells[0].metadata.get("tags", [])
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{filename} has outputs: strip them"


def test_parameters_are_typed_by_the_notebooks_defaults():
    params = parse_parameters(["n_users=50", "refute=false", "data=none", "text=a,b"], NOTEBOOK_DIR / "01_audit.ipynb")
    assert params == {"n_users": 50, "refute": False, "data": None, "text": "a,b"}
    with pytest.raises(ReportError, match="not a parameter"):
        parse_parameters(["colour=red"], NOTEBOOK_DIR / "01_audit.ipynb")
    # a number default fixes the type (the error comes here, not from inside a model); a string default keeps
    # a column named like a number a string
    with pytest.raises(ReportError, match="did you mean 'estimators'\\? it takes data"):
        parse_parameters(["estimator=aipw"], NOTEBOOK_DIR / "01_audit.ipynb")
    with pytest.raises(ReportError, match="'seed=abc': expected a whole number, got 'abc'"):
        parse_parameters(["seed=abc"], NOTEBOOK_DIR / "01_audit.ipynb")
    assert parse_parameters(["outcome=2024", "seed=1e1"], NOTEBOOK_DIR / "01_audit.ipynb") == {"outcome": "2024", "seed": 10}
    for seed in ("-1", "none", "4294967295"):  # as every command's --seed; -1 used to fail in the third cell
        with pytest.raises(ReportError, match=r"seed must be a whole number in \[0, 2147483647\]"):
            parse_parameters([f"seed={seed}"], NOTEBOOK_DIR / "01_audit.ipynb")
    assert typed_value("neural, gaussian_process", "('neural',)") == ("neural", "gaussian_process")  # a tuple default
    planning = parse_parameters(["lift=1", "weekly_users=2e4"], NOTEBOOK_DIR / "04_ab_test_planning.ipynb")
    assert planning == {"lift": 1.0, "weekly_users": 20_000} and isinstance(planning["lift"], float)
    with pytest.raises(ReportError, match="expected a number, got 'ten'"):
        parse_parameters(["lift=ten"], NOTEBOOK_DIR / "04_ab_test_planning.ipynb")


@pytest.mark.parametrize("filename", sorted(REPORTS.values()))
def test_every_assignment_in_a_parameters_cell_can_be_set(filename):
    """papermill skips a line it cannot parse (a '=' inside a string did), and that parameter then cannot be
    set with -p: every name the cell assigns must be one papermill sees."""
    import ast

    import papermill

    notebook = nbformat.read(NOTEBOOK_DIR / filename, as_version=4)
    [cell] = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assigned = [node.targets[0].id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)]
    assert list(papermill.inspect_notebook(str(NOTEBOOK_DIR / filename))) == assigned


def _screenshot_is_a_rendered_page(html, tmp_path):
    """Open the report in headless Chromium; the screenshot must show a page (not blank)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600",
                    f"--screenshot={shot}", html.resolve().as_uri()], capture_output=True, timeout=120, check=True)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] > 100 and pixels[..., :3].std() > 0.05  # text, tables and figures, not a blank page


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_notebook_executes_and_renders(name, tmp_path):
    if name == "ihdp_benchmark" and not DEFAULT_DIR.exists():
        pytest.skip(f"the IHDP data lives outside the repository, at {DEFAULT_DIR} (../shared beside the checkout)")
    html = render_report(name, tmp_path / f"{name}.html", SMALL[name])
    text = html.read_text()
    executed = nbformat.read(html.with_suffix(".ipynb"), as_version=4)  # kept as the audit trail
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert outputs and not [o for o in outputs if o.output_type == "error"] and "Traceback" not in text
    assert "In&nbsp;[" not in text and "import " not in text  # code cells are not rendered
    heading = next(o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    assert f"<title>recuplift: {heading.splitlines()[0][2:].strip()}</title>" in text  # the tab said "Notebook"
    assert _embedded_figures(text) >= FIGURES[name]  # rendered inline, not swallowed by a backend switch
    if name == "audit":
        _screenshot_is_a_rendered_page(html, tmp_path)
    if name == "open_bandit_validation":  # judged against obp's best, not its same-named estimator, losses said
        assert "obp 0.4.1, best" in text and ("Where we lose" in text or "beats Open Bandit Pipeline" in text)
        assert "noise floor" in text and "resampling alone" in text


@pytest.mark.slow
def test_report_on_a_foreign_log_with_renamed_roles(tmp_path, small_sim):
    foreign = small_sim.data.rename(columns={"exposed": "shown", "outcome": "clicked", "user_id": "uid",
                                             "item_id": "sku", "item_text": "description", "user_text": "query"})
    foreign = foreign.drop(columns=[c for c in foreign.columns if c.startswith("true_")] + ["propensity", "position"])
    path = tmp_path / "foreign.parquet"
    foreign.to_parquet(path)
    out = subprocess.run([sys.executable, "-m", "recuplift.cli", "report", "audit", "--out", str(tmp_path / "r.html"),
                          "-p", f"data={path}", "-p", "treatment=shown", "-p", "outcome=clicked", "-p", "user_id=uid",
                          "-p", "item_id=sku", "-p", "text=description,query", "-p", "propensity=",
                          "-p", "estimators=naive,aipw", "-p", "refute=false"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "r.html").read_text()
    assert "effect of showing (ATE)" in text and "tabular+text+pair" in text
    # the audit's warnings reach the reader: covariates were not named, so the report lists what it adjusted for
    assert "Read with care" in text and "covariates not named" in text
    # the text report takes the same role names (it only knew the simulator's before)
    html = render_report("text_confounders", tmp_path / "t.html",
                         {"data": str(path), "treatment": "shown", "outcome": "clicked", "user_id": "uid",
                          "item_id": "sku", "text": "description,query", "propensity": None, "estimators": "naive,aipw"})
    text = html.read_text()
    assert "Text as a confounder" in text and "Read with care" in text and "Traceback" not in text


@pytest.mark.slow
def test_the_planning_report_without_a_weekly_number_of_users(tmp_path):
    # -p weekly_users=None failed formatting a missing runtime (TypeError in cell 3)
    html = render_report("ab_test_planning", tmp_path / "plan.html", {**SMALL["ab_test_planning"], "weekly_users": None})
    text = html.read_text()
    assert "give weekly_users for the runtime" in text and "need the weekly number of users" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_the_audit_report_of_a_finished_audit_folder_reruns_nothing(tmp_path, audited_log):
    from recuplift.causal import AuditResult

    _, result, _ = audited_log
    folder = result.write(tmp_path / "audit")
    read = AuditResult.read(folder)  # what the report shows: the folder's numbers, as written
    assert AuditResult.read(folder / "uplift.parquet").ate == result.ate  # its table named, as `rank --uplift` takes it
    assert read.ate == result.ate and read.roles == result.roles and len(read.uplift) == len(result.uplift)
    pd.testing.assert_frame_equal(read.headline(), result.headline())
    with pytest.raises(ValueError, match="read from its folder.*figures/\\*.png"):
        read.plot_qini()
    old = tmp_path / "old"  # an audit written by a version that kept less
    old.mkdir()
    (old / "results.json").write_text('{"n_rows": 3, "ate": {}}')
    (folder / "uplift.parquet").rename(old / "uplift.parquet")
    with pytest.raises(DataError, match="lacks att, recommended, .*re-run `recuplift audit`"):
        AuditResult.read(old)
    (old / "uplift.parquet").rename(folder / "uplift.parquet")
    named = folder / "uplift.parquet"  # the folder or its table, as `rank --uplift` takes either
    html = render_report("audit", tmp_path / "r.html", {"audit_dir": str(named)})
    text = html.read_text()
    ate = result.ate
    assert f"{ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, {ate['ci_high']:+.4f}]" in text
    assert f"from the audit in <code>{named}</code>" in text and _embedded_figures(text) >= FIGURES["audit"]
    with pytest.raises(ReportError, match="data, seed do not apply with audit_dir: the finished run is shown as"):
        render_report("audit", tmp_path / "s.html", {"audit_dir": str(folder), "data": "log.parquet", "seed": 3})
    assert not (tmp_path / "s.html").exists()


@pytest.mark.slow
def test_the_ranking_report_on_an_analysts_own_rank_folder(tmp_path, audited_log, monkeypatch):
    """The report shows the lists `recuplift rank` wrote for a log without truth, not a fresh simulation."""
    import json

    from recuplift.io import to_json_safe
    from recuplift.ranking import evaluate_rankings

    _, result, _ = audited_log
    _, report = evaluate_rankings(result.uplift, k=3, n_bootstrap=20)
    report["warnings"] = ["the audit found that the logged propensity does not match who was exposed"]  # as rank
    (tmp_path / "rank").mkdir()
    (tmp_path / "rank" / "ranking.json").write_text(json.dumps(to_json_safe(report)))
    monkeypatch.chdir(tmp_path)  # a relative folder, as `recuplift rank` prints it, was read from notebooks/
    html = render_report("uplift_ranking", "r.html", {"ranking_dir": "rank", "rounds": 0})
    text = html.read_text()
    dr = next(r for r in report["policies"]["uplift"]["incremental_per_user"] if r["estimator"] == "dr")
    assert "Top-3 lists per user from" in text and f"{1000 * dr['estimate']:,.1f}" in text  # its numbers, shown
    gain = next(r for r in report["policies"]["uplift"]["gain_over_logging"] if r["estimator"] == "dr")
    assert "gain per 1,000 users over the current ranking" in text and f"{1000 * gain['estimate']:,.1f}" in text
    assert "true incremental" not in text and "No feedback loop was asked for" in text and "Traceback" not in text
    assert "Warnings." in text and "the logged propensity does not match who was exposed" in text
    with pytest.raises(ReportError, match="no ranking output at"):
        render_report("uplift_ranking", tmp_path / "s.html", {"ranking_dir": str(tmp_path / "nowhere"), "rounds": 0})


@pytest.mark.slow
def test_the_planning_report_plans_a_ranking_folders_list_against_the_current_ranking(tmp_path, audited_log):
    import json

    from recuplift.io import to_json_safe
    from recuplift.listtest import plan_list_test
    from recuplift.ranking import evaluate_rankings

    _, result, _ = audited_log
    result.write(tmp_path / "audit")
    _, report = evaluate_rankings(result.uplift, k=3, n_bootstrap=20)
    report["warnings"] = ["the audit found that the logged propensity does not match who was exposed"]  # as rank
    (tmp_path / "rank").mkdir()
    (tmp_path / "rank" / "ranking.json").write_text(json.dumps(to_json_safe(report)))
    html = render_report("ab_test_planning", tmp_path / "p.html", {"audit_dir": str(tmp_path / "audit"),
                                                                 "ranking_dir": str(tmp_path / "rank")})
    text = " ".join(html.read_text().split())
    try:  # the report says what the planner says: the plan, or why there is none to make
        expected = plan_list_test(report, weekly_units=20_000).next_step()
    except ValueError as err:
        expected = str(err)
    assert "A reranked list against the current ranking" in text and expected.split(" (")[0] in text
    assert "Traceback" not in text


def _embedded_figures(html: str) -> int:
    return len(re.findall(r"<img [^>]*src=\"data:image/png;base64", html))


@pytest.mark.slow
def test_report_on_the_real_open_bandit_log(tmp_path):
    """A log the project did not generate: ZOZOTOWN's uniformly random log (obp's CSV, read with plain pandas),
    audited for the effect of the top slot on clicks. Items were placed in slots at random, so the
    propensity is 1/3 and the estimate must agree with the plain difference in click rates."""
    import obp
    import pandas as pd

    folder = Path(obp.__file__).parent / "dataset" / "obd" / "random" / "all"
    raw = pd.read_csv(folder / "all.csv", index_col=0).merge(pd.read_csv(folder / "item_context.csv", index_col=0),
                                                             on="item_id")
    user = raw[[f"user_feature_{j}" for j in range(4)]].astype(str).agg("|".join, axis=1)
    log = pd.DataFrame({"segment": pd.factorize(user)[0], "sku": raw["item_id"],
                        "top_slot": (raw["position"] == 1).astype(int), "click": raw["click"], "p_top": 1 / 3,
                        "item_price_z": raw["item_feature_0"], "item_group": raw["item_feature_1"]})
    path = tmp_path / "zozotown_top_slot.parquet"
    log.to_parquet(path)
    out = subprocess.run([sys.executable, "-m", "recuplift.cli", "report", "audit", "--out", str(tmp_path / "r.html"),
                          "-p", f"data={path}", "-p", "treatment=top_slot", "-p", "outcome=click",
                          "-p", "propensity=p_top", "-p", "user_id=segment", "-p", "item_id=sku", "-p", "text=",
                          "-p", "covariates=item_price_z,item_group"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "r.html").read_text()
    assert "effect of showing (ATE)" in html and f"{len(log):,} logged" in html and "Traceback" not in html
    assert _embedded_figures(html) >= 6  # ladder, overlap, balance, groups, deciles, Qini
    ate, low, high = map(float, re.search(r"effect of showing \(ATE\)</td>\s*<td[^>]*>([-+.\d]+) \[([-+.\d]+), "
                                          r"([-+.\d]+)\]", html).groups())
    naive = log.loc[log.top_slot == 1, "click"].mean() - log.loc[log.top_slot == 0, "click"].mean()
    assert low < naive < high and abs(ate - naive) < 0.25 * (high - low)  # slots were randomized: they agree
    _screenshot_is_a_rendered_page(tmp_path / "r.html", tmp_path)


def test_a_failing_cell_exits_nonzero_and_leaves_no_html(tmp_path):
    out = subprocess.run([sys.executable, "-m", "recuplift.cli", "report", "audit", "--out", str(tmp_path / "r.html"),
                          "-p", f"data={tmp_path / 'missing.parquet'}"], capture_output=True, text=True)
    assert out.returncode != 0 and "cell" in out.stderr
    assert "without encryption" not in out.stderr  # the kernel is reached over a Unix socket, not plain TCP
    assert not (tmp_path / "r.html").exists() and not list(tmp_path.glob("*.tmp"))
    assert (tmp_path / "r.ipynb").exists()  # the failed notebook is kept to read the error in context


def test_unknown_report_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match="unknown report"):
        render_report("sales_forecast", "x.html")
    # on the command line a wrong name or parameter is a usage error (status 2), unlike a failing notebook (1)
    for args, named in ((["sales_forecast"], "NAME"), (["audit", "-p", "colour=red"], "--parameter")):
        out = subprocess.run([sys.executable, "-m", "recuplift.cli", "report", *args, "--out", str(tmp_path / "r.html")],
                             capture_output=True, text=True)
        assert out.returncode == 2 and named in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not list(tmp_path.iterdir())


def test_where_a_report_goes_is_settled_before_it_runs(tmp_path):
    from recuplift.report import report_path

    notebook = NOTEBOOK_DIR / REPORTS["ab_test_planning"]
    assert report_path(notebook) == Path("reports") / "ab_test_planning.html"
    assert report_path(notebook, tmp_path) == tmp_path / "ab_test_planning.html"  # a folder: failed at the rename
    assert report_path(notebook, tmp_path / "plan.html") == tmp_path / "plan.html"
    # a new folder, as `--out reports/` is typed (was refused: only existing folders were)
    assert report_path(notebook, tmp_path / "new") == tmp_path / "new" / "ab_test_planning.html"
    with pytest.raises(ReportError, match="expected an .html file or a folder"):
        report_path(notebook, tmp_path / "plan.txt")  # was written as HTML under a .txt name
    (tmp_path / "notes").write_text("")
    with pytest.raises(ReportError, match="expected an .html file or a folder; got .*notes"):
        report_path(notebook, tmp_path / "notes")  # an existing file without a suffix is not a folder
    audit = tmp_path / "audit"  # a rerun audit replaces its folder whole, and refuses one holding a report
    audit.mkdir()
    (audit / "results.json").write_text("{}")
    (audit / "uplift.parquet").write_text("")
    for into in (audit, audit / "audit.html"):
        with pytest.raises(ReportError, match="is an audit's folder, which a rerun of the audit replaces whole"):
            report_path(notebook, into)
    out = subprocess.run([sys.executable, "-m", "recuplift.cli", "report", "ab_test_planning", "--out",
                          str(tmp_path / "nowhere" / "plan.pdf")], capture_output=True, text=True)
    assert out.returncode == 2 and "--out" in out.stderr and "executing" not in out.stdout


def test_the_demo_index_links_each_report_beside_it_and_shows_the_headline(tmp_path):
    import pandas as pd

    from recuplift.report import write_index

    reports = {"Audit: what showing recommendations caused": tmp_path / "audit.html",
               "A/B test plan": tmp_path / "ab_test_planning.html"}
    headline = pd.DataFrame({"question": ["effect of showing (ATE)"], "answer": ["+0.0128 [+0.0000, +0.0256]"]})
    html = write_index(reports, tmp_path / "index.html", headline).read_text()
    for title, path in reports.items():  # relative links: the folder can be moved or served as it is
        assert f'<a href="{path.name}">{title}</a>' in html
    assert "+0.0128 [+0.0000, +0.0256]" in html and "<style>" in html and "sans-serif" in html  # not a bare draft
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]  # written whole, no temporary left
