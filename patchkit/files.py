"""Writing files so that a reader never sees half of one: the data goes to a temporary file in
the same directory, gets its mode (and group) there, is flushed to disk, then renamed over the
destination. The one atomic-write helper; a crash leaves the old file or the new one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(dest: Path, data: bytes | str, *, mode: int = 0o644,
                 gid: int | None = None) -> Path:
    """Write data to dest atomically with the given mode; gid, if given, is set before the file
    appears (a chown that fails raises PermissionError and leaves nothing behind)."""
    blob = data.encode() if isinstance(data, str) else data
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if gid is not None:
            os.chown(tmp, -1, gid)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
