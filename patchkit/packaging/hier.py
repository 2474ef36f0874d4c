"""qmail's installed hierarchy as data, read from the base's own hier.c: every directory, file,
zero-filled file and FIFO that qmail's `install` makes, with its owner, group and mode. Pure:
`patchkit install`, its manifest and its check all come from the one list this returns, so they
cannot disagree with qmail's installer (which reads the same hier.c)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchkit.errors import BuildFailed

# auto_uid*/auto_gid* of hier.c, by the user or group they stand for (conf-users, conf-groups)
OWNERS = {"auto_uida": "alias", "auto_uidd": "qmaild", "auto_uidl": "qmaill",
          "auto_uido": "root", "auto_uidp": "qmailp", "auto_uidq": "qmailq",
          "auto_uidr": "qmailr", "auto_uids": "qmails"}
GROUPS = {"auto_gidq": "qmail", "auto_gidn": "nofiles"}
KINDS = ("dir", "file", "zero", "fifo")


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One thing qmail's installer makes. path: relative to the qmail home ("" is the home);
    source: for a file, its name in the build tree; size: for a zero-filled file."""

    kind: str
    path: str
    owner: str
    group: str
    mode: int
    source: str = ""
    size: int = 0

    def describe(self) -> str:
        return f"{self.kind} {self.path or '.'} {self.owner}:{self.group} {self.mode:04o}"


_FUNC = re.compile(r"^void\s+(\w+)\s*\(([^)]*)\)[^{;]*\{(.*?)^\}", re.S | re.M)
_CALL = re.compile(r"(\w+)\s*\(([^;]*)\)\s*;")


def _owner(sym: str) -> str:
    if sym not in OWNERS:
        raise BuildFailed(f"hier.c names an owner patchkit does not know: {sym}",
                          "this base's hier.c has an unknown layout")
    return OWNERS[sym]


def _group(sym: str) -> str:
    if sym not in GROUPS:
        raise BuildFailed(f"hier.c names a group patchkit does not know: {sym}",
                          "this base's hier.c has an unknown layout")
    return GROUPS[sym]


def _str(arg: str) -> str:
    if not (arg.startswith('"') and arg.endswith('"')):
        raise BuildFailed(f"hier.c: expected a string, found {arg}",
                          "this base's hier.c has an unknown layout")
    return arg[1:-1]


def parse(hier_c: str, split: int) -> tuple[Entry, ...]:
    """The entries of hier(), in the order qmail's installer makes them. Calls of other functions
    defined in hier.c (notqmail's hier_queue()) are followed; dsplit() is qmail's queue split
    (conf-split subdirectories). Anything else in hier() (an #if, an unknown call) is refused,
    rather than silently installing less than qmail would."""
    funcs = {m.group(1): m.group(3) for m in _FUNC.finditer(hier_c)}
    if "hier" not in funcs:
        raise BuildFailed("hier.c has no hier() function", "this base's hier.c has an unknown "
                          "layout")
    out: list[Entry] = []

    def run(name: str, depth: int = 0) -> None:
        body = re.sub(r"/\*.*?\*/", "", funcs[name], flags=re.S)
        if re.search(r"^\s*#", body, re.M):
            raise BuildFailed(f"hier.c: {name}() has preprocessor lines",
                              "this base's hier.c has an unknown layout")
        for fn, argtext in _CALL.findall(body):
            args = [a.strip() for a in argtext.split(",")] if argtext.strip() else []
            if fn in funcs and fn not in ("hier", "dsplit") and depth < 4 and not args:
                run(fn, depth + 1)
            elif fn == "dsplit":
                base, owner, mode = _str(args[0]), _owner(args[1]), int(args[2], 8)
                out.append(Entry(kind="dir", path=base, owner=owner, group="qmail", mode=mode))
                out.extend(Entry(kind="dir", path=f"{base}/{i}", owner=owner, group="qmail",
                                 mode=mode) for i in range(split))
            elif fn in ("h", "d", "c", "z", "p"):
                _call(fn, args, out)
            else:
                raise BuildFailed(f"hier.c: {name}() calls {fn}(), which patchkit does not know",
                                  "this base's hier.c has an unknown layout")

    run("hier")
    if not any(e.path == "bin/qmail-queue" for e in out):
        raise BuildFailed("hier.c installs no bin/qmail-queue", "this base's hier.c has an "
                          "unknown layout")
    return tuple(out)


def _call(fn: str, args: list[str], out: list[Entry]) -> None:
    want = {"h": 4, "d": 5, "c": 6, "z": 6, "p": 5}[fn]
    if len(args) != want or args[0] != "auto_qmail":
        raise BuildFailed(f"hier.c: {fn}({', '.join(args)}) is not the form patchkit knows",
                          "this base's hier.c has an unknown layout")
    mode = int(args[-1], 8)
    owner, group = _owner(args[-3]), _group(args[-2])
    if fn == "h":
        out.append(Entry(kind="dir", path="", owner=owner, group=group, mode=mode))
    elif fn == "d":
        out.append(Entry(kind="dir", path=_str(args[1]), owner=owner, group=group, mode=mode))
    elif fn == "c":
        sub, name = _str(args[1]), _str(args[2])
        out.append(Entry(kind="file", path=f"{sub}/{name}", owner=owner, group=group, mode=mode,
                         source=name))
    elif fn == "z":
        out.append(Entry(kind="zero", path=_str(args[1]), owner=owner, group=group, mode=mode,
                         size=int(args[2])))
    else:
        out.append(Entry(kind="fifo", path=_str(args[1]), owner=owner, group=group, mode=mode))


def split_of(conf_split: str) -> int:
    """conf-split's first line: the number of queue subdirectories."""
    first = (conf_split.strip().splitlines() or [""])[0].strip()
    if not first.isdigit() or int(first) < 1:
        raise BuildFailed(f"conf-split starts with {first!r}, not a number",
                          "this base's conf-split has an unknown layout")
    return int(first)


def is_queue(e: Entry) -> bool:
    """The queue: made on the target at install time (a package's postinst), never shipped."""
    return e.path == "queue" or e.path.startswith("queue/")


def manifest_lines(entries: tuple[Entry, ...], home: str) -> list[str]:
    """The packager's manifest: one tab-separated line per entry (absolute path in the target,
    type, owner, group, octal mode), a header first."""
    lines = ["# path\ttype\towner\tgroup\tmode"]
    for e in entries:
        path = home.rstrip("/") + ("/" + e.path if e.path else "")
        lines.append(f"{path or '/'}\t{e.kind}\t{e.owner}\t{e.group}\t{e.mode:04o}")
    return lines
