"""The emitted pipelines pass the engines' validators: actionlint and the GitHub workflow schema
check-jsonschema vendors for the workflow, the vendored GitLab CI schema for the pipeline (both
tools come with the test extras). A broken file fails them, so these checks can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patchkit import api

pytestmark = pytest.mark.spawns
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (the test extras bring it: scripts/setup --test)")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


VARIANTS = {"default": {}, "two cells, sanitizer": {"bases": ["netqmail-1.06"],
                                                  "suites": ["bookworm", "trixie"],
                                                  "sanitize": True}}


@pytest.mark.parametrize("variant", VARIANTS)
def test_github_workflow_passes_actionlint_and_the_schema(tmp_path: Path, variant: str) -> None:
    f = tmp_path / "matrix.yml"
    f.write_text(api.ci_render("github", **VARIANTS[variant])["text"])  # type: ignore[arg-type]
    r = run(tool("actionlint"), "-no-color", str(f))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(f))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_gitlab_pipeline_passes_the_schema(tmp_path: Path, variant: str) -> None:
    f = tmp_path / ".gitlab-ci.yml"
    f.write_text(api.ci_render("gitlab", **VARIANTS[variant])["text"])  # type: ignore[arg-type]
    r = run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(f))
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_validators_reject_a_broken_file(tmp_path: Path) -> None:
    gh = tmp_path / "matrix.yml"
    gh.write_text(api.ci_render("github")["text"].replace("    runs-on:", "    runs_on:"))
    assert run(tool("actionlint"), "-no-color", str(gh)).returncode != 0
    assert run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
               str(gh)).returncode != 0
    gl = tmp_path / ".gitlab-ci.yml"
    gl.write_text(api.ci_render("gitlab")["text"].replace("  when: always", "  when: sometimes"))
    assert run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
               str(gl)).returncode != 0
