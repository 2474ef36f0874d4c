"""patchkit keys: the records and selectors (pure), the layout on disk qmail-remote relies on,
the atomic link flip, and the refusals that come before any process or DNS lookup. Key making
with the real openssl CLI is marked `spawns`; DNS states are in
tests/integration/test_keys_dns.py."""

from __future__ import annotations

import base64
import datetime as dt
import grp
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from patchkit.cli import cli
from patchkit.dkim import keys, records
from patchkit.dkim.dnscheck import DnsSettings
from patchkit.errors import ConfigError

DNS = DnsSettings(nameserver="127.0.0.1", port=9, timeout=0.2)  # never asked in these tests
ED_SPKI = bytes.fromhex("302a300506032b6570032100")
RSA_PEM = (Path(__file__).parents[2] / "patchkit/data/checks/test-key.pem").read_bytes()


def pem(der: bytes, label: str = "PRIVATE KEY") -> bytes:
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


# PKCS#8 of an Ed25519 key (RFC 8410): version 0, AlgorithmIdentifier 1.3.101.112, the seed
ED_PEM = pem(bytes.fromhex("302e020100300506032b657004220420") + bytes(range(32)))


# --------------------------------------------------------------------------- records (pure)


def test_bits_rsa_default_offer_and_rfc8301() -> None:
    assert records.check_bits("rsa", None) == 2048
    for bits in (1024, 2048, 3072, 4096):
        assert records.check_bits("rsa", bits) == bits
    with pytest.raises(ConfigError) as e:
        records.check_bits("rsa", 768)
    assert "RFC 8301" in e.value.message and "768 bits" in e.value.message
    with pytest.raises(ConfigError, match="not offered"):
        records.check_bits("rsa", 1536)
    assert records.check_bits("ed25519", None) is None
    with pytest.raises(ConfigError, match="Ed25519"):
        records.check_bits("ed25519", 2048)


@pytest.mark.parametrize(("day", "expected"), [
    (dt.date(2026, 1, 1), "2026q1"), (dt.date(2026, 3, 31), "2026q1"),
    (dt.date(2026, 4, 1), "2026q2"), (dt.date(2026, 9, 30), "2026q3"),
    (dt.date(2026, 12, 3), "2026q4"), (dt.date(2027, 10, 1), "2027q4")])
def test_dated_selector_is_the_quarter(day: dt.date, expected: str) -> None:
    assert records.dated_selector(day, set()) == expected


def test_dated_selector_takes_the_next_suffix() -> None:
    day = dt.date(2026, 11, 2)
    assert records.dated_selector(day, {"2026q4"}) == "2026q4b"
    assert records.dated_selector(day, {"2026q4", "2026q4b", "default"}) == "2026q4c"
    assert records.dated_selector(day, {"2026q3"}) == "2026q4"
    every = {"2026q4"} | {f"2026q4{c}" for c in "bcdefghijklmnopqrstuvwxyz"}
    with pytest.raises(ConfigError) as e:
        records.dated_selector(day, every)
    assert "--selector" in e.value.hint
    for s in ("2026q4", "2026q4b"):
        assert records.check_new_selector(s) == s


@pytest.mark.parametrize("selector", ["default", "ed25519", "x.pub", "a..b", "-x", ""])
def test_new_selectors_that_the_layout_gives_another_meaning(selector: str) -> None:
    with pytest.raises(ConfigError):
        records.check_new_selector(selector)


def test_ed25519_record_is_the_raw_32_byte_key() -> None:
    raw = bytes(range(100, 132))
    p = records.public_key_p("ed25519", ED_SPKI + raw)
    assert base64.b64decode(p) == raw and len(p) == 44
    assert records.dkim_record("ed25519", p) == f"v=DKIM1; k=ed25519; p={p}"
    with pytest.raises(ConfigError):
        records.public_key_p("ed25519", ED_SPKI + raw[:31])
    with pytest.raises(ConfigError):
        records.public_key_p("ed25519", b"\x30\x2a" + bytes(42))


def test_rsa_record_is_the_whole_subject_public_key_info() -> None:
    der = b"\x30\x82" + bytes(300)
    assert base64.b64decode(records.public_key_p("rsa", der)) == der
    assert records.revocation_record("rsa") == "v=DKIM1; k=rsa; p="
    assert records.revocation_record("ed25519") == "v=DKIM1; k=ed25519; p="


def test_pem_key_type() -> None:
    assert records.pem_key_type(RSA_PEM) == "rsa"
    assert records.pem_key_type(ED_PEM) == "ed25519"
    assert records.pem_key_type(pem(b"\x30\x82\x01\x00", "RSA PRIVATE KEY")) == "rsa"
    ec = bytes.fromhex("3041020100301306072a8648ce3d020106082a8648ce3d030107") + bytes(20)
    assert records.pem_key_type(pem(ec)) is None  # an EC key: no DKIM key type
    assert records.pem_key_type(b"; DNS TXT record for x\n") is None
    assert records.pem_key_type(b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----") \
        is None


def test_parse_tags() -> None:
    assert records.parse_tags("v=DKIM1; k=rsa; p=AB CD") == {"v": "DKIM1", "k": "rsa",
                                                              "p": "AB CD"}
    assert records.parse_tags(" v = DKIM1 ;p=;") == {"v": "DKIM1", "p": ""}
    assert records.parse_tags("google-site-verification: abc") is None
    assert records.parse_tags("v=spf1 -all") == {"v": "spf1 -all"}


P = base64.b64encode(bytes(range(32))).decode()
Q = base64.b64encode(bytes(range(1, 33))).decode()


@pytest.mark.parametrize(("texts", "status"), [
    ([f"v=DKIM1; k=ed25519; p={P}"], "published"),
    ([f"v=DKIM1; k=ed25519; p={P[:20]} {P[20:]}"], "published"),  # FWS inside p= is allowed
    ([f"k=ed25519; p={P}", f"v=DKIM1; k=ed25519; p={P}"], "published"),
    ([], "missing"),
    (["v=spf1 -all", "hello"], "missing"),
    ([f"v=DKIM2; k=ed25519; p={P}"], "missing"),  # not a DKIM1 key record
    ([f"v=DKIM1; k=ed25519; p={Q}"], "different"),
    ([f"v=DKIM1; k=rsa; p={P}"], "different"),
    ([f"v=DKIM1; p={P}"], "different"),  # k= defaults to rsa
    ([f"v=DKIM1; k=ed25519; p={P}", f"v=DKIM1; k=ed25519; p={Q}"], "different"),
    (["v=DKIM1; k=ed25519; p="], "revoked"),
    (["v=DKIM1; k=rsa; p="], "revoked"),
    (["v=DKIM1; k=ed25519; p=", "v=DKIM1; k=ed25519; p= "], "revoked"),
])
def test_judge(texts: list[str], status: str) -> None:
    assert records.judge("ed25519", P, texts).status == status


def test_judge_takes_a_domainkeys_record_for_an_rsa_key() -> None:
    # DKIM verifiers take v= as optional (RFC 6376 3.6.1): the DK form of the same key is it
    assert records.judge("rsa", P, [f"k=rsa; p={P}"]).status == "published"
    assert records.judge("rsa", P, [f"p={P}"]).status == "published"


# --------------------------------------------------------------------------- the layout


def key_dir(tmp_path: Path, *files: tuple[str, bytes], links: dict[str, str] | None = None
            ) -> Path:
    d = tmp_path / "example.com"
    d.mkdir(parents=True)
    for i, (name, data) in enumerate(files):
        (d / name).write_bytes(data)
        os.utime(d / name, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))  # made in this order
    for name, target in (links or {}).items():
        (d / name).symlink_to(target)
    return d


def pub(selector: str, record: str) -> bytes:
    return ("; DNS TXT record\n"
            + records.zone_lines(f"{selector}._domainkey.example.com", record)).encode()


def test_scan_reads_keys_links_and_ignores_the_rest(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q3", RSA_PEM), ("2026q3.pub", b"; x\n"), ("2026q4", RSA_PEM),
            ("2026q4b", ED_PEM), (".2026q4c.tmp123", ED_PEM), ("README", b"notes"),
            ("under_score", RSA_PEM), links={"default": "2026q3", "ed25519": "2026q4b"})
    (tmp_path / "example.com" / "sub").mkdir()
    layout = keys.scan("Example.COM", tmp_path)
    assert [(k.selector, k.key_type) for k in layout.keys] == [
        ("2026q3", "rsa"), ("2026q4", "rsa"), ("2026q4b", "ed25519")]
    assert layout.active == {"rsa": "2026q3", "ed25519": "2026q4b"}
    assert not layout.broken
    assert keys.scan("example.org", tmp_path).keys == ()


def test_a_regular_default_file_is_the_active_rsa_key(tmp_path: Path) -> None:
    key_dir(tmp_path, ("default", RSA_PEM), ("default.pub", b"; x\n"))
    layout = keys.scan("example.com", tmp_path)
    assert [k.selector for k in layout.keys] == ["default"]
    assert layout.active == {"rsa": "default"}


def test_a_link_to_a_missing_file_is_broken(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q4", ED_PEM), links={"default": "2026q1", "ed25519": "2026q4"})
    layout = keys.scan("example.com", tmp_path)
    assert layout.active == {"ed25519": "2026q4"}
    assert layout.broken == {"rsa": "default -> 2026q1: no such key file"}


def test_a_link_to_the_other_type_or_elsewhere_is_broken(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_bytes(RSA_PEM)
    key_dir(tmp_path, ("2026q4", RSA_PEM),
            links={"ed25519": "2026q4", "default": str(tmp_path / "elsewhere")})
    layout = keys.scan("example.com", tmp_path)
    assert layout.active == {}
    assert layout.broken == {
        "ed25519": "ed25519 -> 2026q4: an rsa key, not ed25519",
        "rsa": f"default -> {tmp_path / 'elsewhere'}: not a key file of this directory"}


def test_a_broken_link_is_mended_by_activating_not_by_rotating(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q4", ED_PEM), links={"default": "2026q1"})
    with pytest.raises(ConfigError, match="no such key file") as e:
        keys.rotate("example.com", keydir=tmp_path, dns=DNS)
    assert "keys new" in e.value.hint and "--activate" in e.value.hint


def test_pub_record_reads_the_dkim_line_back() -> None:
    record = "v=DKIM1; k=rsa; p=" + "A" * 600
    text = ("; comment\n" + records.zone_lines("s._domainkey.x.org", record)
            + "; " + records.zone_lines("s._domainkey.x.org", "k=rsa; p=B"))
    assert records.pub_record(text) == record
    assert records.pub_record("; nothing here\n") is None


def test_a_pub_left_without_its_key_is_listed_for_retiring(tmp_path: Path) -> None:
    """A first rotation from the old layout replaces the regular `default` by the link; the old
    selector's record stays listed until it is retired."""
    key_dir(tmp_path, ("default.pub", pub("default", f"v=DKIM1; k=rsa; p={P}")),
            ("2026q4", RSA_PEM), ("2026q4.pub", b"; x\n"), links={"default": "2026q4"})
    layout = keys.scan("example.com", tmp_path)
    assert [(k.selector, k.path) for k in layout.keys] == [
        ("default", None), ("2026q4", tmp_path / "example.com" / "2026q4")]
    assert layout.active == {"rsa": "2026q4"}
    assert layout.keys[0].p(tmp_path / "example.com" / "default.pub") == P


def test_pending_is_what_was_made_after_the_active_key(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q2", RSA_PEM), ("2026q3", RSA_PEM), ("2026q4", RSA_PEM),
            ("2026q4b", ED_PEM), links={"default": "2026q3"})
    layout = keys.scan("example.com", tmp_path)
    assert [k.selector for k in keys._pending(layout, "rsa")] == ["2026q4"]
    assert [k.selector for k in keys._pending(layout, "ed25519")] == ["2026q4b"]


def test_same_mtime_orders_by_selector(tmp_path: Path) -> None:
    d = key_dir(tmp_path, ("2026q4", RSA_PEM), ("2026q4b", RSA_PEM), links={"default": "2026q4"})
    for name in ("2026q4", "2026q4b"):
        os.utime(d / name, ns=(10**18, 10**18))
    layout = keys.scan("example.com", tmp_path)
    assert [k.selector for k in keys._pending(layout, "rsa")] == ["2026q4b"]


def test_the_link_flips_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new link is complete under a temporary name before one rename puts it in place: at
    every moment `default` resolves to the old key or the new one."""
    d = key_dir(tmp_path, ("2026q3", RSA_PEM), ("2026q4", RSA_PEM), links={"default": "2026q3"})
    seen = []
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        seen.append((os.readlink(src), os.readlink(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    keys._point(d / "default", "2026q4")
    assert seen == [("2026q4", "2026q3")]
    assert os.readlink(d / "default") == "2026q4"  # relative, as qmail-remote expects
    assert sorted(p.name for p in d.iterdir()) == ["2026q3", "2026q4", "default"]


def test_a_failed_flip_leaves_the_old_link_and_no_temp(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    d = key_dir(tmp_path, ("2026q3", RSA_PEM), ("2026q4", RSA_PEM), links={"default": "2026q3"})

    def fail(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PermissionError):
        keys._point(d / "default", "2026q4")
    assert os.readlink(d / "default") == "2026q3"
    assert sorted(p.name for p in d.iterdir()) == ["2026q3", "2026q4", "default"]


# --------------------------------------------------------------------------- refusals


def test_retire_refuses_the_active_key(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q4", RSA_PEM), ("2026q4b", ED_PEM), ("default", RSA_PEM),
            links={"ed25519": "2026q4b"})
    for sel in ("2026q4b", "default"):
        with pytest.raises(ConfigError) as e:
            keys.retire("example.com", sel, keydir=tmp_path, dns=DNS)
        assert "is the active" in e.value.message and "rotate" in e.value.hint
    with pytest.raises(ConfigError, match="no key with selector 2025q1"):
        keys.retire("example.com", "2025q1", keydir=tmp_path, dns=DNS)
    assert (tmp_path / "example.com" / "2026q4b").exists()


def test_rotate_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no active rsa key") as e:
        keys.rotate("example.com", keydir=tmp_path, dns=DNS)
    assert "keys new" in e.value.hint
    key_dir(tmp_path, ("2026q3", RSA_PEM), ("2026q4", RSA_PEM), links={"default": "2026q3"})
    with pytest.raises(ConfigError, match="2026q4 is already waiting") as e:
        keys.rotate("example.com", keydir=tmp_path, dns=DNS)
    assert "--activate" in e.value.hint
    with pytest.raises(ConfigError, match="no ed25519 key"):
        keys.rotate("example.com", key_type="ed25519", keydir=tmp_path, dns=DNS, activate=True)
    with pytest.raises(ConfigError, match="--bits"):
        keys.rotate("example.com", keydir=tmp_path, dns=DNS, activate=True, bits=2048)
    assert os.readlink(tmp_path / "example.com" / "default") == "2026q3"


def test_new_refuses_before_making_anything(tmp_path: Path) -> None:
    key_dir(tmp_path, ("2026q4", RSA_PEM), links={"default": "2026q4"})
    with pytest.raises(ConfigError, match="exists"):
        keys.new_key("example.com", selector="2026q4", keydir=tmp_path)
    with pytest.raises(ConfigError, match="active-key link"):
        keys.new_key("example.com", selector="default", keydir=tmp_path)
    # the old keygen takes any selector, but not the link itself, even with --force
    with pytest.raises(ConfigError, match="active-key link") as e:
        keys.keygen("example.com", keydir=tmp_path, force=True)
    assert "rotate" in e.value.hint
    with pytest.raises(ConfigError, match="RFC 8301"):
        keys.new_key("example.com", bits=512, keydir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "example.com").iterdir()) == ["2026q4", "default"]


def test_check_without_keys_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no keys for example\.com") as e:
        keys.check("example.com", keydir=tmp_path, dns=DNS)
    assert "patchkit keys new example.com" in e.value.hint


def test_cli_refusals_are_one_line_a_hint_and_the_code(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["keys", "new", "example.com", "--bits", "512",
                                 "--keydir", str(tmp_path)])
    assert r.exit_code == 3, r.output
    assert r.stderr.startswith("error: RSA keys of 512 bits are too short: RFC 8301")
    key_dir(tmp_path, ("2026q4", RSA_PEM), links={"default": "2026q4"})
    r = CliRunner().invoke(cli, ["keys", "retire", "example.com", "2026q4",
                                 "--keydir", str(tmp_path)])
    assert r.exit_code == 3
    assert len(r.stderr.splitlines()) == 2 and "hint: rotate first" in r.stderr


def test_cli_help_names_the_commands_and_the_keygen_alias() -> None:
    r = CliRunner().invoke(cli, ["keys", "--help"])
    assert r.exit_code == 0
    for command in ("new", "check", "rotate", "retire"):
        assert f"  {command} " in r.stdout
    r = CliRunner().invoke(cli, ["keygen", "--help"])
    assert "keys new --type rsa" in r.stdout
    r = CliRunner().invoke(cli, ["--help"])
    assert "13  DNS does not show" in r.stdout and "14  a DNS lookup failed" in r.stdout


# --------------------------------------------------------------------------- with openssl

@pytest.fixture
def no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def getgrnam(name: str) -> object:
        raise KeyError(name)

    monkeypatch.setattr(grp, "getgrnam", getgrnam)


@pytest.mark.usefixtures("no_group")
@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.spawns
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_new_key_dated_linked_and_its_record(tmp_path: Path, key_type: records.KeyType) -> None:
    day = dt.date(2026, 11, 30)
    k = keys.new_key("example.com", key_type=key_type, keydir=tmp_path, today=day)
    d = tmp_path / "example.com"
    assert (k.selector, k.private, k.public) == ("2026q4", d / "2026q4", d / "2026q4.pub")
    assert k.activated and k.active == "2026q4"
    link = records.LINK_NAMES[key_type]
    assert os.readlink(d / link) == "2026q4"
    assert stat.S_IMODE(k.private.stat().st_mode) == 0o600  # no qmail group: owner only
    assert k.private.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    der = subprocess.run(["openssl", "pkey", "-in", str(k.private), "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    p = k.dkim_record.removeprefix(f"v=DKIM1; k={key_type}; p=")
    if key_type == "ed25519":
        assert base64.b64decode(p) == der[-32:] and len(der) == 44 and k.dk_record is None
        assert k.bits == 256
    else:
        assert base64.b64decode(p) == der and k.dk_record == f"k=rsa; p={p}"
        assert k.bits == 2048
    assert "".join(re.findall(r'"([^"]*)"', k.public.read_text().splitlines()[1])) \
        == k.dkim_record

    k2 = keys.new_key("example.com", key_type=key_type, keydir=tmp_path, today=day)
    assert k2.selector == "2026q4b" and not k2.activated and k2.active == "2026q4"
    assert os.readlink(d / link) == "2026q4"  # never replaced by new


@pytest.mark.usefixtures("no_group")
@pytest.mark.spawns
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_cli_keys_new_says_what_it_chose(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["keys", "new", "example.com", "--type", "ed25519",
                                 "--keydir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert "dated: none was given" in first and "selector 20" in first
    assert "active: ed25519 -> 20" in r.stdout and "made now" in r.stdout
    assert "chgrp qmail" in r.stderr
    r = CliRunner().invoke(cli, ["keys", "new", "example.com", "--keydir", str(tmp_path),
                                 "--selector", "mail2026", "--bits", "1024", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["selector"] == "mail2026" and data["activated"] and data["link"] == "default"
    assert data["dkim_record"].startswith("v=DKIM1; k=rsa; p=") and data["bits"] == 1024
    assert data["name"] == "mail2026._domainkey.example.com"
    assert os.readlink(tmp_path / "example.com" / "default") == "mail2026"


@pytest.mark.parametrize("kw", [{"nameserver": "ns.example.com"}, {"port": 0},
                                {"port": 70000}, {"timeout": 0}])
def test_dns_settings_are_checked_where_they_enter(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DnsSettings(**kw)  # type: ignore[arg-type]
    assert DnsSettings(nameserver="::1", port=5353).describe() == "nameserver ::1 port 5353"
    assert DnsSettings().describe() == "the system resolver"


def test_the_other_types_link_name_is_no_selector(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="other key type's link"):
        keys.keygen("example.com", selector="ed25519", keydir=tmp_path)
    key_dir(tmp_path, ("s1.pub", b"; x\n"))
    with pytest.raises(ConfigError, match=r"s1\.pub exists"):
        keys.new_key("example.com", selector="s1", keydir=tmp_path)
