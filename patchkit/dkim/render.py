"""Rendering the DKIM/DomainKeys patch for one base from templates/dkim/.

New files are Jinja2 templates (``*.j2``, StrictUndefined) copied into the tree. Hooks into
qmail's own files are data (``hooks.toml``): a file, an anchor (a regex matching exactly one line,
optionally searched only after a line matching ``after``), where to put the text (before, after,
or replacing the anchor line) and the text itself (a template too). Anchors are found in the
base's real prepared tree, so the diff's context is always that tree's. The result is an ordinary
unified diff, parsed back and applied to a copy before it is returned. Same inputs, same bytes.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError, PatchFailed
from patchkit.patching import diffs
from patchkit.resources import templates_dir

WHERE = ("before", "after", "replace")
SKIP_TEMPLATES = ("hooks.toml",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hook:
    file: str
    anchor: str
    where: str
    text: str
    after: str = ""
    bases: tuple[str, ...] = ()


def template_root() -> Path:
    return templates_dir() / "dkim"


def environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def load_hooks(root: Path) -> tuple[Hook, ...]:
    f = root / "hooks.toml"
    try:
        data = tomllib.loads(f.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{f}: {e}", "the hooks file is missing or not valid TOML") from e
    hooks = []
    for i, raw in enumerate(data.get("hook", [])):
        extra = set(raw) - set(Hook.__dataclass_fields__)
        if extra:
            raise ConfigError(f"{f}: hook #{i + 1}: unknown keys {sorted(extra)}", "fix hooks.toml")
        if raw.get("where") not in WHERE:
            raise ConfigError(f"{f}: hook #{i + 1}: where must be one of {WHERE}", "fix hooks.toml")
        hooks.append(Hook(**{**raw, "bases": tuple(raw.get("bases", ()))}))
    return tuple(hooks)


def new_files(root: Path) -> list[str]:
    """Templates that become new files in the tree: *.j2 at the top of templates/dkim/."""
    return sorted(p.name for p in root.glob("*.j2") if not p.name.startswith("_"))


def _find(lines: list[str], hook: Hook, path: str) -> int:
    start = 0
    if hook.after:
        rx = re.compile(hook.after)
        for i, line in enumerate(lines):
            if rx.search(line):
                start = i + 1
                break
        else:
            raise PatchFailed(f"{path}: anchor region {hook.after!r} not found",
                              "this base's file differs from what the hook expects")
    rx = re.compile(hook.anchor)
    hits = [i for i in range(start, len(lines)) if rx.search(lines[i])]
    if not hits:
        raise PatchFailed(f"{path}: anchor {hook.anchor!r} not found"
                          + (f" after {hook.after!r}" if hook.after else ""),
                          "this base's file differs from what the hook expects")
    if len(hits) > 1 and not hook.after:
        raise PatchFailed(f"{path}: anchor {hook.anchor!r} matches {len(hits)} lines "
                          f"({', '.join(str(h + 1) for h in hits[:5])})",
                          "make the anchor more specific or give it an 'after' region")
    return hits[0]


def apply_hooks(text: str, hooks: list[Hook], env: jinja2.Environment, variables: dict[str, Any],
                path: str) -> str:
    lines = text.splitlines(keepends=True)
    bare = [ln.rstrip("\r\n") for ln in lines]
    for hook in hooks:
        body = env.from_string(hook.text).render(variables)
        if body and not body.endswith("\n"):
            body += "\n"
        new = body.splitlines(keepends=True)
        i = _find(bare, hook, path)
        if hook.where == "after" and not lines[i].endswith("\n"):
            lines[i] += "\n"  # the anchor was the last line, without a newline
        if hook.where == "before":
            lines[i:i] = new
            bare[i:i] = [ln.rstrip("\n") for ln in new]
        elif hook.where == "after":
            lines[i + 1:i + 1] = new
            bare[i + 1:i + 1] = [ln.rstrip("\n") for ln in new]
        else:
            lines[i:i + 1] = new
            bare[i:i + 1] = [ln.rstrip("\n") for ln in new]
    return "".join(lines)


def _file_diff(path: str, old: str | None, new: str) -> str:
    a = old.splitlines(keepends=True) if old is not None else []
    b = new.splitlines(keepends=True)
    for seq in (a, b):
        if seq and not seq[-1].endswith("\n"):
            seq[-1] += "\n\\ No newline at end of file\n"
    out = difflib.unified_diff(a, b, "/dev/null" if old is None else f"a/{path}", f"b/{path}",
                               n=3)
    return "".join(out)


def render(tree: Path, base: str, options: RenderOptions, root: Path | None = None) -> str:
    """The DKIM patch for the prepared tree of base, as unified diff text."""
    root = root or template_root()
    options.validate()
    env = environment(root)
    variables = options.template_vars(base)
    hooks = [h for h in load_hooks(root) if not h.bases or base in h.bases]
    chunks: list[str] = []
    for name in new_files(root):
        target = name[:-3]
        if (tree / target).exists():
            raise PatchFailed(f"{target} already exists in the {base} tree",
                              "was the DKIM patch applied already?")
        text = env.get_template(name).render(variables)
        chunks.append(_file_diff(target, None, text))
    results: dict[str, str] = {}
    for path in sorted({h.file for h in hooks}):
        p = tree / path
        if not p.is_file():
            raise PatchFailed(f"{path} is not in the {base} tree", "is this a qmail tree?")
        old = diffs.read_text(p)
        new = apply_hooks(old, [h for h in hooks if h.file == path], env, variables, path)
        results[path] = new
        chunks.append(_file_diff(path, old, new))
    desc = options.describe()
    head = (
        f"Description: DKIM signing in qmail-remote, DKIM/DomainKeys verification in "
        f"qmail-smtpd, for {base}\n"
        "Why: rendered by patchkit from templates/dkim for this base's prepared tree; compiled "
        "only with -DDKIM in conf-cc.\n"
        f"Options: {' '.join(f'{k}={v}' for k, v in desc.items() if k != 'sign_headers')}\n"
        f"Signed-headers: {':'.join(desc['sign_headers'])}\n"
        "Applies-to: the tree patchkit prepare leaves for this base (upstream + portability "
        "patches), with patch -p1\n\n"
    )
    text = head + "".join(chunks)
    verify_applies(text, tree, results, [n[:-3] for n in new_files(root)])
    return text


def verify_applies(text: str, tree: Path, expected: dict[str, str], created: list[str]) -> None:
    """Parse the diff back and apply it to a copy of the tree: it must give exactly what we
    computed, or the renderer has a bug."""
    parsed = diffs.parse(text, strip=1, name="dkim.patch")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "t"
        shutil.copytree(tree, copy, symlinks=True)
        diffs.apply(parsed, copy, name="dkim.patch")
        for path, new in expected.items():
            if diffs.read_text(copy / path) != new:
                raise PatchFailed(f"rendered diff for {path} does not reproduce the hooked file",
                                  "a renderer bug: report it")
        for path in created:
            if not (copy / path).is_file():
                raise PatchFailed(f"rendered diff does not create {path}", "a renderer bug")
