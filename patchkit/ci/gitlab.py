"""The GitLab CI pipeline: a `cell` job with `parallel: matrix` (one job per cell, each with its
CELL variable), the download cache under the manifest's digest, each cell's results as its
artifacts (JUnit XML also as GitLab's test report), then a `report` job in the last stage (when:
always) that gets every cell's artifacts and runs `patchkit matrix report`. For shell-executor
runners with Python >= 3.11 and a Docker engine. Pure."""

from __future__ import annotations

from patchkit.ci.pipeline import (
    DISTDIR,
    RESULTS,
    SEED_VAR,
    Pipeline,
    cell_argv,
    header,
    q,
    report_line,
    seed_line,
)

VENV = ".venv"


def _install(extras: str) -> list[str]:
    return [
        "  before_script:",
        f"    - python3 -m venv {VENV}",
        f"    - {VENV}/bin/python -m pip install -q -e {q('.' + extras)}",
        f'    - export PATH="$CI_PROJECT_DIR/{VENV}/bin:$PATH"',
    ]


def render(p: Pipeline) -> str:
    lines = [
        *header(p, "GitLab CI pipeline"),
        "# Runner: a shell executor with Python >= 3.11 and a Docker engine (the cells build in",
        f"# patchkit's build image). Offline runners: set {SEED_VAR} to a directory of upstream",
        "# files on the runner.",
        "stages:",
        "  - cells",
        "  - report",
        "variables:",
        f'  PATCHKIT_DISTDIR: "$CI_PROJECT_DIR/{DISTDIR}"',
        f'  {SEED_VAR}: ""',
        "cell:",
        "  stage: cells",
        "  timeout: 1h",
        "  parallel:",
        "    matrix:",
    ]
    lines += [f"      - CELL: {q(str(c))}" for c in p.cells]
    lines += [
        "  cache:",
        f"    key: {p.cache_key}",
        "    paths:",
        f"      - {DISTDIR}/",
        *_install("[docker]"),
        "  script:",
        f'    - if [ -n "${SEED_VAR}" ]; then {seed_line("$" + SEED_VAR)}; fi',
        f"    - {cell_argv(p, q('$CELL'))}",
        "  artifacts:",
        "    when: always",
        "    expire_in: 1 week",
        "    paths:",
        f"      - {RESULTS}/",
        "    reports:",
        f"      junit: {RESULTS}/*/junit.xml",
        "report:",
        "  stage: report",
        "  when: always",
        "  timeout: 10m",
        *_install(""),
        "  script:",
        f"    - {report_line(p)}",
    ]
    return "\n".join(lines) + "\n"
