"""The GitHub Actions workflow: a `cell` job with one matrix entry per cell (fail-fast off, so
every cell runs), the download cache restored by actions/cache under the manifest's digest, each
cell's results uploaded as artifact cell-BASE_SUITE, then a `report` job (always, even when
cells failed) that downloads them all and runs `patchkit matrix report`. Pure."""

from __future__ import annotations

from patchkit.ci.pipeline import (
    DISTDIR,
    PYTHON,
    RESULTS,
    SEED_VAR,
    Pipeline,
    cell_argv,
    header,
    q,
    report_line,
    seed_line,
)

RUNNER = "ubuntu-24.04"
# The first major version of each action that runs on node24 (node20 is removed from GitHub's
# runners; actionlint flags the older ones).
CHECKOUT = "actions/checkout@v5"
SETUP_PYTHON = "actions/setup-python@v6"
CACHE = "actions/cache@v5"
UPLOAD = "actions/upload-artifact@v6"
DOWNLOAD = "actions/download-artifact@v7"


def _install(extras: str) -> list[str]:
    return [
        f"      - uses: {CHECKOUT}",
        f"      - uses: {SETUP_PYTHON}",
        "        with:",
        f"          python-version: {q(PYTHON)}",
        "      - name: Install patchkit",
        f"        run: python -m pip install -e {q('.' + extras)}",
    ]


def render(p: Pipeline) -> str:
    lines = [
        *header(p, "GitHub Actions workflow"),
        "name: patchkit matrix",
        "on:",
        "  push:",
        "  pull_request:",
        "  workflow_dispatch:",
        "permissions:",
        "  contents: read",
        "jobs:",
        "  cell:",
        "    name: cell ${{ matrix.cell }}",
        f"    runs-on: {RUNNER}",
        "    timeout-minutes: 60",
        "    env:",
        f"      PATCHKIT_DISTDIR: ${{{{ github.workspace }}}}/{DISTDIR}",
        "    strategy:",
        "      fail-fast: false",
        "      matrix:",
        "        include:",
    ]
    for c in p.cells:
        lines += [f"          - cell: {q(str(c))}", f"            slug: {q(c.slug)}"]
    lines += [
        "    steps:",
        *_install("[docker]"),
        "      - name: Restore the download cache (keyed by the sources manifest's digest)",
        f"        uses: {CACHE}",
        "        with:",
        f"          path: {DISTDIR}",
        f"          key: {p.cache_key}",
        f"      - name: Seed the download cache from the runner (repository variable {SEED_VAR})",
        f"        if: vars.{SEED_VAR} != ''",
        "        env:",
        f"          {SEED_VAR}: ${{{{ vars.{SEED_VAR} }}}}",
        f"        run: {seed_line('$' + SEED_VAR)}",
        "      - name: Build and test the cell",
        "        env:",
        "          CELL: ${{ matrix.cell }}",
        f"        run: {cell_argv(p, q('$CELL'))}",
        "      - name: Keep the cell's results (cell.json, build.json, junit.xml, logs)",
        "        if: always()",
        f"        uses: {UPLOAD}",
        "        with:",
        "          name: cell-${{ matrix.slug }}",
        f"          path: {RESULTS}/",
        "          if-no-files-found: warn",
        "  report:",
        "    name: report",
        "    needs: cell",
        "    if: always()",
        f"    runs-on: {RUNNER}",
        "    timeout-minutes: 10",
        "    steps:",
        *_install(""),
        "      - name: Fetch every cell's results",
        f"        uses: {DOWNLOAD}",
        "        with:",
        "          pattern: cell-*",
        f"          path: {RESULTS}",
        "          merge-multiple: true",
        "      - name: The matrix table (exit 11 if a cell failed or left no result)",
        f"        run: {report_line(p)}",
    ]
    return "\n".join(lines) + "\n"
