"""Which copy dedup keeps: the configured rank (default stars desc, size desc, repo id asc)."""
from __future__ import annotations

from typing import Any

from tasks.dedup.config import Config


def rank_key(cfg: Config, repo: str, size: int, stars: int | None, n_shingles: int) -> tuple:
    """Smaller is better: stars, size and n_shingles descend (unknown stars rank last), repo ascends."""
    parts: list[Any] = []
    for key in cfg.rank:
        if key == "stars":
            parts.append(-(stars if stars is not None else -1))
        elif key == "size":
            parts.append(-int(size))
        elif key == "n_shingles":
            parts.append(-int(n_shingles))
        else:
            parts.append(repo)
    return tuple(parts)
