"""Executing a plan on this machine (the local backend): source stages unpack and patch, compile
stages build in a fresh copy of their source tree; a stage whose key is unchanged and whose outputs
are intact is skipped. Finally the outputs are collected with build.json."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.build.plan import CompileStage, Install, Plan, SourceStage, users_files
from patchkit.dkim.render import render
from patchkit.errors import BuildFailed
from patchkit.files import write_atomic
from patchkit.patching import diffs
from patchkit.patching.series import verify_patch
from patchkit.runner import run_step
from patchkit.sources.cache import Cache
from patchkit.sources.digest import sha256_file
from patchkit.sources.unpack import unpack
from patchkit.ui import Log


@dataclass(frozen=True, slots=True, kw_only=True)
class StageResult:
    name: str
    key: str
    skipped: bool
    seconds: float


def _stamp(plan: Plan, name: str) -> Path:
    return plan.path("stamps", f"{name}.json")


def _stage_ok(plan: Plan, name: str, key: str) -> bool:
    """The stage's stamp has this key and every output it recorded is still there, unchanged."""
    s = _stamp(plan, name)
    if not s.exists():
        return False
    try:
        data = json.loads(s.read_text())
    except ValueError:
        return False
    if data.get("key") != key:
        return False
    for rel, digest in data.get("outputs", {}).items():
        p = plan.root / rel
        if not p.is_file() or sha256_file(p) != digest:
            return False
    return True


def _write_stamp(plan: Plan, name: str, key: str, outputs: list[str]) -> None:
    data = {"key": key, "outputs": {rel: sha256_file(plan.root / rel) for rel in outputs}}
    write_atomic(_stamp(plan, name), json.dumps(data, indent=1, sort_keys=True))


def apply_patch_file(path: Path, tree: Path, *, strip: int, crlf: bool, name: str) -> None:
    text = diffs.read_text(path)
    diffs.apply(diffs.parse(text, strip=strip, name=name), tree, crlf=crlf, name=name)


def run_source(plan: Plan, st: SourceStage, cache: Cache) -> Path:
    dest = plan.path("src", st.component)
    if dest.exists():
        shutil.rmtree(dest)
    _stamp(plan, st.name).unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    unpack(cache.require(st.tree), dest)
    for up in st.upstream:
        apply_patch_file(cache.require(up), dest, strip=1, crlf=False, name=up.filename)
    for p in st.patches:
        apply_patch_file(verify_patch(p), dest, strip=p.strip, crlf=p.eol == "crlf", name=p.file)
    if st.render is not None:
        text = render(dest, plan.options.base, st.render)
        plan.path("dkim.patch").write_text(text, encoding=diffs.ENCODING)
        diffs.apply(diffs.parse(text, name="dkim.patch"), dest, name="dkim.patch")
    if st.component == "qmail":
        _write_conf(plan)
    _write_stamp(plan, st.name, st.key, [])
    return dest


def _write_conf(plan: Plan) -> None:
    tree = plan.path("src", "qmail")
    if not tree.is_dir():
        return
    for rel, text in plan.conf.items():
        (tree / rel).write_text(text)


def run_compile(plan: Plan, st: CompileStage, log: Path) -> None:
    src = plan.path("src", st.component)
    work = plan.path("build", st.component)
    if work.exists():
        shutil.rmtree(work)
    _stamp(plan, st.name).unlink(missing_ok=True)
    shutil.copytree(src, work, symlinks=True)
    for rel, text in st.files.items():
        (work / rel).write_text(text)
    if st.needs_users:
        passwd, group = users_files(plan.users, plan.groups)
        nss = plan.path("nss")
        nss.mkdir(parents=True, exist_ok=True)
        (nss / "passwd").write_text(passwd)
        (nss / "group").write_text(group)
    log.unlink(missing_ok=True)
    for step in st.steps:
        run_step(step, log)
    for inst in st.installs:
        install_files(work, inst, log)
    outputs = list(st.outputs)
    if st.component == "qmail":
        outputs += [f"build/qmail/{rel.rsplit('/', 1)[1]}" for rel in installed_files(work)
                    if rel.startswith("bin/")]
    missing = [o for o in outputs if not plan.path(o).is_file()]
    if missing:
        raise BuildFailed(f"{st.name}: the build did not produce {', '.join(missing)}",
                          f"see {log}")
    _write_stamp(plan, st.name, st.key, outputs)


def install_files(work: Path, inst: Install, log: Path) -> None:
    """Copy what inst names from the build tree into its destination (the private prefix)."""
    inst.dest.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        for pattern in inst.globs:
            found = sorted(p for p in work.glob(pattern) if p.is_file())
            if not found:
                raise BuildFailed(f"the build of {work.name} made no {pattern} to install",
                                  f"see {log}")
            for f in found:
                shutil.copy2(f, inst.dest / f.name)
                out.write(f"installed {f} -> {inst.dest / f.name}\n")


def execute(plan: Plan, cache: Cache, *, say: Log) -> list[StageResult]:
    results = []
    for st in plan.sources:
        t0 = time.monotonic()
        if plan.path("src", st.component).is_dir() and _stage_ok(plan, st.name, st.key):
            results.append(StageResult(name=st.name, key=st.key, skipped=True, seconds=0.0))
            continue
        say(f"{st.name}: unpacking {st.tree.filename}, applying "
            f"{len(st.upstream)} upstream and {len(st.patches)} patchkit patch(es)")
        run_source(plan, st, cache)
        results.append(StageResult(name=st.name, key=st.key, skipped=False,
                                   seconds=time.monotonic() - t0))
    # conf-* are not part of the source key (they change with options, the tree does not):
    # write them on every run so the prepared tree always shows what is being built
    _write_conf(plan)
    src_changed = {r.name for r in results if not r.skipped}
    for cst in plan.compiles:
        t0 = time.monotonic()
        if cst.source not in src_changed and _stage_ok(plan, cst.name, cst.key):
            results.append(StageResult(name=cst.name, key=cst.key, skipped=True, seconds=0.0))
            continue
        say(f"{cst.name}: building (log: {plan.path('logs', cst.name + '.log')})")
        run_compile(plan, cst, plan.path("logs", f"{cst.name}.log"))
        results.append(StageResult(name=cst.name, key=cst.key, skipped=False,
                                   seconds=time.monotonic() - t0))
    return results


_HIER = re.compile(r'c\(\s*auto_qmail\s*,\s*"(bin|man/man\d|man/cat\d)"\s*,\s*"([^"]+)"')


def installed_files(qmail_tree: Path) -> list[str]:
    """What qmail's own installer puts into bin/ and man/, read from the tree's hier.c."""
    hier = (qmail_tree / "hier.c").read_text(errors="replace")
    out = sorted({f"{d}/{n}" for d, n in _HIER.findall(hier)})
    if not any(o.startswith("bin/") for o in out):
        raise BuildFailed("cannot read the list of installed programs from hier.c",
                          "this base's hier.c has an unknown layout")
    return out


def collect(plan: Plan, outdir: Path, inputs: list[dict[str, Any]],
            results: list[StageResult]) -> dict[str, Any]:
    """Copy what qmail installs into outdir (bin/, man/) and write outdir/build.json."""
    tree = plan.path("build", "qmail")
    files = installed_files(tree)
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    outputs: dict[str, str] = {}
    missing = []
    for rel in files:
        name = rel.rsplit("/", 1)[1]
        src = tree / name
        if not src.is_file():
            missing.append(rel)
            continue
        dest = outdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        outputs[rel] = sha256_file(dest)
    if missing and any(m.startswith("bin/") for m in missing):
        raise BuildFailed(f"the build did not produce {', '.join(missing[:5])}",
                          f"see {plan.path('logs', 'qmail.log')}")
    opts = plan.options
    patches = [{"component": st.component, "file": p.file, "sha256": p.sha256}
               for st in plan.sources for p in st.patches]
    rendered = plan.path("dkim.patch")
    if opts.dkim and rendered.is_file():
        shutil.copy2(rendered, outdir / "dkim.patch")
        patches.append({"component": "qmail", "file": "dkim.patch (rendered)",
                        "sha256": sha256_file(rendered)})
    manifest = {
        "patchkit_build": 1,
        "base": opts.base,
        "variant": opts.variant,
        "options": {"qmail_home": opts.qmail_home, "dkim": opts.dkim,
                    "sanitize": opts.sanitize, "cc": opts.cc, "cxx": opts.cxx,
                    "crypto": opts.crypto},
        "toolchain": plan.toolchain.describe(),
        "inputs": inputs,
        "patches": patches,
        "dkim_options": opts.render.describe() if opts.dkim else None,
        "flags": {k: v.strip() for k, v in plan.conf.items()},
        "stages": {r.name: r.key for r in results},
        "outputs": outputs,
        "missing_man_pages": [m for m in missing if not m.startswith("bin/")],
    }
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "build.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
