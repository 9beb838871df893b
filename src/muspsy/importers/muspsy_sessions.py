"""Where the sessions of a MusPsy dialogue file are: its layout and its session boundaries.

The release has two layouts. *Compact*: block 0 holds every session back to back and blocks
1.. are longer versions of sessions 2..; *one block per session*: block k holds session k+1.
Structure decides first: a compact block 0 contains the opening of each later block (verbatim
in muspsy's own `muspsy-raw` export, nearly so in the paper's files), which pins every boundary.
Word cues (a counselor turn that opens by greeting a returning client) come last: only where
structure leaves a boundary open, only between two structural boundaries, and only as many as
the expected session count asks for. The count found is always checked against the count the
source implies (memories, else user-card blocks, else dialogue blocks); see `SessionSplit`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import pairwise

from muspsy.importers.muspsy_text import DialogueBlock, DialogueLine

# A returning client is greeted at the very start of the counselor's turn ...
OPENING_GREETING = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|welcome( back)?|(it'?s |it is )?(so )?(nice|good|great) to see)\b"
    r"|^(你好|您好|欢迎|很高兴(再次)?见到)"
)
# ... with a sign that this is not the first meeting, early in the turn.
RETURN_SIGN = re.compile(
    r"\b(again|welcome back|since (we|our) last|last (time|session|week)|past (week|few days)|this past|"
    r"how (did|have|has) .{0,40}(go|gone|been)|homework|assignment)\b|又见|再次|上次|上周|这一周|作业"
)
# Closing lines mention "again" or "welcome" too; they never open a session.
CLOSING = re.compile(r"\b(you'?re welcome|see you|meet again|next (time|session|week)|take care|goodbye|bye)\b")
OPENING_CHARS = 160
ANCHOR_SIMILARITY = 0.6


@dataclass
class SessionSplit:
    """The sessions of one dialogue file and how they were found."""

    layout: str  # "compact" or "one block per session"
    sessions: list[list[DialogueLine]]
    # Compact layout: session number -> its full-length block (when it differs from the compact one).
    full_length: dict[int, list[DialogueLine]] = field(default_factory=dict)
    # Per boundary (sessions 2..): "block k" (anchored to a later block), "greeting" (a word cue).
    found_by: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[^\w\u3400-\u9fff]+", " ", text).strip()[:OPENING_CHARS]


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, _normal(a), _normal(b), autojunk=False).ratio()


def cue_score(lines: Sequence[DialogueLine], i: int) -> int:
    """How strongly line i opens a later session: 3 greeting and return sign, 2 return sign
    only, 1 greeting only, 0 not at all (client lines, the first line, and closing lines:
    "you're welcome", "see you again next week" do not open by greeting)."""
    if i == 0 or lines[i].speaker != "counselor":
        return 0
    opening = lines[i].text.lower().replace("\u2019", "'")[:OPENING_CHARS]
    greets = bool(OPENING_GREETING.search(opening))
    if not greets and CLOSING.search(opening):
        return 0
    returns = bool(RETURN_SIGN.search(opening))
    return (1 if greets else 0) + (2 if returns else 0)


def cue_starts(lines: Sequence[DialogueLine], wanted: int | None, lo: int = 1, hi: int | None = None) -> list[int]:
    """Session starts in lines[lo:hi] by word cues: every strong cue when `wanted` is None,
    else exactly the `wanted` best ones (fewer if there are not enough candidates)."""
    hi = len(lines) if hi is None else hi
    scores = {i: s for i in range(max(lo, 1), hi) if (s := cue_score(lines, i))}
    if wanted is None:
        return sorted(i for i, s in scores.items() if s == 3)
    best = sorted(scores, key=lambda i: (-scores[i], i))[:wanted]
    return sorted(best)


def _anchors(compact: Sequence[DialogueLine], later: Sequence[DialogueBlock]) -> list[int | None]:
    """For each later block, the line of block 0 where that session starts (or None): the
    counselor line most like the block's first counselor line, after the previous anchor."""
    anchors: list[int | None] = []
    position = 1
    for block in later:
        opening = next((line.text for line in block.lines if line.speaker == "counselor"), None)
        best, best_ratio = None, ANCHOR_SIMILARITY
        for i in range(position, len(compact)) if opening else ():
            if compact[i].speaker == "counselor":
                ratio = _similar(opening or "", compact[i].text)
                if ratio >= best_ratio and (best is None or ratio > best_ratio):
                    best, best_ratio = i, ratio
        anchors.append(best)
        if best is not None:
            position = best + 1
    return anchors


def _fill(compact: Sequence[DialogueLine], anchors: list[int | None]) -> tuple[list[int], list[str]] | None:
    """Boundaries for every later block: its anchor, or the best cue between its neighbours."""
    starts: list[int] = []
    found_by: list[str] = []
    for k, anchor in enumerate(anchors):
        if anchor is not None:
            starts.append(anchor)
            found_by.append(f"block {k + 1}")
            continue
        lo = (starts[-1] if starts else 0) + 1
        hi = next((a for a in anchors[k + 1 :] if a is not None), len(compact))
        cue = cue_starts(compact, 1, lo, hi)
        if not cue:
            return None
        starts.append(cue[0])
        found_by.append("greeting")
    return starts, found_by


def _cut(lines: Sequence[DialogueLine], starts: Sequence[int]) -> list[list[DialogueLine]]:
    bounds = [0, *starts, len(lines)]
    return [list(lines[a:b]) for a, b in pairwise(bounds)]


def split_sessions(blocks: Sequence[DialogueBlock], expected: int | None) -> SessionSplit:
    """The sessions of a dialogue file; `expected` is the count the other files imply."""
    compact, later = blocks[0].lines, list(blocks[1:])
    if later:
        anchors = _anchors(compact, later)
        anchored = sum(a is not None for a in anchors)
        filled = _fill(compact, anchors) if anchored * 2 >= len(later) else None
        if filled is None and len(cue_starts(compact, None)) * 2 < len(later):
            # Block 0 neither contains the later blocks nor greets returning clients: it is
            # session 1 alone, and every block is one session.
            return SessionSplit("one block per session", [b.lines for b in blocks], found_by=["block"] * len(later))
        if filled is None:
            starts = cue_starts(compact, len(later))
            found_by = ["greeting"] * len(starts)
        else:
            starts, found_by = filled
    else:
        starts = cue_starts(compact, None if expected is None else expected - 1)
        found_by = ["greeting"] * len(starts)
    block_starts = list(starts)  # later block k stands for the session starting at block_starts[k]
    if expected is not None and len(starts) + 1 < expected:
        # Block 0 holds more sessions than there are later blocks: the best remaining cues,
        # each inside a stretch between two boundaries already found (never across one).
        extra = [i for i in cue_starts(compact, expected - 1) if i not in starts][: expected - 1 - len(starts)]
        pairs = sorted([*zip(starts, found_by, strict=True), *((i, "greeting") for i in extra)])
        starts, found_by = [p[0] for p in pairs], [p[1] for p in pairs]
    sessions = _cut(compact, starts)
    full = {starts.index(s) + 2: later[k].lines for k, s in enumerate(block_starts) if k < len(later)}
    # A later block that repeats its session verbatim (muspsy-raw's own export) is no second version.
    full = {n: lines for n, lines in full.items() if _texts(lines) != _texts(sessions[n - 1])}
    return SessionSplit("compact", sessions, full, found_by)


def _texts(lines: Sequence[DialogueLine]) -> list[tuple[str, str]]:
    return [(line.speaker, line.text) for line in lines]
