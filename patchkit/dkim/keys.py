"""Signing keys for qmail-remote and their rotation: make a key (openssl), read a domain's key
directory, check each key against DNS, flip the active-key link, retire an old key.

Layout (qmail-remote relies on it; README "Keys and rotation"):

    KEYDIR/DOMAIN/SELECTOR        a private key (PKCS#8 PEM), 0640 group qmail
    KEYDIR/DOMAIN/SELECTOR.pub    the TXT record(s) to publish at SELECTOR._domainkey.DOMAIN
    KEYDIR/DOMAIN/default         the active RSA key: a symlink to SELECTOR (relative)
    KEYDIR/DOMAIN/ed25519         the active Ed25519 key: a symlink to SELECTOR

control/dksign lists KEYDIR/%/default (and KEYDIR/%/ed25519 to sign twice); qmail-remote signs
with the selector = the name of the file such a path resolves to. A regular file named `default`
(what `patchkit keygen` always made) is the key of selector `default`, and active."""

from __future__ import annotations

import datetime as dt
import grp
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from patchkit.dkim.dnscheck import DnsSettings, lookup_txt
from patchkit.dkim.records import (
    BITS,
    KEY_TYPES,
    LINK_NAMES,
    KeyType,
    Status,
    Verdict,
    check_bits,
    check_domain,
    check_new_selector,
    check_selector,
    dated_selector,
    dkim_record,
    is_selector,
    judge,
    key_name,
    parse_tags,
    pem_key_type,
    pub_record,
    public_key_p,
    revocation_record,
    zone_lines,
)
from patchkit.errors import (
    ConfigError,
    DnsLookupFailed,
    DnsNotReady,
    FileError,
    PatchkitError,
    ToolMissing,
)
from patchkit.files import write_atomic
from patchkit.runner import capture

__all__ = ["BITS", "KEY_TYPES", "CheckReport", "KeyFiles", "NewKey", "Retired", "Rotated",
           "check", "keygen", "new_key", "retire", "rotate", "scan"]

DEFAULT_KEYDIR = Path("/etc/domainkeys")
_OPENSSL_HINT = "check that openssl works here: openssl version"


# --------------------------------------------------------------------------- making a key


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKey:
    domain: str
    selector: str
    key_type: KeyType
    bits: int
    private: Path
    public: Path
    name: str  # SELECTOR._domainkey.DOMAIN
    dkim_record: str
    dk_record: str | None  # the same RSA key as a DomainKeys record; None for Ed25519
    activated: bool  # this call made the active-key link (there was none for this type)
    active: str | None  # the active selector of this type after this call
    note: str = ""  # what the admin still has to do (e.g. no qmail group yet)


# what `patchkit keygen` returned before `keys`: the same value
KeyFiles = NewKey


def _openssl_key(key_type: KeyType, bits: int | None) -> bytes:
    argv = (["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"]
            if key_type == "rsa" else ["openssl", "genpkey", "-algorithm", "ed25519"])
    return capture(argv, what="openssl genpkey", error=ToolMissing, hint=_OPENSSL_HINT)


def public_key(private: Path, key_type: KeyType) -> str:
    """The p= value of the key in `private` (openssl derives the public key)."""
    der = capture(["openssl", "pkey", "-in", str(private), "-pubout", "-outform", "DER"],
                  what="openssl pkey", error=ToolMissing, hint=_OPENSSL_HINT)
    return public_key_p(key_type, der)


def qmail_gid() -> int | None:
    """The qmail group's id, or None where this host has no qmail group (yet)."""
    try:
        return grp.getgrnam("qmail").gr_gid
    except KeyError:
        return None


def _write_private(dest: Path, pem: bytes) -> str:
    """The key, 0640 and group qmail (qmail-remote runs as qmailr, group qmail, and must read it);
    0600 where there is no qmail group, with a note saying what to run once there is one.
    Returns that note, or ""."""
    gid = qmail_gid()
    if gid is None:
        write_atomic(dest, pem, mode=0o600)
        return (f"note: this host has no qmail group, so {dest} is readable by its owner only; "
                f"qmail-remote (user qmailr) cannot sign with it until you run: "
                f"chgrp qmail {dest} && chmod 0640 {dest}")
    try:
        write_atomic(dest, pem, mode=0o640, gid=gid)
    except PermissionError as e:
        raise FileError(
            f"cannot give {dest} to the qmail group ({e.strerror}); no key was written",
            "run it as root (sudo patchkit keys new ...), or make the key where you may and "
            "then, as root: chgrp qmail KEY && chmod 0640 KEY") from e
    return ""


def _pub_text(name: str, key_type: KeyType, bits: int, dkim: str, dk: str | None) -> str:
    what = f"{bits}-bit RSA" if key_type == "rsa" else "Ed25519, RFC 8463"
    text = f"; DNS TXT record for {name} ({what}), for DKIM verifiers:\n" + zone_lines(name, dkim)
    if dk is not None:
        text += ("; the same key as a DomainKeys record (publish one record at this name: DKIM\n"
                 "; verifiers and libdomainkeys both accept the DKIM one above):\n"
                 "; " + zone_lines(name, dk))
    return text


def new_key(domain: str, *, key_type: KeyType = "rsa", bits: int | None = None,
            selector: str | None = None, keydir: Path = DEFAULT_KEYDIR,
            today: dt.date | None = None, force: bool = False, legacy: bool = False) -> NewKey:
    """`keys new`: a key with a dated selector unless one is given, its records, and the active
    link of its type if there is none yet (an existing one is rotate's to replace). `legacy` is
    `patchkit keygen`: any valid selector (its default is `default`, a regular file) and --force."""
    domain = check_domain(domain)
    bits = check_bits(key_type, bits)
    # control/dksign takes this path as it is printed, and qmail-remote runs in the qmail home
    d = keydir.absolute() / domain
    if selector is None:
        taken = {p.name.removesuffix(".pub") for p in d.iterdir()} if d.is_dir() else set()
        selector = dated_selector(today or dt.date.today(), taken)
    else:
        selector = check_selector(selector) if legacy else check_new_selector(selector)
    if selector in LINK_NAMES.values() and selector != LINK_NAMES[key_type]:
        raise ConfigError(f"selector {selector!r} is the name of the other key type's link",
                          "choose another --selector")
    private, public = d / selector, d / f"{selector}.pub"
    if private.is_symlink():
        raise ConfigError(f"{private} is the active-key link (-> {os.readlink(private)})",
                          "a new key gets its own selector; patchkit keys rotate DOMAIN makes "
                          "one and --activate points the link at it")
    if (private.exists() or public.exists()) and not (force and legacy):
        raise ConfigError(f"{private if private.exists() else public} exists",
                          "refusing to overwrite a key; add --force to replace it (mail signed "
                          "with the old key fails once it is gone)" if legacy
                          else "choose another --selector, or leave it out")
    d.mkdir(parents=True, exist_ok=True)
    pem = _openssl_key(key_type, bits)
    note = _write_private(private, pem)
    p = public_key(private, key_type)
    dkim = dkim_record(key_type, p)
    dk = f"k=rsa; p={p}" if key_type == "rsa" else None
    name = key_name(selector, domain)
    write_atomic(public, _pub_text(name, key_type, bits or 256, dkim, dk))
    link = d / LINK_NAMES[key_type]
    activated = False
    if selector != link.name and not link.exists() and not link.is_symlink():
        _point(link, selector)
        activated = True
    return NewKey(domain=domain, selector=selector, key_type=key_type, bits=bits or 256,
                  private=private, public=public, name=name, dkim_record=dkim, dk_record=dk,
                  activated=activated, active=scan(domain, keydir).active.get(key_type),
                  note=note)


def keygen(domain: str, *, selector: str = "default", bits: int = 2048,
           keydir: Path = DEFAULT_KEYDIR, force: bool = False) -> NewKey:
    """`patchkit keygen` (before `keys`): an RSA key, selector `default` unless given."""
    return new_key(domain, key_type="rsa", bits=bits, selector=selector, keydir=keydir,
                   force=force, legacy=True)


def _point(link: Path, target: str) -> None:
    """Make `link` a symlink to `target` (a name in the same directory) atomically: the new link
    is made under a temporary name, then renamed over the old one, so qmail-remote always finds
    the old key or the new one, never nothing."""
    tmp = link.with_name(f".{link.name}.{secrets.token_hex(6)}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(link.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself reaches the disk
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- a domain's keys


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    selector: str
    key_type: KeyType
    path: Path | None  # the private key; None where only SELECTOR.pub is left
    mtime_ns: int

    def p(self, pub: Path) -> str:
        if self.path is not None:
            return public_key(self.path, self.key_type)
        return _pub_key(pub)[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    domain: str
    directory: Path
    keys: tuple[Key, ...]  # by type, then oldest first
    active: dict[KeyType, str] = field(default_factory=dict)  # the active selector per type
    broken: dict[KeyType, str] = field(default_factory=dict)  # what is wrong with a link

    def key(self, selector: str) -> Key | None:
        return next((k for k in self.keys if k.selector == selector), None)

    def is_active(self, key: Key) -> bool:
        return self.active.get(key.key_type) == key.selector


def _pub_key(pub: Path) -> tuple[KeyType, str]:
    """The key type and p= of the record a SELECTOR.pub holds (for a selector whose key file is
    gone)."""
    record = pub_record(pub.read_text())
    tags = parse_tags(record) if record is not None else None
    if tags is None or "p" not in tags:
        raise ConfigError(f"{pub} holds no DKIM record",
                          f"remove it if the key is retired, or restore it from {pub.name}'s "
                          "backup")
    return ("ed25519" if tags.get("k") == "ed25519" else "rsa"), "".join(tags["p"].split())


def scan(domain: str, keydir: Path) -> Layout:
    """The keys in KEYDIR/DOMAIN and which one the link of each type points to. A selector whose
    key file is gone but whose .pub is left (the old `default` file a first rotation replaced by
    the link) is still listed: its record may still be in DNS until it is retired."""
    domain = check_domain(domain)
    d = keydir.absolute() / domain
    if not d.is_dir():
        return Layout(domain=domain, directory=d, keys=())
    keys: list[Key] = []
    for entry in sorted(d.iterdir()):
        n = entry.name
        if n.startswith(".") or entry.is_symlink() or not entry.is_file():
            continue
        if n.endswith(".pub"):
            sel = n.removesuffix(".pub")
            beside = d / sel
            if is_selector(sel) and (beside.is_symlink() or not beside.exists()):
                keys.append(Key(selector=sel, key_type=_pub_key(entry)[0], path=None,
                                mtime_ns=entry.stat().st_mtime_ns))
        elif is_selector(n):
            t = pem_key_type(entry.read_bytes())
            if t is not None:
                keys.append(Key(selector=n, key_type=t, path=entry,
                                mtime_ns=entry.stat().st_mtime_ns))
    keys.sort(key=lambda k: (KEY_TYPES.index(k.key_type), k.mtime_ns, k.selector))
    active: dict[KeyType, str] = {}
    broken: dict[KeyType, str] = {}
    for t, link_name in LINK_NAMES.items():
        link = d / link_name
        if link.is_symlink():
            target = os.path.basename(os.path.realpath(link))
            key = next((k for k in keys if k.selector == target and k.path is not None), None)
            if not link.exists():
                broken[t] = f"{link_name} -> {os.readlink(link)}: no such key file"
            elif key is None or Path(os.path.realpath(link)).parent != d.resolve():
                broken[t] = (f"{link_name} -> {os.readlink(link)}: not a key file of this "
                             "directory")
            elif key.key_type != t:
                broken[t] = f"{link_name} -> {target}: an {key.key_type} key, not {t}"
            else:
                active[t] = target
        elif link.is_file() and any(k.selector == link_name and k.key_type == t for k in keys):
            active[t] = link_name  # the old layout: the key file itself
    return Layout(domain=domain, directory=d, keys=tuple(keys), active=active, broken=broken)


# --------------------------------------------------------------------------- against DNS


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    selector: str
    key_type: KeyType
    active: bool
    file: Path | None
    name: str
    status: Status
    detail: str
    record: str  # what DNS should carry at `name`

    def as_dict(self) -> dict[str, object]:
        return {"selector": self.selector, "type": self.key_type, "active": self.active,
                "file": str(self.file) if self.file else None, "name": self.name,
                "status": self.status, "detail": self.detail, "record": self.record}


def _verdict(layout: Layout, key: Key, dns: DnsSettings) -> tuple[Verdict, str]:
    p = key.p(layout.directory / f"{key.selector}.pub")
    answer = lookup_txt(key_name(key.selector, layout.domain), dns)
    record = dkim_record(key.key_type, p)
    if answer.outcome == "error":
        return Verdict(status="dns-error", detail=answer.detail), record
    if answer.outcome in ("nxdomain", "nodata"):
        return Verdict(status="missing", detail=answer.detail), record
    return judge(key.key_type, p, answer.texts), record


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    domain: str
    directory: Path
    rows: tuple[Row, ...]
    active: dict[KeyType, str]
    problem: PatchkitError | None  # raise it once the report is shown


def check(domain: str, *, keydir: Path = DEFAULT_KEYDIR, dns: DnsSettings) -> CheckReport:
    """`keys check`: every key of the domain against what DNS publishes at its name. The problem
    is the active key of any type not published as it is (DnsNotReady), or only DNS lookups of
    active keys failing (DnsLookupFailed)."""
    layout = scan(domain, keydir)
    if not layout.keys and not layout.broken:
        raise ConfigError(f"no keys for {layout.domain} in {layout.directory}",
                          f"make one: patchkit keys new {layout.domain} --keydir {keydir}")
    rows = []
    for key in layout.keys:
        v, record = _verdict(layout, key, dns)
        rows.append(Row(selector=key.selector, key_type=key.key_type,
                        active=layout.is_active(key), file=key.path,
                        name=key_name(key.selector, layout.domain), status=v.status,
                        detail=v.detail, record=record))
    unpublished = [r for r in rows if r.active and r.status not in ("published", "dns-error")]
    failed = [r for r in rows if r.active and r.status == "dns-error"]
    bad = list(layout.broken.values())
    bad += [f"the active {r.key_type} key {r.selector} is {r.status} ({r.detail})"
            for r in unpublished]
    problem: PatchkitError | None = None
    if unpublished:
        first = unpublished[0]
        problem = DnsNotReady("; ".join(bad),
                              f'publish {first.name}. IN TXT "{first.record}" (also in '
                              f"{first.selector}.pub)" + (" and the other active keys' records"
                                                         if len(unpublished) > 1 else ""))
    elif bad:
        problem = DnsNotReady("; ".join(bad),
                              f"point the link at a key of its type: patchkit keys rotate "
                              f"{layout.domain} --activate, once DNS publishes it")
    elif failed:
        problem = DnsLookupFailed(
            f"cannot tell whether {', '.join(r.name for r in failed)} is published: "
            f"{failed[0].detail}",
            f"check that {dns.describe()} answers, or give --nameserver/--timeout")
    return CheckReport(domain=layout.domain, directory=layout.directory, rows=tuple(rows),
                       active=dict(layout.active), problem=problem)


# --------------------------------------------------------------------------- rotation


@dataclass(frozen=True, slots=True, kw_only=True)
class Rotated:
    domain: str
    key_type: KeyType
    link: Path
    previous: str | None  # the selector that was active
    new: NewKey | None  # the key made (rotate without --activate)
    activated: str | None  # the selector the link now points to (--activate)
    note: str = ""


def _pending(layout: Layout, key_type: KeyType) -> list[Key]:
    """Keys of this type made after the active one (oldest first): what --activate may take.
    Made after: a later mtime, or the same one and a later name (2026q4 < 2026q4b)."""
    ours = [k for k in layout.keys if k.key_type == key_type]
    active = layout.active.get(key_type)
    after = next((i + 1 for i, k in enumerate(ours) if k.selector == active), 0)
    return [k for k in ours[after:] if k.path is not None]


def rotate(domain: str, *, key_type: KeyType = "rsa", bits: int | None = None,
           keydir: Path = DEFAULT_KEYDIR, activate: bool = False, dns: DnsSettings,
           today: dt.date | None = None) -> Rotated:
    """`keys rotate`: make the next key (the link stays), or with `activate` point the link at
    the newest key made after the active one, once DNS publishes that key as it is."""
    layout = scan(domain, keydir)
    domain = layout.domain
    link = layout.directory / LINK_NAMES[key_type]
    previous = layout.active.get(key_type)
    pending = _pending(layout, key_type)
    if not activate:
        if previous is None and key_type in layout.broken:
            raise ConfigError(f"{domain} has no active {key_type} key to rotate from: "
                              f"{layout.broken[key_type]}",
                              f"make one (patchkit keys new {domain} --type {key_type}), publish "
                              f"it, then: patchkit keys rotate {domain} --type {key_type} "
                              "--activate")
        if previous is None:
            raise ConfigError(f"{domain} has no active {key_type} key to rotate from",
                              f"make the first one: patchkit keys new {domain} --type {key_type}")
        if pending:
            raise ConfigError(f"{pending[-1].selector} is already waiting to replace {previous}",
                              f"publish its record ({pending[-1].selector}.pub), then: patchkit "
                              f"keys rotate {domain} --type {key_type} --activate (or retire "
                              f"it: patchkit keys retire {domain} {pending[-1].selector})")
        k = new_key(domain, key_type=key_type, bits=bits, keydir=keydir, today=today)
        return Rotated(domain=domain, key_type=key_type, link=link, previous=previous, new=k,
                       activated=None, note=k.note)
    if bits is not None:
        raise ConfigError("--bits is for making a key, not for --activate",
                          "leave --bits out with --activate")
    if not pending:
        raise ConfigError(f"no {key_type} key of {domain} is waiting to be activated"
                          + (f" (the active one is {previous})" if previous else ""),
                          f"make one first: patchkit keys rotate {domain} --type {key_type}")
    key = pending[-1]
    v, record = _verdict(layout, key, dns)
    name = key_name(key.selector, domain)
    if v.status == "dns-error":
        raise DnsLookupFailed(f"cannot tell whether {name} is published: {v.detail}; the active "
                              f"key stays {previous}",
                              f"check that {dns.describe()} answers, then rerun")
    if v.status != "published":
        raise DnsNotReady(f"{key.selector} is not published as it is at {name} ({v.status}: "
                          f"{v.detail}); the active key stays {previous}",
                          f'publish {name}. IN TXT "{record}" (also in {key.selector}.pub), wait '
                          f"until patchkit keys check {domain} shows it published, then rerun")
    replaced_file = link.is_file() and not link.is_symlink()
    _point(link, key.selector)
    note = ""
    if replaced_file:
        note = (f"note: the old key file {link} (selector {link.name}) is now the link; its record "
                f"{link.name}.pub stays until you retire selector {link.name}")
    return Rotated(domain=domain, key_type=key_type, link=link, previous=previous, new=None,
                   activated=key.selector, note=note)


@dataclass(frozen=True, slots=True, kw_only=True)
class Retired:
    domain: str
    selector: str
    key_type: KeyType
    name: str
    revocation: str  # the record that says "revoked" (RFC 6376 3.6.1: an empty p=)
    status: Status
    detail: str
    removed: tuple[Path, ...]
    problem: PatchkitError | None  # raise it once the result is shown


def retire(domain: str, selector: str, *, keydir: Path = DEFAULT_KEYDIR,
           dns: DnsSettings) -> Retired:
    """`keys retire`: never the active key; remove the key file and its .pub once DNS shows
    the key revoked (p= empty) or gone; otherwise say what to publish."""
    layout = scan(domain, keydir)
    domain = layout.domain
    selector = check_selector(selector)
    key = layout.key(selector)
    if key is None:
        raise ConfigError(f"{domain} has no key with selector {selector} in {layout.directory}",
                          f"patchkit keys check {domain} lists them")
    if layout.is_active(key):
        link = LINK_NAMES[key.key_type]
        raise ConfigError(f"{selector} is the active {key.key_type} key of {domain} "
                          f"({link} -> {selector}); qmail-remote signs with it",
                          f"rotate first: patchkit keys rotate {domain} --type {key.key_type}, "
                          "publish, --activate; then retire the old one")
    v, _ = _verdict(layout, key, dns)
    name = key_name(selector, domain)
    revocation = revocation_record(key.key_type)
    removed: list[Path] = []
    problem: PatchkitError | None = None
    if v.status in ("revoked", "missing"):
        for path in (key.path, layout.directory / f"{selector}.pub"):
            if path is not None and path.exists():
                path.unlink()
                removed.append(path)
    elif v.status == "dns-error":
        problem = DnsLookupFailed(f"cannot tell whether {name} is still published: {v.detail}; "
                                  "nothing was removed",
                                  f"check that {dns.describe()} answers, then rerun")
    else:
        problem = DnsNotReady(f"{name} still publishes a key ({v.status}: {v.detail}); "
                              "nothing was removed",
                              f'publish {name}. IN TXT "{revocation}" (or remove the record), '
                              "wait for its TTL to pass, then rerun")
    return Retired(domain=domain, selector=selector, key_type=key.key_type, name=name,
                   revocation=revocation, status=v.status, detail=v.detail,
                   removed=tuple(removed), problem=problem)
