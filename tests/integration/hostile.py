"""The adversarial corpus, as code: deterministic messages that once bought a sender CPU time in
the verifier or the signer (issue: hostile mail). Each is a function of a size parameter, so the
benchmark and the tests build exactly the same bytes; nothing here is random."""

from __future__ import annotations

from collections.abc import Callable

HEAD = (b"From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\nSubject: hostile\n"
        b"Date: Mon, 25 Nov 2024 12:00:00 +0000\nMessage-ID: <hostile@example.org>\n")
LINE = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"


def plain(size: int) -> bytes:
    """An ordinary message of about size bytes: the baseline every cost is compared with."""
    body = LINE * (max(size - len(HEAD), 0) // len(LINE) + 1)
    return HEAD + b"\n" + body


def many_copies(n: int) -> bytes:
    """n copies of one header field (to be signed with h= naming it n times)."""
    return b"".join(b"X-A: %d\n" % i for i in range(n)) + HEAD + b"\n" + LINE


def long_header_line(size: int) -> bytes:
    """One header field of size bytes on a single line."""
    return HEAD + b"X-Long: " + b"x" * size + b"\n\n" + LINE


def long_body_line(size: int) -> bytes:
    """One body line of size bytes."""
    return HEAD + b"\n" + b"y" * size + b"\n"


def many_fields(size: int) -> bytes:
    """About size bytes of short, distinct header fields: every one is a field to look up."""
    n = max(size // 12, 1)
    return b"".join(b"X-F%d: v\n" % i for i in range(n)) + HEAD + b"\n" + LINE


def deep_fold(size: int) -> bytes:
    """One header field folded over continuation lines of a few bytes each."""
    return HEAD + b"X-Fold: a" + b"\n b" * (size // 3) + b"\n\n" + LINE


def blank_lines(size: int) -> bytes:
    """A body of empty lines: canonicalization holds back trailing empty lines until it knows
    whether text follows, so a held-back run must not be rescanned."""
    return HEAD + b"\n" + b"\n" * size + LINE


def whitespace_runs(size: int) -> bytes:
    """Body lines of long space and tab runs, which relaxed canonicalization collapses."""
    line = b"a" + b" \t" * 500 + b"b\n"
    return HEAD + b"\n" + line * (size // len(line) + 1)


def bare_cr_body(size: int) -> bytes:
    """A body with a bare CR every few bytes (qmail-smtpd accepts such mail)."""
    line = b"ab\rcd\ref\rgh\n"
    return HEAD + b"\n" + line * (size // len(line) + 1)


def forgeries(authserv_id: bytes) -> dict[str, bytes]:
    """Authentication-Results fields claiming a pass from authserv_id, in the disguises a common
    parser still reads as that host's (the verifier must remove every one)."""
    i = authserv_id
    ar = b"Authentication-Results"
    c = b"; dkim=pass header.d=bank.test"
    return {
        "plain": ar + b": " + i + c,
        "lower-case name": ar.lower() + b": " + i + c,
        "upper-case name": ar.upper() + b": " + i + c,
        "upper-case id": ar + b": " + i.upper() + c,
        "folded": ar + b":\n " + i + b";\n dkim=pass header.d=bank.test",
        "comment": ar + b": (trust me) " + i + c,
        "quoted": ar + b': "' + i + b'"' + c,
        "space before colon": ar + b" : " + i + c,
        "no space": ar + b":" + i + c,
        "tab": ar + b":\t" + i + c,
        "version": ar + b": " + i + b" 1" + c,
        "bare CR": b"X-Foo: a\r" + ar + b": " + i + c,
        "NUL after id": ar + b": " + i + b"\0" + c,
        "trailing dot": ar + b": " + i + b"." + c,
        "UTF-8 no-break space": ar + b":\xc2\xa0" + i + c,
        "Latin-1 no-break space": ar + b":\xa0" + i + c,
        "em space": ar + b":\xe2\x80\x83" + i + c,
        "vertical tab": ar + b":\x0b" + i + c,
        "no-break space after id": ar + b": " + i + b"\xc2\xa0" + c,
    }

CORPUS: dict[str, Callable[[int], bytes]] = {
    "plain": plain, "many-copies": many_copies, "long-header-line": long_header_line,
    "long-body-line": long_body_line, "many-fields": many_fields, "deep-fold": deep_fold,
    "blank-lines": blank_lines, "whitespace-runs": whitespace_runs, "bare-cr-body": bare_cr_body,
}
