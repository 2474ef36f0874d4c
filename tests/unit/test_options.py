"""One Options value carries every build and render option to every backend: Options.argv() is
the one conversion to a command line, the CLI's parser the one way back. Each test here would
fail if a field were dropped on the way (the first round lost five of them in two copies)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
import pytest

from patchkit.build.plan import Options
from patchkit.cli import cli
from patchkit.cli.build import options_from
from patchkit.dkim.spec import RenderOptions
from patchkit.docker import backend as dockerbuild
from patchkit.testing import matrix

NON_DEFAULT = Options(
    base="jms1-7.10", qmail_home="/opt/qmail", dkim=False, sanitize=True, cc="clang",
    cxx="clang++", jobs=7, optimize="-Os", crypto="evp",
    render=RenderOptions(dkim_sign=False, dk_sign=True,
                         dkim_canon="simple/simple", dk_canon="simple",
                         sign_headers=("From", "Subject", "X-Custom"),
                         authserv_id="mx.example.com"))
# signing can't be off for both: the second sample turns the other one off
OTHER = dataclasses.replace(NON_DEFAULT, render=dataclasses.replace(
    NON_DEFAULT.render, dkim_sign=True, dk_sign=False))


def parse(argv: list[str] | tuple[str, ...]) -> Options:
    """What `patchkit build ARGV` turns into: the CLI's own parser and conversion."""
    command = cli.commands["build"]
    with click.Context(cli) as parent:
        ctx = command.make_context("build", list(argv), parent=parent)
    kw: dict[str, Any] = dict(ctx.params)
    return options_from(kw)


def leaves(o: object, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for f in dataclasses.fields(o):  # type: ignore[arg-type]
        v = getattr(o, f.name)
        if dataclasses.is_dataclass(v):
            out.update(leaves(v, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = v
    return out


def test_the_samples_differ_from_the_defaults_in_every_field() -> None:
    """Guards the round trip below: a field left at its default would round-trip by luck."""
    default = leaves(Options(base="netqmail-1.06"))
    samples = [leaves(NON_DEFAULT), leaves(OTHER)]
    assert all(set(default) == set(s) for s in samples)
    assert [k for k in default if all(default[k] == s[k] for s in samples)] == []


@pytest.mark.parametrize("sample", [NON_DEFAULT, OTHER], ids=["no-dkim-sign", "no-dk-sign"])
def test_options_round_trip_through_the_command_line(sample: Options) -> None:
    assert parse(sample.argv()) == sample
    plain = Options(base="netqmail-1.06")
    assert parse(plain.argv()) == plain


def test_build_means_dkim_unless_told_otherwise() -> None:
    o = parse(["--base", "netqmail-1.06"])
    assert o.dkim and o.variant == "netqmail-1.06+dkim"
    assert not parse(["--base", "netqmail-1.06", "--no-dkim"]).dkim


def test_the_container_gets_every_option() -> None:
    argv = dockerbuild.build_argv(NON_DEFAULT)
    assert argv[:4] == ["patchkit", "build", "--backend", "local"]
    rest = argv[4:]
    i = rest.index("--workdir")
    assert rest[i + 1] == "/work" and rest[-1] == "--json"
    assert parse(rest[:i] + rest[i + 2:-1]) == NON_DEFAULT


def test_matrix_cells_get_every_option_but_the_base() -> None:
    seen: list[Options] = []

    def run(o: Options, suite: str) -> tuple[dict[str, Any], None]:
        seen.append(o)
        return {"outputs": {}}, None

    cells = [matrix.CellId(base=b, suite="bookworm") for b in ("qmail-1.03", "netqmail-1.06")]
    matrix.run_matrix(NON_DEFAULT, cells, run, say=lambda _: None)
    assert seen == [dataclasses.replace(NON_DEFAULT, base=b)
                    for b in ("qmail-1.03", "netqmail-1.06")]


@pytest.mark.parametrize("option", ["--workdir", "--output"])
def test_path_options_are_made_absolute_where_they_enter(option: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    command = cli.commands["build"]
    with click.Context(cli) as parent:
        ctx = command.make_context("build", ["--base", "qmail-1.03", option, "rel/dir"],
                                   parent=parent)
    assert ctx.params[option.lstrip("-")] == tmp_path / "rel" / "dir"
    with click.Context(cli) as parent:
        ctx = command.make_context("build", ["--base", "qmail-1.03"], parent=parent)
    assert ctx.params["workdir"] == tmp_path / "build"  # the default too
