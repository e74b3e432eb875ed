"""Reports: execute a notebook with parameters (papermill), render it to HTML without code (nbconvert).

The executed ``.ipynb`` is kept beside the HTML as the audit trail. A failing cell raises
:class:`ReportError` naming the cell and its error, and no HTML is written; the HTML itself is written to a
temporary name and renamed, so a reader never opens half a report.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .choices import did_you_mean, do_not_apply, unknown_choice
from .io import atomic_path
from .schema import MAX_SEED, check_whole

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
REPORTS = {
    "audit": "01_audit.ipynb",
    "text_confounders": "02_text_confounders.ipynb",
    "uplift_ranking": "03_uplift_ranking.ipynb",
    "ab_test_planning": "04_ab_test_planning.ipynb",
    "open_bandit_validation": "05_open_bandit_validation.ipynb",
    "ihdp_benchmark": "06_ihdp_benchmark.ipynb",
}


# a finished run's folder is shown as written: the parameters that would rerun it do not apply beside it
FINISHED_RUNS = {
    "audit": ("audit_dir", ("data", "treatment", "outcome", "propensity", "user_id", "item_id", "request_id", "text",
                            "covariates", "modifiers", "estimators", "refute", "seed", "text_model", "n_users")),
    "uplift_ranking": ("ranking_dir", ("n_users", "k")),
}


class ReportError(RuntimeError):
    """A notebook cell failed; the message names the cell and the error."""


def notebook_path(name: str) -> Path:
    """``audit`` or ``01_audit`` or ``01_audit.ipynb`` → the notebook's path."""
    stem = name.removesuffix(".ipynb")
    for key, filename in REPORTS.items():
        if stem in (key, filename.removesuffix(".ipynb")):
            return NOTEBOOK_DIR / filename
    raise ReportError(unknown_choice("report", name, REPORTS))


def report_path(notebook: Path, out: str | Path | None = None) -> Path:
    """Where a report goes: ``out`` itself when it names an ``.html`` file; inside ``out`` under the report's
    own name when it is a folder (``--out reports/``) — rather than failing at the rename, after the run —
    or a new name without a suffix, which becomes that folder like every other ``--out`` folder;
    ``reports/NAME.html`` by default."""
    own_name = f"{notebook.stem.split('_', 1)[1]}.html"
    if out is None:
        return Path("reports") / own_name
    out = Path(out)
    target = out / own_name if out.is_dir() or (not out.exists() and not out.suffix) else out
    if target.suffix.lower() not in (".html", ".htm"):
        raise ReportError(f"expected an .html file or a folder; got '{out}'")
    if (target.parent / "results.json").exists() and (target.parent / "uplift.parquet").exists():
        raise ReportError(f"{target.parent} is an audit's folder, which a rerun of the audit replaces whole; give "
                          f"the report a folder of its own, e.g. {target.parent.parent / 'reports'}")
    return target


def parse_parameters(pairs: list[str], notebook: Path) -> dict[str, Any]:
    """``key=value`` strings, typed by the notebook's parameters cell: numbers, booleans and None follow the
    default's type; everything else stays a string (lists are comma-separated strings)."""
    import papermill

    declared = {p["name"]: p for p in papermill.inspect_notebook(str(notebook)).values()}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ReportError(f"parameter '{pair}' is not key=value")
        if key not in declared:
            raise ReportError(f"'{key}' is not a parameter of {notebook.name}; {did_you_mean(key, declared)}"
                              f"it takes {', '.join(declared)}")
        try:
            out[key] = typed_value(raw, declared[key]["default"])
        except ReportError as err:
            raise ReportError(f"'{pair}': {err}") from None
        if key == "seed":  # as every --seed
            try:
                check_whole(out[key], "seed", 0, MAX_SEED)
            except ValueError as err:
                raise ReportError(str(err)) from None
    return out


def typed_value(raw: str, default: str) -> Any:
    """``raw`` typed like ``default`` (its source text). A number, boolean or string default fixes the type (a
    seed given as 'abc' is an error here, not deep inside a model; a column named '2024' stays a string); with
    a None or unreadable default, numbers, booleans and None are read as such and anything else is a string."""
    if raw.lower() in ("none", "null", ""):
        return None
    try:
        kind = type(ast.literal_eval(default))
    except (ValueError, SyntaxError):
        kind = type(None)
    if kind is str:
        return raw
    if kind in (tuple, list):  # e.g. an ensemble's members: neural,gaussian_process
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind is bool or raw.lower() in ("true", "false"):
        if raw.lower() not in ("true", "false"):
            raise ReportError(f"expected true or false, got '{raw}'")
        return raw.lower() == "true"
    if kind in (int, float):
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if kind is float and math.isfinite(number):
            return number
        if kind is int and math.isfinite(number) and number.is_integer():
            return int(number)  # 20000 or 2e4
        raise ReportError(f"expected {'a whole number' if kind is int else 'a number'}, got '{raw}'")
    for number in (int, float):
        with contextlib.suppress(ValueError):
            return number(raw)
    return raw


def _local_transport() -> dict[str, Any]:
    """Talk to the notebook's kernel over Unix sockets where there are any: over TCP, ipykernel warns on every
    report that "all communication is sent in plain text", and on a shared machine other users could connect."""
    if os.name != "posix":
        return {}
    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(transport="ipc", **kwargs)

    return {"kernel_manager_class": LocalKernelManager}


def check_finished_run(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse rerun settings given beside a finished run's folder: they would be dropped without a word."""
    key = next((k for k, filename in REPORTS.items() if filename == notebook.name), None)
    folder, rerun = FINISHED_RUNS.get(key, (None, ()))
    if folder is not None and parameters.get(folder) is not None:
        given = [p for p in rerun if p in parameters]
        if given:
            raise ReportError(f"{do_not_apply(given)} with {folder}: the finished run is shown as written; leave "
                              f"{'it' if len(given) == 1 else 'them'} out, or drop {folder} to run afresh")


def render_report(name: str, out_html: str | Path, parameters: dict[str, Any] | None = None,
                  kernel: str = "python3", timeout: int | None = None, progress: bool = True) -> Path:
    """Execute notebook ``name`` with ``parameters`` and write ``out_html`` (and the executed notebook
    beside it, same name, ``.ipynb``); ``progress`` shows papermill's bar of executed cells. The kernel runs in
    the caller's working directory, so a relative path among the parameters (``audit_dir=out``) means what the
    caller typed, as the ``audit`` and ``rank`` commands print it."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook = notebook_path(name)
    check_finished_run(notebook, parameters or {})
    out_html = report_path(notebook, out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    executed = out_html.with_suffix(".ipynb")
    with tempfile.TemporaryDirectory(dir=out_html.parent) as tmp:
        staged = Path(tmp) / executed.name
        try:
            papermill.execute_notebook(str(notebook), str(staged), parameters=parameters or {}, kernel_name=kernel,
                                       progress_bar=progress, cwd=str(Path.cwd()), execution_timeout=timeout,
                                       **_local_transport())
        except papermill.PapermillExecutionError as err:
            shutil.move(staged, executed)  # the failed notebook is the evidence; no HTML is written
            raise ReportError(f"{notebook.name}, cell {err.exec_count}: {err.ename}: {err.evalue}") from None
        exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
        node = nbformat.read(staged, as_version=4)
        node.metadata["title"] = f"recuplift: {report_heading(node) or notebook.stem}"  # nbconvert's tab title
        body, _ = exporter.from_notebook_node(node)
        shutil.move(staged, executed)
    with atomic_path(out_html) as tmp_html:
        tmp_html.write_text(body, encoding="utf-8")
    return out_html


def report_heading(node: Any) -> str | None:  # noqa: ANN401 - an nbformat NotebookNode
    """The first top-level heading the reader sees (a markdown cell's or a displayed one's), for the page title: the
    browser tab said "Notebook" on every report."""
    for cell in node.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            output.get("data", {}).get("text/markdown", "") for output in cell.get("outputs", [])]
        for text in texts:
            for line in str(text).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


# the reports' look (nbconvert's sans-serif, light rules), so the landing page does not read as a bare draft
INDEX_STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:60rem;"
               "margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}"
               "table{border-collapse:collapse;margin:1rem 0}th,td{text-align:left;padding:.35rem .8rem;"
               "border-bottom:1px solid #ddd;vertical-align:top}th{border-bottom:2px solid #999}"
               "li{margin:.3rem 0}a{color:#1f77b4}")


def write_index(reports: dict[str, Path], out_html: Path, headline: pd.DataFrame | None = None) -> Path:
    """A landing page linking each report (relative links), with an optional headline table."""
    links = "\n".join(f'<li><a href="{path.name}">{title}</a></li>' for title, path in reports.items())
    table = headline.to_html(index=False, border=0) if headline is not None else ""
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>recuplift demo</title>"
            f"<style>{INDEX_STYLE}</style></head><body>"
            f"<h1>recuplift demo</h1><p>What the simulated recommendations caused, how sure we are, and what to "
            f"test next.</p>{table}<h2>Reports</h2><ul>{links}</ul></body></html>")
    with atomic_path(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return out_html
