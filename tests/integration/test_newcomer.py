"""The paths a person takes by default: the README's build command typed verbatim in a fresh
copy of the checkout, and `patchkit build` from some directory with no --workdir. The first
round's tests all passed absolute paths, and the README's own command failed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO, require_upstream

pytestmark = [pytest.mark.upstream, pytest.mark.slow]


def readme_commands() -> list[str]:
    """The indented command lines of README.md's "Two commands" section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^ {4}(\S.*)$", section, re.M)


def test_the_readme_gives_exactly_two_commands() -> None:
    assert readme_commands() == ["make build BASE=netqmail-1.06", "make test"]


def fresh_copy(dest: Path) -> Path:
    """What a clone of this working tree holds: the tracked and the untracked-but-not-ignored
    files as they are now (uncommitted changes too), nothing built, no venv."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in sorted({r for r in listed.decode().split("\0") if r}):
        src = REPO / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel, follow_symlinks=False)
    return dest


def test_readme_build_command_as_typed(tmp_path: Path) -> None:
    require_upstream("netqmail-1.06")
    command = readme_commands()[0]
    clone = fresh_copy(tmp_path / "patchkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(Path(sys.executable).parent)))
    proc = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True,
                          text=True, timeout=1500, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, f"{command!r}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = clone / "build" / "netqmail-1.06+dkim" / "out"  # where the README says it lands
    report = json.loads((out / "build.json").read_text())
    assert report["options"]["dkim"] is True and report["variant"] == "netqmail-1.06+dkim"
    for rel in ("bin/qmail-remote", "bin/qmail-smtpd", "dkim.patch"):
        assert (out / rel).is_file(), rel
    assert b"DKIM-Signature" in (out / "bin" / "qmail-remote").read_bytes()  # libdkim is in


def test_build_from_some_directory_with_no_workdir(tmp_path: Path) -> None:
    require_upstream("netqmail-1.06")
    exe = Path(sys.executable).with_name("patchkit")
    proc = subprocess.run([str(exe), "-q", "build", "--base", "netqmail-1.06", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1500,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    out = tmp_path / "build" / "netqmail-1.06+dkim" / "out"
    assert Path(report["output_dir"]) == out
    assert (out / "bin" / "qmail-remote").is_file()
    conf = (tmp_path / "build" / "netqmail-1.06+dkim" / "build" / "qmail" / "conf-dkim")
    assert conf.read_text().startswith(f"-L{tmp_path}/build/netqmail-1.06+dkim/prefix/lib ")
