"""Building inside a container (the docker backend). Work in progress: see issue 5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patchkit.build import Log
from patchkit.cache import Cache
from patchkit.errors import EngineError
from patchkit.plan import Options


def build(opts: Options, cache: Cache, workdir: Path, outdir: Path | None, *, suite: str,
          say: Log) -> dict[str, Any]:
    raise EngineError("the docker backend is not available yet", "use --backend local")
