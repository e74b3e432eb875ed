"""The README's Python example runs as written, so the documented API cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_the_readmes_python_example_runs_as_written(tmp_path, monkeypatch):
    [example] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)  # it writes audit/ where it runs
    exec(compile(example, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own documentation
    assert (tmp_path / "audit" / "results.json").exists() and (tmp_path / "audit" / "uplift.parquet").exists()
