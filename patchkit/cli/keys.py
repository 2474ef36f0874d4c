"""patchkit keys new|check|rotate|retire: signing keys for qmail-remote, the DNS records to
publish, and their rotation; patchkit keygen, the command `keys new` grew from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import abs_path
from patchkit.ui import emit

KEYDIR = Path("/etc/domainkeys")
LINKS: dict[api.KeyType, str] = {"rsa": "default", "ed25519": "ed25519"}


def keydir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--keydir", type=abs_path(file_okay=False), default=KEYDIR,
                        show_default=True,
                        help="Keys live in KEYDIR/DOMAIN/; control/dksign names "
                             "KEYDIR/%/default (and KEYDIR/%/ed25519).")(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def type_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--type", "key_type", type=click.Choice(api.KEY_TYPES), default="rsa",
                        show_default=True, help="rsa (link `default`) or ed25519 (link "
                                                "`ed25519`, RFC 8463).")(f)


def bits_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--bits", type=int, default=None,
                        help="RSA modulus: 1024, 2048 (default), 3072 or 4096; under 1024 is "
                             "refused (RFC 8301). Not for ed25519.")(f)


def dns_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--nameserver", metavar="IP",
                     help="Ask this server instead of the system resolver."),
        click.option("--port", type=click.IntRange(1, 65535), default=53, show_default=True),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0,
                     show_default=True, help="Seconds for each lookup."),
    ]):
        f = opt(f)
    return f


def settings(nameserver: str | None, port: int, timeout: float) -> api.DnsSettings:
    return api.DnsSettings(nameserver=nameserver, port=port, timeout=timeout)


def _key_dict(k: api.NewKey) -> dict[str, Any]:
    return {"domain": k.domain, "selector": k.selector, "type": k.key_type, "bits": k.bits,
            "private_key": str(k.private), "public_records": str(k.public), "name": k.name,
            "dkim_record": k.dkim_record, "domainkeys_record": k.dk_record,
            "link": LINKS[k.key_type], "activated": k.activated, "active": k.active,
            "note": k.note or None}


def _key_text(k: api.NewKey, chose: str) -> str:
    link = LINKS[k.key_type]
    bits = f"{k.bits} bits" if k.key_type == "rsa" else "RFC 8463"
    lines = [f"key: {k.private} ({k.key_type}, {bits}; selector {k.selector}{chose})",
             f"DNS records: {k.public}"]
    if k.activated:
        lines.append(f"active: {link} -> {k.selector} (made now: {k.domain} had no active "
                     f"{k.key_type} key); control/dksign: {k.private.parent.parent}/%/{link}")
    elif k.active != k.selector:
        lines.append(f"active: {_active(link, k.active, k.key_type)} stays; to sign with "
                     f"{k.selector}, publish its record, then: patchkit keys rotate {k.domain} "
                     f"--type {k.key_type} --activate")
    lines.append(f"publish at {k.name}:")
    return "\n".join(lines) + "\n" + k.public.read_text().rstrip("\n")


@click.group("keys")
def keys_group() -> None:
    """Signing keys for qmail-remote: make, check against DNS, rotate, retire.

    \b
    KEYDIR/DOMAIN/SELECTOR      a private key (SELECTOR.pub: the DNS record)
    KEYDIR/DOMAIN/default       -> SELECTOR: the active RSA key
    KEYDIR/DOMAIN/ed25519       -> SELECTOR: the active Ed25519 key
    """


@keys_group.command("new")
@click.argument("domain")
@type_option
@bits_option
@click.option("--selector", help="Default: a dated one, YYYYqN (2026q4), then 2026q4b, ...")
@keydir_option
@json_option
def keys_new(domain: str, key_type: str, bits: int | None, selector: str | None, keydir: Path,
             as_json: bool) -> None:
    """Make a key for DOMAIN and print its DNS record.

    The selector is dated (YYYYqN) unless given. The key becomes the active one of its type
    only where there is none yet (rotate replaces an active key)."""
    k = api.keys_new(domain, key_type=_type(key_type), bits=bits, selector=selector,
                     keydir=keydir)
    if k.note:
        click.secho(k.note, fg="yellow", err=True)
    emit(_key_dict(k), as_json,
         lambda d: _key_text(k, "" if selector else ", dated: none was given"))


@keys_group.command("check")
@click.argument("domain")
@keydir_option
@dns_options
@json_option
def keys_check(domain: str, keydir: Path, nameserver: str | None, port: int, timeout: float,
               as_json: bool) -> None:
    """Check every key of DOMAIN against DNS.

    What DNS publishes at SELECTOR._domainkey.DOMAIN, per key: published (and matching),
    missing, different, revoked, or dns-error; and which key is active per type. Exit 13 when
    an active key is not published as it is, 14 when only DNS lookups of active keys failed."""
    dns = settings(nameserver, port, timeout)
    r = api.keys_check(domain, keydir=keydir, dns=dns)
    rows = [row.as_dict() for row in r.rows]

    def text(_: object) -> str:
        head = ("SELECTOR", "TYPE", "ACTIVE", "STATUS", "DETAIL")
        table = [head] + [(str(x["selector"]), str(x["type"]),
                           LINKS[_type(str(x["type"]))] if x["active"] else "",
                           str(x["status"]), str(x["detail"])) for x in rows]
        widths = [max(len(t[i]) for t in table) for i in range(4)]
        out = [f"{r.domain} in {r.directory} (asked {dns.describe()})"]
        out += ["  ".join(c.ljust(w) for c, w in zip(t[:4], widths, strict=True)) + "  " + t[4]
                for t in table]
        out.append("active: " + ", ".join(
            _active(link, r.active.get(t), t) for t, link in LINKS.items()))
        return "\n".join(line.rstrip() for line in out)

    emit(rows, as_json, text)
    if r.problem:
        raise r.problem


@keys_group.command("rotate")
@click.argument("domain")
@type_option
@bits_option
@click.option("--activate", is_flag=True,
              help="Point the active link at the newest key made after it, once DNS publishes "
                   "that key (run it after publishing, not with the first step).")
@keydir_option
@dns_options
@json_option
def keys_rotate(domain: str, key_type: str, bits: int | None, activate: bool, keydir: Path,
                nameserver: str | None, port: int, timeout: float, as_json: bool) -> None:
    """Make the next key, or --activate it once DNS has it.

    Two steps: first make the next key of a type (a new dated selector; the active link stays)
    and publish its record; then, with --activate, flip the link to it atomically, which is
    refused until DNS publishes it as it is."""
    r = api.keys_rotate(domain, key_type=_type(key_type), bits=bits, keydir=keydir,
                        activate=activate, dns=settings(nameserver, port, timeout))
    if r.note:
        click.secho(r.note, fg="yellow", err=True)
    link = LINKS[r.key_type]
    where = f" --keydir {keydir}" if keydir != KEYDIR else ""
    flags = f"--type {r.key_type}{where}"
    if r.new is not None:
        k = r.new
        data = {**_key_dict(k), "previous": r.previous, "next": [
            f"publish the record at {k.name} (keep {r.previous}'s record)",
            f"wait until patchkit keys check {r.domain}{where} shows {k.selector} published, "
            "and for "
            "your zone's negative-caching TTL (SOA minimum)",
            f"patchkit keys rotate {r.domain} {flags} --activate",
            f"some days later (mail signed with {r.previous} delivered): "
            f"patchkit keys retire {r.domain} {r.previous}{where}"]}
    else:
        data = {"domain": r.domain, "type": r.key_type, "link": link, "previous": r.previous,
                "active": r.activated, "note": r.note or None, "next": [
                    f"keep {r.previous}'s record published for some days (mail signed with it "
                    "is still in transit or in queues, and verified from DNS)",
                    f"then: patchkit keys retire {r.domain} {r.previous}{where}"]
                if r.previous else []}

    def text(d: dict[str, Any]) -> str:
        if r.new is not None:
            head = (f"next {r.key_type} key made; the active one stays {link} -> "
                    f"{r.previous}\n" + _key_text(r.new, ", dated"))
        else:
            head = f"activated: {link} -> {r.activated} (was {r.previous or 'none'})"
        steps = "".join(f"\n  {i}. {s}" for i, s in enumerate(d["next"], 1))
        return head + ("\nnext:" + steps if steps else "")

    emit(data, as_json, text)


@keys_group.command("retire")
@click.argument("domain")
@click.argument("selector")
@keydir_option
@dns_options
@json_option
def keys_retire(domain: str, selector: str, keydir: Path, nameserver: str | None, port: int,
                timeout: float, as_json: bool) -> None:
    """Retire an old key once DNS shows it revoked.

    Never the active key. Prints the revocation record to publish, and removes the key file
    and its .pub once DNS shows the key revoked (p= empty) or gone."""
    r = api.keys_retire(domain, selector, keydir=keydir, dns=settings(nameserver, port, timeout))
    data = {"domain": r.domain, "selector": r.selector, "type": r.key_type, "name": r.name,
            "revocation_record": r.revocation, "status": r.status, "detail": r.detail,
            "removed": [str(p) for p in r.removed]}

    def text(_: object) -> str:
        zone = f'{r.name}. IN TXT ( "{r.revocation}" )'
        if r.problem is None:
            gone = ", ".join(str(p) for p in r.removed) or "nothing (no files were left)"
            return (f"{r.name}: {r.status} ({r.detail}); removed {gone}\n"
                    f"keep the revocation (or no record) at that name:\n{zone}")
        return f"to retire {r.selector}, publish at {r.name} (or delete its record):\n{zone}"

    emit(data, as_json, text)
    if r.problem:
        raise r.problem


def _active(link: str, selector: str | None, key_type: str) -> str:
    if selector is None:
        return f"no {key_type} key ({link})"
    return f"{link} (a key file)" if selector == link else f"{link} -> {selector}"


def _type(key_type: str) -> api.KeyType:
    return "ed25519" if key_type == "ed25519" else "rsa"


@click.command()
@click.argument("domain")
@click.option("--selector", default="default", show_default=True)
@click.option("--bits", type=click.Choice([str(b) for b in api.BITS]), default="2048",
              show_default=True)
@keydir_option
@click.option("--force", is_flag=True, help="Replace an existing key.")
@json_option
def keygen(domain: str, selector: str, bits: str, keydir: Path, force: bool,
           as_json: bool) -> None:
    """Make an RSA signing key for DOMAIN and the DNS TXT records to publish (like dknewkey).

    The old form of `patchkit keys new --type rsa`, kept with its old defaults and output:
    selector `default` (a regular file, the key qmail-remote finds at KEYDIR/%/default), and
    --force. For dated selectors, Ed25519 and rotation, use `patchkit keys`."""
    k = api.keygen(domain, selector=selector, bits=int(bits), keydir=keydir, force=force)
    if k.note:
        click.secho(k.note, fg="yellow", err=True)
    emit({"private_key": str(k.private), "public_records": str(k.public),
          "dkim_record": k.dkim_record, "domainkeys_record": k.dk_record, "note": k.note or None},
         as_json,
         lambda d: f"private key: {d['private_key']}\nDNS records: {d['public_records']}\n"
                   + k.public.read_text())
