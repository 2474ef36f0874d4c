"""The build image's Dockerfile, as text (no engine): base, packages, users, venv, tag."""

from __future__ import annotations

import re

import pytest

from patchkit.build.plan import QMAIL_GROUPS, QMAIL_USERS
from patchkit.docker import dockerfile

REQS = ("click>=8.1", "pytest>=8", "unidiff>=0.7.5")


def instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    out: list[str] = []
    cur = ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(" ".join((cur + line).split()))
        cur = ""
    assert not cur, "the Dockerfile ends inside a continuation line"
    return out


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_starts_from_the_local_base_image(suite: str) -> None:
    ins = instructions(dockerfile.render(suite, reqs=REQS))
    assert ins[0] == f"FROM patchkit-base:{suite}"
    assert sum(i.startswith("FROM ") for i in ins) == 1


def test_installs_build_and_test_packages_in_one_apt_run() -> None:
    ins = instructions(dockerfile.render("bookworm", reqs=REQS))
    apt = [i for i in ins if "apt-get install" in i]
    assert len(apt) == 1
    words = apt[0].split()
    for pkg in ("gcc", "g++", "make", "patch", "git", "libssl-dev", "libnss-wrapper",
                "groff-base", "python3", "python3-venv", "libmail-dkim-perl", "libnet-dns-perl",
                "opendkim", "opendkim-tools", "openssl"):
        assert pkg in words, pkg
    assert "--no-install-recommends" in words
    assert apt[0].startswith("RUN apt-get update &&")
    assert apt[0].endswith("rm -rf /var/lib/apt/lists/*")


def test_continuation_lines_never_end_a_run_early() -> None:
    lines = dockerfile.render("bookworm", reqs=REQS).splitlines()
    for i, line in enumerate(lines):
        if line.endswith("\\"):
            nxt = lines[i + 1]
            assert nxt.strip() and not nxt.lstrip().startswith("#"), (i, line, nxt)


def test_qmail_users_and_groups_have_plan_ids() -> None:
    text = dockerfile.render("bookworm", reqs=REQS)
    groups = dict((n, int(g)) for g, n in re.findall(r"groupadd --gid (\d+) (\S+);", text))
    users = {n: (int(u), int(g)) for u, g, n in
             re.findall(r"useradd .*?--uid (\d+) --gid (\d+) (\S+);", text)}
    assert groups == {n: g for n, g in QMAIL_GROUPS if n != "root"}
    assert users == {n: (u, g) for n, u, g in QMAIL_USERS if n != "root"}
    # groups exist before the users that name them
    assert text.index("groupadd") < text.index("useradd")


def test_venv_gets_exactly_the_requirements_and_patchkit_runs_from_src() -> None:
    ins = instructions(dockerfile.render("bookworm", reqs=REQS))
    pip = [i for i in ins if "pip install" in i]
    assert len(pip) == 1
    assert pip[0].startswith(f"RUN python3 -m venv {dockerfile.VENV} &&")
    assert re.findall(r"'([^']+)'", pip[0]) == list(REQS)
    env = " ".join(i for i in ins if i.startswith("ENV "))
    assert f"PYTHONPATH={dockerfile.SRC}" in env
    assert f"PATCHKIT_DISTDIR={dockerfile.DISTDIR}" in env
    assert f"PATH={dockerfile.VENV}/bin:" in env
    assert not any(i.startswith(("COPY", "ADD")) for i in ins)  # no checkout baked in


def test_pip_cert_is_copied_used_for_pip_only_and_removed() -> None:
    ins = instructions(dockerfile.render("bookworm", reqs=REQS, pip_cert=True))
    cert = f"/tmp/{dockerfile.PIP_CERT}"
    assert f"COPY {dockerfile.PIP_CERT} {cert}" in ins
    pip = next(i for i in ins if "pip install" in i)
    assert f"PIP_CERT={cert} {dockerfile.VENV}/bin/pip install" in pip
    assert f"RUN rm {cert}" in ins
    assert not any("PIP_CERT" in i for i in ins if i.startswith("ENV "))


def test_tag_is_a_digest_of_the_text() -> None:
    a = dockerfile.render("bookworm", reqs=REQS)
    b = dockerfile.render("bookworm", reqs=(*REQS, "dkimpy>=1.1"))
    assert a == dockerfile.render("bookworm", reqs=REQS)  # pure
    tag = dockerfile.image_tag("bookworm", a)
    assert re.fullmatch(r"patchkit-build:bookworm-[0-9a-f]{12}", tag)
    assert dockerfile.image_tag("bookworm", a) != dockerfile.image_tag("bookworm", b)
    assert dockerfile.image_tag("trixie", a).startswith("patchkit-build:trixie-")


def test_requirements_keep_core_and_test_extras_without_host_only_tools() -> None:
    declared = ["click>=8.1", "docker>=7.0", "jinja2>=3.1", 'pytest>=8; extra == "test"',
                "ruff>=0.6 ; extra == 'test'", 'mypy>=1.11; extra == "test"',
                'sphinx>=7; extra == "docs"', "Dnslib>=0.9.24; extra == 'test'"]
    assert dockerfile.requirements(declared) == ("click>=8.1", "Dnslib>=0.9.24", "jinja2>=3.1",
                                                 "pytest>=8")


def test_installed_requirements_come_from_patchkit_metadata() -> None:
    reqs = dockerfile.installed_requirements()
    names = {re.split(r"[<>=!~ ]", r)[0].lower() for r in reqs}
    assert {"click", "jinja2", "unidiff", "pytest"} <= names
    assert not names & {"docker", "ruff", "mypy"}


def test_host_pip_cert_env_wins_then_last_config() -> None:
    conf1 = "[global]\ncert = /etc/a.crt\n"
    conf2 = "[global]\nfind-links = /x\ncert = /etc/b.crt\n"
    assert dockerfile.host_pip_cert({"PIP_CERT": "/env.crt"}, [conf1]) == "/env.crt"
    assert dockerfile.host_pip_cert({}, [conf1, conf2]) == "/etc/b.crt"
    assert dockerfile.host_pip_cert({}, [conf1, "not [ an ini"]) == "/etc/a.crt"
    assert dockerfile.host_pip_cert({}, ["[global]\nindex-url = x\n"]) is None
