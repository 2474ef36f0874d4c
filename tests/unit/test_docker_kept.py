"""docker/Dockerfile.<suite> is the current rendering (what people who build by hand use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.docker import dockerfile
from patchkit.docker.image import SUITES

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.mark.parametrize("suite", SUITES)
def test_kept_dockerfile_is_current(suite: str) -> None:
    kept = DOCKER / f"Dockerfile.{suite}"
    text = dockerfile.render(suite, reqs=dockerfile.installed_requirements())
    assert kept.read_text() == text, f"{kept} is stale: run scripts/render-dockerfiles"
    assert f"FROM patchkit-base:{suite}" in text
