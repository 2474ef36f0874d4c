"""Unified diffs: parsing and checking with unidiff, and applying them to a tree in memory.

We apply patches ourselves rather than through patch(1) so that every failure names the patch, the
file and the hunk, so that nothing is written unless every hunk of a patch applied, and so that
patches written with LF endings apply to files with CRLF endings (libdkim) without rewriting them.

Hunks must match exactly (no fuzz); like patch(1), a hunk may be found at an offset from its stated
line. Text is handled as latin-1, which maps bytes to characters one to one, so any byte survives.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from patchkit.errors import PatchFailed

ENCODING = "latin-1"
NO_EOL = "\\ No newline at end of file"


@dataclass(frozen=True, slots=True, kw_only=True)
class FilePatch:
    """One file's change, paths already stripped. source None: created; target None: deleted."""

    source: str | None
    target: str | None
    hunks: tuple[Hunk, ...]
    # diff -N writes a created or deleted file as a path with the epoch as its time stamp
    epoch_source: bool = False
    epoch_target: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Hunk:
    header: str
    source_start: int  # 1-based, as in the @@ line
    old: tuple[str, ...]  # lines without terminators
    new: tuple[str, ...]
    old_no_eol: bool  # the old side's last line had no newline
    new_no_eol: bool


def _strip(path: str, strip: int, patch_name: str) -> str | None:
    path = path.split("\t", 1)[0]
    if path == "/dev/null":
        return None
    parts = PurePosixPath(path).parts
    if len(parts) <= strip:
        raise PatchFailed(f"{patch_name}: path {path!r} has fewer than {strip} components to strip",
                          "fix the patch's strip level in the series")
    rel = PurePosixPath(*parts[strip:])
    if rel.is_absolute() or ".." in rel.parts:
        raise PatchFailed(f"{patch_name}: path {path!r} leaves the tree", "refusing this patch")
    return rel.as_posix()


def _epoch(stamp: str | None) -> bool:
    return bool(stamp) and str(stamp).startswith(("1970-01-01", "1969-12-31"))


def parse(text: str, *, strip: int = 1, name: str = "patch") -> tuple[FilePatch, ...]:
    """Parse a unified diff (header text before the first file is ignored) and check it."""
    try:
        ps = PatchSet(io.StringIO(text))
    except UnidiffParseError as e:
        raise PatchFailed(f"{name}: not a valid unified diff: {e}",
                          "regenerate it with diff -u") from e
    if not len(ps):
        raise PatchFailed(f"{name}: contains no file changes", "is this the right file?")
    out = []
    for pf in ps:
        # created/deleted only when the header says /dev/null (unidiff's is_added_file guesses
        # from the hunk, which mistakes emptying a file for deleting it)
        src = _strip(pf.source_file, strip, name)
        tgt = _strip(pf.target_file, strip, name)
        if src is None and tgt is None:
            raise PatchFailed(f"{name}: a file goes from /dev/null to /dev/null",
                              "the patch is corrupt")
        hunks = []
        for h in pf:
            old: list[str] = []
            new: list[str] = []
            old_no_eol = new_no_eol = False
            last: str = ""
            for line in h:
                if line.line_type == "\\":
                    if last in (" ", "-"):
                        old_no_eol = True
                    if last in (" ", "+"):
                        new_no_eol = True
                    continue
                value = line.value[:-1] if line.value.endswith("\n") else line.value
                if line.line_type in (" ", "-"):
                    old.append(value)
                if line.line_type in (" ", "+"):
                    new.append(value)
                last = line.line_type
            if len(old) != h.source_length or len(new) != h.target_length:
                raise PatchFailed(f"{name}: {tgt or src}: hunk {h.section_header or ''} has "
                                  "wrong line counts", "the patch is corrupt")
            hunks.append(Hunk(header=str(h).splitlines()[0], source_start=h.source_start,
                              old=tuple(old), new=tuple(new), old_no_eol=old_no_eol,
                              new_no_eol=new_no_eol))
        out.append(FilePatch(source=src, target=tgt, hunks=tuple(hunks),
                             epoch_source=_epoch(pf.source_timestamp),
                             epoch_target=_epoch(pf.target_timestamp)))
    return tuple(out)


def _split(data: str, crlf: bool) -> tuple[list[str], list[str]]:
    """Lines without terminators and their terminators. Lines end at LF only (as for patch(1));
    a CR before it is part of the line unless crlf, where CRLF is the terminator."""
    lines, ends = [], []
    for raw in data.split("\n"):
        lines.append(raw)
        ends.append("\n")
    ends[-1] = ""  # after the last LF: a final line without terminator, or nothing
    if lines[-1] == "":
        lines.pop()
        ends.pop()
    if crlf:
        for i, ln in enumerate(lines):
            if ln.endswith("\r") and ends[i] == "\n":
                lines[i] = ln[:-1]
                ends[i] = "\r\n"
    return lines, ends


def _find(lines: list[str], old: tuple[str, ...], expected: int, start: int) -> int:
    """Index where old matches, nearest to expected, not before start; -1 if nowhere."""
    n = len(old)
    if n == 0:
        return min(max(expected, start), len(lines))
    last = len(lines) - n
    for delta in range(0, max(last, 0) + abs(expected) + 1):
        for pos in (expected - delta, expected + delta) if delta else (expected,):
            if start <= pos <= last and tuple(lines[pos:pos + n]) == old:
                return pos
        if expected - delta < start and expected + delta > last:
            break
    return -1


def apply_file(fp: FilePatch, original: str | None, *, crlf: bool, name: str) -> str | None:
    """New contents for one file (None: delete it)."""
    label = fp.target or fp.source
    pure_add = all(not h.old for h in fp.hunks)
    if fp.source is None or (original is None and fp.epoch_source and pure_add):
        if original is not None:
            raise PatchFailed(f"{name}: {label}: file to be created already exists",
                              "was this patch applied already?")
        original = ""
    elif original is None:
        raise PatchFailed(f"{name}: {label}: file to be patched does not exist",
                          "is this patch meant for this base?")
    lines, ends = _split(original, crlf)
    newline = "\r\n" if crlf and "\r\n" in ends else "\n"
    offset = 0
    floor = 0
    for i, h in enumerate(fp.hunks, 1):
        old, new = h.old, h.new
        if crlf:
            old = tuple(ln[:-1] if ln.endswith("\r") else ln for ln in old)
            new = tuple(ln[:-1] if ln.endswith("\r") else ln for ln in new)
        expected = (h.source_start - 1 if old else h.source_start) + offset
        pos = _find(lines, old, expected, floor)
        if pos < 0:
            raise PatchFailed(
                f"{name}: {label}: hunk #{i} {h.header} does not apply: "
                f"its context was not found (first line: {old[0] if old else ''!r})",
                "the tree differs from the one the patch was made for",
            )
        n = len(old)
        lines[pos:pos + n] = list(new)
        new_ends = [newline] * len(new)
        if h.new_no_eol and pos + n >= len(ends) and new_ends:
            new_ends[-1] = ""
        ends[pos:pos + n] = new_ends
        offset += len(new) - n
        floor = pos + len(new)
    if fp.target is not None and fp.epoch_target and not lines:
        return None  # diff -N's way of saying "deleted"
    if fp.target is None:
        if any(lines):
            raise PatchFailed(f"{name}: {label}: file to delete is not empty after the patch",
                              "the tree differs from the one the patch was made for")
        return None
    return "".join(ln + e for ln, e in zip(lines, ends, strict=True))


def apply(files: tuple[FilePatch, ...], tree: Path, *, crlf: bool = False,
          name: str = "patch") -> Mapping[str, str | None]:
    """Apply to tree, all or nothing. Returns {path: new text or None when deleted}."""
    results: dict[str, str | None] = {}
    for fp in files:
        path = fp.source or fp.target
        assert path is not None
        if path in results:
            current = results[path]
        else:
            p = tree / path
            current = p.read_bytes().decode(ENCODING) if p.is_file() else None
        results[fp.target or path] = apply_file(fp, current, crlf=crlf, name=name)
        if fp.source and fp.target and fp.source != fp.target:
            results[fp.source] = None
    for path, text in sorted(results.items()):
        p = tree / path
        if text is None:
            p.unlink(missing_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        mode = p.stat().st_mode if p.exists() else None
        p.write_bytes(text.encode(ENCODING))
        if mode is not None:
            p.chmod(mode)
    return results


def header(text: str) -> dict[str, str]:
    """DEP-3-like fields (``Key: value``) from the text before the first diff line."""
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith(("--- ", "diff ", "Index: ")):
            break
        if line[:1] in (" ", "\t") and key:
            fields[key] += " " + line.strip()
        elif ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    return fields


def read_text(path: Path) -> str:
    return path.read_bytes().decode(ENCODING)
