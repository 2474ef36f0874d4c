"""Patches for a Debian source package, as quilt wants them: each of patchkit's patches (and the
rendered DKIM patch) re-made as a plain unified diff against the whole source tree, in series
order, so the libraries' patches carry their component directory (libdkim/src/...), the CRLF
files of libdkim keep their CRLF lines, and GNU patch applies each with no fuzz. Pure: trees
are dicts of path -> text (latin-1, as patchkit.patching.diffs reads them)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from patchkit.patching import diffs


@dataclass(frozen=True, slots=True, kw_only=True)
class QuiltPatch:
    name: str  # file name in debian/patches
    text: str


def _lines(diff: Iterator[str]) -> Iterator[str]:
    for line in diff:
        if line.endswith("\n"):
            yield line
        else:  # difflib's way of showing a last line without a newline
            yield line + "\n\\ No newline at end of file\n"


def file_diff(path: str, old: str | None, new: str | None) -> str:
    a = old.splitlines(keepends=True) if old is not None else []
    b = new.splitlines(keepends=True) if new is not None else []
    src = f"a/{path}" if old is not None else "/dev/null"
    dst = f"b/{path}" if new is not None else "/dev/null"
    return "".join(_lines(difflib.unified_diff(a, b, src, dst, n=3)))


def restack(tree: MutableMapping[str, str], prefix: str, text: str, *, strip: int, crlf: bool,
            name: str) -> str:
    """Apply one patch (text, for the component under prefix) to tree in place, and return it
    re-made as a diff of the whole source tree. prefix: "" for qmail, "libdkim/" ..."""
    out = []
    for fp in diffs.parse(text, strip=strip, name=name):
        rel = fp.target or fp.source
        assert rel is not None
        path = prefix + rel
        old = tree.get(path)
        new = diffs.apply_file(fp, old, crlf=crlf, name=name)
        out.append(file_diff(path, old, new))
        if new is None:
            tree.pop(path, None)
        else:
            tree[path] = new
    return "".join(out)


def dep3(header: str, *, origin: str = "vendor") -> str:
    """A patch's header as DEP-3: patchkit's own headers already start with Description:;
    Forwarded and Origin say where they come from."""
    fields = header.rstrip("\n") + "\n"
    if not fields.startswith(("Description:", "Subject:")):
        fields = "Description: " + fields
    if "\nForwarded:" not in "\n" + fields:
        fields += "Forwarded: not-needed\n"
    if "\nOrigin:" not in "\n" + fields:
        fields += f"Origin: {origin}\n"
    return fields + "---\n"


def header_of(text: str) -> str:
    """The lines before a patch's first file header (--- or diff)."""
    head = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("--- ", "diff ", "Index: ")):
            break
        head.append(line)
    return "".join(head).strip("\n")
