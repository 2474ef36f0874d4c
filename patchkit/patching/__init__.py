"""Patches as data: the series (which patch applies to which base, pinned) and the unified-diff
parser and applier."""
