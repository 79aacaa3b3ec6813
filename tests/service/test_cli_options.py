"""`loghunt serve` and `loghunt consume` pass the store's limits through to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import loghunt.service.server as server
from loghunt.cli import app
from loghunt.service.server import StoreOptions


@pytest.mark.parametrize("command", ["serve", "consume"])
def test_store_limits_and_snapshot_interval_reach_the_store(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[StoreOptions] = []

    def capture(*args: Any, store: StoreOptions, **kwargs: Any) -> Any:
        seen.append(store)
        raise SystemExit(0)

    monkeypatch.setattr(server, command, capture)
    model = str(tmp_path / "model")
    where = [model] if command == "serve" else ["--model", model, "--source", "redis://x/s"]
    if command == "consume":
        where += ["--sink", f"jsonl:{tmp_path / 'f.jsonl'}"]
    limits = ["--max-store-events", "5000", "--max-store-age", "3600", "--snapshot-every", "60"]
    result = CliRunner().invoke(app, [command, *where, *limits])
    assert result.exit_code == 0, result.output
    assert seen == [StoreOptions(max_events=5_000, max_age_s=3_600.0, persist_every_s=60.0)]
    refused = CliRunner().invoke(app, [command, *where, "--snapshot-every", "0"])
    assert refused.exit_code == 2  # below the 1 s minimum
