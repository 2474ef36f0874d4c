"""Helpers for unit tests: build the same small source tree as tar.gz, zip and a git tag, and
snapshot unpacked trees. A tree spec is a list of (path, kind, payload) with kind "f" (regular
file, payload bytes), "x" (executable file, payload bytes) or "l" (symlink, payload = target)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

Spec = list[tuple[str, str, bytes | str]]

TREE: Spec = [
    ("Makefile", "f", b"all:\n\tcc -o hello src/hello.c\n"),
    ("src/hello.c", "f", b'#include <stdio.h>\nint main(void){puts("hi");return 0;}\n'),
    ("install.sh", "x", b"#!/bin/sh\necho installing\n"),
    ("docs/README", "f", b"read me\n"),
    ("README", "l", "docs/README"),
]


def expected_digest(spec: Spec) -> str:
    """The tree digest computed straight from the format in patchkit/digest.py's docstring,
    independently of patchkit's code (spec paths are already relative to the tree root)."""
    lines = []
    for path, kind, payload in spec:
        data = payload.encode() if isinstance(payload, str) else payload
        lines.append((path.encode(), f"{kind} {hashlib.sha256(data).hexdigest()} {path}\n"))
    lines.sort()
    return "tree1:" + hashlib.sha256("".join(line for _, line in lines).encode()).hexdigest()


def _dirs_of(spec: Spec) -> list[str]:
    dirs: set[str] = set()
    for path, _kind, _payload in spec:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def tar_bytes(spec: Spec, top: str | None = "pkg-1.0", *, compress: bool = True,
              with_dirs: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as tar:
        prefix = f"{top}/" if top else ""
        if with_dirs:
            if top:
                d = tarfile.TarInfo(top)
                d.type, d.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(d)
            for dirname in _dirs_of(spec):
                d = tarfile.TarInfo(prefix + dirname)
                d.type, d.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(d)
        for path, kind, payload in spec:
            info = tarfile.TarInfo(prefix + path)
            info.mtime = 1234567890
            if kind == "l":
                assert isinstance(payload, str)
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, payload, 0o777
                tar.addfile(info)
            else:
                assert isinstance(payload, bytes)
                info.size, info.mode = len(payload), 0o755 if kind == "x" else 0o644
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def write_targz(path: Path, spec: Spec, top: str | None = "pkg-1.0", **kw: bool) -> Path:
    path.write_bytes(tar_bytes(spec, top, **kw))
    return path


def write_zip(path: Path, spec: Spec, top: str | None = "pkg-1.0") -> Path:
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        if top:
            d = zipfile.ZipInfo(prefix)
            d.external_attr = (0o040755 << 16) | 0x10
            z.writestr(d, b"")
        for path_, kind, payload in spec:
            info = zipfile.ZipInfo(prefix + path_, date_time=(2001, 2, 3, 4, 5, 6))
            info.create_system = 3  # unix, so external_attr carries the mode
            if kind == "l":
                assert isinstance(payload, str)
                info.external_attr = 0o120777 << 16
                z.writestr(info, payload.encode())
            else:
                assert isinstance(payload, bytes)
                info.external_attr = (0o100755 if kind == "x" else 0o100644) << 16
                z.writestr(info, payload)
    return path


def raw_tar(path: Path, infos: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A tar.gz with exactly the given headers (for malicious archives)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in infos:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def tinfo(name: str, kind: str = "f", *, link: str = "", mode: int = 0o644
          ) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    if kind == "f":
        return info, b"data of " + name.encode()
    types = {"l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE, "d": tarfile.DIRTYPE,
             "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE, "p": tarfile.FIFOTYPE}
    info.type = types[kind]
    info.linkname = link
    return info, None


GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_AUTHOR_DATE": "2001-02-03T04:05:06Z", "GIT_COMMITTER_DATE": "2001-02-03T04:05:06Z",
}


def git(repo: Path, *args: str) -> bytes:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True).stdout


def materialize(root: Path, spec: Spec) -> Path:
    """Write the spec as real files under root (no top dir)."""
    root.mkdir(parents=True, exist_ok=True)
    for path, kind, payload in spec:
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "l":
            assert isinstance(payload, str)
            os.symlink(payload, p)
        else:
            assert isinstance(payload, bytes)
            p.write_bytes(payload)
            os.chmod(p, 0o755 if kind == "x" else 0o644)
    return root


def git_repo(root: Path, spec: Spec, tag: str = "v1.0") -> Path:
    """A git repository whose commit (tagged ``tag``) holds spec at its top level."""
    materialize(root, spec)
    git(root, "init", "-q")
    git(root, "config", "core.fileMode", "true")
    git(root, "config", "core.symlinks", "true")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tree")
    git(root, "tag", tag)
    return root


def snapshot(root: Path, *, dirs: bool = True) -> dict[str, tuple[object, ...]]:
    """Everything observable about a tree: kind, mode, mtime (ns), content or link target."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                if dirs:
                    out[rel] = ("d", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_mtime_ns, p.read_bytes())
    return out
