"""patchkit package deb: a Debian source package assembled from patchkit's cache (the upstream
tarballs, pristine where the cache holds the published file and repacked, deterministically,
where it holds a tree-verified rebuild or a zip), patchkit's patches re-made for quilt, and the
rendered debian/ directory; then built, checked and installed in containers."""

from __future__ import annotations

import calendar
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from patchkit.build.plan import KR_FLAGS
from patchkit.dkim.render import render as render_dkim
from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError, VerificationError
from patchkit.packaging import deb, hier
from patchkit.packaging.quilt import QuiltPatch, dep3, header_of, restack
from patchkit.patching import diffs
from patchkit.patching.series import Toolchain, load_series, verify_patch
from patchkit.resources import patches_dir
from patchkit.sources.archive import Member, read_archive, strip_top
from patchkit.sources.cache import Cache, deterministic_targz
from patchkit.sources.digest import sha256_file, tree_digest_of_archive
from patchkit.sources.manifest import Artifact, load_manifest
from patchkit.sources.unpack import write_members

# the toolchain each suite builds with: it selects the portability patches (gcc>=14 ...)
SUITE_TOOLCHAINS = {
    "bookworm": Toolchain(compiler="gcc", compiler_version=(12, 2, 0),
                          openssl_version=(3, 0, 0), libc_version=(2, 36)),
    "trixie": Toolchain(compiler="gcc", compiler_version=(14, 2, 0),
                        openssl_version=(3, 5, 0), libc_version=(2, 41)),
}
PACKAGED = ("netqmail-1.06", "notqmail-1.09")
COMPONENTS = (("libdomainkeys", "libdomainkeys 0.69 (Yahoo!)"),
              ("libdkim", "libdkim 1.0.19 (Alt-N)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Assembled:
    source: str
    version: str
    dir: Path  # the unpacked source tree with debian/
    origs: tuple[Path, ...]
    epoch: int
    manifest: Path  # path type owner group mode, for the installed-package check


def _text_tree(members: list[Member], prefix: str) -> dict[str, str]:
    return {prefix + m.path: m.data.decode(diffs.ENCODING) for m in members
            if m.kind in ("f", "x")}


def newest_member_time(paths: list[Path]) -> int:
    """SOURCE_DATE_EPOCH from the pins: the newest member time in the published inputs that
    are verified by their file pin (the same bytes everywhere, so the same time)."""
    newest = 0
    for p in paths:
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                for i in z.infolist():
                    y, mo, d, h, mi, s = i.date_time
                    newest = max(newest, calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
        else:
            with tarfile.open(p) as t:
                newest = max([newest, *(int(m.mtime) for m in t.getmembers())])
    return newest


def repack(members: list[Member], top: str, epoch: int, dest: Path) -> None:
    """A deterministic tar.gz of members under top/ (the cache's writer, with epoch as the one
    member time)."""
    dest.write_bytes(deterministic_targz(members, top, mtime=epoch))


def _origin(cache: Cache, a: Artifact) -> tuple[Path, bool]:
    v = cache.verify(a)
    path = cache.require(a)
    return path, v.how == "sha256"


def assemble(base: str, suite: str, cache: Cache, out: Path,
             render_options: RenderOptions | None = None) -> Assembled:
    """The source package for base on suite in out/: origs, and SOURCE-VERSION/ with debian/."""
    if base not in PACKAGED:
        raise ConfigError(f"patchkit packages {', '.join(PACKAGED)} for Debian, not {base}",
                          "choose one of those bases")
    if suite not in SUITE_TOOLCHAINS:
        raise ConfigError(f"no Debian packaging for suite {suite}",
                          f"suites: {', '.join(SUITE_TOOLCHAINS)}")
    series, manifest = load_series(), load_manifest()
    b = series.base(base)
    tc = SUITE_TOOLCHAINS[suite]
    tree_art = manifest.get(b.tree)
    tree_path, tree_pristine = _origin(cache, tree_art)
    qmail = strip_top(read_archive(tree_path))
    comps = {c: manifest.get(series.component(c).artifact) for c, _ in COMPONENTS}
    comp_members = {c: strip_top(read_archive(cache.require(a))) for c, a in comps.items()}
    pristine_inputs = [cache.require(a) for a in comps.values() if _origin(cache, a)[1]]
    epoch = deb.source_date_epoch(newest_member_time(pristine_inputs), suite)
    source = deb.source_name(base)
    uv = deb.upstream_version(base, repack=not tree_pristine)
    out.mkdir(parents=True, exist_ok=True)

    origs: list[deb.Orig] = []
    orig_paths: list[Path] = []
    main = out / f"{source}_{uv}.orig.tar.gz"
    if tree_pristine and tree_path.name.endswith(".tar.gz"):
        shutil.copyfile(tree_path, main)
        origs.append(deb.Orig(file=main.name, what=base, pristine=True,
                              sha256=tree_art.sha256 or ""))
    else:
        repack(qmail, f"{source}-{uv}", epoch, main)
        _prove(main, tree_art)
        origs.append(deb.Orig(file=main.name, what=base, pristine=False, tree=tree_art.tree or "",
                              why="patchkit's cache holds a tree-verified rebuild of the "
                                  "published tarball (a git tag, or GitHub's generated archive), "
                                  "not the published file"))
    orig_paths.append(main)
    for comp, what in COMPONENTS:
        a = comps[comp]
        path, pristine = _origin(cache, a)
        dest = out / f"{source}_{uv}.orig-{comp}.tar.gz"
        if pristine and path.name.endswith(".tar.gz"):
            shutil.copyfile(path, dest)
            origs.append(deb.Orig(file=dest.name, what=what, pristine=True, sha256=a.sha256 or ""))
        else:
            repack(comp_members[comp], comp, epoch, dest)
            _prove(dest, a)
            origs.append(deb.Orig(
                file=dest.name, what=what, pristine=False, tree=a.tree or "",
                why=f"repacked from the published {path.name} (sha256 {sha256_file(path)}, "
                    "its pin, verified): dpkg-source takes tarballs only"))
        orig_paths.append(dest)

    tree = _text_tree(qmail, "")
    for comp, _ in COMPONENTS:
        tree.update(_text_tree(comp_members[comp], f"{comp}/"))
    patches: list[QuiltPatch] = []

    def add(name: str, text: str, prefix: str, strip: int, crlf: bool) -> None:
        body = restack(tree, prefix, text, strip=strip, crlf=crlf, name=name)
        patches.append(QuiltPatch(name=f"{len(patches) + 1:04d}-{name}",
                                  text=dep3(header_of(text)) + body))

    for comp in ("qmail", "libdomainkeys", "libdkim"):
        prefix = "" if comp == "qmail" else f"{comp}/"
        for p in series.select(comp, base, tc):
            text = diffs.read_text(verify_patch(p))
            add(f"{comp}-{Path(p.file).name}", text, prefix, p.strip, p.eol == "crlf")
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in tree.items():
            if "/" in rel and rel.split("/", 1)[0] in comps:
                continue
            f = Path(tmp) / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(text.encode(diffs.ENCODING))
        dkim_text = render_dkim(Path(tmp), base, (render_options or RenderOptions()).validate())
    add("dkim.patch", "Description: DKIM signing (qmail-remote) and DKIM/DomainKeys "
        f"verification (qmail-smtpd)\n rendered by patchkit for {base} from templates/dkim\n"
        + dkim_text, "", 1, False)
    extra = sorted((patches_dir() / "debian" / base).glob("*.patch"))
    for extra_patch in extra:
        add(extra_patch.name, diffs.read_text(extra_patch), "", 1, False)

    entries = hier.parse(tree["hier.c"], hier.split_of(tree["conf-split"]))
    files = deb.render(deb.DebSource(
        base=base, suite=suite, upstream_version=uv, epoch=epoch, entries=entries,
        origs=tuple(origs), patches=tuple(patches),
        qmail_cflags=" ".join((*KR_FLAGS, *b.cflags)), runtime_ids_patch=bool(extra)))
    src_dir = out / f"{source}-{uv}"
    if src_dir.exists():
        shutil.rmtree(src_dir)
    write_members(qmail, src_dir)
    for comp, _ in COMPONENTS:
        write_members(comp_members[comp], src_dir / comp)
    for rel, text in files.items():
        f = src_dir / "debian" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(text.encode(diffs.ENCODING))
        f.chmod(0o755 if rel in deb.EXECUTABLE else 0o644)
    mpath = out / f"{source}.hier"
    mpath.write_text("\n".join(hier.manifest_lines(entries, deb.HOME)) + "\n")
    return Assembled(source=source, version=f"{uv}-1", dir=src_dir, origs=tuple(orig_paths),
                     epoch=epoch, manifest=mpath)


def _prove(tarball: Path, a: Artifact) -> None:
    """A repack has the published input's tree digest, or it is not shipped."""
    got = tree_digest_of_archive(tarball)
    if a.tree and got != a.tree:
        raise VerificationError(f"the repack {tarball.name} has tree digest {got}, not the pin "
                                f"{a.tree} of {a.name}", "this is a bug in patchkit's repack")
