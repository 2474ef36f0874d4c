"""Unit-test fixtures: tripwires that keep every unit test off the network (only loopback is
reachable) and from starting processes unless it is marked `spawns`, and a small threaded HTTP
server on 127.0.0.1 whose answers each test scripts."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from localhttp import LocalServer

# --------------------------------------------------------------------------- network guard

LOCAL_NAMES = {"localhost", "localhost.localdomain"}


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of connecting anywhere but loopback."""


@dataclass
class NetworkGuard:
    blocked: list[str] = field(default_factory=list)

    def check(self, address: object) -> None:
        if isinstance(address, str | bytes):  # AF_UNIX path: local, but never the Docker engine
            path = address.decode(errors="replace") if isinstance(address, bytes) else address
            if "docker" in path:
                self._refuse(path)
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if isinstance(host, str):
            if host.lower() in LOCAL_NAMES:
                return
            try:
                if ipaddress.ip_address(host.split("%", 1)[0]).is_loopback:
                    return
            except ValueError:
                pass
        self._refuse(repr(address))

    def _refuse(self, what: str) -> None:
        self.blocked.append(what)
        raise NetworkBlocked(f"unit tests may not connect to {what}")


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: object) -> None:
        guard.check(address)
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        guard.check(address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object
                          ) -> socket.socket:
        guard.check(address)  # before any name lookup
        return real_create_connection(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield guard
    assert not guard.blocked, f"a unit test tried to reach the network: {guard.blocked}"


# --------------------------------------------------------------------------- process tripwire


class ProcessBlocked(PermissionError):
    """Raised instead of starting a process in a unit test not marked `spawns`."""


@pytest.fixture(autouse=True)
def process_tripwire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                     ) -> Iterator[list[str]]:
    """A unit test runs no program unless it says so (@pytest.mark.spawns): what it tests is
    then the code, not whatever the machine has installed."""
    started: list[str] = []
    if request.node.get_closest_marker("spawns") is not None:
        yield started
        return

    def refuse(what: object) -> None:
        started.append(repr(what))
        raise ProcessBlocked(f"unit test started a process ({what!r}): mark it "
                             "@pytest.mark.spawns if it must")

    def popen_init(self: subprocess.Popen[bytes], args: object, *a: object, **kw: object) -> None:
        refuse(args)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, lambda *a, _n=name, **kw: refuse((_n, *a)))
    yield started
    assert not started, f"a unit test started processes: {started}"


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    srv = LocalServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
