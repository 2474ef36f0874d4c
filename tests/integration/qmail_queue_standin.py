#!/usr/bin/env python3
"""Stand-in for qmail-queue: stores the message (fd 0) and the envelope (fd 1) under
$PK_QUEUE_DIR as N.msg / N.env and exits 0, so a test sees exactly what qmail-smtpd queued, and
how many times. $PK_QUEUE_EXIT makes it exit with another code (to test queue failures)."""

import os
import sys

out = os.environ.get("PK_QUEUE_DIR")
if not out:
    sys.exit(81)  # qmail-queue's "internal bug" code: the test forgot to set the directory
msg = sys.stdin.buffer.read()
with os.fdopen(1, "rb") as env_fd:
    envelope = env_fd.read()
n = len([f for f in os.listdir(out) if f.endswith(".msg")]) + 1
with open(os.path.join(out, f"{n}.env"), "wb") as f:
    f.write(envelope)
with open(os.path.join(out, f"{n}.msg"), "wb") as f:
    f.write(msg)
sys.exit(int(os.environ.get("PK_QUEUE_EXIT", "0")))
