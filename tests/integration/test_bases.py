"""Every testable base builds from the pinned inputs with our portability patches, and the
binaries work: qmail-showctl knows its home, qmail-smtpd hands one message to the queue,
qmail-remote delivers it byte for byte to an SMTP server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from harness import (
    STANDIN,
    Built,
    QmailHome,
    build_base,
    missing_inputs,
    patchkit,
    require_upstream,
    workdir,
)
from smtpsink import Sink

from patchkit.patching.series import load_series

pytestmark = [pytest.mark.upstream, pytest.mark.slow]

MESSAGE = (b"From: Alice <alice@example.org>\n"
           b"To: Bob <bob@example.test>\n"
           b"Subject: hello\n"
           b"\n"
           b"first line\n"
           b".a line that starts with a dot\n"
           b"\n"
           b"last line\n")


def smtpd(built: Built, home: QmailHome, dialogue: bytes,
          env: dict[str, str] | None = None) -> str:
    e = built.env(PK_QUEUE_DIR=str(home.queue), TCPREMOTEIP="192.0.2.7", TCPLOCALIP="127.0.0.1",
                  TCPLOCALHOST="mx.patchkit.test", **(env or {}))
    proc = subprocess.run([str(built.bin("qmail-smtpd"))], input=dialogue, env=e,
                          capture_output=True, timeout=60, check=False)
    return proc.stdout.decode(errors="replace")


def smtp_session(body: bytes, rcpt: str = "bob@example.test") -> bytes:
    data = b"\r\n".join(
        (b".." + ln[1:] if ln.startswith(b".") else ln) for ln in body.split(b"\n")[:-1])
    return (b"HELO client.example.org\r\nMAIL FROM:<alice@example.org>\r\n"
            + f"RCPT TO:<{rcpt}>\r\n".encode() + b"DATA\r\n" + data + b"\r\n.\r\nQUIT\r\n")


def test_build_json_records_inputs_patches_and_outputs(built: Built) -> None:
    report = json.loads((built.out / "build.json").read_text())
    assert report["base"] == built.base
    names = {i["name"] for i in report["inputs"]}
    assert {"libdomainkeys-0.69", "libdkim-1.0.19"} <= names
    assert all(i["verified_by"] in ("sha256", "tree") for i in report["inputs"])
    assert report["toolchain"]["compiler"].startswith(("gcc", "clang"))
    assert report["flags"]["conf-qmail"] == str(built.home)
    for rel, digest in report["outputs"].items():
        p = built.out / rel
        assert p.is_file(), rel
        assert len(digest) == 64
    assert "bin/qmail-remote" in report["outputs"] and "bin/qmail-smtpd" in report["outputs"]
    assert any(k.startswith("man/") for k in report["outputs"])


def test_showctl_reports_configured_home(built: Built, home: QmailHome) -> None:
    out = subprocess.run([str(built.bin("qmail-showctl"))], capture_output=True, text=True,
                         timeout=30, check=False, env=built.env()).stdout
    assert f"qmail home directory: {built.home}." in out
    assert "me: My name is mx.patchkit.test." in out


def test_smtpd_queues_one_message(built: Built, home: QmailHome) -> None:
    out = smtpd(built, home, smtp_session(MESSAGE))
    codes = [ln[:3] for ln in out.splitlines()]
    assert codes[0] == "220", out
    assert "354" in codes and codes[-1] == "221", out
    assert out.splitlines()[-2].startswith("250"), out
    queued = home.queued()
    assert len(queued) == 1
    msg, envelope = queued[0]
    assert msg.startswith(b"Received: from unknown (HELO client.example.org) (192.0.2.7)")
    assert msg.endswith(MESSAGE)  # dot-unstuffed, LF line ends
    assert envelope == b"Falice@example.org\0Tbob@example.test\0\0"


def test_smtpd_tells_client_to_retry_when_queue_fails(built: Built, home: QmailHome) -> None:
    out = smtpd(built, home, smtp_session(MESSAGE), env={"PK_QUEUE_EXIT": "71"})
    assert any(ln.startswith("451") for ln in out.splitlines()), out


def qmail_remote(built: Built, host: str, sender: str, rcpts: list[str],
                 msg: bytes) -> bytes:
    proc = subprocess.run([str(built.bin("qmail-remote")), host, sender, *rcpts], input=msg,
                          capture_output=True, timeout=60, check=False, env=built.env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_remote_delivers_byte_for_byte(built: Built, home: QmailHome) -> None:
    with Sink() as sink:
        home.control("smtproutes", f"example.test:127.0.0.1:{sink.port}\n")
        report = qmail_remote(built, "example.test", "alice@example.org",
                              ["bob@example.test"], MESSAGE)
    assert report.startswith(b"r"), report  # recipient accepted
    assert b"K" in report.split(b"\0")[1][:1], report  # message accepted
    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert got.mail_from == "alice@example.org" and got.rcpt_tos == ["bob@example.test"]
    assert got.content == MESSAGE.replace(b"\n", b"\r\n")


def test_remote_reports_temporary_failure_when_server_defers(built: Built,
                                                             home: QmailHome) -> None:
    with Sink() as sink:
        sink.handler.reply = "451 try later"
        home.control("smtproutes", f"example.test:127.0.0.1:{sink.port}\n")
        report = qmail_remote(built, "example.test", "alice@example.org",
                              ["bob@example.test"], MESSAGE)
    assert report.split(b"\0")[1].startswith(b"Z"), report


def test_repeat_build_compiles_nothing(base: str) -> None:
    require_upstream(base)
    build_base(base)
    wd = workdir()
    home = wd / "homes" / base
    report = json.loads(patchkit("build", "--base", base, "--workdir", str(wd), "--no-dkim",
                                 "--qmail-home", str(home), "--json").stdout)
    assert [r for r in report["stage_results"] if not r["skipped"]] == []


def test_missing_jms1_708_says_where_to_put_it(tmp_path: Path) -> None:
    require_upstream("jms1-7.10")  # everything but the 7.08 file itself
    if not missing_inputs("jms1-7.08"):
        pytest.skip("this cache holds a trusted jms1 7.08 file: nothing is missing to report")
    proc = patchkit("build", "--base", "jms1-7.08", "--workdir", str(tmp_path / "w"),
                    check=False)
    assert proc.returncode == 4, proc.stderr
    assert "qmail-1.03-jms1.7.08.patch" in proc.stderr
    assert "patchkit sources add" in proc.stderr
    assert "--trust-on-first-use" in proc.stderr


def test_prepare_leaves_configured_tree(tmp_path: Path) -> None:
    require_upstream("netqmail-1.06")
    tree = Path(patchkit("prepare", "--base", "netqmail-1.06", "--workdir", str(tmp_path),
                         "--qmail-home", "/opt/qm").stdout.strip())
    assert (tree / "conf-qmail").read_text() == "/opt/qm\n"
    assert (tree / "qmail-smtpd.c").is_file()
    assert not list(tree.glob("*.o"))  # prepared, not built
    assert os.access(tree / "Makefile", os.R_OK)


def test_smtpd_honours_qmailqueue_where_the_base_has_it(built: Built, home: QmailHome,
                                                        tmp_path: Path) -> None:
    other = tmp_path / "other-queue"
    other.mkdir()
    script = tmp_path / "qq"
    script.write_text(f"#!/bin/sh\nPK_QUEUE_DIR={other} exec {STANDIN}\n")
    script.chmod(0o755)
    out = smtpd(built, home, smtp_session(MESSAGE), env={"QMAILQUEUE": str(script)})
    assert out.splitlines()[-2].startswith("250"), out
    via_env = len(list(other.glob("*.msg")))
    via_home = len(home.queued())
    if load_series().base(built.base).qmailqueue:
        assert (via_env, via_home) == (1, 0)
    else:
        assert (via_env, via_home) == (0, 1)
