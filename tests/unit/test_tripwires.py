"""The unit tier's tripwires themselves: a process or a non-loopback connection fails the test."""

from __future__ import annotations

import socket
import subprocess

import pytest


def test_starting_a_process_is_refused(process_tripwire: list[str]) -> None:
    with pytest.raises(PermissionError, match=r"mark it @pytest\.mark\.spawns"):
        subprocess.run(["true"], check=False)
    assert process_tripwire == ["['true']"]
    process_tripwire.clear()  # seen: the teardown would otherwise fail this test


@pytest.mark.spawns
def test_a_marked_test_may_start_one() -> None:
    assert subprocess.run(["true"], check=False).returncode == 0


def test_connecting_beyond_loopback_is_refused(network_guard: object) -> None:
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="may not connect"):
        s.connect(("192.0.2.1", 25))
    network_guard.blocked.clear()  # type: ignore[attr-defined]


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by base name (no packages): a name used in both tiers makes
    the whole run fail at collection, which a run of one tier alone never shows."""
    from collections import Counter
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
