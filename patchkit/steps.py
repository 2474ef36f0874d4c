"""A process to run, as a value: argv, working directory, extra environment. Plans are made of
Steps (pure data); patchkit.runner is what runs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)  # added to (and overriding) os.environ

    def describe(self) -> str:
        envs = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        return f"(cd {self.cwd} && {envs + ' ' if envs else ''}{' '.join(self.argv)})"
