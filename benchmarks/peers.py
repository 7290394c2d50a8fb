"""The peers venv: datatrove and rensa, installed apart from the project (they are not dependencies).

Created on first use with `python -m venv` + pip from PyPI; reused when its imports work.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGES = ("datatrove==0.10.1", "rensa==0.5.0", "xxhash<4", "regex", "tokenizers", "numpy", "pyarrow")
IMPORT_CHECK = "import datatrove.pipeline.dedup.minhash, rensa, numpy, pyarrow"
WORKER = str(Path(__file__).with_name("peers_worker.py"))
WORKAROUNDS = (
    "datatrove 0.10 needs xxhash<4: pinned in the peers venv",
    "datatrove 0.10.1's dedup package imports `regex` and `tokenizers` without requiring them: installed beside it",
    "datatrove's MinhashDedupSignature defaults to an NLTK/spaCy word tokenizer: given a whitespace "
    "WordTokenizer (str.split, the same tokens as ours) through its `language` argument",
    "datatrove's get_signature materialises shingles x 256 uint64 at once (GBs for one repository): fed "
    "8192-shingle blocks, element-wise minimum of the block signatures (identical result)",
    "datatrove lowercases and strips punctuation before shingling (its default TextNormConfig, kept); "
    "rensa and ours hash the raw whitespace tokens",
    "rensa gets the 5-word shingles as Python strings (' '.join of str.split() windows), built inside "
    "the timed loop, as a user of its API must",
)


def python_of(venv: str | Path) -> Path:
    return Path(venv) / "bin" / "python"


def usable(venv: str | Path) -> bool:
    py = python_of(venv)
    if not py.exists():
        return False
    proc = subprocess.run([str(py), "-c", IMPORT_CHECK], capture_output=True, text=True, timeout=300)
    return proc.returncode == 0


def ensure(venv: str | Path, install: bool) -> tuple[Path | None, str | None]:
    """(peers python, None) when ready, else (None, why not). Installs only when `install`."""
    if usable(venv):
        return python_of(venv), None
    if not install:
        return None, f"peers venv {venv} missing or incomplete (install disabled)"
    try:
        if not python_of(venv).exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True,
                           timeout=600)
        subprocess.run([str(python_of(venv)), "-m", "pip", "install", "-q", *PACKAGES], check=True,
                       capture_output=True, text=True, timeout=1800)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return None, f"could not create the peers venv {venv}: {str(detail)[-500:]}"
    if not usable(venv):
        return None, f"peers venv {venv}: `{IMPORT_CHECK}` fails after install"
    return python_of(venv), None
