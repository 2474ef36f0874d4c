"""Integration fixtures (the helpers live in harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import TESTABLE, Built, QmailHome, build_base, make_home


@pytest.fixture(params=TESTABLE)
def base(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def built(base: str) -> Built:
    return build_base(base)


@pytest.fixture
def home(built: Built, tmp_path: Path) -> Iterator[QmailHome]:
    yield make_home(built, tmp_path)
