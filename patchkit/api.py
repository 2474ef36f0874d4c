"""patchkit's use cases as functions that take values and return data: every command of the CLI
calls one of these and formats what it returns; tests call them directly. The values the CLI
needs to parse its options (Options, RenderOptions, the Debian suites, key sizes) are named here
too, so that the CLI imports nothing but api, ui and errors."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from patchkit.build.executor import collect, execute, run_source
from patchkit.build.plan import (
    CRYPTO_CHOICES,
    Options,
    Plan,
    base_inputs,
    check_workdir,
    make_plan,
)
from patchkit.build.toolchain import detect as detect_toolchain
from patchkit.dkim import keys
from patchkit.dkim.dnscheck import DnsSettings
from patchkit.dkim.keys import BITS, KEY_TYPES, CheckReport, KeyFiles, NewKey, Retired, Rotated
from patchkit.dkim.records import KeyType
from patchkit.dkim.render import render, template_root
from patchkit.dkim.spec import (
    DEFAULT_SIGN_HEADERS,
    DK_CANONS,
    DKIM_CANONS,
    RenderOptions,
)
from patchkit.docker.image import SUITES
from patchkit.doctor import Finding, run_checks
from patchkit.errors import (
    BuildFailed,
    ConfigError,
    FuzzFinding,
    PatchkitError,
    VerificationError,
)
from patchkit.files import write_atomic
from patchkit.sources.cache import default_distdir, verdict_is_problem
from patchkit.testing import fuzz as pkfuzz
from patchkit.testing import integration
from patchkit.testing import matrix as mx
from patchkit.testing.fuzz import TARGETS as FUZZ_TARGETS
from patchkit.testing.integration import raise_on_failure, summary_line
from patchkit.testing.matrix import Cell, CellId, Definition, run_matrix, table
from patchkit.testing.matrix import check as check_matrix

__all__ = [
    "BITS",
    "CRYPTO_CHOICES",
    "DEFAULT_SIGN_HEADERS",
    "DKIM_CANONS",
    "DK_CANONS",
    "FUZZ_TARGETS",
    "KEY_TYPES",
    "SUITES",
    "Artifact",
    "Cache",
    "Cell",
    "CellId",
    "CheckReport",
    "Definition",
    "DnsSettings",
    "KeyFiles",
    "KeyType",
    "NewKey",
    "Options",
    "RenderOptions",
    "Retired",
    "Rotated",
    "Verdict",
    "check_matrix",
    "default_distdir",
    "raise_on_failure",
    "summary_line",
    "table",
    "verdict_is_problem",
    "write_atomic",
]
from patchkit.packaging import install as pkinstall
from patchkit.packaging.users import Ids, ids_of
from patchkit.patching.series import Toolchain, load_series
from patchkit.resources import manifest_path
from patchkit.runner import capture, run_step
from patchkit.sources.archive import read_tar_bytes
from patchkit.sources.cache import Cache, Verdict
from patchkit.sources.digest import sha256_file, tree_digest_of_dir
from patchkit.sources.fetch import FetchPolicy, fetch_artifact
from patchkit.sources.manifest import Artifact, Manifest, load_manifest
from patchkit.ui import Log, Progress


def _select(manifest: Manifest, names: Sequence[str]) -> list[Artifact]:
    if not names:
        return list(manifest.artifacts)
    return [manifest.get(n) for n in names]


def sources_list(cache: Cache, names: Sequence[str] = (), manifest: Manifest | None = None
                 ) -> list[tuple[Artifact, Verdict]]:
    m = manifest or load_manifest()
    return [(a, cache.verify(a)) for a in _select(m, names)]


def sources_add(cache: Cache, path: Path, *, name: str | None = None,
                trust_on_first_use: bool = False, manifest: Manifest | None = None) -> Verdict:
    m = manifest or load_manifest()
    if not path.is_file():
        raise ConfigError(f"{path} is not a file", "give the path of a downloaded upstream file")
    artifact = m.get(name) if name else m.by_filename(path.name)
    if artifact is None:
        known = ", ".join(a.filename for a in m.artifacts)
        raise ConfigError(
            f"{path.name} is not a file patchkit knows",
            f"known files: {known}; or name the artifact with --as NAME",
        )
    if not artifact.pinned and not trust_on_first_use:
        raise VerificationError(
            f"{artifact.name} has no known checksum, so patchkit cannot verify your copy",
            "if you trust this copy, add it with --trust-on-first-use: its sha256 is recorded in "
            "the cache's trust.lock.json and checked from then on",
        )
    return cache.add_file(artifact, path, trust_on_first_use=trust_on_first_use)


def sources_import(cache: Cache, seed: Path, manifest: Manifest | None = None
                   ) -> list[tuple[Artifact, Verdict]]:
    """Seed the cache from a directory of upstream files (another machine's distdir, or the
    files as published or added there with sources add / add-git): every pinned artifact whose
    file is in seed and not yet usable in the cache is verified and added; the rest stay as
    they are. Returns every pinned artifact's verdict after the import."""
    m = manifest or load_manifest()
    if not seed.is_dir():
        raise ConfigError(f"{seed} is not a directory",
                          "give a directory holding upstream files (e.g. a copy of a seeded "
                          "~/.cache/patchkit/distfiles)")
    out = []
    for a in m.artifacts:
        if not a.pinned:
            continue  # unpinned files need a person's trust-on-first-use, never a batch
        v = cache.verify(a)
        src = seed / a.filename
        if not v.usable and src.is_file() and src.resolve() != cache.path(a).resolve():
            v = cache.add_file(a, src)
        out.append((a, v))
    return out


def sources_add_git(cache: Cache, gitdir: Path, ref: str, name: str,
                    manifest: Manifest | None = None) -> Verdict:
    m = manifest or load_manifest()
    artifact = m.get(name)
    data = capture(["git", "-C", str(gitdir), "archive", "--format=tar", ref],
                   what=f"git archive {ref}", error=ConfigError,
                   hint=f"is {gitdir} a git repository with {ref!r}? "
                        f"git -C {gitdir} tag lists its tags")
    return cache.add_tree(artifact, read_tar_bytes(data), f"{gitdir} at {ref}")


def sources_fetch(cache: Cache, names: Sequence[str] = (), *, policy: FetchPolicy | None = None,
                  progress_for: object = None, trust_on_first_use: bool = False,
                  manifest: Manifest | None = None) -> list[Verdict]:
    """Download what is missing. Unpinned artifacts are skipped unless named with TOFU."""
    m = manifest or load_manifest()
    out = []
    for a in _select(m, names):
        if not a.pinned and not (names and trust_on_first_use):
            v = cache.verify(a)
            if v.status == "missing":
                out.append(Verdict(name=a.name, status="missing",
                                   detail="no checksum known: fetch it by name with "
                                          "--trust-on-first-use"))
                continue
            out.append(v)
            continue
        progress: Progress | None = progress_for(a) if callable(progress_for) else None
        out.append(fetch_artifact(a, cache, policy=policy, progress=progress,
                                  trust_on_first_use=trust_on_first_use))
    return out


# --- building ---------------------------------------------------------------------------------

def make_build_plan(opts: Options, workdir: Path, toolchain: Toolchain | None = None,
                    ids: Ids | None = None) -> Plan:
    tc = toolchain or detect_toolchain(opts.cc)
    return make_plan(opts, load_series(), load_manifest(), tc, workdir,
                     templates_key=templates_key() if opts.dkim else "",
                     ids=(ids.users, ids.groups) if ids else None)


def templates_key() -> str:
    root = template_root()
    if not (root / "hooks.toml").is_file():
        raise ConfigError(f"no DKIM templates in {root}", "reinstall patchkit")
    return tree_digest_of_dir(root)


def render_patch(opts: Options, cache: Cache, workdir: Path, *, say: Log) -> str:
    """The DKIM patch for opts.base, rendered against the base's prepared tree (without it)."""
    plain = replace(opts, dkim=False)
    tree = prepare(plain, cache, workdir, say=say)
    return render(tree, opts.base, opts.render)


def _inputs(opts: Options, cache: Cache) -> list[dict[str, Any]]:
    out = []
    for a in base_inputs(load_series(), load_manifest(), opts.base):
        v = cache.verify(a)
        out.append({"name": a.name, "file": a.filename, "sha256": a.sha256,
                    "tree": a.tree, "verified_by": v.how or v.status,
                    "file_sha256": sha256_file(v.path) if v.path else None})
    return out


def _require_inputs(opts: Options, cache: Cache, say: Log | None = None) -> None:
    """Download pinned inputs that are missing; fail before any work if one cannot be had,
    naming the URLs tried and the command that seeds the cache by hand."""
    for a in base_inputs(load_series(), load_manifest(), opts.base):
        if a.pinned and cache.verify(a).status == "missing":
            if say:
                say(f"fetching {a.filename}")
            fetch_artifact(a, cache)
        cache.require(a)


def prepare(opts: Options, cache: Cache, workdir: Path, *, say: Log) -> Path:
    check_workdir(workdir)  # refused before any work: relative, or with white space
    workdir.mkdir(parents=True, exist_ok=True)  # an unwritable workdir fails first, by name
    plan = make_build_plan(opts, workdir)
    _require_inputs(opts, cache, say)
    for st in plan.sources:
        say(f"{st.name}: unpacking {st.tree.filename} and applying "
            f"{len(st.upstream) + len(st.patches) + (st.render is not None)} patch(es)")
        run_source(plan, st, cache)
    return plan.path("src", "qmail")


def build(opts: Options, cache: Cache, workdir: Path, outdir: Path | None, *,
          say: Log) -> dict[str, Any]:
    check_workdir(workdir)  # refused before any work: relative, or with white space
    workdir.mkdir(parents=True, exist_ok=True)  # an unwritable workdir fails first, by name
    plan = make_build_plan(opts, workdir)
    _require_inputs(opts, cache, say)
    results = execute(plan, cache, say=say)
    out = outdir or plan.path("out")
    report = collect(plan, out, _inputs(opts, cache), results)
    report["output_dir"] = str(out)
    report["stage_results"] = [
        {"name": r.name, "skipped": r.skipped, "seconds": round(r.seconds, 2)} for r in results
    ]
    return report


def fuzz(base: str, cache: Cache, workdir: Path, *, seconds: int, seeds: Sequence[Path] = (),
         regressions: Path | None = None, targets: Sequence[str] = pkfuzz.TARGETS,
         say: Log) -> dict[str, Any]:
    """patchkit fuzz: build base with clang under ASan+UBSan and libFuzzer's instrumentation (in
    WORKDIR/fuzz), link the targets (templates/fuzz), replay every kept input under
    regressions/TARGET/, then fuzz each target for seconds (0: replay only) from a corpus of
    the messages in the seeds directories, each also signed by our signer for the verify
    target. Figures per target; an input that crashes, leaks or hangs raises FuzzFinding."""
    pkfuzz.require_clang()
    unknown = sorted(set(targets) - set(pkfuzz.TARGETS))
    if unknown:
        raise ConfigError(f"no fuzz target {', '.join(unknown)}",
                          f"the targets are {', '.join(pkfuzz.TARGETS)}")
    top = check_workdir(workdir) / "fuzz"
    top.mkdir(parents=True, exist_ok=True)
    opts = pkfuzz.options(base)
    plan = make_build_plan(opts, top)
    _require_inputs(opts, cache, say)
    execute(plan, cache, say=say)
    bindir = top / "targets"
    if bindir.exists():
        shutil.rmtree(bindir)
    bindir.mkdir()
    for step in pkfuzz.link_steps(plan.root, bindir):
        run_step(step, top / "logs" / "link.log")
    rundir = pkfuzz.lay_out(top / "run")
    binary = {t: bindir / f"fuzz-{t}" for t in pkfuzz.TARGETS}

    messages = [p.read_bytes() for d in seeds for p in sorted(d.rglob("*")) if p.is_file()]
    signed = [s for s in (pkfuzz.sign_seed(binary["sign"], rundir, m) for m in messages)
              if s is not None]
    seeddir = top / "seeds"
    if seeddir.exists():
        shutil.rmtree(seeddir)
    nseeds = {}
    for t, inputs in (("sign", messages), ("verify", [*messages, *signed]),
                      ("roundtrip", messages)):
        # seeds past MAX_LEN (the 256 KB header rule's) are replayed, not mutated: one such
        # seed would make every mutation that large and the fuzzer twenty times slower
        nseeds[t] = pkfuzz.write_corpus(seeddir / t, [m for m in inputs
                                                      if len(m) <= pkfuzz.MAX_LEN])
        pkfuzz.write_corpus(seeddir / f"{t}-large", [m for m in inputs if len(m) > pkfuzz.MAX_LEN])

    report: dict[str, Any] = {"base": base, "seconds": seconds, "workdir": str(top),
                              "targets": {}}
    found: list[str] = []
    for t in targets:
        r: dict[str, Any] = {"binary": str(binary[t]), "seeds": nseeds[t]}
        keptdir = regressions / t if regressions else None
        kept = sorted(p for p in keptdir.glob("*") if p.is_file()) if keptdir else []
        large = sorted((seeddir / f"{t}-large").iterdir())
        r["regressions"] = len(kept)
        r["large_seeds"] = len(large)
        if kept or large:
            say(f"fuzz {t}: replaying {len(kept)} kept input(s) from {keptdir} and "
                f"{len(large)} seed(s) over {pkfuzz.MAX_LEN} bytes")
            log = top / "logs" / f"replay-{t}.log"
            if pkfuzz.replay(binary[t], rundir, [*kept, *large], log) != 0:
                found.append(f"{t}: a kept input under {keptdir} or a large seed fails "
                             f"(log: {log})")
        if seconds > 0:
            say(f"fuzz {t}: {seconds} s from {nseeds[t]} seed(s)")
            log = top / "logs" / f"fuzz-{t}.log"
            artifacts = top / "findings" / t
            rc, st = pkfuzz.run(binary[t], rundir, top / "corpus" / t, seeddir / t, artifacts,
                                seconds, log)
            r.update({"exit": rc, "execs": st.execs, "exec_per_s": st.exec_per_s,
                      "cov": st.cov, "ft": st.ft, "corpus": st.corpus,
                      "new_units": st.new_units, "peak_rss_mb": st.peak_rss_mb,
                      "findings": [str(artifacts / f) for f in st.findings], "log": str(log)})
            if rc == 0 and not st.findings:
                cov = pkfuzz.coverage(binary[t], rundir,
                                      [top / "corpus" / t, seeddir / t, seeddir / f"{t}-large"],
                                      top / "logs" / f"coverage-{t}.log")
                r["edges"] = {c: {"covered": a, "total": b} for c, (a, b) in cov.items()}
            if rc != 0 or st.findings:
                found.append(f"{t}: exit {rc}, {', '.join(st.findings) or 'no input written'} "
                             f"(log: {log})")
        report["targets"][t] = r
    if found:
        raise FuzzFinding(
            "fuzzing found inputs that fail: " + "; ".join(found),
            f"reproduce in {rundir}: ../targets/fuzz-TARGET INPUT; fix the cause, then keep "
            "the input under tests/fuzz-regressions/TARGET/ (README.md, 'Fuzzing')")
    return report


def install(opts: Options, cache: Cache, workdir: Path, *, root: Path | None = None,
            destdir: Path | None = None, manifest: Path | None = None,
            ids_from: Path | None = None, say: Log) -> dict[str, Any]:
    """patchkit install: build opts.base (against the target's user IDs where the base compiles
    them in) and make qmail's hierarchy: live under root, as root, with qmail's users (created
    when missing) and owners; or staged under destdir as any user, with a manifest of owners and
    modes beside it (DESTDIR.manifest unless manifest names another file)."""
    if (root is None) == (destdir is None):
        raise ConfigError("install needs exactly one of --root and --destdir",
                          "--root / installs on this system (as root); --destdir DIR stages "
                          "the tree for a package")
    check_workdir(workdir)
    base = load_series().base(opts.base)
    created: list[str] = []
    ids: Ids | None = None
    if root is not None:
        pkinstall.require_root()
        created, ids = pkinstall.ensure_users(root, opts.qmail_home, say=say)
    elif not base.runtime_ids:
        src = ids_from or Path("/")
        ids = ids_of(*pkinstall.read_system(src))
        if ids is None:
            raise ConfigError(
                f"{opts.base} compiles qmail's user IDs into its programs, and {src} has no "
                "qmail users to take them from",
                "create them there (qmail's INSTALL.ids), or name the system the tree is for: "
                "--ids-from ROOT (its etc/passwd and etc/group)")
    workdir.mkdir(parents=True, exist_ok=True)
    plan = make_build_plan(opts, workdir, ids=None if base.runtime_ids else ids)
    _require_inputs(opts, cache, say)
    execute(plan, cache, say=say)
    lay = pkinstall.layout(plan.path("build", "qmail"), opts.qmail_home)
    target = root if root is not None else destdir
    assert target is not None
    live = root is not None
    say(f"installing {len(lay.entries)} entries into {_home_in(target, lay.home)}")
    pkinstall.stage(lay, target, ids=ids if live else None)
    problems = pkinstall.check(lay, target, ids=ids if live else None)
    if problems:
        raise BuildFailed(f"the install differs from hier.c: {'; '.join(problems[:5])}",
                          f"{len(problems)} difference(s) under {target}")
    report: dict[str, Any] = {
        "base": opts.base, "variant": opts.variant, "home": opts.qmail_home,
        "entries": len(lay.entries), "created": created,
        "ids": {"users": {n: u for n, u, _ in ids.users},
                "groups": dict(ids.groups)} if ids else None,
        "ids_compiled_in": not base.runtime_ids,
    }
    if live:
        report["root"] = str(root)
        report["instcheck"] = (pkinstall.instcheck(lay) if root == Path("/") else
                               "not run: qmail's instcheck checks this system's "
                               f"{opts.qmail_home}, not {root}")
    else:
        assert destdir is not None
        mpath = manifest or destdir.with_name(destdir.name + ".manifest")
        pkinstall.write_manifest(mpath, lay, lay.entries)
        report["destdir"] = str(destdir)
        report["manifest"] = str(mpath)
    return report


def package_deb(base: str, cache: Cache, outdir: Path, *, suite: str, verify: bool = True,
                say: Log) -> dict[str, Any]:
    """patchkit package deb: the source package for base (origs, debian/), built twice in the
    suite's container (the .debs compared), lintian-clean, then (verify) installed into a fresh
    container, checked, autopkgtested, purged and reinstalled."""
    from patchkit.packaging import debbuild, debsource  # the Docker SDK is loaded there

    t0 = time.monotonic()
    _require_inputs(Options(base=base), cache, say)
    a = debsource.assemble(base, suite, cache, outdir)
    say(f"{a.source} {a.version}: {len(a.origs)} upstream tarballs and debian/ in {a.dir}")
    report: dict[str, Any] = {"source": a.source, "version": a.version, "dir": str(a.dir),
                              "origs": [str(p) for p in a.origs],
                              "source_date_epoch": a.epoch, "suite": suite}
    report["build"] = debbuild.build(a, outdir, suite, say=say)
    report["seconds_to_lint_clean"] = round(time.monotonic() - t0, 1)
    if verify:
        report["verify"] = debbuild.verify(a, outdir, suite, say=say)
        report["seconds_to_installed_and_verified"] = round(time.monotonic() - t0, 1)
    return report


def package_ebuild(base: str, cache: Cache, outdir: Path, *, say: Log) -> dict[str, Any]:
    """patchkit package ebuild: the Gentoo overlay for base in outdir/overlay, the patchset
    distfile in outdir/distfiles."""
    from patchkit.packaging import overlay

    _require_inputs(Options(base=base), cache, say)
    report = overlay.write(base, cache, outdir)
    say(f"overlay in {report['overlay']}; patchset {report['patchset']}")
    return report


def _home_in(root: Path, home: str) -> Path:
    return root / home.lstrip("/")


def build_with(opts: Options, cache: Cache, workdir: Path, outdir: Path | None, *, backend: str,
               suite: str, say: Log) -> dict[str, Any]:
    """patchkit build: here (local) or in the SUITE build image (docker)."""
    if backend == "docker":
        from patchkit.docker import backend as docker_backend  # the SDK is imported only there

        check_workdir(workdir)
        return docker_backend.build(opts, cache, workdir, outdir, suite=suite, say=say)
    return build(opts, cache, workdir, outdir, say=say)


def matrix_definition(bases: Sequence[str] = (), suites: Sequence[str] = (), *,
                      sanitize: bool = False) -> Definition:
    """The one matrix definition (bases x suites) the local run and the CI pipelines share."""
    return mx.definition(bases, suites, known_suites=SUITES, sanitize=sanitize)


def parse_cell(text: str) -> CellId:
    """BASE/SUITE, a cell of the matrix definition (what --only and --expect take)."""
    return mx.parse_cell(text, known_suites=SUITES)


def matrix(template: Options, cache: Cache, workdir: Path, *, say: Log,
           cells: Sequence[CellId] = (), results: Path | None = None) -> list[Cell]:
    """patchkit build --matrix: every cell of the matrix definition (or only the cells named),
    each built and tested in a container (the template's options, its base aside, reach every
    cell). With results, each cell leaves results/BASE_SUITE/: cell.json (what `matrix report`
    merges), build.json, junit.xml, and its logs when the build failed."""
    from patchkit.docker import backend as docker_backend

    todo = tuple(cells) or matrix_definition(sanitize=template.sanitize).cells()

    def run(opts: Options, suite: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        keep = _cell_dir(results, opts.base, suite)
        if keep is not None and keep.exists():
            shutil.rmtree(keep)  # a rerun's record never mixes with an older one's files
        try:
            report = docker_backend.build(opts, cache, workdir, None, suite=suite, say=say)
        except PatchkitError:
            logs = docker_backend.state_dir(workdir, suite) / opts.variant / "out" / "logs"
            if keep is not None and logs.is_dir():
                shutil.copytree(logs, keep / "logs")
            raise
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(report["output_dir"]) / "build.json", keep / "build.json")
        junit = docker_backend.state_dir(workdir, suite) / f"junit-{opts.base}.xml"
        try:
            return report, docker_backend.test(opts.base, cache, workdir, junit, suite=suite,
                                               say=say)
        finally:
            if keep is not None and junit.is_file():
                shutil.copyfile(junit, keep / "junit.xml")

    done = run_matrix(template, todo, run, say=say)
    for cell in done:
        keep = _cell_dir(results, cell.base, cell.suite)
        if keep is not None:
            write_atomic(keep / mx.RECORD, (json.dumps(mx.record(cell), indent=2,
                                                       sort_keys=True) + "\n").encode())
    return done


def _cell_dir(results: Path | None, base: str, suite: str) -> Path | None:
    return None if results is None else results / CellId(base=base, suite=suite).slug


def matrix_report(results: Path, expected: Sequence[CellId] = ()) -> list[Cell]:
    """patchkit matrix report: the cells' records under results (the CI jobs' artifacts) merged
    into the local matrix's cells, in matrix order; an expected cell without a record failed."""
    cells = mx.merge(mx.read_results(results), expected)
    if not cells:
        raise ConfigError(f"no cell results under {results} (no {mx.RECORD} anywhere in it)",
                          "download the cells' artifacts there first; each cell's job runs "
                          "patchkit build --matrix --only BASE/SUITE --results DIR")
    return cells


CI_ENGINES = ("github", "gitlab")
CI_DEFAULT_OUTPUT = {"github": Path(".github/workflows/matrix.yml"),
                     "gitlab": Path(".gitlab-ci.yml")}


def ci_render(engine: str, *, bases: Sequence[str] = (), suites: Sequence[str] = (),
              sanitize: bool = False) -> dict[str, Any]:
    """patchkit ci github|gitlab: the pipeline for the matrix definition, as text (pure), with
    what it holds: its cells, one job each, and the download cache's key."""
    from patchkit.ci import github, gitlab
    from patchkit.ci.pipeline import pipeline

    renderers = {"github": github.render, "gitlab": gitlab.render}
    if engine not in renderers:
        raise ConfigError(f"unknown CI engine {engine!r}", f"one of: {', '.join(CI_ENGINES)}")
    d = matrix_definition(bases, suites, sanitize=sanitize)
    p = pipeline(d, manifest_path().read_bytes(), engine=engine, every_base=not bases,
                 every_suite=not suites)
    return {"engine": engine, "text": renderers[engine](p), "cells": [str(c) for c in p.cells],
            "cache_key": p.cache_key, "sanitize": sanitize, "command": p.command}


def test(base: str, cache: Cache, workdir: Path, junit: Path, *, backend: str, suite: str,
         say: Log) -> dict[str, Any]:
    """patchkit test: the integration suite for base, here or in the build image."""
    if backend == "docker":
        from patchkit.docker import backend as docker_backend

        return docker_backend.test(base, cache, workdir, junit, suite=suite, say=say)
    return integration.run_local(base, cache, workdir, junit, say=say)


def image_bootstrap(suite: str, *, mirror: str | None, force: bool, say: Log) -> dict[str, Any]:
    """patchkit image bootstrap: debootstrap SUITE and import it (unless present)."""
    from patchkit.docker import engine, image

    client = engine.connect()
    ref = image.base_image(suite)
    if not force and engine.image_exists(client, ref):
        return {"image": ref, "present": True}
    return image.bootstrap(client, suite, mirror=mirror, say=say)


def doctor(cache: Cache) -> list[Finding]:
    """patchkit doctor: what this machine has for local and docker builds."""
    return run_checks(cache)


def keygen(domain: str, *, selector: str, bits: int, keydir: Path, force: bool) -> KeyFiles:
    """patchkit keygen: `keys new` with the old defaults (RSA, selector `default`) and --force."""
    return keys.keygen(domain, selector=selector, bits=bits, keydir=keydir, force=force)


def keys_new(domain: str, *, key_type: KeyType, bits: int | None, selector: str | None,
             keydir: Path) -> NewKey:
    """patchkit keys new: a key (dated selector by default), its record, the active link if
    there is none for its type yet."""
    return keys.new_key(domain, key_type=key_type, bits=bits, selector=selector, keydir=keydir)


def keys_check(domain: str, *, keydir: Path, dns: DnsSettings) -> CheckReport:
    """patchkit keys check: every key of DOMAIN against DNS; `.problem` to raise after showing."""
    return keys.check(domain, keydir=keydir, dns=dns)


def keys_rotate(domain: str, *, key_type: KeyType, bits: int | None, keydir: Path,
                activate: bool, dns: DnsSettings) -> Rotated:
    """patchkit keys rotate [--activate]: the next key, or the link flipped to it once DNS
    publishes it."""
    return keys.rotate(domain, key_type=key_type, bits=bits, keydir=keydir, activate=activate,
                       dns=dns)


def keys_retire(domain: str, selector: str, *, keydir: Path, dns: DnsSettings) -> Retired:
    """patchkit keys retire: an old key removed once DNS shows it revoked or gone."""
    return keys.retire(domain, selector, keydir=keydir, dns=dns)
