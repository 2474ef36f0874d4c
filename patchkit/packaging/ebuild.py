"""A Gentoo overlay for a base, as text: layout.conf, repo_name, the EAPI 8 ebuild, metadata.xml,
the Manifest and a README, rendered from templates/gentoo/ by pure functions. A Manifest DIST line
describes a file as SRC_URI serves it, never a file patchkit rebuilt: its hashes come from the
published file in the cache (verified by its file pin) or from the published pins in the sources
manifest; a file with neither gets no line, and the README says so."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

from patchkit.packaging import hier
from patchkit.resources import templates_dir

REPO = "patchkit-dkim"
CATEGORY = "mail-mta"
HASHES = ("SHA256", "SHA512")  # what is published for netqmail-1.06.tar.gz (Gentoo's Manifest)
GENTOO_HOME = "/var/qmail"  # the layout of Gentoo's qmail ebuilds
PATCHSET_URI = "https://patchkit.invalid/distfiles"  # where a maintainer publishes the patchset


@dataclass(frozen=True, slots=True, kw_only=True)
class Dist:
    """A file SRC_URI serves, and what is known of it as published (None: nothing)."""

    file: str
    uri: str
    size: int | None = None
    sha256: str | None = None
    sha512: str | None = None
    why_unknown: str = ""

    @property
    def line(self) -> str | None:
        if self.size is None or not self.sha256 or not self.sha512:
            return None
        return f"DIST {self.file} {self.size} SHA256 {self.sha256} SHA512 {self.sha512}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Overlay:
    base: str
    version: str
    description: str
    homepage: str
    tree: Dist
    libdomainkeys: Dist
    libdkim: Dist
    patchset: Dist
    tree_dir: str
    alt_tree_dir: str  # the top directory of the same tree from its git tag ("" if the same)
    patchset_dir: str
    qmail_patches: bool
    qmail_cflags: str
    compiled_ids: bool
    entries: tuple[hier.Entry, ...]

    @property
    def package(self) -> str:
        return f"{self.base.rsplit('-', 1)[0]}-dkim"


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "gentoo")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def _abs(e: hier.Entry) -> str:
    return GENTOO_HOME + ("/" + e.path if e.path else "")


def hier_tsv(entries: tuple[hier.Entry, ...]) -> str:
    """What src_install makes: path, kind, owner, group, mode, source (no queue)."""
    return "".join(f"{_abs(e)}\t{e.kind}\t{e.owner}\t{e.group}\t{e.mode:04o}\t{e.source}\n"
                   for e in entries if not hier.is_queue(e))


def render(o: Overlay) -> dict[str, str]:
    """Every file of the overlay, by its path in it."""
    env = _env()
    queue = [f"{e.kind} {e.owner} {e.group} {e.mode:04o} {e.size} {_abs(e)}"
             for e in o.entries if hier.is_queue(e)]
    owners = [f"{e.owner} {e.group} {e.mode:04o} {_abs(e)}" for e in o.entries
              if not hier.is_queue(e) and (e.owner != "root" or e.mode & 0o6000)]
    ctx = {
        "base": o.base, "description": o.description, "homepage": o.homepage,
        "tree_uri": o.tree.uri, "libdomainkeys_uri": o.libdomainkeys.uri,
        "libdkim_uri": o.libdkim.uri, "patchset_uri": o.patchset.uri,
        "tree_dir": o.tree_dir, "alt_tree_dir": o.alt_tree_dir,
        "patchset_dir": o.patchset_dir,
        "libdomainkeys_dir": "libdomainkeys-0.69", "libdkim_dir": "libdkim",
        "qmail_patches": o.qmail_patches, "qmail_cflags": o.qmail_cflags,
        "compiled_ids": o.compiled_ids, "queue": queue, "owners": owners,
        "hier_name": o.package, "repo": REPO, "hashes": " ".join(HASHES),
    }
    pkg = f"{CATEGORY}/{o.package}"
    dists = (o.tree, o.libdomainkeys, o.libdkim, o.patchset)
    lines = [d.line for d in dists if d.line]
    unknown = [d for d in dists if not d.line]
    return {
        "metadata/layout.conf": env.get_template("layout.conf.j2").render(ctx),
        "profiles/repo_name": REPO + "\n",
        "licenses/Yahoo-DomainKeys-1.1": env.get_template("Yahoo-DomainKeys-1.1").render(ctx),
        f"{pkg}/{o.package}-{o.version}.ebuild": env.get_template("ebuild.j2").render(ctx),
        f"{pkg}/metadata.xml": env.get_template("metadata.xml.j2").render(ctx),
        f"{pkg}/Manifest": "".join(ln + "\n" for ln in lines),
        "README": env.get_template("README.j2").render(
            {**ctx, "package": pkg, "unknown": unknown, "lines": lines}),
    }
