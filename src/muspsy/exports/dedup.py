"""Near-duplicate sessions by MinHash, so a corpus does not train on the same dialogue twice.

A session's text is its turns, speaker-labelled, lower-cased with whitespace collapsed. Its
shingles are word 3-grams plus character 5-grams (the character grams make Chinese and other
unspaced text work). MinHash signatures (128 hash functions: the CRC-32 of the
shingle, xor-ed with a per-function seed and scrambled by the splitmix64 finaliser) estimate the
Jaccard similarity of two shingle sets; locality-
sensitive banding finds candidate pairs without comparing every pair, and a candidate counts as
a duplicate when its estimated similarity reaches the threshold. Sessions are visited in input
order; the first of a group is kept and every later near-duplicate is marked to skip.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from muspsy.records import ArcRecord, SessionRecord

NUM_PERM = 128
WORD_GRAM = 3
CHAR_GRAM = 5
_SPACE = re.compile(r"\s+")
_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)

# Fixed seeds: signatures (and so the choice of duplicates) are reproducible across runs.
_SEEDS = np.random.default_rng(20260626).integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)

Signature = npt.NDArray[np.uint64]


def session_text(session: SessionRecord) -> str:
    return "\n".join(f"{t.speaker}: {t.text}" for t in session.turns)


def shingles(text: str) -> set[str]:
    norm = _SPACE.sub(" ", text.lower()).strip()
    words = norm.split(" ")
    grams = {" ".join(words[i : i + WORD_GRAM]) for i in range(max(len(words) - WORD_GRAM + 1, 1))}
    grams |= {"\x00" + norm[i : i + CHAR_GRAM] for i in range(max(len(norm) - CHAR_GRAM + 1, 1))}
    return grams


def _mix(z: Signature) -> Signature:
    # splitmix64's finaliser; uint64 array arithmetic wraps modulo 2**64, which is what it needs.
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def signature(items: Iterable[str]) -> Signature:
    # CRC-32 is stable across processes (unlike hash()) and fast; the mixer spreads it to 64 bits.
    hashes = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in items), dtype=np.uint64)
    if hashes.size == 0:
        return np.full(NUM_PERM, _EMPTY, dtype=np.uint64)
    result: Signature = _mix(hashes[:, None] ^ _SEEDS[None, :]).min(axis=0)
    return result


def similarity(left: Signature, right: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.mean(left == right))


def bands_for(threshold: float) -> tuple[int, int]:
    """(bands, rows) whose S-curve rises just below the threshold, favouring recall; every
    candidate is then verified against the threshold itself."""
    options = [(NUM_PERM // r, r) for r in (1, 2, 4, 8, 16, 32) if NUM_PERM % r == 0]
    below = [(b, r) for b, r in options if (1 / b) ** (1 / r) <= threshold]
    return max(below, key=lambda br: (1 / br[0]) ** (1 / br[1])) if below else options[0]


def near_duplicate_sessions(arcs: list[ArcRecord], threshold: float) -> set[tuple[str, str, int]]:
    """Keys (run_id, arc_id, session index) of every session that nearly repeats an earlier one."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"dedup threshold must be in (0, 1], got {threshold}")
    bands, rows = bands_for(threshold)
    buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
    kept: list[Signature] = []
    duplicates: set[tuple[str, str, int]] = set()
    for arc in arcs:
        for session in arc.sessions:
            sig = signature(shingles(session_text(session)))
            keys = [sig[b * rows : (b + 1) * rows].tobytes() for b in range(bands)]
            candidates = {i for b, key in enumerate(keys) for i in buckets[b].get(key, [])}
            if any(similarity(sig, kept[i]) >= threshold for i in candidates):
                duplicates.add((arc.run_id, arc.arc_id, session.index))
                continue
            for b, key in enumerate(keys):
                buckets[b].setdefault(key, []).append(len(kept))
            kept.append(sig)
    return duplicates
