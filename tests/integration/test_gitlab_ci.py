"""The emitted GitLab pipeline, run for real: gitlab-ci-local (npm, shell executor) runs `patchkit
ci gitlab` for two cells in a copy of this checkout, the cells build and test in the build image
(docker backend, the local engine), the download cache starts empty and is seeded the offline way
(PATCHKIT_SEED, `patchkit sources import`), and the report job's table is the one `patchkit build
--matrix` makes for the same cells: same cells, same results, same output digests.

Two cheap cells on one suite (PATCHKIT_TEST_CI_CELLS overrides them, e.g. "qmail-1.03/trixie
netqmail-1.06/trixie"): each builds and runs the base's suite twice, in the pipeline and in the
local matrix run it is compared with."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import REPO, patchkit, require_upstream
from harness import workdir as harness_workdir

from patchkit.errors import EngineError
from patchkit.sources.cache import default_distdir

pytestmark = [pytest.mark.gitlab, pytest.mark.docker, pytest.mark.upstream, pytest.mark.slow]

GCL_VERSION = "4.56.2"  # 4.56 runs on Debian's Node 20; 4.75 needs Node 22
CELLS = os.environ.get("PATCHKIT_TEST_CI_CELLS", "qmail-1.03/bookworm netqmail-1.06/bookworm")


def tools_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "patchkit-test" / f"gitlab-ci-local-{GCL_VERSION}"


def gitlab_ci_local() -> Path:
    """gitlab-ci-local from npm, installed once into a cache directory; skips (one line) when
    node, npm, rsync or git is missing or the npm registry cannot be reached."""
    for tool in ("node", "npm", "rsync", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: gitlab-ci-local needs node >= 20, npm and rsync "
                        "(scripts/setup --test installs them)")
    major = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    if not re.match(r"v(2\d|[3-9]\d)\.", major.stdout):
        pytest.skip(f"node {major.stdout.strip() or '?'} is too old: gitlab-ci-local "
                    f"{GCL_VERSION} needs node >= 20")
    where = tools_dir()
    exe = where / "node_modules" / ".bin" / "gitlab-ci-local"
    if not exe.is_file():
        where.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(where),
                            f"gitlab-ci-local@{GCL_VERSION}"], capture_output=True, text=True,
                           check=False, timeout=900)
        if r.returncode != 0 or not exe.is_file():
            tail = (r.stderr.strip().splitlines() or ["?"])[-1]
            pytest.skip(f"npm could not install gitlab-ci-local@{GCL_VERSION} ({tail}): "
                        "it needs the npm registry")
    return exe


def require_engine() -> None:
    from patchkit.docker import engine as container

    try:
        container.connect(timeout=30)
    except EngineError as e:
        pytest.skip(f"{e.message} (scripts/docker-up starts one)")


def copy_of_checkout(dest: Path) -> Path:
    """The checkout's tracked files as they are now (what gitlab-ci-local copies into each job
    is what git tracks), committed in a fresh repository."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)
    git = ["git", "-C", str(dest), "-c", "user.name=patchkit", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "checkout"], check=True)
    return dest


def rows(cells: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(c["base"], c["suite"], c["result"], c["digest"]) for c in cells]


def without_times(table: str) -> list[list[str]]:
    """The table's words, line by line, without the times (column widths follow them)."""
    return [[w for w in line.split() if not re.fullmatch(r"\d+\.\ds", w)]
            for line in table.strip().splitlines()]


@pytest.mark.timeout(3600)
def test_gitlab_pipeline_runs_and_reports_what_the_local_matrix_does(tmp_path: Path) -> None:
    cells = CELLS.split()
    for cell in cells:
        require_upstream(cell.split("/")[0])
    require_engine()
    gcl = gitlab_ci_local()
    repo = copy_of_checkout(tmp_path / "repo")
    bases = [a for c in cells for a in ("--base", c.split("/")[0])]
    suites = [a for s in sorted({c.split("/")[1] for c in cells}) for a in ("--suite", s)]
    patchkit("ci", "gitlab", *bases, *suites, "-o", str(repo / ".gitlab-ci.yml"))
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=patchkit", "-c",
                    "user.email=t@localhost", "commit", "-q", "-am", "pipeline"], check=True)
    from patchkit import api

    expected = [str(c) for c in api.matrix_definition([c.split("/")[0] for c in cells],
                                                      [c.split("/")[1] for c in cells]).cells()]
    assert sorted(expected) == sorted(cells), "name cells that make a full matrix (bases x suites)"

    seed = default_distdir().resolve()
    home = tmp_path / "gcl-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PATCHKIT_", "CI_", "GITLAB_"))}
    proc = subprocess.run(
        [str(gcl), "--shell-isolation", "--concurrency", "1", "--no-color", "--home", str(home),
         "--variable", f"PATCHKIT_SEED={seed}"],
        cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=3600)
    log = proc.stdout + proc.stderr
    (tmp_path / "gitlab-ci-local.log").write_text(log)
    assert proc.returncode == 0, log[-6000:]

    # every job ran, the cells' caches were seeded from PATCHKIT_SEED, not downloaded
    for cell in cells:
        assert f"cell: [{cell}]" in log
        assert re.search(rf"cell: \[{re.escape(cell)}\]\s+> qmail-1\.03\s+ok \(tree\)", log)
    key = json.loads(patchkit("ci", "gitlab", *bases, *suites, "-o", str(tmp_path / "x.yml"),
                              "--json").stdout)["cache_key"]
    kept = repo / ".gitlab-ci-local" / "cache" / key / ".patchkit-distfiles"
    cached = {p.name for p in kept.iterdir()} if kept.is_dir() else set()
    assert {"qmail-1.03.tar.gz", "libdkim-1.0.19.zip"} <= cached, cached

    # the report job printed the table of the cells' artifacts, and passed
    out = [m[1] for m in (re.match(r"^(?:\[[^]]*\]\s*)?report\s+> (.*)$", line)
                          for line in log.splitlines()) if m]
    # the table, from its header to its count line (pip's warnings come and go around it)
    start = next((i for i, line in enumerate(out) if line.split()[:2] == ["cell", "result"]), -1)
    end = next((i for i, line in enumerate(out) if re.match(r"\d+ of \d+ cells passed", line)),
               -1)
    assert 0 <= start < end, "\n".join(out[-40:])
    report_lines = out[start:end + 1]
    merged = json.loads(patchkit("matrix", "report", str(repo / "results"), "--json",
                                 *(a for c in expected for a in ("--expect", c))).stdout)
    assert [f"{c['base']}/{c['suite']}" for c in merged] == expected
    assert all(c["result"] == "ok" and c["digest"] for c in merged), merged
    for cell in expected:
        slug = cell.replace("/", "_")
        for name in ("cell.json", "build.json", "junit.xml"):
            assert (repo / "results" / slug / name).is_file(), f"{slug}/{name} not kept"

    # the local matrix on the same cells: the same table, times aside
    local = json.loads(patchkit("build", "--matrix", *(a for c in expected for a in ("--only", c)),
                                "--workdir", str(harness_workdir() / "ci-local"),
                                "--json").stdout)
    assert rows(local) == rows(merged)
    from patchkit.testing.matrix import Cell, table

    def as_table(data: list[dict[str, object]]) -> list[list[str]]:
        return without_times(table([Cell(**c) for c in data]))  # type: ignore[arg-type]

    assert as_table(local) == as_table(merged)
    assert without_times("\n".join(report_lines)) == as_table(merged)
