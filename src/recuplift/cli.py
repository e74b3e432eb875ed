"""The ``recuplift`` command. Each sub-command is a thin shell over the package's functions.

Bad input exits with status 2 and every problem listed, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .choices import unknown_choice
from .schema import MAX_SEED, DataError, Roles

os.environ.setdefault("MPLBACKEND", "Agg")  # figures are written to files; never open a window

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
                  help="recuplift: what did showing a recommendation cause? Causal uplift for recommenders.")


def _print_versions(value: bool) -> None:
    if value:
        from . import versions

        typer.echo("\n".join(f"{name} {found or 'not installed'}" for name, found in versions().items()))
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_print_versions, is_eager=True,
                                                help="Print recuplift's version and its numeric libraries'.")] = False,
          ) -> None:
    """recuplift: what did showing a recommendation cause? Causal uplift for recommenders."""

# Role flags, shared by every command that reads a log; defaults are the data contract's column names.
TreatmentOpt = Annotated[str, typer.Option("--treatment", help="0/1 exposure column.")]
OutcomeOpt = Annotated[str, typer.Option("--outcome", help="Outcome column (0/1 or numeric).")]
PropensityOpt = Annotated[Optional[str], typer.Option("--propensity", help="Logged exposure probability; used when present.")]
PositionOpt = Annotated[Optional[str], typer.Option("--position", help="Slot column (int ≥ 1), used when present.")]
UserOpt = Annotated[Optional[str], typer.Option("--user-id", help="User id column (clusters for intervals).")]
ItemOpt = Annotated[Optional[str], typer.Option("--item-id", help="Item id column.")]
RequestOpt = Annotated[Optional[str], typer.Option("--request-id", help="Request (slate) id column, optional: rank then builds one list per request.")]
TextOpt = Annotated[Optional[list[str]], typer.Option("--text", help="Text column (repeatable, or comma-separated); default item_text and user_text when present; --text '' for none.")]
CovariatesOpt = Annotated[Optional[str], typer.Option("--covariates", help="Comma-separated tabular covariates; default: every other numeric/categorical column.")]
ModifiersOpt = Annotated[Optional[str], typer.Option("--modifiers", help="Comma-separated effect modifiers.")]
ModelOpt = Annotated[Optional[Path], typer.Option("--model", help="Local Hugging Face model folder for the text columns (default all-MiniLM-L6-v2).")]
PoolingOpt = Annotated[str, typer.Option("--pooling", help="Token pooling: mean, cls or last (decoders).")]
# List flags, shared by the commands that build top-k lists (rank, score).
KOpt = Annotated[int, typer.Option("--k", help="List length per user.")]
PoliciesOpt = Annotated[Optional[str], typer.Option("--policies", help="Comma-separated: relevance, uplift, blend, value.  [default: relevance,uplift,blend, and value with --value]")]
BlendOpt = Annotated[float, typer.Option("--blend", help="λ in (1 − λ)·z(relevance) + λ·z(uplift).")]
MaxPerCategoryOpt = Annotated[Optional[int], typer.Option("--max-per-category", min=1, help="At most this many items of one category per list.")]


def _output_folder(value: Path | None) -> Path | None:
    """An --out folder that is a file fails now, not after the work, when the results are written."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{str(value)!r} is a file; give a folder for the results")
    return value


def roles_from_flags(treatment: str = "exposed", outcome: str = "outcome", propensity: str | None = "propensity",
                     position: str | None = "position", user_id: str | None = "user_id",
                     item_id: str | None = "item_id", text: list[str] | None = None,
                     covariates: str | None = None, modifiers: str | None = None,
                     request_id: str | None = None) -> Roles:
    """Turn CLI flags into ``Roles``; an empty flag (``--propensity ''``) switches an optional role off."""
    return Roles.from_mapping(dict(treatment=treatment, outcome=outcome, propensity=propensity, position=position,
                                   user_id=user_id, item_id=item_id, text=tuple(text) if text else None,
                                   covariates=covariates, modifiers=modifiers, request_id=request_id))


def _text_encoder(model: Path | None, pooling: str, roles: Roles):  # noqa: ANN202 - a TextEncoder, imported lazily
    """The text encoder of --model/--pooling, its folder checked before any log is read."""
    from .text import TextEncoder

    if roles.text == () and (model is not None or pooling != "mean"):  # --text '': nothing for the model to embed
        raise typer.BadParameter("--model and --pooling embed the text columns, and --text '' names none",
                                 param_hint="--model/--pooling")
    try:
        return TextEncoder(model=model, pooling=pooling).checked()
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--model/--pooling") from err


def _check_category_cap(category: str | None, max_per_category: int | None) -> None:
    if (max_per_category is None) != (category is None):
        raise typer.BadParameter("a per-category cap needs both --category COLUMN and --max-per-category N",
                                 param_hint="--category/--max-per-category")


def _echo_exclusions(report: dict[str, Any]) -> None:
    """The candidate rows a list's exclusions removed; a warning when none matched (ids that differ)."""
    if "exclusions" in report:
        removed = report["exclusions"]["candidate_rows_removed"]
        typer.echo(f"excluded {removed:,} candidate rows ({report['exclusions']['pairs']:,} pairs given)")
        if removed == 0:
            typer.echo("warning: no exclusion matched a candidate (user, item) pair; check its ids against the log's",
                       err=True)


def _echo_warnings(messages: Iterable[object]) -> None:
    """What the reader should know before trusting the numbers (the log's data warnings, the models'), on stderr."""
    for message in messages:
        typer.echo(f"warning: {message}", err=True)


def _echo_seconds(seconds: dict[str, float]) -> None:
    """A command's seconds per stage, as results.json (audit) and scores.json (score) record them."""
    typer.echo("seconds per stage: " + ", ".join(f"{name.replace('_', ' ')} {value:.1f}"
                                                 for name, value in seconds.items()))


def _echo_table(df) -> None:  # noqa: ANN001 - a pandas DataFrame
    """A summary table, its decimals at four places (as the reports show them), not pandas' six."""
    import pandas as pd

    with pd.option_context("display.precision", 4):
        typer.echo(df.to_string())


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for impressions.parquet and simulation.json.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 2000,
    candidates: Annotated[int, typer.Option(help="Candidate items per user (rows per user).")] = 20,
    items: Annotated[int, typer.Option(help="Catalog size.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed; same seed, same log.")] = 0,
    rct: Annotated[bool, typer.Option("--rct", help="Randomize exposure at a fixed rate (an A/B test).")] = False,
    confounding: Annotated[float, typer.Option(help="How strongly the logger targets organic affinity (0 = none).")] = 1.0,
    text_noise: Annotated[float, typer.Option(help="Chance each attribute is left out of a text (0..1).")] = 0.1,
    exposure_rate: Annotated[float, typer.Option(help="Share of candidates shown.")] = 0.3,
) -> None:
    """Simulate a recommendation log whose confounding runs through text, with ground truth."""
    from .simulate import simulate as run_simulation

    if rct and confounding != 1.0:  # a randomized log has no logger to target anything: it was dropped silently
        raise typer.BadParameter("--confounding does not apply with --rct: exposure is randomized at the exposure "
                                 "rate", param_hint="--confounding")
    try:
        sim = run_simulation(n_users=users, n_candidates=candidates, n_items=items, seed=seed, rct=rct,
                             confounding=confounding, text_noise=text_noise, exposure_rate=exposure_rate)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    sim.write(out)
    _echo_table(sim.summary())
    typer.echo(f"wrote {out / 'impressions.parquet'} and {out / 'simulation.json'}")


@app.command()
def validate(
    data: Annotated[str, typer.Argument(help="Parquet, CSV, JSON Lines or file.duckdb::table.")],
    treatment: TreatmentOpt = "exposed", outcome: OutcomeOpt = "outcome",
    propensity: PropensityOpt = "propensity", position: PositionOpt = "position",
    user_id: UserOpt = "user_id", item_id: ItemOpt = "item_id", request_id: RequestOpt = None, text: TextOpt = None,
    covariates: CovariatesOpt = None, modifiers: ModifiersOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a log against the data contract; print a summary, or every problem and exit 2."""
    from .io import read_table
    from .schema import validate as check

    roles = roles_from_flags(treatment, outcome, propensity, position, user_id, item_id, text, covariates, modifiers,
                             request_id)
    try:
        report = check(read_table(data), roles)
    except DataError as err:
        if not as_json:
            raise
        # a script reading --json gets the problems as JSON on stdout too, with the same exit status
        typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in err.problems]}, indent=2))
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({"valid": True, **report.to_dict()}, indent=2))
        return
    _echo_table(report.summary())
    typer.echo(f"roles: {json.dumps(report.roles.to_dict())}")
    _echo_warnings(report.warnings)


@app.command()
def embed(
    data: Annotated[Optional[str], typer.Argument(help="Parquet, CSV, JSON Lines or file.duckdb::table.")] = None,
    text: TextOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", callback=_output_folder, help="Folder for <column>.parquet and rows.parquet.")] = None,
    model: ModelOpt = None,
    pooling: PoolingOpt = "mean",
    max_length: Annotated[int, typer.Option(help="Tokens per text; longer texts are truncated and counted.")] = 256,
    batch_size: Annotated[int, typer.Option(help="Texts per forward pass.")] = 64,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Embedding cache folder (default $RECUPLIFT_CACHE_DIR or ~/.cache/recuplift).")] = None,
    clear_cache: Annotated[bool, typer.Option("--clear-cache", help="Delete the embedding cache (then embed, if DATA is given).")] = False,
    granularity: Annotated[str, typer.Option(help="sentence: a text's vector is the mean of its sentences', as the audit embeds it (so this fills the audit's cache); text: the whole text at once.")] = "sentence",
) -> None:
    """Embed text columns: each distinct text once, cached on disk; writes Parquet and prints throughput.

    By default a text's vector is the mean of its sentences' vectors, as the audit and score embed it: run
    on a log before auditing it, this fills the cache the audit reads (with the same --model, --pooling and
    --max-length)."""
    from .textcache import clear_cache as clear

    if clear_cache:
        typer.echo(f"cleared {clear(cache_dir):,} cached vectors")
        if data is None:
            return
    if data is None or out is None:
        raise typer.BadParameter("give DATA and --out (or only --clear-cache)")
    from .embedding import embed_columns

    try:
        columns = roles_from_flags(text=text).text  # --text a,b and a repeated --text, as the audit reads them
        results = embed_columns(data, list(columns) if columns is not None else None, out, granularity=granularity,
                                model=model, pooling=pooling, max_length=max_length, batch_size=batch_size,
                                cache_dir=cache_dir)
    except DataError:
        raise  # the data's problems, printed by main() as such, not as a usage error
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    unit = "sentences" if granularity == "sentence" else "texts"
    for column, stats in results.items():
        typer.echo(f"{column}: {stats.n_texts:,} rows, {stats.n_distinct:,} distinct {unit}, "
                   f"{stats.cache_hits:,} cache hits, {stats.encoded:,} encoded, {stats.truncated:,} truncated, "
                   f"{stats.n_missing:,} missing, {stats.seconds:.1f} s, {stats.texts_per_second:,.0f} texts/s")
    typer.echo(f"wrote {out}")


@app.command()
def audit(
    data: Annotated[str, typer.Argument(help="Parquet, CSV, JSON Lines or file.duckdb::table.")],
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for results.json, uplift.parquet and figures/.")],
    treatment: TreatmentOpt = "exposed", outcome: OutcomeOpt = "outcome",
    propensity: PropensityOpt = "propensity", position: PositionOpt = "position",
    user_id: UserOpt = "user_id", item_id: ItemOpt = "item_id", request_id: RequestOpt = None, text: TextOpt = None,
    covariates: CovariatesOpt = None,
    modifiers: ModifiersOpt = None,
    estimators: Annotated[str, typer.Option("--estimators", help="Comma-separated registry names.")] = "naive,ipw,aipw,linear_dml",
    estimator_param: Annotated[Optional[list[str]], typer.Option("--estimator-param", help="NAME.PARAM=VALUE, a setting of one estimator, e.g. neural.epochs=50 (repeatable).")] = None,
    refute: Annotated[bool, typer.Option("--refute/--no-refute", help="Run DoWhy's refuters (slowest stage).")] = True,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed; same seed, same numbers.")] = 0,
    model: ModelOpt = None,
    pooling: PoolingOpt = "mean",
) -> None:
    """Audit a log: DoWhy model → identify → estimate → refute; what exposure caused, for whom, how sure."""
    from .causal import Audit, check_audit_folder, check_estimators
    from .io import read_table

    roles = roles_from_flags(treatment, outcome, propensity, position, user_id, item_id, text, covariates, modifiers,
                             request_id)
    names = tuple(e.strip() for e in estimators.split(",") if e.strip())
    try:
        check_estimators(names)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--estimators") from err
    try:
        settings = _estimator_settings(estimator_param or [])
        check_estimators(names, settings)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--estimator-param") from err
    encoder = _text_encoder(model, pooling, roles)  # a wrong model folder fails here, before the log is read
    try:  # a folder holding anything else is refused now, not replaced after the audit
        check_audit_folder(out)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--out") from err
    result = Audit(roles, estimators=names, encoder=encoder, run_refuters=refute, random_state=seed,
                   estimator_params=settings).fit(read_table(data))
    result.write(out)
    _echo_table(result.summary())
    ate, rec = result.ate, result.recommended
    typer.echo(f"\nrecommended: {rec['estimator']} on {rec['adjustment']} — {rec['reason']}")
    typer.echo(f"ATE {ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, {ate['ci_high']:+.4f}]  "
               f"ATT {result.att['estimate']:+.4f} [{result.att['ci_low']:+.4f}, {result.att['ci_high']:+.4f}]")
    for ref in result.refutations:
        typer.echo(f"  {'pass' if ref['passed'] else 'FAIL'}  {ref['name']}: {ref['detail']}")
    if result.ground_truth:
        truth = result.ground_truth
        typer.echo(f"ground truth: ATE {truth['ate']:+.4f}, bias {truth['bias']:+.4f}, covered {truth['covered']}, "
                   f"PEHE {truth['pehe']:.4f}")
    _echo_seconds(result.seconds)
    _echo_warnings(result.diagnostics["warnings"])
    typer.echo(f"wrote {out}; its report: recuplift report audit -p audit_dir={out}")


def _estimator_settings(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME.PARAM=VALUE`` strings as ``{NAME: {PARAM: value}}``, each value typed like the parameter's default."""
    from .estimators import estimator_names, make_estimator
    from .report import ReportError, typed_value

    settings: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        name, dot, param = key.partition(".")
        if not (sep and dot and name and param):
            raise ValueError(f"'{pair}' is not NAME.PARAM=VALUE (e.g. neural.epochs=50)")
        if name not in estimator_names():
            raise ValueError(f"in '{pair}': {unknown_choice('estimator', name, estimator_names())}")
        try:
            value = typed_value(raw, repr(make_estimator(name).get_params().get(param)))
        except ReportError as err:
            raise ValueError(f"'{pair}': {err}") from err
        settings.setdefault(name, {})[param] = value
    return settings


@app.command()
def rank(
    data: Annotated[str, typer.Argument(help="The audited log (adds true_* and value columns when present).")],
    uplift: Annotated[Path, typer.Option("--uplift", help="AUDIT_DIR/uplift.parquet from `recuplift audit`.")],
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for ranking.parquet and ranking.json.")],
    k: KOpt = 5,
    policies: PoliciesOpt = None,
    blend: BlendOpt = 0.5,
    value: Annotated[Optional[str], typer.Option(help="Per-item value column for the 'value' policy (e.g. price).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of users for intervals.")] = 200,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed.")] = 0,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Table of (user, item) pairs never to show, e.g. already bought: Parquet, CSV, JSON Lines or file.duckdb::table, with the log's id columns.")] = None,
    category: Annotated[Optional[str], typer.Option("--category", help="Category column of the log, for --max-per-category.")] = None,
    max_per_category: MaxPerCategoryOpt = None,
    per: Annotated[Optional[str], typer.Option("--per", help="Request column of the log: one list per request instead of one per user.")] = None,
) -> None:
    """Rerank candidates by relevance, uplift or a blend; estimate each list's value off policy."""
    from .io import atomic_paths, output_folder, read_table, to_json_safe, write_json, write_table
    from .plots import policy_incremental
    from .ranking import dr_row, evaluate_rankings, ranking_next_step, recommended_row
    from .targeting import (check_log_matches_audit, logged_propensity_mismatch, read_audit_roles, read_audit_uplift,
                            read_exclusions)

    audit_folder = output_folder(uplift)
    if out.resolve() == audit_folder.resolve():  # an audit rerun replaces its folder whole: the lists would go too
        raise typer.BadParameter(f"{out} is the audit's folder, which a rerun of the audit replaces whole; give the "
                                 f"lists a folder of their own, e.g. {audit_folder.parent / 'ranking'}",
                                 param_hint="--out")
    table = read_audit_uplift(uplift)
    log = read_table(data)
    roles = read_audit_roles(uplift)
    check_log_matches_audit(log, table, roles)
    mismatch = logged_propensity_mismatch(uplift)  # its off-policy values weight the log by that propensity
    if mismatch:
        _echo_warnings([mismatch])
    _check_category_cap(category, max_per_category)
    if per is None and "request_id" in table.columns:  # the audit was told the log's requests: list per request
        per = "request_id"
        typer.echo("one list per request (the audit's request id)")
    for name, column in (("--category", category), ("--per", per)):
        if column is not None and column not in log.columns and column not in table.columns:
            raise typer.BadParameter(f"{column!r} is not a column of the log", param_hint=name)
    extra = [c for c in log.columns if (c.startswith("true_") or c in (value, category, per)) and c not in table.columns]
    candidates = table.join(log[extra].reset_index(drop=True))
    exclusions = read_exclusions(exclude, table, roles) if exclude is not None else None
    if policies is None:  # naming a value column asks for the policy that ranks by it
        policies = "relevance,uplift,blend" + (",value" if value is not None else "")
    names = tuple(p.strip() for p in policies.split(",") if p.strip())
    try:
        rankings, report = evaluate_rankings(candidates, k=k, policies=names, blend=blend, value=value,
                                             n_bootstrap=bootstrap, random_state=seed, exclude=exclusions,
                                             category=category, max_per_category=max_per_category, per=per,
                                             progress=True)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    report["warnings"] = ([mismatch] if mismatch else []) + report["warnings"]  # for its report and its plan
    _echo_exclusions(report)
    figure = policy_incremental(report)
    # the lists, their report and their figure are replaced together: a failed rerun never mixes two runs
    with atomic_paths(out / "ranking.parquet", out / "ranking.json", out / "figures" / "policies.png") as paths:
        write_table(rankings, paths[0])
        write_json(to_json_safe(report), paths[1])
        _save_figure(figure, paths[2])
    for name, entry in report["policies"].items():
        chosen = recommended_row(entry["value_per_user"])
        inc = dr_row(entry["incremental_per_user"])
        line = (f"{name:>10}: value/user {chosen['estimate']:.4f} [{chosen['ci_low']:.4f}, {chosen['ci_high']:.4f}]"
                f"  incremental/user {inc['estimate']:+.4f} [{inc['ci_low']:+.4f}, {inc['ci_high']:+.4f}]")
        if "truth" in entry:
            line += f"  (true {entry['truth']['incremental_per_user']:+.4f})"
        if "gain_over_logging" in entry:
            gain = dr_row(entry["gain_over_logging"])
            line += f"  over logging {gain['estimate']:+.4f} [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}]"
        if name != "relevance" and "shared_with_relevance" in entry:
            line += f"  {entry['shared_with_relevance']:.0%} of its items also in the relevance list"
        typer.echo(line)
    typer.echo(ranking_next_step(report))
    typer.echo(f"wrote {out / 'ranking.parquet'}, {out / 'ranking.json'} and {out / 'figures' / 'policies.png'}; "
               f"their report: recuplift report uplift_ranking -p ranking_dir={out}")


@app.command()
def score(
    log: Annotated[str, typer.Argument(help="The logged history to learn from, read as the audit reads it.")],
    candidates: Annotated[str, typer.Option("--candidates", help="Fresh candidates to rank: the log's id, covariate and text columns (no exposure or outcome needed).")],
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for scores.parquet, ranking.parquet, scores.json and figures/.")],
    treatment: TreatmentOpt = "exposed", outcome: OutcomeOpt = "outcome",
    propensity: PropensityOpt = "propensity", position: PositionOpt = "position",
    user_id: UserOpt = "user_id", item_id: ItemOpt = "item_id", request_id: RequestOpt = None, text: TextOpt = None,
    covariates: CovariatesOpt = None, modifiers: ModifiersOpt = None,
    k: KOpt = 5,
    policies: PoliciesOpt = None,
    blend: BlendOpt = 0.5,
    value: Annotated[Optional[str], typer.Option(help="Per-item value column of the candidates for the 'value' policy (e.g. price).")] = None,
    exclude: Annotated[Optional[str], typer.Option("--exclude", help="Table of (user, item) pairs never to show, with the log's id columns.")] = None,
    category: Annotated[Optional[str], typer.Option("--category", help="Category column of the candidates, for --max-per-category.")] = None,
    max_per_category: MaxPerCategoryOpt = None,
    per: Annotated[Optional[str], typer.Option("--per", help="Request column of the candidates: one list per request instead of one per user.")] = None,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed; same seed, same scores.")] = 0,
    model: ModelOpt = None,
    pooling: PoolingOpt = "mean",
) -> None:
    """Rank fresh candidates (users and requests the log never saw) by a model of uplift learned on the log."""
    from .io import read_table
    from .scoring import score_candidates
    from .targeting import read_exclusions

    roles = roles_from_flags(treatment, outcome, propensity, position, user_id, item_id, text, covariates, modifiers,
                             request_id)
    _check_category_cap(category, max_per_category)
    encoder = _text_encoder(model, pooling, roles)
    fresh = read_table(candidates)
    ids = {role: column for role, column in (("user_id", roles.user_id), ("item_id", roles.item_id))
           if column in fresh.columns}
    exclusions = (read_exclusions(exclude, fresh[list(ids.values())].set_axis(list(ids), axis=1), roles.to_dict())
                  if exclude is not None else None)
    names = None if policies is None else tuple(p.strip() for p in policies.split(",") if p.strip())
    if per is not None and per not in fresh.columns:
        raise typer.BadParameter(f"{per!r} is not a column of the candidates", param_hint="--per")
    try:
        result = score_candidates(read_table(log), fresh, roles, k=k, policies=names, blend=blend, value=value,
                                  exclude=exclusions, category=category, max_per_category=max_per_category, per=per,
                                  encoder=encoder, random_state=seed)
    except DataError:
        raise
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    result.write(out)
    _echo_exclusions(result.report)
    _echo_warnings(result.report["warnings"])
    novelty = result.report["candidates"]
    typer.echo(f"scored {novelty['rows']:,} candidate rows with a model learned on {result.report['log_rows']:,} "
               f"logged rows: {novelty['users']:,} users ({novelty['users_in_log']:.0%} seen in the log), "
               f"{novelty['items']:,} items ({novelty['items_in_log']:.0%} seen in the log)")
    for name, entry in result.report["policies"].items():
        line = f"{name:>10}: predicted {entry['predicted_incremental_per_1000_users']:+,.0f}"
        if entry["predicted_incremental_ci_low"] is not None:
            line += f" [{entry['predicted_incremental_ci_low']:+,.0f}, {entry['predicted_incremental_ci_high']:+,.0f}]"
        line += " incremental per 1,000 users"
        if entry["log_check"] is not None:
            check = entry["log_check"]
            line += (f"; on the log, held out: {check['estimate']:+,.0f} [{check['ci_low']:+,.0f}, "
                     f"{check['ci_high']:+,.0f}] measured ({check['gain_over_logging']:+,.0f} "
                     f"[{check['gain_ci_low']:+,.0f}, {check['gain_ci_high']:+,.0f}] over the current ranking), "
                     f"{check['predicted']:+,.0f} predicted")
        if "truth" in entry:
            line += f"  (true {entry['truth']['incremental_per_1000_users']:+,.0f})"
        typer.echo(line)
    typer.echo(result.next_step(out))
    _echo_seconds(result.report["seconds"])
    typer.echo(f"wrote {out / 'scores.parquet'}, {out / 'ranking.parquet'}, {out / 'scores.json'} and "
               f"{out / 'figures' / 'policies.png'}" + (
                   f"; the log check, a ranking folder: {out / 'log_check'} (its report: recuplift report "
                   f"uplift_ranking -p ranking_dir={out / 'log_check'})" if result.log_check is not None else ""))


def _save_figure(fig, path: Path) -> None:  # noqa: ANN001 - a matplotlib Figure, imported lazily
    """Write a figure atomically as PNG and release it."""
    import matplotlib.pyplot as plt

    from .io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _open_bandit_log(spec: str, flag: str):  # noqa: ANN202 - an OpenBanditLog, imported lazily
    """``obd:BEHAVIOR/CAMPAIGN`` → the log; a malformed spec or an unknown name is a usage error of ``flag``."""
    from .openbandit import load_open_bandit

    if not spec.startswith("obd:") or "/" not in spec:
        raise typer.BadParameter(f"expected obd:BEHAVIOR/CAMPAIGN (e.g. obd:bts/all); got {spec!r}", param_hint=flag)
    try:
        return load_open_bandit(*spec[4:].split("/", 1))
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=flag) from err


@app.command()
def ope(
    logs: Annotated[str, typer.Option("--logs", help="Logged data: obd:BEHAVIOR/CAMPAIGN (random|bts, all|men|women).")],
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for results.json.")],
    policy: Annotated[str, typer.Option("--policy", help="uniform, bts, or a table (POLICY.parquet, .csv, file.duckdb::table) of item_id, position, probability.")] = "uniform",
    truth: Annotated[Optional[str], typer.Option("--truth", help="The policy's own log, obd:BEHAVIOR/CAMPAIGN, for its on-policy value.  [default: a named policy's own log in the campaign of --logs; none for a table, whose estimates get their range over the runs instead]")] = None,
    runs: Annotated[int, typer.Option(min=2, help="Bootstrap runs (the relative error's mean and sd, or without a truth the estimates' range, are over them).")] = 20,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed.")] = 12345,
) -> None:
    """Evaluate a policy off policy on the Open Bandit Dataset: against its own log's click rate when it has one
    (uniform, bts, or --truth), else with each estimate's range over the bootstrap runs."""
    from .io import atomic_paths, read_table, to_json_safe, write_json
    from .openbandit import (POLICY_LOGS, POLICY_NAMES, obp_best, off_policy_benchmark, policy_by_name,
                             policy_from_table)
    from .plots import ope_errors, ope_estimates

    log = _open_bandit_log(logs, "--logs")
    own = POLICY_LOGS.get(policy)
    if truth is None and own is not None:  # a named policy has a log of its own: its click rate is the truth
        truth = f"obd:{own}/{log.campaign}"
    truth_log = _open_bandit_log(truth, "--truth") if truth is not None else None
    if truth_log is not None and truth_log.campaign != log.campaign:  # another campaign's click rate is no truth
        raise typer.BadParameter(f"the truth log is campaign '{truth_log.campaign}' and the evaluated log "
                                 f"'{log.campaign}': compare within one campaign", param_hint="--truth")
    if truth_log is not None and own is not None and truth_log.behavior != own:  # a named policy's own click rate
        raise typer.BadParameter(f"the {policy} policy's on-policy value is the obd:{own}/{log.campaign} log's click "
                                 f"rate, not obd:{truth_log.behavior}'s", param_hint="--truth")
    as_table = Path(policy).exists() or "::" in policy or policy.endswith((".parquet", ".csv"))
    if policy not in POLICY_NAMES and as_table:  # any table read_table reads, a DuckDB one too
        target = policy_from_table(read_table(policy), log)
    else:
        try:
            target = policy_by_name(policy, log)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--policy") from err
    result = off_policy_benchmark(log, target, truth_log.on_policy_value if truth_log else None, runs=runs,
                                  seed=seed, progress=True)
    estimates, recommended = result["estimators"], result["recommended"]
    best = obp_best(f"{policy} from {log.behavior}", log.campaign) if truth_log else None
    figure = (ope_errors(estimates, recommended, best, result["noise_floor"]) if truth_log
              else ope_estimates(estimates, recommended, result["logged"]))
    with atomic_paths(out / "results.json", out / "figures" / "estimators.png") as paths:  # replaced together
        write_json(to_json_safe(result), paths[0])
        _save_figure(figure, paths[1])
    if truth_log is not None:
        typer.echo(f"truth (on-policy CTR of {truth}): {result['truth']:.5f}; recommended: {recommended}")
        for name, row in estimates.items():
            typer.echo(f"  {name:>13}: estimate {row['estimate']:.5f}  relative error {row['relative_error_mean']:.3f} "
                       f"± {row['relative_error_sd']:.3f}")
        typer.echo(f"noise floor {result['noise_floor']:.3f}: resampling alone moves the log's own click rate that "
                   f"much on average over these runs, so no estimate built from a run's clicks should be expected to "
                   f"err less")
    else:
        typer.echo(f"no truth: the policy has no log of its own, so each estimate comes with its 2.5–97.5% range over "
                   f"{runs} bootstrap runs{'' if runs >= 100 else ' (rough: --runs 200 steadies it)'}")
        for name, row in estimates.items():
            typer.echo(f"  {name:>13}: estimate {row['estimate']:.5f} [{row['ci_low']:.5f}, {row['ci_high']:.5f}]")
        chosen = estimates[recommended]
        verdict = ("above" if chosen["ci_low"] > result["logged"] else "below" if chosen["ci_high"] < result["logged"]
                   else "not distinguishable from")
        typer.echo(f"recommended ({recommended}): {chosen['estimate']:.5f}, {verdict} the click rate the logging "
                   f"policy reached ({result['logged']:.5f})")
    if best is not None:
        ours = estimates[recommended]["relative_error_mean"]
        typer.echo(f"obp 0.4.1's best on this protocol: {best[0]} {best[1]:.3f}; ours ({recommended}) "
                   f"{ours:.3f}: {'a win' if ours < best[1] else 'a loss'} on this seed (one seed moves by ±0.05)")
    typer.echo(f"wrote {out / 'results.json'} and {out / 'figures' / 'estimators.png'}")


SEGMENTS = "0.1,0.2,0.5,1.0"  # targeting.DEFAULT_SEGMENTS as --segments writes them


@app.command()
def plan(
    baseline: Annotated[Optional[float], typer.Option(help="Control rate (proportion) or mean.")] = None,
    lift: Annotated[Optional[float], typer.Option(help="Lift to detect: absolute, or relative with --relative.")] = None,
    relative: Annotated[bool, typer.Option("--relative", help="--lift is relative to the baseline (0.10 = +10%).")] = False,
    sd: Annotated[Optional[float], typer.Option(help="Per-unit standard deviation: plans a mean instead of a proportion.")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level (family-wise with several arms).")] = 0.05,
    power: Annotated[float, typer.Option(help="Power to reach.")] = 0.8,
    split: Annotated[float, typer.Option(help="Share of units in the treatment arm (two arms).")] = 0.5,
    arms: Annotated[int, typer.Option(help="Arms including control; equal sizes when more than 2.")] = 2,
    correction: Annotated[str, typer.Option(help="Multiple-comparison correction: bonferroni or holm.")] = "bonferroni",
    one_sided: Annotated[bool, typer.Option("--one-sided", help="One-sided test.")] = False,
    weekly_users: Annotated[Optional[float], typer.Option("--weekly-users", help="Unique units entering the test per week.")] = None,
    accumulation: Annotated[float, typer.Option(help="Unique units after w weeks = weekly · w^accumulation (1 = linear).")] = 1.0,
    cuped_r2: Annotated[float, typer.Option("--cuped-r2", help="ρ² of a CUPED/CUPAC covariate (variance × (1 − ρ²)).")] = 0.0,
    sequential: Annotated[bool, typer.Option("--sequential", help="Valid at every look (confidence sequence).")] = False,
    from_audit: Annotated[Optional[Path], typer.Option("--from-audit", help="Plan targeted tests from an audit folder.")] = None,
    segments: Annotated[str, typer.Option(help="Top shares of predicted uplift to plan for (with --from-audit).")] = SEGMENTS,
    from_ranking: Annotated[Optional[Path], typer.Option("--from-ranking", help="Plan the test of a reranked list against the current ranking from a `recuplift rank` folder; --lift, when given, is the gain per user to detect.")] = None,
    policy: Annotated[Optional[str], typer.Option("--policy", help="The list to test (with --from-ranking).  [default: the one causing the most]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan an A/B test: sample size, runtime, power and MDE by week — or targeted tests from an audit, or the
    test of a reranked list from a ranking."""
    from .choices import do_not_apply
    from .io import to_json_safe
    from .listtest import plan_list_test
    from .planning import Design, Metric, plan_test, runtime_text
    from .targeting import plan_targeted_tests

    try:
        design = Design(alpha=alpha, power=power, alternative="one-sided" if one_sided else "two-sided",
                        treated_share=split, arms=arms, correction=correction, variance_reduction=cuped_r2,
                        sequential=sequential)
        if from_audit is not None and from_ranking is not None:
            raise typer.BadParameter("plan either targeted tests (--from-audit) or a list's test (--from-ranking), "
                                     "not both", param_hint="--from-ranking")
        if policy is not None and from_ranking is None:
            raise typer.BadParameter("--policy names a list of a ranking and needs --from-ranking DIR",
                                     param_hint="--policy")
        if accumulation != 1.0 and weekly_users is None and from_audit is None:  # it shapes the runtime only
            raise typer.BadParameter("--accumulation shapes the runtime and needs --weekly-users",
                                     param_hint="--accumulation")
        if from_ranking is not None:
            ignored = [flag for flag, given in (("--baseline", baseline is not None), ("--sd", sd is not None),
                                                ("--segments", segments != SEGMENTS)) if given]
            if ignored:  # the current ranking's value and spread come from the ranking
                raise typer.BadParameter(f"{do_not_apply(ignored)} with --from-ranking: the current ranking's value "
                                         f"per user and its spread come from the ranking", param_hint="--from-ranking")
            listed = plan_list_test(from_ranking, policy, lift, relative, design, weekly_users, accumulation)
            if as_json:
                typer.echo(json.dumps(to_json_safe(listed.to_dict()), indent=2))
                return
            _echo_plan(listed.plan, listed.notes)
            typer.echo(listed.next_step())
            return
        if from_audit is not None:
            ignored = [flag for flag, given in (("--baseline", baseline is not None), ("--lift", lift is not None),
                                                ("--sd", sd is not None), ("--relative", relative),
                                                ("--accumulation", accumulation != 1.0)) if given]
            if ignored:  # each segment's own baseline and predicted lift are planned for: these were dropped silently
                raise typer.BadParameter(f"{do_not_apply(ignored)} with --from-audit: each segment is planned for "
                                         f"its own baseline and predicted effect", param_hint="--from-audit")
            try:
                shares = tuple(float(q) for q in segments.split(",") if q.strip())
            except ValueError:
                raise typer.BadParameter(f"expected shares such as 0.1,0.2,1.0; got {segments!r}",
                                         param_hint="--segments") from None
            targeted = plan_targeted_tests(from_audit, shares, design, weekly_users)
            if as_json:
                typer.echo(json.dumps(to_json_safe(targeted.to_dict()), indent=2))
                return
            _echo_table(targeted.summary())
            typer.echo(f"fastest test: top {targeted.fastest}; most incremental roll-out: top {targeted.most_incremental}")
            for note in targeted.notes:
                typer.echo(f"note: {note}")
            typer.echo(targeted.next_step())
            return
        if baseline is None or lift is None:
            raise typer.BadParameter("give --baseline and --lift (or --from-audit DIR)")
        if segments != SEGMENTS:  # the segments of predicted uplift come from an audit
            raise typer.BadParameter("--segments plans targeted tests and needs --from-audit DIR", param_hint="--segments")
        metric = Metric("mean", baseline, sd) if sd is not None else Metric("proportion", baseline)
        result = plan_test(metric, lift, relative, design, weekly_users, accumulation)
    except DataError:
        raise  # the audit folder's problems, printed by main() as such, not as a usage error
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    if as_json:
        typer.echo(json.dumps(to_json_safe(result.to_dict()), indent=2))
        return
    _echo_plan(result, result.notes)
    per_arm = result.n_per_arm
    arms_text = (f"{per_arm:,} per arm" if isinstance(per_arm, int)
                 else ", ".join(f"{n:,} in {arm}" for arm, n in per_arm.items()))
    typer.echo(f"\nN: {arms_text}, {result.n_total:,} in total"
               + (f", {runtime_text(result.weeks)}" if result.weeks is not None else ""))


def _echo_plan(plan, notes) -> None:  # noqa: ANN001 - a planning.TestPlan and its notes, imported lazily
    _echo_table(plan.summary())
    if not plan.by_week.empty:
        typer.echo("\npower and minimum detectable effect by week:")
        _echo_table(plan.by_week.set_index("week"))
    for note in notes:
        typer.echo(f"note: {note}")


@app.command()
def report(
    name: Annotated[str, typer.Argument(help="audit, text_confounders, uplift_ranking, ab_test_planning, open_bandit_validation, ihdp_benchmark.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="HTML file, or a folder for NAME.html (default reports/NAME.html); the executed notebook lands beside it.")] = None,
    parameter: Annotated[Optional[list[str]], typer.Option("-p", "--parameter", help="key=value for the notebook's parameters cell (repeatable; lists comma-separated).")] = None,
) -> None:
    """Execute a notebook with parameters and render it to HTML without code."""
    from .report import ReportError, check_finished_run, notebook_path, parse_parameters, render_report, report_path

    try:  # a wrong name or parameter is a usage error (status 2); a notebook that fails to run, status 1
        notebook = notebook_path(name)
    except ReportError as err:
        raise typer.BadParameter(str(err), param_hint="NAME") from err
    try:
        params = parse_parameters(parameter or [], notebook)
        check_finished_run(notebook, params)
    except ReportError as err:
        raise typer.BadParameter(str(err), param_hint="--parameter") from err
    try:  # checked before the notebook runs, not after
        target = report_path(notebook, out)
    except ReportError as err:
        raise typer.BadParameter(str(err), param_hint="--out") from err
    typer.echo(f"executing {notebook.name} …")
    try:
        render_report(name, target, params)
    except ReportError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {target} (executed notebook: {target.with_suffix('.ipynb')})")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", callback=_output_folder, help="Folder for the demo's data, results and reports.")] = Path("reports/demo"),
    users: Annotated[int, typer.Option(min=50, help="Simulated users (at least 50: the ranking report's feedback loop "
                                                    "audits half as many fresh users each round).")] = 600,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Random seed.")] = 0,
) -> None:
    """The main job on embedded default data: simulate → audit → rank → plan → HTML reports with an index."""
    import time

    from .causal import Audit, check_audit_folder
    from .io import to_json_safe, write_json, write_table
    from .ranking import evaluate_rankings, ranking_next_step
    from .report import ReportError, render_report, write_index
    from .simulate import simulate as run_simulation
    from .targeting import plan_targeted_tests

    try:  # the demo replaces its audit folder whole: refuse one holding anything else before any work
        check_audit_folder(out / "audit")
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--out") from err
    started = time.perf_counter()
    typer.echo(f"[1/5] simulating {users} users × 20 candidates (seed {seed}) …")
    sim = run_simulation(n_users=users, seed=seed)
    sim.write(out / "data")
    truth = sim.truth
    typer.echo(f"  true ATE {truth['true_ate']:+.4f}; naive difference {truth['naive_difference']:+.4f} "
               f"(overstates it by {truth['naive_bias'] / truth['true_ate']:.0%})")
    typer.echo("[2/5] auditing the log (model → identify → estimate → refute) …")
    result = Audit(random_state=seed).fit(sim.data)  # true_* columns are never confounders; only compared at the end
    result.write(out / "audit")
    ate = result.ate
    typer.echo(f"  ATE {ate['estimate']:+.4f} [{ate['ci_low']:+.4f}, {ate['ci_high']:+.4f}] ({ate['estimator']} on "
               f"{ate['adjustment']})")
    typer.echo("[3/5] reranking by uplift and valuing the lists off policy …")
    candidates = result.uplift.join(sim.data[["true_p0", "true_p1", "true_uplift"]])
    rankings, ranking_report = evaluate_rankings(candidates, k=5, random_state=seed)
    write_table(rankings, out / "ranking" / "ranking.parquet")
    write_json(to_json_safe(ranking_report), out / "ranking" / "ranking.json")
    typer.echo(f"  {ranking_next_step(ranking_report)}")
    typer.echo("[4/5] planning the confirming A/B test …")
    targeted = plan_targeted_tests(out / "audit", weekly_units=100_000)
    write_json(to_json_safe(targeted.to_dict()), out / "plan" / "targeted.json")
    typer.echo("[5/5] rendering reports …")
    reports = {"Audit: what showing recommendations caused": ("audit", out / "audit.html",
                                                              {"audit_dir": str((out / "audit").resolve())}),
               "Uplift ranking and off-policy values": ("uplift_ranking", out / "uplift_ranking.html",
                                                        {"ranking_dir": str((out / "ranking").resolve()),
                                                         "seed": seed, "loop_users": users // 2}),
               "A/B test plan": ("ab_test_planning", out / "ab_test_planning.html",
                                 {"audit_dir": str((out / "audit").resolve()),
                                  "ranking_dir": str((out / "ranking").resolve()), "seed": seed})}
    try:
        for title, (name, path, params) in reports.items():
            typer.echo(f"  {name} …")
            render_report(name, path, params)
    except ReportError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    headline = result.headline()
    index = write_index({title: path for title, (_, path, _) in reports.items()}, out / "index.html", headline)
    typer.echo(headline.to_string(index=False))
    typer.echo(f"wrote {index} in {time.perf_counter() - started:.0f} s")


def _warning_line(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    """A warning as the CLI's other warnings read, ``warning: …``, without Python's file, line and source."""
    return f"warning: {message}\n"


def main() -> None:
    """Entry point: contract violations become a clean message and exit status 2 (click does the same for
    usage errors)."""
    warnings.formatwarning = _warning_line
    try:
        app()
    except DataError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
