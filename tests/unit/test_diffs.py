"""patchkit.patching.diffs: parsing and applying unified diffs to small trees, compared with GNU
patch."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from patchtrees import Files, gnu_patch, read_tree, write_tree

from patchkit.errors import PatchFailed
from patchkit.patching import diffs

pytestmark = pytest.mark.spawns  # compared with GNU patch

LINES = b"".join(b"line %d\n" % i for i in range(1, 21))  # line 1 .. line 20


def apply_text(tree: Path, text: str | bytes, *, crlf: bool = False, name: str = "t.patch",
               strip: int = 1) -> object:
    if isinstance(text, bytes):
        text = text.decode(diffs.ENCODING)
    return diffs.apply(diffs.parse(text, strip=strip, name=name), tree, crlf=crlf, name=name)


# --------------------------------------------------------------------------- parse


def test_parse_strips_paths_and_reads_hunks() -> None:
    text = ("Description: x\n\n--- a/src/x.c\t2001-01-01 00:00:00\n+++ b/src/x.c\n"
            "@@ -2,3 +2,4 @@\n b\n-c\n+C\n+C2\n d\n")
    (fp,) = diffs.parse(text, name="p")
    assert fp.source == fp.target == "src/x.c"
    (h,) = fp.hunks
    assert h.source_start == 2
    assert h.old == ("b", "c", "d") and h.new == ("b", "C", "C2", "d")
    assert not h.old_no_eol and not h.new_no_eol
    assert h.header.startswith("@@ -2,3 +2,4 @@")


def test_parse_new_and_deleted_files() -> None:
    text = ("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+hi\n"
            "--- a/old.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-bye\n")
    new, old = diffs.parse(text)
    assert (new.source, new.target) == (None, "new.txt")
    assert (old.source, old.target) == ("old.txt", None)


def test_parse_no_newline_markers() -> None:
    old_side = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+B\n"
    (h,) = diffs.parse(old_side)[0].hunks
    assert h.old_no_eol and not h.new_no_eol
    new_side = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n\\ No newline at end of file\n"
    (h,) = diffs.parse(new_side)[0].hunks
    assert h.new_no_eol and not h.old_no_eol
    context = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n"
    (h,) = diffs.parse(context)[0].hunks
    assert h.new_no_eol and h.old_no_eol


@pytest.mark.parametrize("text", ["", "Description: only a header\nWhy: nothing\n",
                                  "just some text\nno diff here\n"])
def test_parse_refuses_text_without_changes(text: str) -> None:
    with pytest.raises(PatchFailed) as ei:
        diffs.parse(text, name="empty.patch")
    assert "empty.patch" in ei.value.message


def test_parse_refuses_corrupt_hunk() -> None:
    # the @@ line promises 3 old and 3 new lines, the text ends after 2 of each
    text = "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n"
    with pytest.raises(PatchFailed) as ei:
        diffs.parse(text, name="corrupt.patch")
    assert "corrupt.patch" in ei.value.message


@pytest.mark.parametrize("path", ["a/../etc/passwd", "a/src/../../x", "a/.."])
def test_parse_refuses_dotdot(path: str) -> None:
    text = f"--- {path}\n+++ {path}\n@@ -1 +1 @@\n-x\n+y\n"
    with pytest.raises(PatchFailed) as ei:
        diffs.parse(text, name="evil.patch")
    assert "evil.patch" in ei.value.message and "leaves the tree" in ei.value.message


def test_parse_refuses_absolute_path_without_strip() -> None:
    text = "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-x\n+y\n"
    with pytest.raises(PatchFailed, match="leaves the tree"):
        diffs.parse(text, strip=0, name="abs.patch")


def test_parse_refuses_path_shorter_than_strip() -> None:
    text = "--- x.c\n+++ x.c\n@@ -1 +1 @@\n-x\n+y\n"
    with pytest.raises(PatchFailed, match="fewer than 1 components"):
        diffs.parse(text, strip=1, name="short.patch")
    (fp,) = diffs.parse(text, strip=0)
    assert fp.target == "x.c"


def test_strip_two_components() -> None:
    (fp,) = diffs.parse("--- x/y/z.c\n+++ x/y/z.c\n@@ -1 +1 @@\n-x\n+y\n", strip=2)
    assert fp.target == "z.c"


# --------------------------------------------------------------------------- apply


def test_hunk_found_at_an_offset(tmp_path: Path) -> None:
    # the patch was made when "line 8" was line 5: three lines were added on top since
    tree = write_tree(tmp_path / "t", {"f": b"new 1\nnew 2\nnew 3\n" + LINES})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -4,5 +4,5 @@\n line 4\n line 5\n-line 6\n+LINE 6\n"
                     " line 7\n line 8\n")
    data = (tree / "f").read_bytes()
    assert data == b"new 1\nnew 2\nnew 3\n" + LINES.replace(b"line 6\n", b"LINE 6\n")


def test_hunk_found_at_a_negative_offset(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": LINES.replace(b"line 1\nline 2\nline 3\n", b"")})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -9,3 +9,3 @@\n line 9\n-line 10\n+ten\n line 11\n")
    assert b"line 9\nten\nline 11\n" in (tree / "f").read_bytes()


def test_several_hunks_in_one_file_with_offsets(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": LINES})
    diff = ("--- a/f\n+++ b/f\n"
            "@@ -2,3 +2,5 @@\n line 2\n+extra a\n+extra b\n line 3\n line 4\n"
            "@@ -10,3 +12,2 @@\n line 10\n-line 11\n line 12\n"
            "@@ -18,3 +19,3 @@\n line 18\n-line 19\n+LINE 19\n line 20\n")
    apply_text(tree, diff)
    expected = (LINES.replace(b"line 2\n", b"line 2\nextra a\nextra b\n")
                .replace(b"line 11\n", b"").replace(b"line 19\n", b"LINE 19\n"))
    assert (tree / "f").read_bytes() == expected


def test_hunks_apply_in_order_not_before_the_previous_one(tmp_path: Path) -> None:
    # "x" occurs twice; the second hunk must change the one after the first hunk's change
    tree = write_tree(tmp_path / "t", {"f": b"x\na\nb\nx\nc\n"})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-x\n+X1\n a\n"
                     "@@ -4,2 +4,2 @@\n-x\n+X2\n c\n")
    assert (tree / "f").read_bytes() == b"X1\na\nb\nX2\nc\n"


def test_new_file_in_new_directory(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"keep": b"k\n"})
    res = apply_text(tree, "--- /dev/null\n+++ b/sub/dir/new.c\n"
                           "@@ -0,0 +1,2 @@\n+int x;\n+int y;\n")
    assert (tree / "sub/dir/new.c").read_bytes() == b"int x;\nint y;\n"
    assert res == {"sub/dir/new.c": "int x;\nint y;\n"}
    assert (tree / "keep").read_bytes() == b"k\n"


def test_new_file_that_exists_is_refused(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"new.c": b"already\n"})
    with pytest.raises(PatchFailed) as ei:
        apply_text(tree, "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1 @@\n+int x;\n", name="n.patch")
    assert "n.patch" in ei.value.message and "new.c" in ei.value.message
    assert "already exists" in ei.value.message
    assert (tree / "new.c").read_bytes() == b"already\n"


def test_deleted_file(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"old.c": b"a\nb\n", "keep": b"k\n"})
    res = apply_text(tree, "--- a/old.c\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n")
    assert not (tree / "old.c").exists()
    assert res == {"old.c": None}
    assert read_tree(tree) == {"keep": b"k\n"}


def test_delete_of_a_file_with_other_content_is_refused(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"old.c": b"a\nb\nc\n"})
    with pytest.raises(PatchFailed, match="not empty after the patch"):
        apply_text(tree, "--- a/old.c\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n")
    assert (tree / "old.c").read_bytes() == b"a\nb\nc\n"


def test_patching_a_missing_file_is_refused(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {})
    with pytest.raises(PatchFailed) as ei:
        apply_text(tree, "--- a/gone.c\n+++ b/gone.c\n@@ -1 +1 @@\n-a\n+b\n", name="m.patch")
    assert "m.patch" in ei.value.message and "gone.c" in ei.value.message
    assert "does not exist" in ei.value.message


def test_no_newline_on_old_side_gains_one(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"a\nb\nc"})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@\n b\n-c\n"
                     "\\ No newline at end of file\n+C\n")
    assert (tree / "f").read_bytes() == b"a\nb\nC\n"


def test_no_newline_on_new_side_loses_it(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"a\nb\nc\n"})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@\n b\n-c\n+C\n"
                     "\\ No newline at end of file\n")
    assert (tree / "f").read_bytes() == b"a\nb\nC"


def test_no_newline_on_both_sides_kept(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"a\nb\nc"})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n"
                     "\\ No newline at end of file\n")
    assert (tree / "f").read_bytes() == b"A\nb\nc"


def test_crlf_target_keeps_crlf_on_untouched_and_changed_lines(tmp_path: Path) -> None:
    original = b"".join(b"row %d\r\n" % i for i in range(1, 11))
    tree = write_tree(tmp_path / "t", {"src/x.cpp": original})
    apply_text(tree, "--- a/src/x.cpp\n+++ b/src/x.cpp\n@@ -4,3 +4,4 @@\n row 4\n-row 5\n"
                     "+ROW 5\n+row 5b\n row 6\n", crlf=True)
    data = (tree / "src/x.cpp").read_bytes()
    assert data == original.replace(b"row 5\r\n", b"ROW 5\r\nrow 5b\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == 11


def test_crlf_mode_on_an_lf_file_writes_lf(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"a\nb\nc\n"})
    apply_text(tree, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", crlf=True)
    assert (tree / "f").read_bytes() == b"a\nB\nc\n"


def test_context_mismatch_names_patch_file_and_hunk(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"src/f.c": LINES})
    diff = ("--- a/src/f.c\n+++ b/src/f.c\n"
            "@@ -2,3 +2,3 @@\n line 2\n-line 3\n+LINE 3\n line 4\n"
            "@@ -12,3 +12,3 @@\n line 12\n-line thirteen\n+LINE 13\n line 14\n")
    with pytest.raises(PatchFailed) as ei:
        apply_text(tree, diff, name="0042-fix.patch")
    msg = ei.value.message
    assert "0042-fix.patch" in msg and "src/f.c" in msg and "hunk #2" in msg
    assert ei.value.exit_code == 7
    assert (tree / "src/f.c").read_bytes() == LINES  # the first hunk was not written either


def test_all_or_nothing_across_files(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"a.c": b"a\nb\nc\n", "b.c": b"x\ny\nz\n"})
    os.utime(tree / "a.c", ns=(1_000_000_000, 1_000_000_000))
    before = read_tree(tree)
    diff = ("--- a/a.c\n+++ b/a.c\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
            "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1 @@\n+n\n"
            "--- a/b.c\n+++ b/b.c\n@@ -1,3 +1,3 @@\n x\n-NOT THERE\n+Y\n z\n")
    with pytest.raises(PatchFailed) as ei:
        apply_text(tree, diff, name="two.patch")
    assert "b.c" in ei.value.message and "hunk #1" in ei.value.message
    assert read_tree(tree) == before
    assert (tree / "a.c").stat().st_mtime_ns == 1_000_000_000
    assert not (tree / "new.c").exists()


def test_apply_keeps_file_mode(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"run.sh": b"#!/bin/sh\necho a\n"})
    (tree / "run.sh").chmod(0o755)
    apply_text(tree, "--- a/run.sh\n+++ b/run.sh\n@@ -1,2 +1,2 @@\n #!/bin/sh\n-echo a\n+echo b\n")
    assert (tree / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tree / "run.sh").read_bytes() == b"#!/bin/sh\necho b\n"


def test_latin1_bytes_survive(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"caf\xe9\n\xff\xfe\nz\n"})
    apply_text(tree, b"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n caf\xe9\n-\xff\xfe\n+\xfe\xff\n z\n")
    assert (tree / "f").read_bytes() == b"caf\xe9\n\xfe\xff\nz\n"


def test_apply_file_is_pure() -> None:
    (fp,) = diffs.parse("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n")
    assert diffs.apply_file(fp, "a\nb\n", crlf=False, name="p") == "A\nb\n"
    with pytest.raises(PatchFailed):
        diffs.apply_file(fp, "x\nb\n", crlf=False, name="p")


# --------------------------------------------------------------------------- against GNU patch


def _diff_trees(tmp: Path, old: Files, new: Files) -> bytes:
    """What `diff -ruN a b` says between two trees (as a real patch author would make it)."""
    write_tree(tmp / "a", old)
    write_tree(tmp / "b", new)
    proc = subprocess.run(["diff", "-ruN", "a", "b"], cwd=tmp, capture_output=True, check=False)
    assert proc.returncode == 1, proc.stderr
    shutil.rmtree(tmp / "a")
    shutil.rmtree(tmp / "b")
    return proc.stdout


def _both(tmp: Path, old: Files, diff: bytes, *, crlf: bool = False) -> tuple[Files, Files]:
    ours = write_tree(tmp / "ours", old)
    gnu = write_tree(tmp / "gnu", old)
    apply_text(ours, diff, crlf=crlf)
    proc = gnu_patch(gnu, diff)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return read_tree(ours), read_tree(gnu)


BIG = b"".join(b"int f%d(void) { return %d; }\n" % (i, i) for i in range(60))

GENERATED = {
    "modify-several-hunks": (
        {"x.c": BIG},
        {"x.c": BIG.replace(b"f3(void) { return 3;", b"f3(void) { return -3;")
         .replace(b"int f30(void) { return 30; }\n", b"")
         .replace(b"int f55(", b"static int f55(")},
    ),
    "new-deleted-and-nested": (
        {"keep.c": b"k\n", "gone.c": b"bye\nnow\n", "d/e.h": b"#define E 1\n"},
        {"keep.c": b"k\n", "d/e.h": b"#define E 2\n", "d/new/n.c": b"fresh\nfile\n"},
    ),
    "no-newline-either-side": (
        {"a": b"one\ntwo", "b": b"one\ntwo\n", "c": b"one\ntwo"},
        {"a": b"one\nTWO\n", "b": b"one\nTWO", "c": b"ONE\ntwo"},
    ),
    "binary-ish-latin1": (
        {"l": b"caf\xe9\n\x01\x02\n\xff\n"},
        {"l": b"caf\xe9\n\x01\x03\n\xff\n"},
    ),
}


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_same_tree_as_gnu_patch_for_generated_diffs(tmp_path: Path, case: str) -> None:
    old, new = GENERATED[case]
    diff = _diff_trees(tmp_path, old, new)
    ours, gnu = _both(tmp_path, old, diff)
    assert ours == gnu == new


def test_same_tree_as_gnu_patch_for_offset_hunks(tmp_path: Path) -> None:
    old = {"f": b"prelude\n" * 7 + LINES}
    diff = (b"--- a/f\n+++ b/f\n@@ -2,3 +2,4 @@\n line 2\n+inserted\n line 3\n line 4\n"
            b"@@ -15,3 +16,2 @@\n line 15\n-line 16\n line 17\n")
    ours, gnu = _both(tmp_path, old, diff)
    assert ours == gnu
    assert b"line 2\ninserted\nline 3\n" in ours["f"] and b"line 16" not in ours["f"]


def test_same_tree_as_gnu_patch_for_a_real_series_patch(tmp_path: Path) -> None:
    """A patch from patches/ applied to a tree that has just the context it needs."""
    from patchkit.resources import patches_dir

    text = (patches_dir() / "jms1-7.10/0002-tcp-env-iplocal-static.patch").read_bytes()
    (fp,) = diffs.parse(text.decode(diffs.ENCODING))
    # rebuild the original file from the hunk's old side, padded to the stated line numbers
    body = b""
    for h in fp.hunks:
        start = h.source_start - 1
        pad = start - body.count(b"\n")
        body += b"/* filler */\n" * pad + "".join(f"{ln}\n" for ln in h.old).encode()
    body += b"/* end */\n"
    ours, gnu = _both(tmp_path, {fp.target or "": body}, text)
    assert ours == gnu
    assert b"static struct ip_address iplocal;" in ours["tcp-env.c"]


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize("line", [b"\x0c", "/* \u00c5ngstr\u00f6m */".encode(), b"a\rb"],
                         ids=["formfeed", "utf8-NEL-byte", "lone-cr"])
def test_lines_with_unicode_line_breaks_apply(tmp_path: Path, line: bytes) -> None:
    old = {"f.c": b"a\n" + line + b"\nb\nc\n"}
    diff = b"--- a/f.c\n+++ b/f.c\n@@ -1,4 +1,4 @@\n a\n " + line + b"\n-b\n+B\n c\n"
    ours, gnu = _both(tmp_path, old, diff)
    assert ours == gnu


def test_lf_patch_on_crlf_file_without_crlf_mode_is_exact(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "t", {"f": b"a\r\nb\r\nc\r\nd\r\n"})
    try:
        apply_text(tree, "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n", crlf=False)
    except PatchFailed:
        return  # refusing is fine
    data = (tree / "f").read_bytes()
    assert data.startswith(b"a\r\n") and b"c\r\nd\r\n" in data


@pytest.mark.parametrize("crlf", [False, True])
def test_crlf_diff_of_crlf_files_applies_like_gnu(tmp_path: Path, crlf: bool) -> None:
    old = {"w.cpp": b"a\r\nb\r\nc\r\n"}
    diff = _diff_trees(tmp_path, old, {"w.cpp": b"a\r\nB\r\nc\r\n"})
    assert b"-b\r\n" in diff
    ours, gnu = _both(tmp_path, old, diff, crlf=crlf)
    assert ours == gnu == {"w.cpp": b"a\r\nB\r\nc\r\n"}


def test_emptying_a_file_is_not_deleting_it(tmp_path: Path) -> None:
    old = {"x": b"a\nb\n"}
    ours, gnu = _both(tmp_path, old, b"--- a/x\n+++ b/x\n@@ -1,2 +0,0 @@\n-a\n-b\n")
    assert ours == gnu == {"x": b""}


def test_adding_to_an_empty_file(tmp_path: Path) -> None:
    old = {"x": b""}
    ours, gnu = _both(tmp_path, old, b"--- a/x\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n")
    assert ours == gnu == {"x": b"a\nb\n"}


# --------------------------------------------------------------------------- header


def test_header_fields_and_continuations() -> None:
    text = ("Description: fix the frobnicator\n"
            "Why: it breaks on gcc 14:\n"
            "  error: implicit declaration\n"
            "\tsecond continuation\n"
            "Applies-to: qmail-1.03\n"
            "\n"
            "--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-Key: not a header\n+Other: no\n")
    h = diffs.header(text)
    assert h == {"Description": "fix the frobnicator",
                 "Why": "it breaks on gcc 14: error: implicit declaration second continuation",
                 "Applies-to": "qmail-1.03"}


@pytest.mark.parametrize("stop", ["diff -ruN a/x b/x", "Index: x.c", "--- a/x.c"])
def test_header_stops_at_the_first_diff_line(stop: str) -> None:
    h = diffs.header(f"Description: d\n{stop}\nWhy: after the diff started\n")
    assert h == {"Description": "d"}


def test_header_of_text_without_fields() -> None:
    assert diffs.header("--- a/x\n+++ b/x\n") == {}
    assert diffs.header("  continuation without a key\n") == {}


def test_read_text_is_latin1(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(bytes(range(256)))
    assert diffs.read_text(p).encode(diffs.ENCODING) == bytes(range(256))
