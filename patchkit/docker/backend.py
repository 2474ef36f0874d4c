"""Building and testing inside a container (the docker backend).

The container runs the local backend (`patchkit build --backend local`) from the checkout mounted
read-only, with the cache mounted read-only as PATCHKIT_DISTDIR and no network. Its workdir is a
host directory, WORKDIR/docker-SUITE, mounted read-write: the stage stamps persist there, so a
rebuild with nothing changed compiles nothing, and the outputs and build.json land on the host.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from patchkit.build.plan import Options
from patchkit.docker import dockerfile, image
from patchkit.docker import engine as container
from patchkit.errors import BuildFailed, EngineError, PatchkitError
from patchkit.resources import PACKAGE
from patchkit.sources.cache import Cache
from patchkit.testing.integration import checkout, pytest_argv, read_result, require_base_inputs
from patchkit.ui import Log

PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def state_dir(workdir: Path, suite: str) -> Path:
    return (workdir / f"docker-{suite}").resolve()


def ensure_base(client: Any, suite: str, say: Log) -> str:
    """patchkit-base:SUITE: present, or pulled as debian:SUITE-slim, or (on engines that cannot
    pull) bootstrapped here from Debian packages where this process may (root, debootstrap);
    otherwise EngineError with the exact bootstrap command."""
    ref = image.base_image(suite)
    if container.image_exists(client, ref):
        return ref
    say(f"{ref} is not here: trying to pull debian:{suite}-slim")
    try:
        container.pull_as(client, f"debian:{suite}-slim", image.BASE_REPOSITORY, suite)
        return ref
    except EngineError as e:
        why = e.message
    if os.geteuid() == 0 and shutil.which("debootstrap"):
        say(f"cannot pull ({why}): bootstrapping {ref} from Debian packages instead")
        image.bootstrap(client, suite, say=say)
        return ref
    raise EngineError(f"base image {ref} is missing and cannot be pulled ({why})",
                      "create it here from Debian packages (needs root and debootstrap): "
                      f"sudo {image.bootstrap_command(suite)}")


def pip_cert_file() -> Path | None:
    """The CA bundle this host's pip uses, if its environment or configuration names one."""
    home = Path.home()
    configs = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"), home / ".pip/pip.conf",
               home / ".config/pip/pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        configs.append(Path(os.environ["PIP_CONFIG_FILE"]))
    texts = [p.read_text(errors="replace") for p in configs if p.is_file()]
    cert = dockerfile.host_pip_cert(os.environ, texts)
    return Path(cert) if cert and Path(cert).is_file() else None


def ensure_build_image(client: Any, suite: str, say: Log) -> str:
    """The build image for suite, built once per distinct Dockerfile text."""
    cert = pip_cert_file()
    text = dockerfile.render(suite, reqs=dockerfile.installed_requirements(),
                             pip_cert=cert is not None)
    tag = dockerfile.image_tag(suite, text)
    if container.image_exists(client, tag):
        return tag
    ensure_base(client, suite, say)
    say(f"building image {tag} (once per Dockerfile)")
    proxies = {k: v for k, v in os.environ.items() if k in PROXY_VARS}
    files = {dockerfile.PIP_CERT: cert.read_bytes()} if cert else {}
    return container.build_image(client, text, tag, say=say, files=files, buildargs=proxies)


def source_mounts() -> tuple[container.Mount, ...]:
    """The checkout at /src (read-only), or, for an installed wheel, just the package."""
    root = PACKAGE.parent
    if (root / "pyproject.toml").is_file() and (root / "patchkit").is_dir():
        return (container.Mount(host=root, target=dockerfile.SRC),)
    return (container.Mount(host=PACKAGE, target=f"{dockerfile.SRC}/patchkit"),)


def mounts(cache: Cache, state: Path) -> tuple[container.Mount, ...]:
    return (*source_mounts(),
            container.Mount(host=cache.root.resolve(), target=dockerfile.DISTDIR),
            container.Mount(host=state, target=dockerfile.STATE, read_only=False))


def build_argv(opts: Options) -> list[str]:
    """The local build, as the container runs it: same options, workdir in the state mount."""
    return ["patchkit", "build", "--backend", "local", *opts.argv(),
            "--workdir", dockerfile.STATE, "--json"]


def to_host(text: str, ms: tuple[container.Mount, ...]) -> str:
    """Container paths in a message, rewritten to the host paths they are mounted from."""
    for m in sorted(ms, key=lambda m: len(m.target), reverse=True):
        text = text.replace(m.target + "/", f"{m.host}/")
    return text


def error_from(lines: list[str], exit_code: int, image_tag: str) -> PatchkitError:
    """The error the container's patchkit printed (error: ..., hint: ...), as the same class."""
    classes: dict[int, type[PatchkitError]] = {}
    todo = list(PatchkitError.__subclasses__())
    while todo:
        cls = todo.pop()
        classes.setdefault(cls.exit_code, cls)
        todo += cls.__subclasses__()
    if exit_code == 137:
        return EngineError(f"the build container was killed (exit 137) in {image_tag}",
                           "out of memory? the limit is container.Limits.memory")
    msg, hint = "", []
    for i, line in enumerate(lines):
        if line.startswith("error: "):
            msg = line[len("error: "):]
            rest = lines[i + 1:]
            if rest and rest[0].startswith("hint: "):
                hint = [rest[0][len("hint: "):], *rest[1:]]
    if not msg:
        msg = f"patchkit exited {exit_code} in the build container"
        hint = lines[-20:]
    cls = classes.get(exit_code, BuildFailed)
    return cls(f"in the container ({image_tag}): {msg}", "\n".join(hint))


def _copy_logs(variant_dir: Path, dest: Path) -> list[Path]:
    logs = sorted((variant_dir / "logs").glob("*.log"))
    if logs:
        (dest / "logs").mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(f, dest / "logs" / f.name)) for f in logs]


def build(opts: Options, cache: Cache, workdir: Path, outdir: Path | None, *, suite: str,
          say: Log) -> dict[str, Any]:
    """Build opts.base in the SUITE build image; the report has api.build's shape."""
    require_base_inputs(opts.base, cache)
    client = container.connect()
    tag = ensure_build_image(client, suite, say)
    state = state_dir(workdir, suite)
    state.mkdir(parents=True, exist_ok=True)
    ms = mounts(cache, state)
    variant_dir = state / opts.variant
    out = (outdir or variant_dir / "out").resolve()
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line.startswith("patchkit: "):
            say(f"[{suite}] {to_host(line[len('patchkit: '):], ms)}")

    say(f"building {opts.variant} in {tag}")
    spec = container.RunSpec(image=tag, argv=tuple(build_argv(opts)), mounts=ms,
                             workdir=dockerfile.SRC, user=container.host_user())
    result = container.run(client, spec, on_line=on_line)
    if result.exit_code != 0:
        copied = _copy_logs(variant_dir, out)
        err = error_from([to_host(ln, ms) for ln in lines], result.exit_code, tag)
        if copied:
            err.hint = (err.hint + "\n" if err.hint else "") + \
                f"full log(s): {', '.join(str(p) for p in copied)}"
        raise err
    report: dict[str, Any] = json.loads(result.stdout)
    inner_out = Path(to_host(report["output_dir"] + "/", ms).rstrip("/"))
    if inner_out != out:
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(inner_out, out, symlinks=True)
    report["output_dir"] = str(out)
    report["backend"] = {"name": "docker", "image": tag, "suite": suite}
    return report


def test(base: str, cache: Cache, workdir: Path, junit: Path, *, suite: str,
         say: Log) -> dict[str, Any]:
    """The integration suite for base, run in the build image against binaries built there."""
    require_base_inputs(base, cache)
    checkout()
    client = container.connect()
    tag = ensure_build_image(client, suite, say)
    state = state_dir(workdir, suite)
    (state / "tests").mkdir(parents=True, exist_ok=True)
    ms = mounts(cache, state)
    inner_junit = f"{dockerfile.STATE}/junit-{base}.xml"
    staged = state / f"junit-{base}.xml"
    staged.unlink(missing_ok=True)
    tests_dir = f"{dockerfile.STATE}/tests"
    argv = tuple(pytest_argv("python", base, inner_junit))
    # Root with CAP_SYS_ADMIN, confined to this network-less container: the DKIM tests point the
    # C resolver at their DNS server through a private mount namespace (unshare -m, mount
    # --bind over /etc/resolv.conf). What they write is handed back to the host user.
    spec = container.RunSpec(image=tag, mounts=ms, workdir=dockerfile.SRC, user="0:0",
                             argv=container.then_chown(argv, container.host_user(),
                                                       (tests_dir, inner_junit)),
                             cap_add=("SYS_ADMIN",), security_opt=("apparmor=unconfined",),
                             env={"PATCHKIT_TEST_WORKDIR": tests_dir})
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        say(f"[{suite}] {line}")

    say(f"running the suite for {base} in {tag}")
    result = container.run(client, spec, on_line=on_line, stream_stdout=True)
    junit = junit.resolve()
    if staged.is_file() and staged != junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staged, junit)
    s = read_result(junit if staged.is_file() else staged, base, result.exit_code,
                    "\n".join(lines[-20:]))
    s["backend"] = f"docker ({tag})"
    return s

