"""Fresh candidates scored by a model learned on a log: scores in input order, lists, honest labels, clean errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recuplift.schema import DataError, Roles
from recuplift.scoring import score_candidates
from recuplift.simulate import simulate
from recuplift.text import TextEncoder
from recuplift.upliftmodel import UpliftModel

SIZE = dict(n_users=400, n_candidates=12, n_items=150, catalog_seed=5)  # fresh users, the same catalog


@pytest.fixture(scope="module")
def log_and_fresh():
    """A log and fresh users' candidates from the same catalog; the candidates carry no exposure or outcome."""
    observed = simulate(**SIZE, seed=1).data
    observed = observed.drop(columns=[c for c in observed.columns if c.startswith("true_")])
    fresh = simulate(**SIZE, seed=2).data
    fresh = fresh.assign(user_id="new-" + fresh["user_id"].astype(str)).drop(columns=["exposed", "outcome",
                                                                                      "propensity"])
    return observed, fresh.sample(frac=1.0, random_state=0)  # shuffled: scores must keep the input's order


@pytest.fixture(scope="module")
def scored(log_and_fresh):
    observed, fresh = log_and_fresh
    return score_candidates(observed, fresh, k=4, encoder=TextEncoder(progress=False), random_state=3)


def test_fresh_users_get_scores_in_input_order_and_k_distinct_items_per_list(log_and_fresh, scored):
    _, fresh = log_and_fresh
    assert scored.scores[["user_id", "item_id"]].to_numpy().tolist() == fresh[["user_id", "item_id"]].to_numpy().tolist()
    assert scored.scores[["uplift", "relevance"]].notna().all().all()
    for policy, lists in scored.rankings.groupby("policy"):
        assert lists.groupby("user_id").size().eq(4).all(), policy
        assert not lists.duplicated(["user_id", "item_id"]).any()
    uplift_list = scored.rankings[scored.rankings["policy"] == "uplift"]
    top = uplift_list[uplift_list["rank"] == 1].set_index("user_id")["score"]
    assert top.to_dict() == scored.scores.groupby("user_id")["uplift"].max().loc[top.index].to_dict()


def test_the_report_adds_up_the_listed_items_predictions_and_judges_them_against_the_truth(scored, log_and_fresh):
    _, fresh = log_and_fresh
    listed = scored.rankings.merge(scored.scores, on=["user_id", "item_id"])
    n_users = fresh["user_id"].nunique()
    for policy, entry in scored.report["policies"].items():
        rows = listed[listed["policy"] == policy]
        assert entry["predicted_incremental_per_1000_users"] == pytest.approx(1000 * rows["uplift"].sum() / n_users)
        assert entry["predicted_outcomes_per_1000_users"] == pytest.approx(1000 * rows["relevance"].sum() / n_users)
        truth = rows.merge(fresh[["user_id", "item_id", "true_uplift"]], on=["user_id", "item_id"])
        assert entry["truth"]["incremental_per_1000_users"] == pytest.approx(1000 * truth["true_uplift"].sum() / n_users)
    assert all(entry["predicted_incremental_ci_low"] < entry["predicted_incremental_per_1000_users"]
               < entry["predicted_incremental_ci_high"] for entry in scored.report["policies"].values())
    # the model learned something true about users it never saw
    joined = scored.scores.merge(fresh[["user_id", "item_id", "true_uplift"]], on=["user_id", "item_id"])
    assert np.corrcoef(joined["uplift"], joined["true_uplift"])[0, 1] > 0.2
    assert scored.report["candidates"]["users_in_log"] == 0 and scored.report["candidates"]["items_in_log"] > 0.9
    assert "not measurements" in scored.next_step() and "in sample" not in scored.next_step()
    assert list(scored.summary().columns)[-1] == "true_incremental_per_1000_users"


def test_the_log_check_values_held_out_lists_from_the_doubly_robust_scores(log_and_fresh):
    """On the log's own users, the lists the held-out scores choose are valued by their rows' DR scores, and a
    value column the log lacks leaves that policy without a check rather than failing."""
    observed, fresh = log_and_fresh
    model = UpliftModel(encoder=TextEncoder(progress=False), random_state=3).fit(observed)
    assert len(model.held_out_) == len(observed)
    assert not np.allclose(model.held_out_["uplift"], model.predict(observed)["uplift"])  # not the full-data fit
    result = score_candidates(observed, fresh.assign(margin=1.0), k=4, policies=("uplift", "value"),
                              value="margin", encoder=TextEncoder(progress=False), random_state=3)
    held = observed[["user_id", "item_id"]].join(model.held_out_)
    top = held.sort_values(["user_id", "uplift", "item_id"], ascending=[True, False, True]).groupby("user_id").head(4)
    per_user = top.groupby("user_id")["dr_score"].sum()
    check = result.report["policies"]["uplift"]["log_check"]
    assert check["estimate"] == pytest.approx(1000 * per_user.mean())
    assert check["ci_low"] < check["estimate"] < check["ci_high"]
    assert check["predicted"] == pytest.approx(1000 * top.groupby("user_id")["uplift"].sum().mean())
    assert check["gain_ci_low"] < check["gain_over_logging"] < check["gain_ci_high"]
    assert result.report["policies"]["value"]["log_check"] is None  # the log has no margin column
    assert set(result.log_check["policies"]) == {"logging", "uplift"}  # a ranking report, as rank writes one
    assert "held out" in result.next_step()


def test_same_seed_same_scores(log_and_fresh, scored):
    observed, fresh = log_and_fresh
    again = score_candidates(observed, fresh, k=4, encoder=TextEncoder(progress=False), random_state=3)
    pd.testing.assert_frame_equal(again.scores, scored.scores)
    pd.testing.assert_frame_equal(again.rankings, scored.rankings)


def test_candidates_lacking_a_column_fail_before_the_model_is_fitted(log_and_fresh, monkeypatch):
    observed, fresh = log_and_fresh

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before the candidates were checked")

    monkeypatch.setattr(UpliftModel, "fit", no_fit)
    with pytest.raises(DataError) as err:
        score_candidates(observed, fresh.drop(columns=["price", "user_text", "user_id"]))
    named = {p.column for p in err.value.problems}
    assert named == {"price", "user_text", "user_id"}
    with pytest.raises(DataError, match="'margin'"):
        score_candidates(observed, fresh, value="margin")
    for settings, message in (({"policies": ("uplift", "upflit")}, "did you mean 'uplift'"),
                              ({"policies": ("uplift", "value")}, "needs a per-item value column"),
                              ({"blend": 0.8, "policies": ("uplift",)}, "add blend")):
        with pytest.raises(ValueError, match=message):
            score_candidates(observed, fresh, **settings)
    with pytest.raises(DataError, match="candidates table is empty"):  # was a ZeroDivisionError after the fit
        score_candidates(observed, fresh.head(0))
    blank = fresh.assign(user_id=fresh["user_id"].where(np.arange(len(fresh)) != 5))
    with pytest.raises(DataError, match="missing user id"):
        score_candidates(observed, blank)
    # columns of the wrong kind, found before the fit too: a value that is no number, a numeric covariate as text
    with pytest.raises(ValueError, match="value column 'category' must hold a finite number"):
        score_candidates(observed, fresh, value="category")
    typo = fresh.assign(price=fresh["price"].astype(str).where(np.arange(len(fresh)) != 7, "n/a"))
    with pytest.raises(DataError, match="'price': was numeric") as err:
        score_candidates(observed, typo)
    assert err.value.problems[0].rows[:1] == (7,)


def test_scoring_the_log_itself_is_called_in_sample(log_and_fresh, capsys):
    observed, _ = log_and_fresh
    result = score_candidates(observed.head(1200), observed.head(1200), k=3, policies=("uplift",), progress=False)
    assert capsys.readouterr().err == ""  # no stage bar, and no text encoder's bar either
    assert result.report["candidates"]["pairs_in_log"] == 1.0
    assert "in sample" in result.next_step() and "recuplift rank" in result.next_step()
    assert "truth" not in result.report["policies"]["uplift"]


@pytest.mark.parametrize("how", ["role", "per"])
def test_one_list_per_request_from_the_request_role_or_a_candidate_column(log_and_fresh, how, capsys):
    observed, fresh = log_and_fresh

    def requests(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(req=frame["user_id"].astype(str) + "/" + (frame.groupby("user_id").cumcount() // 6).astype(str))

    roles = Roles(text=(), request_id="req" if how == "role" else None)
    result = score_candidates(requests(observed), requests(fresh), roles, k=2, policies=("uplift",),
                              per=None if how == "role" else "req", random_state=0)
    bar = capsys.readouterr().err  # the stages, named as they run
    assert "score" in bar and "fitting on the log's" in bar and "3/3" in bar
    lists = result.rankings
    column = "request_id" if how == "role" else "req"
    assert lists.groupby(column).size().eq(2).all() and lists.groupby("user_id").size().eq(4).all()
    assert result.report["policies"]["uplift"]["log_check"]["estimate"] is not None
    if how == "per":  # per-request lists on the candidates, a log without the requests: no like-for-like check
        alone = score_candidates(observed, requests(fresh), roles, k=2, policies=("uplift",), per="req")
        assert alone.report["policies"]["uplift"]["log_check"] is None
