"""Shared test helpers: where ../shared/data is, if this checkout has it."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real data not found at {SHARED_DATA} (needs the shared/ folder beside the repo)"
        )
    return SHARED_DATA
