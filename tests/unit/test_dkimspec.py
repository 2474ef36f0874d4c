"""patchkit.dkim.spec: the DKVERIFY letter tables (libdomainkeys' and libdkim's result codes, in
their headers' order, as qmail-smtpd(8) documents them) and RenderOptions."""

from __future__ import annotations

import dataclasses

import pytest

from patchkit.dkim.spec import (
    DEFAULT_SIGN_HEADERS,
    DK_LETTERS,
    DKIM_LETTERS,
    RECOMMENDED_DKVERIFY,
    RenderOptions,
)
from patchkit.errors import ConfigError

# DomainKeys letters A-K are libdomainkeys' results in domainkeys.h's order (DK_STAT_*) ...
DK_NAMES = ["OK", "BADSIG", "NOSIG", "NOKEY", "BADKEY", "CANTVRFY", "SYNTAX", "NORESOURCE",
            "ARGS", "REVOKED", "INTERNAL"]
# ... DKIM letters A-R are libdkim's, in dkim.h's order (DKIM_SUCCESS, DKIM_FAIL, ...)
DKIM_NAMES = ["OK", "FAIL", "BAD_SYNTAX", "SIG BAD", "SIG BAD (testing)", "SIG EXPIRED",
              "SELECTOR INVALID", "SELECTOR MISMATCH", "SELECTOR REVOKED", "DOMAIN TOO LONG",
              "DNS TEMP FAIL", "DNS PERM FAIL", "PUBLIC KEY INVALID", "NO SIG", "NO VALID SIG",
              "BAD BODY HASH", "ALGORITHM MISMATCH", "STAT INCOMPAT",
              # RFC 8301's refusals, DKIM_SIGNATURE_SHA1_POLICY and DKIM_SELECTOR_KEY_TOO_SHORT
              "SHA1 POLICY", "KEY TOO SHORT"]


def test_dk_letters() -> None:
    assert [x.letter for x in DK_LETTERS] == list("ABCDEFGHIJK")
    assert [x.code for x in DK_LETTERS] == list(range(11))
    assert [x.name for x in DK_LETTERS] == DK_NAMES
    assert all(x.description and x.description == x.description.strip() for x in DK_LETTERS)


def test_dkim_letters() -> None:
    assert [x.letter for x in DKIM_LETTERS] == list("ABCDEFGHIJKLMNOPQRST")
    assert [x.code for x in DKIM_LETTERS] == [0, *range(-1, -20, -1)]
    assert DKIM_LETTERS[-1].code == -19  # DKIM_SELECTOR_KEY_TOO_SHORT (libdkim patch 0012)
    assert [x.name for x in DKIM_LETTERS] == DKIM_NAMES
    assert len({x.description for x in DKIM_LETTERS}) == len(DKIM_LETTERS)


def test_recommended_dkverify_letters_exist() -> None:
    dk, dkim = RECOMMENDED_DKVERIFY.split(",")
    assert dk and dkim
    known_dk = {x.letter for x in DK_LETTERS}
    known_dkim = {x.letter for x in DKIM_LETTERS}
    assert {c.upper() for c in dk} <= known_dk
    assert {c.upper() for c in dkim} <= known_dkim
    # OK (A) is never rejected or deferred, and no letter is given twice
    assert "A" not in dk.upper() and "A" not in dkim.upper()
    assert len(set(dk.upper())) == len(dk) and len(set(dkim.upper())) == len(dkim)


def test_template_vars() -> None:
    v = RenderOptions().template_vars("jms1-7.10")
    assert v["base"] == "jms1-7.10"
    assert v["letters_dk"][3] == ("D", "NOKEY", DK_LETTERS[3].description)
    assert v["letters_dkim"][15][:2] == ("P", "BAD BODY HASH") and v["letters_dkim"][15][3] == -15
    assert v["recommended_dkverify"] == RECOMMENDED_DKVERIFY
    assert v["sign_headers"] == list(DEFAULT_SIGN_HEADERS)
    assert v["authserv_default"] == ""


def test_defaults_validate() -> None:
    o = RenderOptions()
    assert o.validate() is o
    assert o.dkim_canon == "relaxed/relaxed"
    assert not hasattr(o, "dkim_algorithm")  # RFC 8301: DKIM signs rsa-sha256; the key decides
    assert "From" in o.sign_headers
    assert o.describe()["sign_headers"] == list(DEFAULT_SIGN_HEADERS)


@pytest.mark.parametrize("change", [
    {"dkim_canon": "simple/relaxed"}, {"dk_canon": "simple"},
    {"dkim_sign": False}, {"dk_sign": False}, {"authserv_id": "mx.example.com"},
    {"sign_headers": ("from",)}, {"sign_headers": ("From", "X-Custom-1")},
])
def test_valid_variants(change: dict[str, object]) -> None:
    dataclasses.replace(RenderOptions(), **change).validate()  # type: ignore[arg-type]


@pytest.mark.parametrize("header", ["Received", "Return-Path", "Authentication-Results",
                                    "received", "RETURN-PATH"])
def test_refuses_trace_headers(header: str) -> None:
    with pytest.raises(ConfigError) as ei:
        RenderOptions(sign_headers=("From", header)).validate()
    assert header in ei.value.message


@pytest.mark.parametrize(("change", "needle"), [
    ({"sign_headers": ("Subject", "To")}, "must include From"),
    ({"sign_headers": ()}, "invalid header names"),
    ({"sign_headers": ("From", "")}, "invalid header names"),
    ({"sign_headers": ("From", "Sub ject")}, "invalid header names"),
    ({"sign_headers": ("From", "To:")}, "invalid header names"),
    ({"dkim_canon": "relaxed"}, "unknown DKIM canonicalization"),
    ({"dk_canon": "relaxed"}, "unknown DomainKeys canonicalization"),
    ({"dkim_sign": False, "dk_sign": False}, "both DKIM and DomainKeys signing are off"),
    ({"authserv_id": "mx example.com"}, "invalid authserv-id"),
    ({"authserv_id": "mx.example.com; dkim=pass"}, "invalid authserv-id"),
    ({"authserv_id": "mx\r\nX-Evil: 1"}, "invalid authserv-id"),
    ({"authserv_id": 'mx"quoted"'}, "invalid authserv-id"),
])
def test_refuses_bad_options(change: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        dataclasses.replace(RenderOptions(), **change).validate()  # type: ignore[arg-type]
    assert needle in ei.value.message
    assert ei.value.hint and ei.value.exit_code == 3
