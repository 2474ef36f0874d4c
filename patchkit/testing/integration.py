"""Running the integration suite for one base and reading its result: the pytest command line and
the JUnit XML summary are pure; run_local() runs pytest on this machine (the docker backend runs
the same command line in the build image, see patchkit.docker.backend)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from patchkit.build.plan import base_inputs
from patchkit.errors import ConfigError
from patchkit.patching.series import load_series
from patchkit.resources import PACKAGE
from patchkit.runner import run_to_stderr
from patchkit.sources.cache import Cache
from patchkit.sources.manifest import load_manifest
from patchkit.testing.junit import junit_summary as junit_summary
from patchkit.testing.junit import raise_on_failure as raise_on_failure
from patchkit.testing.junit import read_result as read_result
from patchkit.testing.junit import summary_line as summary_line
from patchkit.ui import Log

# The suite's tests that need the upstream files; the docker-marked ones drive an engine, and
# there is none inside the build image.
MARKER = "upstream and not docker"


def pytest_argv(python: str, base: str, junit: str) -> list[str]:
    """The suite selects a base with -k (its tests are parametrized by base name)."""
    return [python, "-m", "pytest", "tests/integration", "-m", MARKER, "-k", base,
            f"--junitxml={junit}", "-p", "no:cacheprovider", "-q", "-ra"]


def checkout() -> Path:
    """The checkout patchkit runs from: the suite lives in its tests/ directory."""
    root = PACKAGE.parent
    if not (root / "tests" / "integration").is_dir():
        raise ConfigError(f"no test suite next to {PACKAGE} (tests/integration is missing)",
                          "run patchkit test from a checkout (pip install -e .)")
    return root


def require_base_inputs(base: str, cache: Cache) -> None:
    """Fail before any work if one of the base's inputs is not in the cache (names the fix)."""
    for artifact in base_inputs(load_series(), load_manifest(), base):
        cache.require(artifact)


def run_local(base: str, cache: Cache, workdir: Path, junit: Path, *, say: Log) -> dict[str, Any]:
    """pytest on this machine, output to the terminal's stderr, JUnit XML to junit."""
    require_base_inputs(base, cache)
    root = checkout()
    junit = junit.resolve()
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.unlink(missing_ok=True)
    argv = pytest_argv(sys.executable, base, str(junit))
    # the suite's builds go under workdir, not the checkout's shared .pytest-build
    env = {**os.environ, "PATCHKIT_DISTDIR": str(cache.root.resolve()),
           "PATCHKIT_TEST_WORKDIR": str((workdir / "tests-local").resolve())}
    say(f"running the suite for {base} here: {' '.join(argv[1:])}")
    code = run_to_stderr(argv, root, env)
    s = read_result(junit, base, code, "(see above)")
    s["backend"] = "local"
    return s
