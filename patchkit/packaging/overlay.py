"""patchkit package ebuild: the Gentoo overlay for a base written from patchkit's cache and pins,
with the patchset distfile (patchkit's portability patches per component, the two rendered DKIM
patches for USE=domainkeys on and off, and qmail's hierarchy from hier.c) beside it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from patchkit.build.plan import KR_FLAGS
from patchkit.dkim.render import render as render_dkim
from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError
from patchkit.packaging import ebuild, hier
from patchkit.packaging.debsource import (
    PACKAGED,
    SUITE_TOOLCHAINS,
    _text_tree,
    newest_member_time,
    repack,
)
from patchkit.packaging.quilt import dep3, header_of, restack
from patchkit.patching import diffs
from patchkit.patching.series import load_series, verify_patch
from patchkit.sources.archive import Member, read_archive, strip_top
from patchkit.sources.cache import Cache
from patchkit.sources.digest import sha256_file, sha512_file
from patchkit.sources.manifest import Artifact, load_manifest

# where each SRC_URI file unpacks (the published file's own top directory)
TREE_DIRS = {"netqmail-1.06": "netqmail-1.06", "notqmail-1.09": "notqmail-notqmail-1.09"}


def _published(cache: Cache, a: Artifact) -> ebuild.Dist:
    """What is known of a's published file: from the cache where it holds that very file (its
    file pin verified), else from the published pins in the manifest, else nothing."""
    uri = a.urls[0] if a.urls[0].rsplit("/", 1)[-1] == a.filename else \
        f"{a.urls[0]} -> {a.filename}"
    v = cache.verify(a)
    if v.how == "sha256" and v.path is not None:
        return ebuild.Dist(file=a.filename, uri=uri, size=v.path.stat().st_size,
                           sha256=sha256_file(v.path), sha512=sha512_file(v.path))
    if a.size and a.sha256 and a.sha512:
        return ebuild.Dist(file=a.filename, uri=uri, size=a.size, sha256=a.sha256,
                           sha512=a.sha512)
    return ebuild.Dist(file=a.filename, uri=uri, why_unknown=(
        "patchkit's cache holds a tree-verified rebuild, not the published file, and no hash "
        "of the published file is known (GitHub generates this archive on request)"))


def write(base: str, cache: Cache, out: Path) -> dict[str, Any]:
    if base not in PACKAGED:
        raise ConfigError(f"patchkit writes Gentoo overlays for {', '.join(PACKAGED)}, not "
                          f"{base}", "choose one of those bases")
    series, manifest = load_series(), load_manifest()
    b = series.base(base)
    tc = SUITE_TOOLCHAINS["trixie"]  # a current toolchain, as Gentoo's
    tree_art = manifest.get(b.tree)
    comps = {c.name: manifest.get(c.artifact) for c in series.components}
    qmail = strip_top(read_archive(cache.require(tree_art)))
    pkg = f"{base.rsplit('-', 1)[0]}-dkim"
    version = base.rsplit("-", 1)[1]
    patchset_dir = f"{pkg}-patches-{version}"
    files: list[Member] = []

    def patch_member(rel: str, text: str) -> None:
        files.append(Member(path=rel, kind="f", data=text.encode(diffs.ENCODING)))

    trees = {"qmail": _text_tree(qmail, "")}
    for comp, a in comps.items():
        trees[comp] = _text_tree(strip_top(read_archive(cache.require(a))), "")
    qmail_patches = False
    for comp in ("qmail", *comps):
        for i, p in enumerate(series.select(comp, base, tc), 1):
            text = diffs.read_text(verify_patch(p))
            body = restack(trees[comp], "", text, strip=p.strip, crlf=p.eol == "crlf",
                           name=p.file)
            patch_member(f"{comp}/{i:04d}-{Path(p.file).name}", dep3(header_of(text)) + body)
            qmail_patches = qmail_patches or comp == "qmail"
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in trees["qmail"].items():
            f = Path(tmp) / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(text.encode(diffs.ENCODING))
        for name, opts in (("dkim.patch", RenderOptions()),
                           ("dkim-nodk.patch", RenderOptions(dk_sign=False))):
            text = render_dkim(Path(tmp), base, opts.validate())
            patch_member(name, dep3(f"Description: DKIM/DomainKeys for {base}, rendered by "
                                    "patchkit from templates/dkim") + text)
            if name == "dkim.patch":
                after = dict(trees["qmail"])
                restack(after, "", text, strip=1, crlf=False, name=name)
    entries = hier.parse(after["hier.c"], hier.split_of(after["conf-split"]))
    patch_member(f"hier-{pkg}.tsv", ebuild.hier_tsv(entries))
    epoch = newest_member_time([cache.require(comps["libdomainkeys"]),
                                cache.require(comps["libdkim"])])
    distdir = out / "distfiles"
    distdir.mkdir(parents=True, exist_ok=True)
    patchset = distdir / f"{patchset_dir}.tar.gz"
    repack(files, patchset_dir, epoch, patchset)
    o = ebuild.Overlay(
        base=base, version=version, entries=entries, tree_dir=TREE_DIRS[base],
        alt_tree_dir="" if TREE_DIRS[base] == base else base,
        description=f"{base} with DKIM signing and DKIM/DomainKeys verification",
        homepage="https://github.com/notqmail/notqmail",
        tree=_published(cache, tree_art), libdomainkeys=_published(cache, comps["libdomainkeys"]),
        libdkim=_published(cache, comps["libdkim"]),
        patchset=ebuild.Dist(file=patchset.name, uri=f"{ebuild.PATCHSET_URI}/{patchset.name}",
                             size=patchset.stat().st_size, sha256=sha256_file(patchset),
                             sha512=sha512_file(patchset)),
        patchset_dir=patchset_dir, qmail_patches=qmail_patches,
        qmail_cflags=" ".join((*KR_FLAGS, *b.cflags)), compiled_ids=not b.runtime_ids)
    repo = out / "overlay"
    if repo.exists():
        shutil.rmtree(repo)
    for rel, text in ebuild.render(o).items():
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return {"overlay": str(repo), "patchset": str(patchset),
            "ebuild": str(repo / ebuild.CATEGORY / pkg / f"{pkg}-{version}.ebuild"),
            "manifest": (repo / ebuild.CATEGORY / pkg / "Manifest").read_text().splitlines(),
            "no_dist_line": [d.file for d in (o.tree, o.libdomainkeys, o.libdkim) if not d.line]}
