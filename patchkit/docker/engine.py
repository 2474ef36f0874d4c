"""The only module that talks to a Docker engine (the Docker SDK is imported here and nowhere else).

Every function takes the SDK client as its first argument, so unit tests pass a fake that records
what would have been created. What a container run looks like is a value (RunSpec) turned into the
SDK's keyword arguments by a pure function (create_kwargs); run() creates, streams, waits and
always removes the container, even when the command fails or the user presses ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.errors import EngineError, ToolMissing

Lines = Callable[[str], None]
START_HINT = "start one (dockerd, or scripts/docker-up) or use --backend local"


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def connect(timeout: int = 120) -> Any:
    """A client for the engine DOCKER_HOST names (default the local socket), checked by a ping."""
    # The one place patchkit imports the SDK. By name, as Any: the SDK ships no type hints, and
    # mypy would otherwise resolve `docker` to a checkout's top-level docker/ directory.
    try:
        docker: Any = importlib.import_module("docker")
    except ImportError as e:
        raise ToolMissing("the Docker SDK for Python is not installed (the docker backend, "
                          "image bootstrap and the matrix need it)",
                          "pip install 'patchkit[docker]' (a local build does not need it)"
                          ) from e

    url = engine_url()
    if url.startswith("unix://") and not Path(url[len("unix://"):]).exists():
        # say so at once (and leave the SDK no half-made socket to leak)
        raise EngineError(f"no Docker engine at {url}: start one (dockerd) or use --backend local",
                          f"{START_HINT}; {url[len('unix://'):]} does not exist")
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as e:  # DockerException, or requests' errors when the engine goes away
        if client is not None:
            client.close()  # its connection pool holds the socket that failed
        raise EngineError(f"no Docker engine at {url}: start one (dockerd) or use --backend local",
                          f"{START_HINT}; the engine said: {_first_line(e)}") from e
    return client


def _first_line(e: BaseException) -> str:
    """The engine's own explanation when the SDK carries one, else the exception's first line."""
    text = str(getattr(e, "explanation", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def engine_version(client: Any) -> str:
    return str(client.version().get("Version", "unknown"))


def image_exists(client: Any, ref: str) -> bool:
    return bool(client.images.list(name=ref))


def remove_image(client: Any, ref: str) -> None:
    client.images.remove(ref, force=True)


def can_pull(client: Any, ref: str = "debian:bookworm-slim") -> tuple[bool, str]:
    """Whether the engine can reach a registry: asks for ref's manifest (downloads no layers)."""
    try:
        client.images.get_registry_data(ref)
    except Exception as e:  # the SDK raises APIError; engines also time out or refuse
        return False, _first_line(e)
    return True, f"{ref} is reachable"


def pull_as(client: Any, ref: str, repository: str, tag: str) -> None:
    """Pull ref and tag it repository:tag; EngineError (with the engine's reason) if it fails."""
    name, _, ref_tag = ref.partition(":")
    try:
        image = client.images.pull(name, tag=ref_tag or "latest")
        image.tag(repository, tag=tag)
    except Exception as e:
        raise EngineError(f"cannot pull {ref}: {_first_line(e)}") from e


def import_image(client: Any, tarball: Path, *, repository: str, tag: str,
                 changes: tuple[str, ...] = ()) -> str:
    """Import a root file system tarball as repository:tag (docker import)."""
    try:
        out = client.api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                                changes=list(changes) or None)
    except Exception as e:
        raise EngineError(f"importing {tarball} as {repository}:{tag} failed: {_first_line(e)}",
                          "see the engine's log (/var/log/dockerd.log)") from e
    text = out if isinstance(out, str) else str(out)
    if '"error"' in text or "errorDetail" in text:
        raise EngineError(f"importing {tarball} as {repository}:{tag} failed: {text.strip()}")
    return text.strip()


def context_tar(dockerfile: str, files: Mapping[str, bytes]) -> bytes:
    """A build context holding the Dockerfile and files (name -> content), nothing else."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def build_image(client: Any, dockerfile: str, tag: str, *, say: Lines,
                files: Mapping[str, bytes] | None = None, network_mode: str = "host",
                buildargs: Mapping[str, str] | None = None) -> str:
    """Build tag from Dockerfile text and a few files (everything else comes from the base image
    and the package archives). network_mode "host": the image build is the one step with network
    access, and it must not depend on the engine's bridge and NAT."""
    log: list[str] = []
    ctx = io.BytesIO(context_tar(dockerfile, files or {}))
    try:
        for chunk in client.api.build(fileobj=ctx, custom_context=True, tag=tag, rm=True,
                                      forcerm=True, pull=False, decode=True,
                                      network_mode=network_mode,
                                      buildargs=dict(buildargs or {})):
            for line in str(chunk.get("stream", "")).splitlines():
                if line.strip():
                    log.append(line)
                    if line.startswith("Step "):
                        say(f"image {tag}: {line}")
            if "error" in chunk:
                tail = "\n".join(log[-15:])
                raise EngineError(f"building image {tag} failed: {chunk['error'].strip()}",
                                  f"last lines of the image build:\n{tail}")
    except EngineError:
        raise
    except Exception as e:
        raise EngineError(f"building image {tag} failed: {_first_line(e)}",
                          "see the engine's log (/var/log/dockerd.log)") from e
    return tag


# --- running a container ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    host: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    memory: str = "4g"
    pids: int = 4096
    cpus: float = float(os.cpu_count() or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    image: str
    argv: tuple[str, ...]
    mounts: tuple[Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = ""  # "uid:gid"; empty for the image's default (root)
    limits: Limits = field(default_factory=Limits)
    network: str = "none"  # nothing is downloaded while a build or the suite runs
    cap_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    exit_code: int
    stdout: bytes


def host_user() -> str:
    """Run as the invoking user, so files written into bind mounts belong to them."""
    return f"{os.getuid()}:{os.getgid()}"


def create_kwargs(spec: RunSpec) -> dict[str, Any]:
    """The SDK's containers.create() arguments for spec (pure, tested as data)."""
    kw: dict[str, Any] = {
        "image": spec.image,
        "command": list(spec.argv),
        "environment": dict(spec.env),
        "working_dir": spec.workdir,
        "volumes": {str(m.host): {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                    for m in spec.mounts},
        "network_mode": spec.network,
        "mem_limit": spec.limits.memory,
        "memswap_limit": spec.limits.memory,
        "pids_limit": spec.limits.pids,
        "nano_cpus": int(spec.limits.cpus * 1e9),
        "init": True,  # a real PID 1 forwards signals and reaps make's children
        "labels": {"org.patchkit": "1"},
        "detach": True,
    }
    if spec.user:
        kw["user"] = spec.user
    if spec.cap_add:
        kw["cap_add"] = list(spec.cap_add)
    if spec.security_opt:
        kw["security_opt"] = list(spec.security_opt)
    return kw


def then_chown(argv: tuple[str, ...], owner: str, paths: tuple[str, ...]) -> tuple[str, ...]:
    """argv run as root, then paths handed to owner ("uid:gid"), keeping argv's exit status: for
    commands that need root in the container but write into a mount the host user owns."""
    if owner == "0:0":
        return argv
    script = f'"$@"; rc=$?; chown -R {owner} {" ".join(paths)} 2>/dev/null; exit $rc'
    return ("sh", "-c", script, "sh", *argv)


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    buf = b""
    for chunk in chunks:
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode(errors="replace")
    if buf:
        yield buf.decode(errors="replace")


def run(client: Any, spec: RunSpec, *, on_line: Lines, stream_stdout: bool = False) -> RunResult:
    """Run spec to completion: stderr (and stdout too if stream_stdout) streamed line by line to
    on_line; stdout returned otherwise. The container is removed whatever happens (failure,
    exception, KeyboardInterrupt)."""
    for m in spec.mounts:
        if not m.host.exists():
            raise EngineError(f"cannot mount {m.host}: it does not exist")
    try:
        c = client.containers.create(**create_kwargs(spec))
    except Exception as e:
        raise EngineError(f"cannot create a container from {spec.image}: {_first_line(e)}",
                          "is the image there? patchkit doctor") from e
    try:
        c.start()
        for line in _lines(c.logs(stream=True, follow=True, stdout=stream_stdout, stderr=True)):
            on_line(line)
        status = c.wait()
        out = b"" if stream_stdout else c.logs(stdout=True, stderr=False)
        return RunResult(exit_code=int(status.get("StatusCode", 1)),
                         stdout=out if isinstance(out, bytes) else bytes(out))
    finally:
        # force: kills it first if it still runs (ctrl-C, an error above); an exception here
        # means it is already gone or the engine went away: nothing left to clean
        with contextlib.suppress(Exception):
            c.remove(force=True)
