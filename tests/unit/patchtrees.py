"""Helpers for the patch/render tests: write small trees from dicts, read them back byte for byte,
and apply a diff with GNU patch(1) for equivalence checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

Files = dict[str, bytes]


def write_tree(root: Path, files: Files) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def read_tree(root: Path) -> Files:
    """Every regular file under root, by relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def gnu_patch_bin() -> str:
    path = shutil.which("patch")
    if path is None:  # pragma: no cover - patch is installed where these tests run
        pytest.skip("GNU patch is not installed")
    return path


def gnu_patch(tree: Path, diff: bytes, *, strip: int = 1) -> subprocess.CompletedProcess[bytes]:
    """Apply diff to tree with GNU patch; no backups, no reject files, never interactive."""
    return subprocess.run(
        [gnu_patch_bin(), f"-p{strip}", "--batch", "--forward", "--no-backup-if-mismatch",
         "--reject-file=-", "--silent"],
        input=diff, cwd=tree, capture_output=True, check=False, timeout=30,
    )
