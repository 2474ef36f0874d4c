"""patchkit.dkim.keygen with the real openssl CLI, and `patchkit keygen` through click's
CliRunner."""

from __future__ import annotations

import base64
import grp
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from patchkit.cli import cli
from patchkit.dkim import keygen as kg
from patchkit.errors import ConfigError, FileError

pytestmark = [pytest.mark.spawns,  # the real openssl CLI makes the keys
              pytest.mark.skipif(shutil.which("openssl") is None,
                                 reason="needs the openssl CLI: apt-get install openssl")]


def no_qmail_group(name: str) -> object:
    raise KeyError(name)


@pytest.fixture
def no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grp, "getgrnam", no_qmail_group)


@pytest.fixture
def my_group(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pretend the qmail group is ours, so chown to it works without root."""
    gid = os.getgid()

    def getgrnam(name: str) -> object:
        assert name == "qmail"
        return SimpleNamespace(gr_gid=gid, gr_name="qmail")

    monkeypatch.setattr(grp, "getgrnam", getgrnam)
    return gid


def quoted_strings(pub: str, dk: bool = False) -> list[str]:
    """The character-strings of the (DKIM, or commented DomainKeys) TXT line in SELECTOR.pub."""
    lines = [ln for ln in pub.splitlines() if " IN TXT (" in ln]
    assert len(lines) == 2
    line = lines[1] if dk else lines[0]
    assert line.startswith("; ") is dk
    assert line.rstrip().endswith(")")
    return re.findall(r'"([^"]*)"', line)


def der_of(private: Path) -> bytes:
    return subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-outform", "DER"],
                          capture_output=True, check=True).stdout


def test_key_owner_only_without_qmail_group(tmp_path: Path, no_group: None) -> None:
    k = kg.keygen("Example.COM.", keydir=tmp_path, bits=1024)
    assert k.private == tmp_path / "example.com" / "default"
    assert k.public == tmp_path / "example.com" / "default.pub"
    mode = stat.S_IMODE(k.private.stat().st_mode)
    assert mode == 0o600
    assert k.private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert not [p for p in k.private.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_key_group_readable_with_qmail_group(tmp_path: Path, my_group: int) -> None:
    k = kg.keygen("example.org", keydir=tmp_path, selector="s2026", bits=1024)
    st = k.private.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_gid == my_group
    assert not st.st_mode & stat.S_IROTH and not st.st_mode & stat.S_IWOTH


def test_records_and_pub_file(tmp_path: Path, no_group: None) -> None:
    k = kg.keygen("mail.example.net", selector="sel-1", keydir=tmp_path, bits=1024)
    p = base64.b64encode(der_of(k.private)).decode()
    assert k.dkim_record == f"v=DKIM1; k=rsa; p={p}"
    assert k.dk_record == f"k=rsa; p={p}"
    pub = k.public.read_text()
    assert "sel-1._domainkey.mail.example.net. IN TXT (" in pub
    assert "1024-bit RSA" in pub
    dkim = quoted_strings(pub)
    assert "".join(dkim) == k.dkim_record
    assert "".join(quoted_strings(pub, dk=True)) == k.dk_record
    assert all(len(s.encode()) <= 255 for s in dkim)


def test_4096_bit_key_is_split_into_several_strings(tmp_path: Path, no_group: None) -> None:
    k = kg.keygen("example.com", keydir=tmp_path, bits=4096)
    strings = quoted_strings(k.public.read_text())
    assert len(strings) >= 3
    assert all(len(s.encode()) <= 255 for s in strings)
    assert all(len(s.encode()) == 255 for s in strings[:-1])
    assert "".join(strings) == k.dkim_record
    assert len(base64.b64decode(k.dkim_record.split("p=")[1])) > 512  # a 4096-bit modulus


def test_refuses_to_overwrite_without_force(tmp_path: Path, no_group: None) -> None:
    k = kg.keygen("example.com", keydir=tmp_path, bits=1024)
    old = k.private.read_bytes()
    with pytest.raises(ConfigError) as ei:
        kg.keygen("example.com", keydir=tmp_path, bits=1024)
    assert str(k.private) in ei.value.message and "--force" in ei.value.hint
    assert k.private.read_bytes() == old
    k2 = kg.keygen("example.com", keydir=tmp_path, bits=1024, force=True)
    assert k2.private.read_bytes() != old
    assert k2.dkim_record != k.dkim_record
    # another selector is another key, not an overwrite
    kg.keygen("example.com", keydir=tmp_path, selector="other", bits=1024)


@pytest.mark.parametrize("domain", ["localhost", "example", "-bad.example.com",
                                    "bad-.example.com", "ex ample.com", "a..b.com",
                                    "under_score.com", "x" * 64 + ".com", "../etc.com",
                                    "a/b.com", ""])
def test_bad_domain(tmp_path: Path, domain: str) -> None:
    with pytest.raises(ConfigError) as ei:
        kg.keygen(domain, keydir=tmp_path, bits=1024)
    assert ei.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("selector", ["", "a b", "../x", "a/b", "-x", "x-", "s_1", "a..b"])
def test_bad_selector(tmp_path: Path, selector: str) -> None:
    with pytest.raises(ConfigError):
        kg.keygen("example.com", selector=selector, keydir=tmp_path, bits=1024)
    assert list(tmp_path.iterdir()) == []


def test_good_names() -> None:
    assert kg.check_domain("Sub.Example.COM.") == "sub.example.com"
    assert kg.check_selector("s2026.mail") == "s2026.mail"


def test_bad_bits(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="512 bits"):
        kg.keygen("example.com", keydir=tmp_path, bits=512)


def test_split_txt_and_zone_lines() -> None:
    assert kg.split_txt("") == [""]
    assert kg.split_txt("a" * 255) == ["a" * 255]
    assert kg.split_txt("a" * 256) == ["a" * 255, "a"]
    assert kg.split_txt("abcdef", size=4) == ["abcd", "ef"]
    assert kg.zone_lines("s._domainkey.x.org", "v=DKIM1") == \
        's._domainkey.x.org. IN TXT ( "v=DKIM1" )\n'


# --------------------------------------------------------------------------- CLI


def test_cli_keygen_json(tmp_path: Path, no_group: None) -> None:
    r = CliRunner().invoke(cli, ["keygen", "example.com", "--keydir", str(tmp_path),
                                 "--selector", "mail", "--bits", "1024", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"private_key", "public_records", "dkim_record", "domainkeys_record",
                         "note"}
    assert "chgrp qmail" in data["note"]  # no qmail group here: the key is 0600, say so
    assert data["private_key"] == str(tmp_path / "example.com" / "mail")
    assert Path(data["public_records"]).read_text().count(" IN TXT (") == 2
    assert data["dkim_record"].startswith("v=DKIM1; k=rsa; p=")
    assert data["domainkeys_record"] == data["dkim_record"].removeprefix("v=DKIM1; ")
    assert stat.S_IMODE(Path(data["private_key"]).stat().st_mode) == 0o600

    again = CliRunner().invoke(cli, ["keygen", "example.com", "--keydir", str(tmp_path),
                                     "--selector", "mail", "--bits", "1024", "--json"])
    assert again.exit_code == 3
    assert "error:" in again.stderr and "--force" in again.stderr

    text = CliRunner().invoke(cli, ["keygen", "example.com", "--keydir", str(tmp_path),
                                    "--selector", "mail", "--bits", "1024", "--force"])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"private key: {tmp_path / 'example.com' / 'mail'}\n")
    assert "IN TXT" in text.stdout


def test_printed_paths_are_absolute_for_a_relative_keydir(tmp_path: Path, no_group: None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """control/dksign takes the printed path, and qmail-remote runs in the qmail home: a
    relative path there finds no key (and the first round then sent mail unsigned)."""
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["keygen", "example.com", "--keydir", "keys", "--bits", "1024",
                                 "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["private_key"] == str(tmp_path / "keys" / "example.com" / "default")
    assert data["public_records"] == str(tmp_path / "keys" / "example.com" / "default.pub")
    k = kg.keygen("example.org", keydir=Path("rel"), bits=1024)
    assert k.private == tmp_path / "rel" / "example.org" / "default"


def test_a_chown_that_fails_while_the_qmail_group_exists_is_an_error(
        tmp_path: Path, my_group: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from patchkit import files

    def refuse(path: str, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted", path)

    monkeypatch.setattr(files.os, "chown", refuse)
    with pytest.raises(FileError) as e:
        kg.keygen("example.com", keydir=tmp_path, bits=1024)
    assert "qmail group" in e.value.message and "chgrp qmail" in e.value.hint
    assert list((tmp_path / "example.com").iterdir()) == []  # no key, no temp file, no .pub


def as_nobody(argv: list[str]) -> list[str]:
    """argv run as an unprivileged user: as is for one, through setpriv for root."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to run patchkit as an unprivileged user")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]


def test_keygen_where_it_may_not_write_is_one_line_and_a_hint(tmp_path: Path) -> None:
    keydir = tmp_path / "etc-domainkeys"
    keydir.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    os.chown(keydir, 0, 0) if os.geteuid() == 0 else keydir.chmod(0o555)
    exe = str(Path(sys.executable).with_name("patchkit"))
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(as_nobody([exe, "keygen", "example.com", "--keydir", str(keydir)]),
                          capture_output=True, text=True, env=env, check=False, timeout=60)
    assert proc.returncode == FileError.exit_code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {keydir}/") and "Permission denied" in lines[0]
    assert lines[1].startswith("hint: ")


def test_cli_keygen_refuses_bad_input(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["keygen", "not a domain", "--keydir", str(tmp_path)])
    assert r.exit_code == 3 and "is not a domain name" in r.stderr
    r = CliRunner().invoke(cli, ["keygen", "example.com", "--bits", "512",
                                 "--keydir", str(tmp_path)])
    assert r.exit_code == 2  # click's usage error
