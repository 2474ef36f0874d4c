"""patchkit ci github|gitlab as text: one job per cell of the one matrix definition, the cell's
command is the local matrix's own (`build --matrix --only`), the cache keyed by the manifest's
digest, results kept as artifacts, a report job over all of them; and the kept files current."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from patchkit import api
from patchkit.ci import github, gitlab
from patchkit.ci.pipeline import Pipeline, pipeline
from patchkit.cli import cli
from patchkit.errors import ConfigError
from patchkit.resources import manifest_path
from patchkit.testing import matrix as mx
from patchkit.testing.matrix import Definition

REPO = Path(__file__).resolve().parents[2]
TWO = Definition(bases=("qmail-1.03", "netqmail-1.06"), suites=("bookworm",))


def make(d: Definition = TWO, manifest: bytes = b"[artifacts]\n", engine: str = "gitlab",
         every: bool = False) -> Pipeline:
    return pipeline(d, manifest, engine=engine, every_base=every, every_suite=every)


def test_gitlab_has_one_matrix_entry_per_cell_and_the_local_command() -> None:
    text = gitlab.render(make())
    entries = re.findall(r'^      - CELL: "(.*)"$', text, re.M)
    assert entries == ["qmail-1.03/bookworm", "netqmail-1.06/bookworm"]
    assert '    - patchkit build --matrix --only "$CELL" --results results\n' in text
    assert "--sanitize" not in text.split("stages:")[1]
    report = re.findall(r"^    - (patchkit matrix report .*)$", text, re.M)
    assert report == ["patchkit matrix report results --expect qmail-1.03/bookworm "
                      "--expect netqmail-1.06/bookworm"]
    assert "report:\n  stage: report\n  when: always\n" in text
    assert "    reports:\n      junit: results/*/junit.xml\n" in text
    assert "  artifacts:\n    when: always\n" in text


def test_github_has_one_matrix_entry_per_cell_and_the_local_command() -> None:
    text = github.render(make(engine="github"))
    cells = re.findall(r'^          - cell: "(.*)"\n            slug: "(.*)"$', text, re.M)
    assert cells == [("qmail-1.03/bookworm", "qmail-1.03_bookworm"),
                     ("netqmail-1.06/bookworm", "netqmail-1.06_bookworm")]
    assert "      fail-fast: false\n" in text
    assert '        run: patchkit build --matrix --only "$CELL" --results results\n' in text
    assert "          name: cell-${{ matrix.slug }}\n" in text
    report = text.split("  report:\n")[1]
    assert "    needs: cell\n    if: always()\n" in report
    assert "          pattern: cell-*\n" in report and "merge-multiple: true" in report
    assert report.rstrip().endswith("--expect qmail-1.03/bookworm --expect "
                                    "netqmail-1.06/bookworm")


@pytest.mark.parametrize("render", [github.render, gitlab.render])
def test_cache_key_is_the_manifest_digest(render: object) -> None:
    assert callable(render)
    one, two = (hashlib.sha256(m).hexdigest()[:16] for m in (b"one", b"two"))
    a, b = render(make(manifest=b"one")), render(make(manifest=b"two"))
    assert f"key: patchkit-distfiles-{one}\n" in a and one not in b
    assert a.replace(one, "D") == b.replace(two, "D")  # the digest is all that changes


@pytest.mark.parametrize("render", [github.render, gitlab.render])
def test_sanitizer_reaches_every_cell_and_the_header(render: object) -> None:
    assert callable(render)
    text = render(make(Definition(bases=TWO.bases, suites=TWO.suites, sanitize=True)))
    assert "--only \"$CELL\" --results results --sanitize" in text
    assert re.search(r"^#   patchkit ci \w+ --base qmail-1.03 --base netqmail-1.06 "
                     r"--suite bookworm --sanitize$", text, re.M)


@pytest.mark.parametrize("render", [github.render, gitlab.render])
def test_seed_step_imports_from_the_runner(render: object) -> None:
    assert callable(render)
    assert 'patchkit sources import "$PATCHKIT_SEED"' in render(make())


def test_the_ci_matrix_is_the_local_matrix_definition() -> None:
    r = api.ci_render("gitlab")
    local = api.matrix_definition().cells()
    assert r["cells"] == [str(c) for c in local]
    assert {c.base for c in local} == set(mx.testable_bases())
    assert {c.suite for c in local} == set(api.SUITES)
    assert r["command"] == "patchkit ci gitlab"  # names nothing: renders the grown matrix
    digest = hashlib.sha256(manifest_path().read_bytes()).hexdigest()[:16]
    assert r["cache_key"] == f"patchkit-distfiles-{digest}"


def test_bases_and_suites_follow_the_definitions_order() -> None:
    r = api.ci_render("github", bases=["netqmail-1.06", "qmail-1.03"], suites=["trixie"])
    assert r["cells"] == ["qmail-1.03/trixie", "netqmail-1.06/trixie"]


@pytest.mark.parametrize("args,exit_code,hint", [
    (["--base", "jms1-7.08"], ConfigError.exit_code, "testable bases: qmail-1.03"),
    (["--base", "nope"], ConfigError.exit_code, "testable bases"),
    (["--suite", "sid"], 2, ""),
])
def test_ci_refuses_what_the_matrix_does_not_have(tmp_path: Path, args: list[str],
                                                  exit_code: int, hint: str) -> None:
    r = CliRunner().invoke(cli, ["ci", "gitlab", "-o", str(tmp_path / "x.yml"), *args])
    assert r.exit_code == exit_code, r.output
    assert hint in r.stderr
    assert not (tmp_path / "x.yml").exists()


def test_ci_cli_writes_the_file_and_reports_json(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "gl.yml"
    r = CliRunner().invoke(cli, ["ci", "gitlab", "--base", "netqmail-1.06", "--suite",
                                 "bookworm", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["jobs"] == ["cell netqmail-1.06/bookworm", "report"]
    assert data["path"] == str(out)
    assert out.read_text() == api.ci_render("gitlab", bases=["netqmail-1.06"],
                                            suites=["bookworm"])["text"]
    r = CliRunner().invoke(cli, ["ci", "github", "-o", "-"])
    assert r.exit_code == 0 and r.stdout.startswith("# GitHub Actions workflow")


@pytest.mark.parametrize("engine", api.CI_ENGINES)
def test_kept_pipeline_is_current(engine: str) -> None:
    kept = REPO / api.CI_DEFAULT_OUTPUT[engine]
    assert kept.read_text() == api.ci_render(engine)["text"], \
        f"{kept} is stale: run scripts/render-ci"
