"""What both CI renderers share: the pipeline as a value (the matrix definition, the cache key
from the sources manifest's digest) and the commands its jobs run, so that the GitHub and the
GitLab file differ only in their engine's syntax. Pure: text in, text out."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from patchkit.sources.digest import sha256_bytes
from patchkit.testing.matrix import CellId, Definition

RESULTS = "results"  # where each cell's job leaves its record, and the report job reads them
# the download cache, inside the checkout (GitLab caches nothing outside it)
DISTDIR = ".patchkit-distfiles"
SEED_VAR = "PATCHKIT_SEED"  # a directory of upstream files on the runner: seeds the cache offline
PYTHON = "3.11"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipeline:
    definition: Definition
    manifest_digest: str  # sha256 of patchkit's sources manifest: the download cache's key
    command: str  # the patchkit command that rendered the file (its header says how to redo it)

    @property
    def cells(self) -> tuple[CellId, ...]:
        return self.definition.cells()

    @property
    def cache_key(self) -> str:
        return f"patchkit-distfiles-{self.manifest_digest[:16]}"


def pipeline(definition: Definition, manifest_text: bytes, *, engine: str,
             every_base: bool = True, every_suite: bool = True) -> Pipeline:
    """every_base/every_suite: the definition has them because none were named (the rendering
    command then names none either, and renders the grown matrix when the series grows)."""
    if not definition.cells():
        raise ValueError("a pipeline needs at least one cell")
    return Pipeline(definition=definition, manifest_digest=sha256_bytes(manifest_text),
                    command=render_command(definition, engine, every_base=every_base,
                                           every_suite=every_suite))


def render_command(d: Definition, engine: str, *, every_base: bool = True,
                   every_suite: bool = True) -> str:
    """The `patchkit ci ENGINE ...` line that renders this definition again."""
    argv = ["patchkit", "ci", engine]
    for b in () if every_base else d.bases:
        argv += ["--base", b]
    for s in () if every_suite else d.suites:
        argv += ["--suite", s]
    if d.sanitize:
        argv.append("--sanitize")
    return " ".join(argv)


def cell_argv(p: Pipeline, cell_ref: str) -> str:
    """One cell, the local matrix's own code path; cell_ref is the engine's variable for it."""
    return ("patchkit build --matrix --only " + cell_ref + f" --results {RESULTS}"
            + (" --sanitize" if p.definition.sanitize else ""))


def seed_line(ref: str) -> str:
    return f'patchkit sources import "{ref}"'


def report_line(p: Pipeline) -> str:
    expects = " ".join(f"--expect {shlex.quote(str(c))}" for c in p.cells)
    return f"patchkit matrix report {RESULTS} {expects}"


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text)


def header(p: Pipeline, what: str) -> list[str]:
    return [
        f"# {what}: patchkit's build matrix, one job per cell, then a report job.",
        "# Rendered from patchkit's matrix definition by (do not edit by hand, render it again):",
        f"#   {p.command}",
        f"# Download cache key: sha256 of patchkit/data/sources.toml ({p.manifest_digest[:16]}).",
    ]
