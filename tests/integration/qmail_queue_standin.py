#!/usr/bin/env python3
"""Stand-in for qmail-queue: reads the message (fd 0) and the envelope (fd 1) the way qmail-queue
does and, only when the envelope is complete (F addr NUL, T addr NUL ..., NUL), stores them under
$PK_QUEUE_DIR as N.msg / N.env and exits 0. An incomplete envelope is what qmail-smtpd sends when
it abandons a message (qmail_fail): like qmail-queue, nothing is queued and it exits 54 (EOF) or
91 (format). So a test sees exactly what would have been queued, and how many times.
$PK_QUEUE_EXIT makes it fail with that code after reading (to test queue failures)."""

import os
import sys


def envelope_complete(env: bytes) -> int:
    """0 if env is a complete qmail-queue envelope, else qmail-queue's exit code."""
    if not env:
        return 54
    if env[:1] != b"F":
        return 91
    parts = env.split(b"\0")
    # F<sender>, T<rcpt>..., "" (the final NUL), "" (after it)
    if len(parts) < 4 or parts[-1] != b"" or parts[-2] != b"":
        return 54
    rcpts = parts[1:-2]
    if not rcpts or not all(r[:1] == b"T" for r in rcpts):
        return 91
    return 0


def main() -> int:
    out = os.environ.get("PK_QUEUE_DIR")
    if not out:
        return 81  # qmail-queue's "internal bug": the test forgot to set the directory
    msg = sys.stdin.buffer.read()
    with os.fdopen(1, "rb") as env_fd:
        envelope = env_fd.read()
    code = envelope_complete(envelope)
    if code:
        with open(os.path.join(out, "abandoned.log"), "ab") as f:
            f.write(b"%d %d\n" % (code, len(msg)))
        return code
    forced = int(os.environ.get("PK_QUEUE_EXIT", "0"))
    if forced:
        return forced
    n = len([f for f in os.listdir(out) if f.endswith(".msg")]) + 1
    with open(os.path.join(out, f"{n}.env"), "wb") as f:
        f.write(envelope)
    with open(os.path.join(out, f"{n}.msg"), "wb") as f:
        f.write(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
