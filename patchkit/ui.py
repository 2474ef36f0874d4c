"""What patchkit shows a person: progress lines on stderr (``patchkit: ...``), a one-line
progress bar for downloads on a terminal, and command output as text or JSON through one
emitter. Parts take a ``Log`` (a function of one line) instead of printing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

Log = Callable[[str], None]
Progress = Callable[[int, int | None], None]  # (bytes done, total or None)


def say_stderr(quiet: bool) -> Log:
    def say(msg: str) -> None:
        if not quiet:
            sys.stderr.write(f"patchkit: {msg}\n")
            sys.stderr.flush()
    return say


def terminal_progress(label: str) -> Progress:
    """A one-line progress display on stderr (only used when stderr is a terminal)."""
    state = {"last": 0.0}

    def show(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - state["last"] < 0.1 and (total is None or done < total):
            return
        state["last"] = now
        if total:
            pct = min(100, done * 100 // total)
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r{label} [{bar:<25}] {pct:3d}% {done // 1024} KiB")
        else:
            sys.stderr.write(f"\r{label} {done // 1024} KiB")
        if total is not None and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """A command's result: JSON (sorted, indented) with --json, else the text form of it."""
    sys.stdout.write((json.dumps(data, indent=2, sort_keys=True, default=str) if as_json
                      else text(data)) + "\n")
    sys.stdout.flush()
