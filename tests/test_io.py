"""Round trips through every supported format, and writes that never leave half a file."""

from __future__ import annotations

import pandas as pd
import pytest

from recuplift.io import atomic_path, atomic_paths, read_json, read_table, write_json, write_table
from recuplift.schema import DataError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"user_id": ["u1", "u2", "u3"], "exposed": [0, 1, 1], "outcome": [0.0, 1.0, 0.5],
                         "item_text": ["a", None, "c"]})


@pytest.mark.parametrize("name", ["log.parquet", "log.csv", "log.duckdb::impressions"])
def test_round_trip(tmp_path, frame, name):
    dest = f"{tmp_path}/{name}"
    write_table(frame, dest)
    back = read_table(dest)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), frame, check_dtype=False)


def test_spreadsheet_csv_encodings_read_as_the_same_table(tmp_path, frame):
    table = frame.assign(item_text=["Café crème", None, "naïve"])
    (tmp_path / "bom.csv").write_bytes(table.to_csv(index=False).encode("utf-8-sig"))  # Excel's "CSV UTF-8"
    back = read_table(tmp_path / "bom.csv")
    assert list(back.columns) == list(table.columns) and back["item_text"][0] == "Café crème"
    (tmp_path / "ansi.csv").write_bytes(table.to_csv(index=False).encode("cp1252"))  # Excel's plain "CSV"
    with pytest.warns(UserWarning, match=r"ansi.csv is not UTF-8 \(byte 0xe9 .*read as Windows-1252"):
        back = read_table(tmp_path / "ansi.csv")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)  # was: 'utf-8' codec can't decode byte 0xe9


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_files_written_with_other_separators_read_as_the_same_table(tmp_path, frame, sep):
    table = frame.assign(price=[1.5, 20.25, None], note=["0,5 kg", "x", "y"])
    path = tmp_path / "log.csv"  # a spreadsheet's export: before, one column named 'user_id;exposed;…'
    table.to_csv(path, sep=sep, index=False, decimal="," if sep == ";" else ".")
    back = read_table(path)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)  # decimal commas read as numbers
    assert back["note"].tolist() == ["0,5 kg", "x", "y"]  # text with a comma stays text


@pytest.mark.parametrize("name, lines", [("log.jsonl", True), ("log.ndjson", True), ("log.json", False)])
def test_json_records_read_as_the_same_table(tmp_path, frame, name, lines):
    frame.to_json(tmp_path / name, orient="records", lines=lines)  # an event pipeline's export
    pd.testing.assert_frame_equal(read_table(tmp_path / name), frame, check_dtype=False)
    assert read_table(tmp_path / name, columns=["exposed"]).columns.tolist() == ["exposed"]


def test_duckdb_keeps_other_tables(tmp_path, frame):
    db = f"{tmp_path}/store.duckdb"
    write_table(frame, db + "::a")
    write_table(frame.head(1), db + "::b")
    assert len(read_table(db + "::a")) == 3 and len(read_table(db + "::b")) == 1
    with pytest.raises(DataError, match=r"no table 'c' in .*store.duckdb — its tables: a, b"):
        read_table(db + "::c")
    write_table(frame, db + "::impressions")
    with pytest.raises(DataError, match=r"no table 'Impression' in .*— did you mean 'impressions'\? its tables"):
        read_table(db + "::Impression")
    with pytest.raises(DataError, match=r"store.duckdb is a DuckDB file: name its table as .*::TABLE — its tables: a, b"):
        read_table(db)  # was "unknown file type '.duckdb'"


def test_a_folder_of_parquet_files_reads_as_one_table_skipping_other_files(tmp_path, frame):
    # the folder `recuplift simulate` writes (a JSON beside the Parquet), and a hive-partitioned export
    write_table(frame, tmp_path / "sim" / "impressions.parquet")
    (tmp_path / "sim" / "simulation.json").write_text("{}")
    pd.testing.assert_frame_equal(read_table(tmp_path / "sim"), frame)  # the JSON failed as Parquet
    for day, part in ((1, frame.head(2)), (2, frame.tail(1))):
        write_table(part, tmp_path / "export" / f"day={day}" / "part-0.parquet")
    (tmp_path / "export" / "_SUCCESS").write_text("")
    export = read_table(tmp_path / "export")
    assert export["user_id"].tolist() == ["u1", "u2", "u3"] and export["day"].tolist() == [1, 1, 2]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="the folder .*empty holds no Parquet files"):
        read_table(tmp_path / "empty")


def test_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_files_written_together_are_replaced_together_or_not_at_all(tmp_path, frame, monkeypatch):
    table, description = tmp_path / "t.parquet", tmp_path / "t.json"
    with atomic_paths(table, description) as (tmp_table, tmp_description):
        write_table(frame, tmp_table)
        write_json({"run": 1}, tmp_description)
    assert read_json(description) == {"run": 1} and len(read_table(table)) == 3
    with pytest.raises(RuntimeError):  # the second file fails: the first one written keeps its old version too
        with atomic_paths(table, description) as (tmp_table, tmp_description):
            write_table(frame.head(1), tmp_table)
            raise RuntimeError("killed before the JSON")
    assert len(read_table(table)) == 3 and read_json(description) == {"run": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.parquet"]  # no temporary left behind
    # the simulator's log and its description are one such pair
    import importlib

    simulate_module = importlib.import_module("recuplift.simulate")  # the module: the package exports a function

    monkeypatch.setattr(simulate_module, "write_json", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("full")))
    with pytest.raises(RuntimeError):
        simulate_module.simulate(n_users=20, n_candidates=3, n_items=10, seed=0).write(tmp_path / "sim")
    assert not (tmp_path / "sim" / "impressions.parquet").exists()  # was written before the JSON failed


def test_failed_write_keeps_previous_version(tmp_path, frame):
    target = tmp_path / "log.parquet"
    write_table(frame, target)

    class Boom:
        def to_parquet(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_table(Boom(), target)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(read_table(target), frame)
    assert [p.name for p in tmp_path.iterdir()] == ["log.parquet"]


def test_json_is_nan_free(tmp_path):
    write_json({"a": float("nan"), "b": [1.0, float("inf")]}, tmp_path / "r.json")
    assert read_json(tmp_path / "r.json") == {"a": None, "b": [1.0, None]}


@pytest.mark.parametrize("source, message", [
    ("missing.parquet", "no such file"),
    ("file.xlsx", r"unknown file type '.xlsx' .* save the sheet as CSV UTF-8"),
    ("broken.jsonl", r"could not read .*broken.jsonl as JSON records: .* one JSON object per row"),
    ("missing.duckdb::t", "no such DuckDB file"),
])
def test_bad_sources_are_data_errors(tmp_path, source, message):
    path = tmp_path / source.split("::")[0]
    if source.endswith(("xlsx", "jsonl")):
        path.write_text('{"user_id": "u1"}\n{oops\n')
    with pytest.raises(DataError, match=message):
        read_table(str(tmp_path / source))
