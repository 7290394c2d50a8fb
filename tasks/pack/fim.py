"""Fill-in-the-middle at document level (DeepSeek-Coder §3.2, after Bavarian et al. 2022).

A document (a repo-level sample's text) becomes FIM with probability `fim_rate`; FIM documents are
SPM with probability `fim_spm_rate`, else PSM. Two split points are drawn uniformly over character
positions 0..len(text) (so a multi-byte character is never cut), giving prefix/middle/suffix:

    PSM: <｜fim▁begin｜> prefix <｜fim▁hole｜> suffix <｜fim▁end｜> middle <｜end▁of▁sentence｜>
    SPM: <｜fim▁begin｜> <｜fim▁hole｜> suffix <｜fim▁end｜> prefix middle <｜end▁of▁sentence｜>
    plain: text <｜end▁of▁sentence｜>

SPM is Bavarian et al.'s variant ([PRE][SUF] suffix [MID] prefix middle) with DeepSeek's sentinels
(begin≈PRE, hole≈SUF, end≈MID). With `add_bos`, BOS precedes each document, matching inference, where
the released tokenizer prefixes BOS to a FIM prompt. Each segment is encoded separately (so each
decodes back to exactly its characters); sentinels are inserted by id, never parsed from text.

The random stream is per document: numpy Generator seeded with stable_hash64(seed, repo, sample), so
the outcome does not depend on worker count, shard order or any other document. The draws are
always made in the same order (is_fim, is_spm, two cut points), whatever the branch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.common.hashing import stable_hash64

PLAIN, PSM, SPM = 0, 1, 2
MODE_NAMES = {PLAIN: "plain", PSM: "psm", SPM: "spm"}


@dataclass(frozen=True)
class FimPlan:
    mode: int
    lo: int = 0  # prefix = text[:lo], middle = text[lo:hi], suffix = text[hi:]
    hi: int = 0


def doc_rng(seed: int, repo: str, sample: int | str) -> np.random.Generator:
    return np.random.default_rng(stable_hash64(seed, repo, sample))


def plan(text_len: int, rng: np.random.Generator, fim_rate: float, spm_rate: float) -> FimPlan:
    is_fim = rng.random() < fim_rate
    is_spm = rng.random() < spm_rate
    lo, hi = sorted(int(x) for x in rng.integers(0, text_len + 1, size=2))
    if not is_fim:
        return FimPlan(PLAIN)
    return FimPlan(SPM if is_spm else PSM, lo, hi)


def segments(text: str, p: FimPlan) -> list[str]:
    """The strings to encode, in layout order: [text] or PSM [prefix, suffix, middle] or
    SPM [suffix, prefix, middle]."""
    if p.mode == PLAIN:
        return [text]
    prefix, middle, suffix = text[:p.lo], text[p.lo:p.hi], text[p.hi:]
    return [prefix, suffix, middle] if p.mode == PSM else [suffix, prefix, middle]


def layout(p: FimPlan, seg_ids: list[list[int]], sp, add_bos: bool) -> list[int]:
    """Token ids of one document from its encoded segments (`sp` is a tokenizer.special.SpecialIds)."""
    out: list[int] = [sp.bos] if add_bos else []
    if p.mode == PLAIN:
        out += seg_ids[0]
    elif p.mode == PSM:
        pre, suf, mid = seg_ids
        out.append(sp.fim_begin); out += pre
        out.append(sp.fim_hole); out += suf
        out.append(sp.fim_end); out += mid
    else:
        suf, pre, mid = seg_ids
        out.append(sp.fim_begin); out.append(sp.fim_hole); out += suf
        out.append(sp.fim_end); out += pre; out += mid
    out.append(sp.eos)
    return out


def layout_array(p: FimPlan, segs: list[np.ndarray], sp, add_bos: bool) -> np.ndarray:
    """`layout` on numpy id arrays: the document's ids as one int64 array, without per-token Python work."""
    def tok(i: int) -> np.ndarray:
        return np.array([i], dtype=np.int64)

    head = [tok(sp.bos)] if add_bos else []
    if p.mode == PLAIN:
        parts = head + [segs[0]]
    elif p.mode == PSM:
        pre, suf, mid = segs
        parts = head + [tok(sp.fim_begin), pre, tok(sp.fim_hole), suf, tok(sp.fim_end), mid]
    else:
        suf, pre, mid = segs
        parts = head + [tok(sp.fim_begin), tok(sp.fim_hole), suf, tok(sp.fim_end), pre, mid]
    return np.concatenate(parts + [tok(sp.eos)])


def restore(ids: list[int], decode, sp) -> str:
    """Inverse of `layout` (for tests and debugging): the original document text from its ids.
    `decode` maps a list of ids to text."""
    ids = list(ids)
    if ids and ids[0] == sp.bos:
        ids = ids[1:]
    if not ids or ids[-1] != sp.eos:
        raise ValueError("document does not end with EOS")
    ids = ids[:-1]
    if not ids or ids[0] != sp.fim_begin:
        return decode(ids)
    if len(ids) > 1 and ids[1] == sp.fim_hole:  # SPM
        end = ids.index(sp.fim_end)
        suffix, pre_mid = ids[2:end], ids[end + 1:]
        return decode(pre_mid) + decode(suffix)
    hole, end = ids.index(sp.fim_hole), ids.index(sp.fim_end)
    return decode(ids[1:hole]) + decode(ids[end + 1:]) + decode(ids[hole + 1:end])
