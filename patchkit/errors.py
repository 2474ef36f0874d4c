"""One hierarchy for every failure patchkit reports to a user.

Each class carries its own exit code and a hint that says what to do next. The CLI catches
PatchkitError, prints ``error: <message>`` and ``hint: <hint>``, and exits with ``exit_code``.
The codes are part of the interface (README, "Exit codes"); never renumber them.
"""

from __future__ import annotations

import errno


class PatchkitError(Exception):
    """Base of every expected failure. Anything else is a bug (exit 1, traceback with --debug)."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(PatchkitError):
    """The manifest, a series file, an option or a control value is malformed."""

    exit_code = 3


class SourceUnavailable(PatchkitError):
    """An upstream artifact is neither cached nor downloadable (offline, 404 everywhere)."""

    exit_code = 4


class VerificationError(PatchkitError):
    """A file or tree does not match its pin: wrong sha256, wrong tree digest, corrupt cache."""

    exit_code = 5


class UnsafeArchive(PatchkitError):
    """An archive tried to write outside its tree (absolute path, .., escaping link, device)."""

    exit_code = 6


class PatchFailed(PatchkitError):
    """A patch does not apply: names the patch, the file and the hunk."""

    exit_code = 7


class BuildFailed(PatchkitError):
    """A build step exited non-zero: names the step and shows the end of its log."""

    exit_code = 8


class ToolMissing(PatchkitError):
    """A program or library the build needs is not on this machine."""

    exit_code = 9


class EngineError(PatchkitError):
    """The Docker engine is absent, unreachable, or lacks an image it cannot pull."""

    exit_code = 10


class FileError(PatchkitError):
    """A file or directory could not be read or written (permissions, a full disk, a path that
    is not a directory): the operating system's OSError, with the path and what to do."""

    exit_code = 12


class TestsFailed(PatchkitError):
    """The integration suite ran and some tests failed."""

    __test__ = False  # not a pytest test class despite the name
    exit_code = 11


class DnsNotReady(PatchkitError):
    """DNS does not (yet) show what a key step needs: the active key is not published as it is,
    the key to activate is not published, or a key to retire is still published."""

    exit_code = 13


class DnsLookupFailed(PatchkitError):
    """DNS could not be asked: a time-out, SERVFAIL, no resolver (not the same as "missing")."""

    exit_code = 14


class FuzzFinding(PatchkitError):
    """A fuzz target crashed, leaked, hung or tripped a sanitizer on an input (patchkit fuzz)."""

    exit_code = 15


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "internal error (a bug: rerun with --debug and report the traceback)",
    2: "usage error (bad command line)",
    ConfigError.exit_code: "configuration error (manifest, series, options)",
    SourceUnavailable.exit_code: "an upstream source could not be had",
    VerificationError.exit_code: "a checksum or tree digest did not match its pin",
    UnsafeArchive.exit_code: "an archive tried to escape its tree",
    PatchFailed.exit_code: "a patch did not apply",
    BuildFailed.exit_code: "a build step failed",
    ToolMissing.exit_code: "a required tool is missing",
    EngineError.exit_code: "Docker engine or image problem",
    TestsFailed.exit_code: "tests failed",
    FileError.exit_code: "a file or directory could not be read or written",
    DnsNotReady.exit_code: "DNS does not show a signing key as the step needs (keys)",
    DnsLookupFailed.exit_code: "a DNS lookup failed (time-out, SERVFAIL, no resolver)",
    FuzzFinding.exit_code: "a fuzz target found an input that crashes it (patchkit fuzz)",
}

_OS_HINTS = {
    errno.EACCES: "you may not write or read there: run as a user who may (root?), or choose "
                  "another path",
    errno.EPERM: "the operation is not permitted for this user: run as root, or choose another "
                 "path",
    errno.ENOSPC: "the disk is full: free some space, or choose a path on another file system",
    errno.EDQUOT: "your disk quota is used up: free some space, or choose another path",
    errno.EROFS: "that file system is read-only: choose a writable path",
    errno.ENOENT: "a directory on that path does not exist: check the path",
    errno.ENOTDIR: "a part of that path is a file, not a directory: check the path",
    errno.EISDIR: "that path is a directory where a file was expected: check the path",
}


def file_error(e: OSError) -> FileError:
    """The one-line form of an OSError: what failed on which path, and a hint for its errno."""
    where = " -> ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    what = e.strerror or str(e)
    message = f"{where}: {what}" if where else what
    return FileError(message, _OS_HINTS.get(e.errno or 0, "check the path and its permissions"))
