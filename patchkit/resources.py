"""Where patchkit's data lives: the manifest in the package, templates/ and patches/ either at the
top of a checkout (editable install) or copied into the wheel under patchkit/_resources/."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    bundled = PACKAGE / "_resources" / name
    if bundled.is_dir():
        return bundled
    return PACKAGE.parent / name


def templates_dir() -> Path:
    return _resource_dir("templates")


def patches_dir() -> Path:
    return _resource_dir("patches")


def manifest_path() -> Path:
    return PACKAGE / "data" / "sources.toml"
