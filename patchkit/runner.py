"""The one place patchkit starts processes. A Step is a value (argv, cwd, env); running it writes
its combined output to a log file and, on failure, raises BuildFailed with the log's last lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from patchkit.errors import BuildFailed, PatchkitError, ToolMissing
from patchkit.steps import Step

TAIL_LINES = 25


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed", hint)
    return path


def capture(argv: Sequence[str], cwd: Path | None = None, what: str = "", *,
            error: type[PatchkitError] = BuildFailed, hint: str = "",
            input: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
    """Run a short command and return its stdout. A non-zero exit raises ``error``, the class of
    what failed (a bad git ref is a ConfigError, not a build failure), with the command's last
    lines of stderr and ``hint``. env is added to this process's environment."""
    try:
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, check=False, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              env={**os.environ, **env} if env else None)
    except FileNotFoundError as e:
        raise ToolMissing(f"{argv[0]} is not installed", f"install {argv[0]}") from e
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-5:]
        detail = "; ".join(err) or "(it printed nothing)"
        raise error(f"{what or argv[0]} failed (exit {proc.returncode}): {detail}",
                    hint or f"the command was: {' '.join(argv)}")
    return proc.stdout


def run_io(argv: Sequence[str], cwd: Path, *, input: bytes, env: Mapping[str, str],
           timeout: float = 300) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of a program fed input, for a caller to whom more than one
    exit code is an answer (the sign fuzz target: 0 signed, 1 kept in the queue)."""
    proc = subprocess.run(list(argv), cwd=cwd, input=input, capture_output=True, check=False,
                          timeout=timeout, env={**os.environ, **env})
    return proc.returncode, proc.stdout, proc.stderr


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_step(step: Step, log: Path, *, echo: bool = False) -> None:
    """Run step with stdout+stderr appended to log; raise BuildFailed naming the step on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **step.env}
    with log.open("ab") as out:
        out.write(f"\n### {step.name}: {step.describe()}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(
                list(step.argv), cwd=step.cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, check=False,
            )
        except FileNotFoundError as e:
            raise ToolMissing(f"step {step.name}: {step.argv[0]} not found", str(e)) from e
    if proc.returncode != 0:
        raise BuildFailed(
            f"step {step.name!r} failed with exit {proc.returncode}",
            f"last lines of {log}:\n{tail(log)}",
        )
    if echo:
        sys.stderr.write(f"  {step.name}: ok\n")


def run_merged(argv: Sequence[str], cwd: Path, *, timeout: float = 300,
               env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(exit code, stdout and stderr merged in order as text); 124 with a note on a time-out.
    For test programs whose every line is a result (the libraries' self-tests, a fuzz target);
    env is added to this process's environment."""
    try:
        proc = subprocess.run(list(argv), cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace", check=False,
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else ""
        return 124, out + f"\ntimed out after {e.timeout} s"
    return proc.returncode, proc.stdout


def run_to_stderr(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
    """Run with all output on this process's stderr (a person watches it); the exit code."""
    return subprocess.run(list(argv), cwd=cwd, env=dict(env), stdout=sys.stderr,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          check=False).returncode
