"""Run a program so that glibc's resolver (res_query/res_search, getaddrinfo) and anything else
reading /etc/resolv.conf asks the test DNS server: a private mount namespace (root + unshare -m)
with a test resolv.conf bind-mounted over /etc/resolv.conf. The host's file is never touched.

    argv = resolver_argv([str(built.bin("qmail-remote")), ...], dns.resolv_conf(tmp_path))
    subprocess.run(argv, ...)
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

RESOLV = "/etc/resolv.conf"
_SCRIPT = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


def write_resolv_conf(path: Path, nameserver: str, *, timeout: int = 1, attempts: int = 1,
                      options: Sequence[str] = ()) -> Path:
    """A resolv.conf naming only `nameserver`; timeout:1 attempts:1 makes a dropped query fail in
    about a second (glibc's default would be 5 s x 2 attempts)."""
    opts = " ".join([f"timeout:{timeout}", f"attempts:{attempts}", *options])
    path.write_text(f"nameserver {nameserver}\noptions {opts}\n")
    return path


def resolver_argv(argv: Sequence[str], resolv_conf: Path | str) -> list[str]:
    """argv wrapped so that the program sees `resolv_conf` as /etc/resolv.conf."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", _SCRIPT,
            str(Path(resolv_conf).resolve()), *argv]


@functools.cache
def isolation_problem() -> str | None:
    """None when resolver_argv works here, else one line saying what is missing."""
    if os.geteuid() != 0:
        return "needs root (a private mount namespace over /etc/resolv.conf): run the tests as root"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "needs unshare and mount: apt-get install util-linux mount"
    if not os.path.exists(RESOLV):
        return f"{RESOLV} does not exist, nothing to bind-mount over: create an empty one"
    with tempfile.TemporaryDirectory() as d:
        conf = write_resolv_conf(Path(d) / "resolv.conf", "127.53.255.254")
        proc = subprocess.run(resolver_argv(["cat", RESOLV], conf), capture_output=True,
                              text=True, timeout=30, check=False)
        if proc.returncode != 0 or "127.53.255.254" not in proc.stdout:
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return f"unshare -m + mount --bind over {RESOLV} fails here ({err}): needs " \
                   "CAP_SYS_ADMIN (a privileged container or a real root)"
    return None


def require_isolated_resolver() -> None:
    """Skip the calling test, with one line saying why, when resolver_argv cannot work here."""
    problem = isolation_problem()
    if problem:
        pytest.skip(f"cannot point the C resolver at the test DNS server: {problem}")
