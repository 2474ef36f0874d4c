"""The one error rule of the CLI: every failure leaves as `error: ...` and `hint: ...` with its
class's own exit code; an OSError as a FileError (12); anything else as a bug (1) with "rerun
with --debug"; --debug adds the traceback. One test per class."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from patchkit import api, errors
from patchkit.cli import cli
from patchkit.docker import engine as container

CLASSES = sorted({c for c in vars(errors).values() if isinstance(c, type)
                  and issubclass(c, errors.PatchkitError) and c is not errors.PatchkitError},
                 key=lambda c: c.exit_code)


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--distdir", str(tmp_path / "dd"), *args])


def test_every_class_has_its_own_documented_code() -> None:
    codes = [c.exit_code for c in CLASSES]
    assert len(codes) == len(set(codes)) == len(CLASSES) == 13
    assert set(codes) | {0, 1, 2} == set(errors.EXIT_CODES)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for code, meaning in errors.EXIT_CODES.items():
        assert f"| {code} |" in readme, f"README's exit code table lacks {code} ({meaning})"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_is_one_line_a_hint_and_its_code(cls: type[errors.PatchkitError],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a: object, **kw: object) -> None:
        raise cls("something specific went wrong", "do this next")

    monkeypatch.setattr(api, "sources_list", fail)
    r = run(tmp_path, "sources", "list")
    assert r.exit_code == cls.exit_code
    assert r.stderr == "error: something specific went wrong\nhint: do this next\n"


def test_an_os_error_is_a_file_error_with_the_path(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a: object, **kw: object) -> None:
        raise PermissionError(13, "Permission denied", "/etc/domainkeys/example.com")

    monkeypatch.setattr(api, "sources_list", fail)
    r = run(tmp_path, "sources", "list")
    assert r.exit_code == errors.FileError.exit_code == 12
    assert r.stderr.splitlines() == [
        "error: /etc/domainkeys/example.com: Permission denied",
        "hint: you may not write or read there: run as a user who may (root?), or choose "
        "another path"]


def test_an_unknown_error_is_one_line_and_rerun_with_debug(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a: object, **kw: object) -> None:
        raise RuntimeError("unexpected state\nsecond line")

    monkeypatch.setattr(api, "sources_list", fail)
    r = run(tmp_path, "sources", "list")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "error: internal error: RuntimeError: unexpected state",
        "hint: this is a bug in patchkit: rerun with --debug and report the traceback"]
    r = run(tmp_path, "--debug", "sources", "list")
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert r.stderr.rstrip().splitlines()[-2].startswith("error: internal error: RuntimeError")


def test_build_into_an_impossible_workdir_is_one_line_and_a_hint(tmp_path: Path) -> None:
    r = run(tmp_path, "build", "--base", "netqmail-1.06", "--workdir", "/proc/x")
    assert r.exit_code == errors.FileError.exit_code
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: /proc/x: "), r.stderr
    assert lines[1].startswith("hint: ")


def test_a_workdir_with_white_space_is_refused_with_a_hint(tmp_path: Path) -> None:
    r = run(tmp_path, "build", "--base", "netqmail-1.06", "--workdir", str(tmp_path / "a b"))
    assert r.exit_code == errors.ConfigError.exit_code
    assert "white space" in r.stderr and "hint: " in r.stderr


def test_docker_commands_without_the_sdk_say_how_to_get_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker now raises ImportError
    with pytest.raises(errors.ToolMissing) as e:
        container.connect()
    assert "pip install 'patchkit[docker]'" in e.value.hint
