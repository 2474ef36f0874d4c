"""patchkit package ebuild against the real cache: no Manifest DIST line carries the hash of a
tarball patchkit (or a git tag) rebuilt, and pkgcheck (pkgcore from PyPI, on trixie's Python
3.13) finds no error or warning in the overlay against a stub master repository; a broken copy
makes it fail, so the scan is known to be able to. Marked upstream; the scan needs a Docker
engine (the image build reaches PyPI). The ebuild's phases run under PyPI's portage, and the
image's qmail-remote signs."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
from gentoo_stub import write_stub
from harness import patchkit, require_upstream, workdir

from patchkit.build.plan import base_inputs
from patchkit.errors import EngineError
from patchkit.patching.series import load_series
from patchkit.sources.cache import Cache, default_distdir
from patchkit.sources.manifest import load_manifest

pytestmark = [pytest.mark.upstream]
BASES = ("netqmail-1.06", "notqmail-1.09")
TOOLS = """FROM patchkit-base:trixie
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \\
    ca-certificates && rm -rf /var/lib/apt/lists/*
{cert}RUN python3 -m venv /opt/gentoo && {pip_cert}/opt/gentoo/bin/pip install --no-cache-dir \\
    pkgcheck pkgcore
"""


def overlay(base: str) -> dict[str, object]:
    require_upstream(base)
    out = workdir() / "ebuild" / base
    r: dict[str, object] = json.loads(
        patchkit("package", "ebuild", "--base", base, "-o", str(out), "--json").stdout)
    return r


@pytest.mark.parametrize("base", BASES)
def test_no_dist_line_carries_a_rebuilt_tarball(base: str) -> None:
    r = overlay(base)
    text = Path(str(r["overlay"]), "mail-mta", f"{base.split('-')[0]}-dkim", "Manifest") \
        .read_text()
    cache = Cache(default_distdir())
    rebuilt = []
    for a in base_inputs(load_series(), load_manifest(), base):
        v = cache.verify(a)
        if v.path is None:
            continue
        digest = hashlib.sha256(v.path.read_bytes()).hexdigest()
        if v.how == "tree":  # a rebuild: its hash must appear nowhere
            rebuilt.append(a.filename)
            assert digest not in text, f"{a.filename}: the rebuild's hash is in the Manifest"
        elif a.filename in text:  # the published file: its line is the file's own hash
            assert digest in text
    assert rebuilt, "this cache holds no rebuilt tarball: the test would prove nothing"
    if base == "netqmail-1.06":  # published pins (Gentoo's own Manifest) give its line
        assert "DIST netqmail-1.06.tar.gz 260941 SHA256 8e7d98d15211fc9f" in text
    else:  # nothing published is known: no line, and the README says why
        assert "notqmail-1.09.tar.gz" not in text
        readme = Path(str(r["overlay"]), "README").read_text()
        assert "notqmail-1.09.tar.gz: patchkit's cache holds a tree-verified rebuild" in readme
    layout = Path(str(r["overlay"]), "metadata/layout.conf").read_text()
    assert "manifest-hashes = SHA256 SHA512" in layout
    assert all(len(ln.split()) == 7 for ln in text.splitlines())


@pytest.fixture(scope="module")
def tools_image() -> str:
    from patchkit.docker import backend
    from patchkit.docker import engine as container

    try:
        client = container.connect(timeout=30)
    except EngineError as e:
        pytest.skip(f"{e.message} (scripts/docker-up starts one)")
    backend.ensure_base(client, "trixie", lambda _: None)
    cert = backend.pip_cert_file()
    text = TOOLS.format(cert="COPY pip-cert.pem /tmp/pip-cert.pem\n" if cert else "",
                        pip_cert="PIP_CERT=/tmp/pip-cert.pem " if cert else "")
    tag = f"patchkit-gentoo-tools:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if not container.image_exists(client, tag):
        container.build_image(client, text, tag, say=lambda _: None,
                              files={"pip-cert.pem": cert.read_bytes()} if cert else {})
    return tag


def pkgcheck(image: str, root: Path, *extra: str) -> tuple[int, str]:
    from patchkit.docker import engine as container

    # --cache=-profiles,-git: pkgcheck 0.10 fails writing its profile cache in a fresh HOME
    script = (f"rm -rf /etc/portage && ln -s {root}/etc/portage /etc/portage && "
              f"cd {root}/overlay && /opt/gentoo/bin/pkgcheck scan --cache=-profiles,-git "
              f"--exit error,warning {' '.join(extra)}")
    lines: list[str] = []
    argv = container.then_chown(("sh", "-c", script), container.host_user(), (str(root),))
    spec = container.RunSpec(image=image, argv=argv, user="0:0", env={"HOME": "/tmp"},
                             mounts=(container.Mount(host=root, target=str(root),
                                                     read_only=False),))
    r = container.run(container.connect(), spec, on_line=lines.append)
    return r.exit_code, r.stdout.decode(errors="replace") + "\n".join(lines)


@pytest.mark.docker
@pytest.mark.parametrize("base", BASES)
def test_pkgcheck_finds_no_error_or_warning(base: str, tools_image: str,
                                            tmp_path: Path) -> None:
    r = overlay(base)
    root = tmp_path.resolve()
    shutil.copytree(str(r["overlay"]), root / "overlay")
    write_stub(root, root / "overlay")
    code, out = pkgcheck(tools_image, root)
    unknown = r["no_dist_line"]
    if unknown:
        # the one finding: the DIST line left for `ebuild ... manifest` on a networked host
        # (no hash of the published file is known; the README says so)
        assert code != 0 and "MissingManifest" in out and unknown[0] in out, out
        findings = [ln.strip().split(":")[0] for ln in out.splitlines() if ln.startswith("  ")]
        assert set(findings) == {"MissingManifest"}, out
        code, out = pkgcheck(tools_image, root, "-k", "-MissingManifest")
    assert code == 0, out
    ebuild = next((root / "overlay/mail-mta").glob("*/*.ebuild"))
    text = ebuild.read_text()
    assert "EAPI=8" in text and "inherit qmail" not in text
    # the same scan fails on a broken copy, so its exit status means something
    ebuild.write_text(text.replace('SLOT="0"', 'SLOT=""'))
    code, out = pkgcheck(tools_image, root)
    assert code != 0 and "InvalidSlot" in out, out


PORTAGE = """FROM {tools}
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libssl-dev \\
    groff-base unzip patch && rm -rf /var/lib/apt/lists/*
{cert}RUN {pip_cert}/opt/gentoo/bin/pip install --no-cache-dir portage
"""
# PyPI's portage, on Debian: its prefix is the venv (EPREFIX=/opt/gentoo, so the image lands in
# image/opt/gentoo), no sandbox, a gtar link; qmail's users made as the acct-* packages would
PHASES = """set -eu
R={root}
rm -rf /etc/portage && mkdir -p /etc/portage/repos.conf /opt/gentoo/etc /usr/local/bin
cp $R/etc/portage/repos.conf/repos.conf /etc/portage/repos.conf/
ln -s $R/gentoo/profiles/default/linux/amd64 /etc/portage/make.profile
cat > /etc/portage/make.conf <<'MC'
FEATURES="-sandbox -usersandbox -userpriv -usersync -ipc-sandbox -network-sandbox"
FEATURES="${{FEATURES}} -pid-sandbox -mount-sandbox -news -merge-sync -preserve-libs"
DISTDIR={root}/distdir
ACCEPT_KEYWORDS="~amd64"
USE="dkim domainkeys"
CFLAGS="-O2"
CXXFLAGS="-O2"
CHOST="x86_64-pc-linux-gnu"
BINPKG_COMPRESS="gzip"
MC
rm -rf /opt/gentoo/etc/portage && ln -s /etc/portage /opt/gentoo/etc/portage
ln -sf "$(command -v tar)" /usr/local/bin/gtar
for g in nofiles qmail; do groupadd --system $g; done
for u in alias qmaild qmaill qmailp; do useradd --system -g nofiles -d /var/qmail -M $u; done
for u in qmailq qmailr qmails; do useradd --system -g qmail -d /var/qmail -M $u; done
mkdir -p $R/ids/etc && cp /etc/passwd /etc/group $R/ids/etc/
PATH=/opt/gentoo/bin:$PATH ebuild {ebuild} --skip-manifest clean install > $R/ebuild.log 2>&1 \\
    || {{ tail -40 $R/ebuild.log >&2; exit 1; }}
cp -a /var/tmp/portage/mail-mta/*/image $R/image
# the DKIM smoke test on the image: its qmail-remote signs a message to a local sink
cp -a $R/image/opt/gentoo/var/qmail /var/qmail
python3 $R/sink.py $R/signed.eml &
sleep 1
printf 'mx.example.org\\n' > /var/qmail/control/me
printf '{root}/keys/%%/default\\n' > /var/qmail/control/dksign
printf 'example.test:127.0.0.1:2525\\n' > /var/qmail/control/smtproutes
/var/qmail/bin/qmail-remote example.test alice@example.org bob@example.test \\
    < $R/message | tr '\\0' ' ' >&2
wait
"""
SINK = """import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2525)); s.listen(1); c, _ = s.accept(); f = c.makefile("rb")
c.sendall(b"220 sink\\r\\n"); data = False; got = []
for line in f:
    if data:
        if line == b".\\r\\n":
            data = False; c.sendall(b"250 ok\\r\\n")
        else:
            got.append(line[1:] if line.startswith(b"..") else line)
    elif line[:4].upper() == b"DATA":
        data = True; c.sendall(b"354 go\\r\\n")
    elif line[:4].upper() == b"QUIT":
        c.sendall(b"221 bye\\r\\n"); break
    else:
        c.sendall(b"250 ok\\r\\n")
open(sys.argv[1], "wb").write(b"".join(got).replace(b"\\r\\n", b"\\n"))
"""
MESSAGE = (b"From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\nSubject: gentoo\n"
           b"Date: Mon, 25 Nov 2024 12:00:00 +0000\nMessage-ID: <g1@example.org>\n\nHello\n")


@pytest.fixture(scope="module")
def portage_image(tools_image: str) -> str:
    from patchkit.docker import backend
    from patchkit.docker import engine as container

    cert = backend.pip_cert_file()
    text = PORTAGE.format(tools=tools_image,
                          cert="COPY pip-cert.pem /tmp/pip-cert.pem\n" if cert else "",
                          pip_cert="PIP_CERT=/tmp/pip-cert.pem " if cert else "")
    tag = f"patchkit-gentoo-portage:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    client = container.connect()
    if not container.image_exists(client, tag):
        container.build_image(client, text, tag, say=lambda _: None,
                              files={"pip-cert.pem": cert.read_bytes()} if cert else {})
    return tag


def tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in root.rglob("*"):
        if not p.name.startswith(".keep"):  # keepdir's markers for empty directories
            st = p.lstat()
            out["/" + p.relative_to(root).as_posix()] = (stat.S_IFMT(st.st_mode),
                                                         stat.S_IMODE(st.st_mode))
    return out


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("base", BASES)
def test_portage_phases_install_patchkit_s_tree_and_it_signs(base: str, portage_image: str,
                                                            tmp_path: Path) -> None:
    """`ebuild ... clean install` for real (PyPI's portage, DISTDIR: copies of the cache's files
    and the patchset; --skip-manifest: the cache holds rebuilds, not the published files the
    Manifest describes); the image equals `patchkit install --destdir` built against the same
    users (paths, types, modes; the queue is pkg_postinst's in Gentoo's layout); the image's
    qmail-remote signs a message that peers verify."""
    from peers import dkim_txt, dkimpy_verify, mail_dkim_missing, mail_dkim_verify, rsa_key

    from patchkit.docker import engine as container

    r = overlay(base)
    root = tmp_path.resolve()
    shutil.copytree(str(r["overlay"]), root / "overlay")
    write_stub(root, root / "overlay")
    (root / "distdir").mkdir()
    cache = Cache(default_distdir())
    for a in base_inputs(load_series(), load_manifest(), base):
        shutil.copy(cache.require(a), root / "distdir" / a.filename)
    shutil.copy(str(r["patchset"]), root / "distdir")
    key = rsa_key(2048)
    (root / "keys/example.org").mkdir(parents=True)
    (root / "keys/example.org/default").write_bytes(key.pem)
    (root / "sink.py").write_text(SINK)
    (root / "message").write_bytes(MESSAGE)
    ebuild = next((root / "overlay/mail-mta").glob("*/*.ebuild"))
    lines: list[str] = []
    argv = container.then_chown(("bash", "-c", PHASES.format(root=root, ebuild=ebuild)),
                                container.host_user(), (str(root),))
    spec = container.RunSpec(image=portage_image, argv=argv, user="0:0", mounts=(
        container.Mount(host=root, target=str(root), read_only=False),))
    res = container.run(container.connect(), spec, on_line=lines.append)
    assert res.exit_code == 0, "\n".join(lines[-40:])
    staged = root / "patchkit"
    patchkit("install", "--base", base, "--workdir", str(workdir()), "--destdir", str(staged),
             "--ids-from", str(root / "ids"))
    image = tree(root / "image/opt/gentoo")
    ours = {k: v for k, v in tree(staged).items() if not k.startswith("/var/qmail/queue")}
    assert image == ours
    assert image["/var/qmail/bin/qmail-queue"] == (stat.S_IFREG, 0o4711)
    assert any(ln.startswith("r") for ln in lines), lines[-5:]  # qmail-remote: delivered
    signed = (root / "signed.eml").read_bytes()
    zone = {"default._domainkey.example.org": dkim_txt(key)}
    assert dkimpy_verify(signed, zone).ok
    if mail_dkim_missing() is None:
        assert mail_dkim_verify(signed, zone).ok
