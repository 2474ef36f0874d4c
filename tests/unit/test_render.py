"""patchkit.dkim.render with a synthetic templates root and a small synthetic "qmail" tree (the real
templates/dkim is being written elsewhere: nothing here reads it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest
from patchtrees import gnu_patch, read_tree, write_tree

from patchkit import api
from patchkit.build.plan import Options
from patchkit.dkim import render as rmod
from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError, PatchFailed
from patchkit.patching import diffs

BASE = "qmail-1.03"

REMOTE = """\
#include "sig.h"
#include "stralloc.h"

void blast()
{
  int r;
  r = 1;
}

void smtp()
{
  blast();
  quit("K");
}
"""

SMTPD = """\
#include "qmail.h"

void smtp_helo()
{
  if (qmail_open(&qqt) == -1) { err_qqt(); return; }
}

void smtp_data()
{
  int hops;
  if (qmail_open(&qqt) == -1) { err_qqt(); return; }
  qqx = qmail_close(&qqt);
}
"""

MAKEFILE = """\
qmail-remote: \\
load qmail-remote.o
\t./load qmail-remote
"""

MAN = """\
.TH qmail-smtpd 8
.SH NAME
qmail-smtpd \\- receive mail via SMTP
.SH "SEE ALSO"
tcp-env(1)
"""

TREE = {"qmail-remote.c": REMOTE.encode(), "qmail-smtpd.c": SMTPD.encode(),
        "Makefile": MAKEFILE.encode(), "qmail-smtpd.8": MAN.encode(),
        "README": b"untouched\n"}

HOOKS = '''
[[hook]]
file = "qmail-remote.c"
anchor = '^#include "stralloc.h"$'
where = "after"
text = """
#ifdef DKIM
#include "qdkim.h"
#endif"""

[[hook]]
file = "qmail-remote.c"
anchor = '^  blast\\(\\);$'
where = "replace"
text = """
#ifdef DKIM
  qdkim_blast("{{ dkim_canon }}");
#else
  blast();
#endif
"""

[[hook]]
file = "qmail-smtpd.c"
after = '^void smtp_data'
anchor = 'qmail_open\\(&qqt\\)'
where = "before"
text = """
  qdkim_verify(); /* {{ base }} */
"""

[[hook]]
file = "qmail-smtpd.c"
anchor = 'qmail_close\\(&qqt\\)'
where = "after"
text = "  qdkim_done();\\n"
bases = ["netqmail-1.06"]

[[hook]]
file = "Makefile"
anchor = '^load qmail-remote.o$'
where = "replace"
text = "load qmail-remote.o qdkim.o\\n"

[[hook]]
file = "qmail-smtpd.8"
anchor = '^.SH "SEE ALSO"$'
where = "before"
text = """{% include "_man.j2" %}"""
'''

FOO = """\
/* rendered for {{ base }} */
static const char *dk = "{{ dk_canon }}";
static const char *canon = "{{ dkim_canon }}";
{% for letter, name, desc, code in letters_dkim %}
/* {{ letter }} {{ name }} {{ code }} */
{%- endfor %}
static const char *headers = "{{ sign_headers | join(':') }}";
"""

MAN_FRAGMENT = """\
.SH DKVERIFY
Recommended: {{ recommended_dkverify }}
{% for letter, name, desc in letters_dk %}.TP
{{ letter }}
{{ name }}
{% endfor %}"""


def templates(root: Path, hooks: str = HOOKS, extra: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "hooks.toml").write_text(hooks)
    (root / "foo.c.j2").write_text(FOO)
    (root / "_man.j2").write_text(MAN_FRAGMENT)
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    return root


@pytest.fixture
def troot(tmp_path: Path) -> Path:
    return templates(tmp_path / "templates")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "qmail", TREE)


def rendered_tree(tmp_path: Path, tree: Path, text: str, name: str = "applied") -> dict[str, str]:
    copy = tmp_path / name
    shutil.copytree(tree, copy)
    diffs.apply(diffs.parse(text, name="dkim.patch"), copy, name="dkim.patch")
    return {k: v.decode() for k, v in read_tree(copy).items()}


def test_render_places_every_hook(tmp_path: Path, tree: Path, troot: Path) -> None:
    before = read_tree(tree)
    text = rmod.render(tree, BASE, RenderOptions(), root=troot)
    assert read_tree(tree) == before  # the prepared tree itself is not touched
    files = rendered_tree(tmp_path, tree, text)
    assert set(files) == {*TREE, "foo.c"}
    assert files["README"] == "untouched\n"
    # after: right below the anchor
    assert files["qmail-remote.c"].startswith(
        '#include "sig.h"\n#include "stralloc.h"\n#ifdef DKIM\n#include "qdkim.h"\n#endif\n\n')
    # replace: the anchor line is gone, the text is where it was
    assert ('void smtp()\n{\n#ifdef DKIM\n  qdkim_blast("relaxed/relaxed");\n#else\n  blast();\n'
            '#endif\n  quit("K");\n}\n') in files["qmail-remote.c"]
    assert files["qmail-remote.c"].count("blast();") == 1
    # before, in the `after` region: only smtp_data's qmail_open gets the call
    smtpd = files["qmail-smtpd.c"]
    assert smtpd.count("qdkim_verify();") == 1
    assert ("  int hops;\n  qdkim_verify(); /* qmail-1.03 */\n"
            "  if (qmail_open(&qqt) == -1)") in smtpd
    assert "qdkim_done" not in smtpd  # that hook is for netqmail-1.06 only
    assert files["Makefile"] == MAKEFILE.replace("load qmail-remote.o\n",
                                                 "load qmail-remote.o qdkim.o\n")
    man = files["qmail-smtpd.8"]
    assert man.index(".SH DKVERIFY") < man.index('.SH "SEE ALSO"')
    assert "Recommended: DEGIJKfh,CGHIJMQRkl\n" in man
    assert ".TP\nA\nOK\n" in man and ".TP\nK\nINTERNAL\n" in man
    foo = files["foo.c"]
    assert foo.startswith("/* rendered for qmail-1.03 */\n")
    assert "/* R STAT INCOMPAT -17 */" in foo and "/* A OK 0 */" in foo
    assert 'headers = "From:Sender:Reply-To:' in foo
    assert "_man" not in files and "hooks.toml" not in files


def test_bases_filter(tmp_path: Path, tree: Path, troot: Path) -> None:
    text = rmod.render(tree, "netqmail-1.06", RenderOptions(), root=troot)
    smtpd = rendered_tree(tmp_path, tree, text)["qmail-smtpd.c"]
    assert "  qqx = qmail_close(&qqt);\n  qdkim_done();\n}\n" in smtpd
    assert "/* netqmail-1.06 */" in smtpd


def test_render_options_reach_the_templates(tmp_path: Path, tree: Path, troot: Path) -> None:
    opts = RenderOptions(dk_canon="simple", dkim_canon="simple/simple",
                         sign_headers=("From", "To"))
    files = rendered_tree(tmp_path, tree, rmod.render(tree, BASE, opts, root=troot))
    assert 'dk = "simple"' in files["foo.c"]
    assert 'canon = "simple/simple"' in files["foo.c"]
    assert 'headers = "From:To"' in files["foo.c"]
    assert 'qdkim_blast("simple/simple")' in files["qmail-remote.c"]


def test_header_of_the_rendered_patch(tree: Path, troot: Path) -> None:
    text = rmod.render(tree, BASE, RenderOptions(authserv_id="mx.example.org"), root=troot)
    h = diffs.header(text)
    assert BASE in h["Description"] and h["Why"]
    assert "dkim_canon=relaxed/relaxed" in h["Options"]
    assert "authserv_id=mx.example.org" in h["Options"]
    assert "sign_headers" not in h["Options"]
    assert h["Signed-headers"].startswith("From:Sender:")
    parsed = diffs.parse(text)
    assert {(f.source, f.target) for f in parsed} == {
        (None, "foo.c"), ("Makefile", "Makefile"), ("qmail-remote.c", "qmail-remote.c"),
        ("qmail-smtpd.8", "qmail-smtpd.8"), ("qmail-smtpd.c", "qmail-smtpd.c")}


def test_render_is_byte_identical(tmp_path: Path, tree: Path, troot: Path) -> None:
    a = rmod.render(tree, BASE, RenderOptions(), root=troot)
    b = rmod.render(tree, BASE, RenderOptions(), root=troot)
    other = write_tree(tmp_path / "elsewhere" / "tree", TREE)
    c = rmod.render(other, BASE, RenderOptions(), root=troot)
    assert a == b == c
    assert rmod.render(tree, BASE, RenderOptions(dk_sign=False), root=troot) != a


@pytest.mark.spawns
def test_gnu_patch_gives_the_same_files(tmp_path: Path, tree: Path, troot: Path) -> None:
    for base in (BASE, "netqmail-1.06"):
        text = rmod.render(tree, base, RenderOptions(), root=troot)
        ours = rendered_tree(tmp_path, tree, text, name=f"ours-{base}")
        gnu = tmp_path / f"gnu-{base}"
        shutil.copytree(tree, gnu)
        proc = gnu_patch(gnu, text.encode(diffs.ENCODING))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert {k: v.decode() for k, v in read_tree(gnu).items()} == ours


# --------------------------------------------------------------------------- failures


def _hook(anchor: str, *, file: str = "qmail-smtpd.c", after: str = "",
          where: str = "before") -> str:
    lines = ["[[hook]]", f'file = "{file}"', f"anchor = '{anchor}'", f'where = "{where}"',
             'text = "x\\n"']
    if after:
        lines.append(f"after = '{after}'")
    return "\n".join(lines) + "\n"


def test_anchor_not_found(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", _hook("^no such line$"))
    with pytest.raises(PatchFailed) as ei:
        rmod.render(tree, BASE, RenderOptions(), root=root)
    assert "qmail-smtpd.c" in ei.value.message and "^no such line$" in ei.value.message
    assert "not found" in ei.value.message and ei.value.exit_code == 7


def test_anchor_not_found_after_region(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", _hook("smtp_helo", after="^void smtp_data"))
    with pytest.raises(PatchFailed) as ei:
        rmod.render(tree, BASE, RenderOptions(), root=root)
    assert "smtp_helo" in ei.value.message and "after '^void smtp_data'" in ei.value.message


def test_after_region_not_found(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", _hook("qmail_open", after="^void smtp_nothing"))
    with pytest.raises(PatchFailed) as ei:
        rmod.render(tree, BASE, RenderOptions(), root=root)
    assert "qmail-smtpd.c" in ei.value.message and "smtp_nothing" in ei.value.message


def test_anchor_matching_twice(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", _hook(r"qmail_open\(&qqt\)"))
    with pytest.raises(PatchFailed) as ei:
        rmod.render(tree, BASE, RenderOptions(), root=root)
    msg = ei.value.message
    assert "qmail-smtpd.c" in msg and repr(r"qmail_open\(&qqt\)") in msg
    assert "matches 2 lines (5, 11)" in msg
    assert "after" in ei.value.hint


def test_hook_on_a_file_not_in_the_tree(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", _hook("x", file="qmail-pop3d.c"))
    with pytest.raises(PatchFailed, match=r"qmail-pop3d\.c is not in the qmail-1\.03 tree"):
        rmod.render(tree, BASE, RenderOptions(), root=root)


def test_new_file_that_already_exists(tmp_path: Path, tree: Path, troot: Path) -> None:
    (tree / "foo.c").write_text("/* applied already */\n")
    with pytest.raises(PatchFailed) as ei:
        rmod.render(tree, BASE, RenderOptions(), root=troot)
    assert "foo.c" in ei.value.message and "already exists" in ei.value.message


def test_unknown_variable_in_a_template_is_an_error(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t", extra={"bar.c.j2": "int x = {{ no_such_variable }};\n"})
    with pytest.raises(jinja2.exceptions.UndefinedError, match="no_such_variable"):
        rmod.render(tree, BASE, RenderOptions(), root=root)


def test_unknown_variable_in_a_hook_is_an_error(tmp_path: Path, tree: Path) -> None:
    hooks = _hook("^#include").replace('text = "x\\n"', 'text = "{{ dkim_algo }}\\n"')
    root = templates(tmp_path / "t", hooks)
    with pytest.raises(jinja2.exceptions.UndefinedError, match="dkim_algo"):
        rmod.render(tree, BASE, RenderOptions(), root=root)


def test_unknown_attribute_in_a_fragment_is_an_error(tmp_path: Path, tree: Path) -> None:
    root = templates(tmp_path / "t")
    (root / "_man.j2").write_text("{{ letters_dk.nope }}\n")
    with pytest.raises(jinja2.exceptions.UndefinedError):
        rmod.render(tree, BASE, RenderOptions(), root=root)


def test_invalid_options_are_refused_before_rendering(tree: Path, troot: Path) -> None:
    with pytest.raises(ConfigError, match="Received"):
        rmod.render(tree, BASE, RenderOptions(sign_headers=("From", "Received")), root=troot)


@pytest.mark.parametrize(("hooks", "needle"), [
    (_hook("x").replace('where = "before"', 'where = "around"'), "where must be one of"),
    (_hook("x") + 'colour = "red"\n', "unknown keys ['colour']"),
    ("[[hook]\n", "not valid TOML"),
])
def test_bad_hooks_file(tmp_path: Path, hooks: str, needle: str) -> None:
    root = templates(tmp_path / "t", hooks)
    with pytest.raises(ConfigError) as ei:
        rmod.load_hooks(root)
    assert needle in ei.value.message + ei.value.hint
    assert ei.value.exit_code == 3


def test_missing_hooks_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hooks\.toml"):
        rmod.load_hooks(tmp_path)


def test_new_files_skips_partials(tmp_path: Path) -> None:
    root = templates(tmp_path / "t", extra={"b.h.j2": "", "_part.j2": "", "notes.txt": ""})
    assert rmod.new_files(root) == ["b.h.j2", "foo.c.j2"]


def test_apply_hooks_keeps_crlf_lines(tmp_path: Path) -> None:
    env = rmod.environment(tmp_path)
    hook = rmod.Hook(file="f", anchor="^b$", where="replace", text="B\n")
    assert rmod.apply_hooks("a\r\nb\r\nc\r\n", [hook], env, {}, "f") == "a\r\nB\nc\r\n"


def test_after_hook_on_a_last_line_without_newline(tmp_path: Path) -> None:
    env = rmod.environment(tmp_path)
    hook = rmod.Hook(file="f", anchor="^b$", where="after", text="X\n")
    out = rmod.apply_hooks("a\nb", [hook], env, {}, "f")
    assert out.splitlines() == ["a", "b", "X"]


# --------------------------------------------------------------------------- api


def test_templates_key_follows_the_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    root = templates(tmp_path / "t")
    monkeypatch.setattr(api, "template_root", lambda: root)
    k1 = api.templates_key()
    assert k1 == api.templates_key() and k1.startswith("tree1:")
    (root / "_man.j2").write_text(MAN_FRAGMENT + ".\\\" changed\n")
    assert api.templates_key() != k1
    (root / "hooks.toml").unlink()
    with pytest.raises(ConfigError, match="no DKIM templates"):
        api.templates_key()


def test_render_patch_renders_against_the_plain_prepared_tree(
        tmp_path: Path, tree: Path, troot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Options] = []

    def fake_prepare(opts: Options, cache: object, workdir: Path, *, say: object) -> Path:
        seen.append(opts)
        return tree

    monkeypatch.setattr(api, "prepare", fake_prepare)
    monkeypatch.setattr(rmod, "template_root", lambda: troot)
    opts = Options(base=BASE, dkim=True, render=RenderOptions(dkim_canon="simple/relaxed"))
    text = api.render_patch(opts, object(), tmp_path / "w", say=lambda m: None)  # type: ignore[arg-type]
    assert [o.dkim for o in seen] == [False] and seen[0].base == BASE
    assert text == rmod.render(tree, BASE, opts.render, root=troot)
    assert 'qdkim_blast("simple/relaxed")' in text


@pytest.mark.spawns
def test_file_without_final_newline_renders_and_applies_like_gnu(tmp_path: Path,
                                                                 troot: Path) -> None:
    tree = write_tree(tmp_path / "q", {**TREE, "qmail-smtpd.8": MAN.rstrip("\n").encode()})
    text = rmod.render(tree, BASE, RenderOptions(), root=troot)
    assert "\\ No newline at end of file" in text
    ours = rendered_tree(tmp_path, tree, text)
    assert ours["qmail-smtpd.8"].endswith("tcp-env(1)")  # still without a newline
    gnu = tmp_path / "gnu"
    shutil.copytree(tree, gnu)
    proc = gnu_patch(gnu, text.encode(diffs.ENCODING))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {k: v.decode() for k, v in read_tree(gnu).items()} == ours
