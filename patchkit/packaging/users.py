"""qmail's users and groups (INSTALL.ids), what a system's passwd and group files say about them,
and the commands that create the missing ones. Pure: the install adapter runs the commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchkit.steps import Step

GROUPS = ("nofiles", "qmail")


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    name: str
    group: str
    home: str  # relative to the qmail home ("" is the home itself)


ACCOUNTS = (
    Account(name="alias", group="nofiles", home="alias"),
    Account(name="qmaild", group="nofiles", home=""),
    Account(name="qmaill", group="nofiles", home=""),
    Account(name="qmailp", group="nofiles", home=""),
    Account(name="qmailq", group="qmail", home=""),
    Account(name="qmailr", group="qmail", home=""),
    Account(name="qmails", group="qmail", home=""),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ids:
    """Numeric IDs of qmail's users and groups on one system, in build.plan's shape:
    users (name, uid, gid), groups (name, gid); root is always 0."""

    users: tuple[tuple[str, int, int], ...]
    groups: tuple[tuple[str, int], ...]

    def uid(self, name: str) -> int:
        return next(u for n, u, _ in self.users if n == name)

    def gid(self, name: str) -> int:
        return next(g for n, g in self.groups if n == name)


def _table(text: str, fields: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= fields and parts[0] and not line.startswith(("#", "+", "-")):
            out.setdefault(parts[0], parts)
    return out


def missing(passwd: str, group: str) -> tuple[list[str], list[str]]:
    """(missing groups, missing users) of qmail's, given a system's passwd and group files."""
    users, groups = _table(passwd, 7), _table(group, 4)
    return ([g for g in GROUPS if g not in groups],
            [a.name for a in ACCOUNTS if a.name not in users])


def ids_of(passwd: str, group: str) -> Ids | None:
    """qmail's IDs on that system, or None if a user or group is missing."""
    users, groups = _table(passwd, 7), _table(group, 4)
    if any(g not in groups for g in GROUPS) or any(a.name not in users for a in ACCOUNTS):
        return None
    return Ids(users=(("root", 0, 0), *((a.name, int(users[a.name][2]), int(users[a.name][3]))
                                         for a in ACCOUNTS)),
               groups=(("root", 0), *((g, int(groups[g][2])) for g in GROUPS)))


def create_steps(groups: list[str], users: list[str], *, home: str, root: str,
                 shell: str) -> tuple[Step, ...]:
    """shadow's groupadd/useradd for what is missing (system accounts, no home made: the qmail
    home is the installer's), into the system at root (--root for anything but /)."""
    where = ("--root", root) if root != "/" else ()
    steps = [Step(name=f"groupadd {g}", argv=("groupadd", "--system", *where, g),
                  cwd=Path("/"))
             for g in groups]
    for a in ACCOUNTS:
        if a.name in users:
            h = home.rstrip("/") + ("/" + a.home if a.home else "")
            steps.append(Step(name=f"useradd {a.name}", argv=(
                "useradd", "--system", "--no-create-home", "--gid", a.group, "--home-dir", h,
                "--shell", shell, *where, a.name), cwd=Path("/")))
    return tuple(steps)
