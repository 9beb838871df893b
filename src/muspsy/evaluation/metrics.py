"""Deterministic fidelity metrics over `ArcRecord`s: no LLM, same answer every time.

Speaker alternation, role leakage, repetition, turn lengths, homework follow-up, memo
completeness, sessions and end reasons; per session and per arc; the technique distribution
and protocol coverage from the turn labels (`muspsy.evaluation.techniques`); and, per arc, how
well the counselor noticed risk (`muspsy.evaluation.risk`). The rules (speaker labels,
give-away phrases, n-gram sizes, thresholds) are data in `agents/judge/fidelity.yaml`, so
they are documented in one place and a test can pass its own.
"""

from __future__ import annotations

import functools
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from muspsy.data import agents_dir
from muspsy.evaluation.risk import risk_detection
from muspsy.evaluation.techniques import arc_technique_metrics, technique_metrics
from muspsy.records import ArcRecord, SessionRecord, Speaker, Turn

CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK = re.compile(f"[{CJK_RANGES}]")
# A CJK character is a token of its own; other scripts split into words.
TOKEN = re.compile(f"[{CJK_RANGES}]|[^\\W_{CJK_RANGES}]+(?:'[^\\W_{CJK_RANGES}]+)?")
MEMO_TEXT_FIELDS = (
    "summary",
    "emotion_and_cognitive_state",
    "counselor_observations",
    "session_goal",
    "next_session_goal",
)
OTHER: dict[Speaker, Speaker] = {"client": "counselor", "counselor": "client"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SizePair(Strict):
    words: int = Field(ge=1)
    chars: int = Field(ge=1)


class RepetitionRules(Strict):
    distinct_n: list[int]
    within_turn_n: SizePair
    across_turns_n: SizePair


class HomeworkRules(Strict):
    early_counselor_turns: int = Field(ge=1)
    min_recall: float = Field(gt=0, le=1)
    min_tokens: int = Field(ge=1)
    stop_words: list[str]


class FidelityRules(Strict):
    labels: dict[Speaker, list[str]]
    phrases: dict[Speaker, list[str]]
    repetition: RepetitionRules
    homework: HomeworkRules
    placeholders: list[str]


@functools.cache
def load_rules(path: Path | None = None) -> FidelityRules:
    file = path or agents_dir() / "judge" / "fidelity.yaml"
    return FidelityRules.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- text helpers


def is_cjk(text: str) -> bool:
    """Mostly Chinese, Japanese or Korean script: lengths and n-grams count characters."""
    letters = sum(1 for ch in text if ch.isalpha())
    return letters > 0 and len(CJK.findall(text)) / letters >= 0.3


def tokens(text: str) -> list[str]:
    """Lower-case words; CJK characters (ideographs, kana, hangul) one by one."""
    return TOKEN.findall(text.lower())


def ngrams(items: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + n]) for i in range(len(items) - n + 1)]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    # Linear interpolation between closest ranks, as numpy's default.
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


# ---------------------------------------------------------------- alternation


def alternation(turns: Sequence[Turn]) -> dict[str, Any]:
    """Turns that follow a turn of the same speaker; rate over the turn boundaries."""
    violations = sum(1 for a, b in pairwise(turns) if a.speaker == b.speaker)
    return {"alternation_violations": violations, "alternation_violation_rate": _rate(violations, len(turns) - 1)}


# ---------------------------------------------------------------- role leakage


def _label_pattern(names: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"^\s*[\*\[\(]*\s*(?:{alternatives})\s*[\*\]\)]*\s*[:\uff1a]", re.IGNORECASE | re.MULTILINE)


def leak_reasons(turn: Turn, rules: FidelityRules | None = None) -> list[str]:
    """Why this turn speaks in the other role's voice (empty when it does not)."""
    rules = rules or load_rules()
    other = OTHER[turn.speaker]
    reasons = []
    if _label_pattern(rules.labels[other]).search(turn.text):
        reasons.append(f"{other} speaker label")
    lowered = turn.text.lower()
    reasons += [f"{other} phrase {p!r}" for p in rules.phrases[other] if p.lower() in lowered]
    return reasons


def own_label(turn: Turn, rules: FidelityRules | None = None) -> bool:
    rules = rules or load_rules()
    return bool(_label_pattern(rules.labels[turn.speaker]).search(turn.text))


def leakage(turns: Sequence[Turn], rules: FidelityRules | None = None) -> dict[str, Any]:
    rules = rules or load_rules()
    leaks = [(t, leak_reasons(t, rules)) for t in turns]
    found = [{"turn": t.index, "speaker": t.speaker, "reasons": r} for t, r in leaks if r]
    return {
        "client_leaks": sum(1 for f in found if f["speaker"] == "client"),
        "counselor_leaks": sum(1 for f in found if f["speaker"] == "counselor"),
        "own_label_turns": sum(1 for t in turns if own_label(t, rules)),
        "leaks": found,
    }


# ---------------------------------------------------------------- repetition and length


def _size(pair: SizePair, cjk: bool) -> int:
    return pair.chars if cjk else pair.words


def repetition(turns: Sequence[Turn], cjk: bool, rules: FidelityRules | None = None) -> dict[str, Any]:
    """Per speaker: distinct-n over all its turns, the share of turns repeating an n-gram
    inside themselves, and the share repeating a long n-gram the speaker said earlier."""
    rules = rules or load_rules()
    rep = rules.repetition
    out: dict[str, Any] = {}
    for speaker in ("counselor", "client"):
        own = [tokens(t.text) for t in turns if t.speaker == speaker]
        for n in rep.distinct_n:
            grams = [g for toks in own for g in ngrams(toks, n)]
            out[f"{speaker}_distinct_{n}"] = len(set(grams)) / len(grams) if grams else None
        within_n = _size(rep.within_turn_n, cjk)
        within = sum(1 for toks in own if any(c > 1 for c in Counter(ngrams(toks, within_n)).values()))
        across_n = _size(rep.across_turns_n, cjk)
        seen: set[tuple[str, ...]] = set()
        repeated = 0
        for toks in own:
            grams_here = set(ngrams(toks, across_n))
            repeated += bool(grams_here & seen)
            seen |= grams_here
        out[f"{speaker}_within_turn_repetition"] = _rate(within, len(own))
        out[f"{speaker}_repeated_turn_share"] = _rate(repeated, len(own))
    return out


def turn_lengths(turns: Sequence[Turn], cjk: bool) -> dict[str, Any]:
    """Mean, median and 90th percentile of turn length per speaker, in words (characters for CJK)."""
    out: dict[str, Any] = {"length_unit": "chars" if cjk else "words"}
    for speaker in ("counselor", "client"):
        lengths = [float(len(tokens(t.text))) for t in turns if t.speaker == speaker]
        out[f"{speaker}_len_mean"] = statistics.fmean(lengths) if lengths else None
        out[f"{speaker}_len_median"] = statistics.median(lengths) if lengths else None
        out[f"{speaker}_len_p90"] = _percentile(lengths, 0.9) if lengths else None
    return out


# ---------------------------------------------------------------- homework and memo


def assignments(session: SessionRecord) -> list[str]:
    """What the client was asked to do after this session: the counselor's homework and the
    memo's counseling assignments (imported arcs often only have the latter). A session whose
    turns carry protocol labels recorded what its close assigned, by the strategy's homework
    policy: only that counts (a memo may note that no task was agreed)."""
    labelled = any(t.technique for t in session.turns)
    seen: dict[str, None] = {}
    for item in session.homework_given if labelled else [*session.homework_given, *session.memo.counseling_assignments]:
        if item.strip() and not is_placeholder(item):
            seen.setdefault(item.strip(), None)
    return list(seen)


def content_tokens(text: str, rules: HomeworkRules) -> set[str]:
    """Words minus stop words (plurals folded), and bigrams of adjacent CJK characters (CJK has no spaces)."""
    toks = tokens(text)
    stop = set(rules.stop_words)
    # A crude plural fold ("walks" ~ "walk"): enough for a recall rule, no stemmer needed.
    words = {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in toks}
    words = {w for w in words if not CJK.match(w) and w not in stop and len(w) > 1}
    bigrams = {a + b for a, b in pairwise(toks) if CJK.match(a) and CJK.match(b)}
    return words | bigrams


def followed_up(assignment: str, later: SessionRecord, rules: FidelityRules | None = None) -> bool:
    """Whether the early counselor turns of `later` refer back to `assignment` (lexical recall).

    `homework_reviewed` is not evidence: the engine copies it from the previous session; what
    counts is whether the counselor actually brought the assignment up.
    """
    hw = (rules or load_rules()).homework
    wanted = content_tokens(assignment, hw)
    if not wanted:
        return False
    early = [t.text for t in later.turns if t.speaker == "counselor"][: hw.early_counselor_turns]
    found = wanted & content_tokens(" ".join(early), hw)
    return len(found) >= min(hw.min_tokens, len(wanted)) and len(found) / len(wanted) >= hw.min_recall


def homework_follow_up(sessions: Sequence[SessionRecord], rules: FidelityRules | None = None) -> list[bool]:
    """One entry per session k (with assignments and a session k+1): was any assignment of k
    followed up early in k+1?"""
    out = []
    for before, after in pairwise(sessions):
        items = assignments(before)
        if items:
            out.append(any(followed_up(item, after, rules) for item in items))
    return out


def is_placeholder(text: str, rules: FidelityRules | None = None) -> bool:
    stripped = text.strip()
    if stripped.lower() in (rules or load_rules()).placeholders:
        return True
    # A skeleton copied from the format hint ("<summary>") or text with no letters at all.
    return bool(re.fullmatch(r"<[^<>]*>", stripped)) or not any(ch.isalnum() for ch in stripped)


def placeholder_paths(arc: ArcRecord) -> frozenset[str]:
    """Fields an importer filled with placeholder text, from the arc's `import_placeholders`
    (paths like `sessions[2].memo.summary`); empty for simulated arcs."""
    marked = (arc.model_extra or {}).get("import_placeholders")
    return frozenset(marked) if isinstance(marked, dict) else frozenset()


def memo_missing(
    session: SessionRecord, rules: FidelityRules | None = None, imported: frozenset[str] = frozenset()
) -> list[str]:
    """Memo fields that are empty, placeholders, or marked by an importer as not in the source."""
    memo = session.memo
    at = f"sessions[{session.index}].memo."
    missing = [f for f in MEMO_TEXT_FIELDS if is_placeholder(getattr(memo, f), rules) or at + f in imported]
    items = memo.counseling_assignments
    if not items or all(is_placeholder(i, rules) for i in items) or f"{at}counseling_assignments" in imported:
        missing.append("counseling_assignments")
    return missing


# ---------------------------------------------------------------- per session, per arc


def arc_is_cjk(arc: ArcRecord) -> bool:
    """Whether the dialogue (not the declared language: a zh profile may be run in English) is CJK."""
    sample = " ".join(t.text for s in arc.sessions for t in s.turns)
    if not any(ch.isalpha() for ch in sample):
        return arc.language.split("-")[0].lower() in {"zh", "ja", "ko"}
    return is_cjk(sample)


def session_metrics(arc: ArcRecord, position: int, rules: FidelityRules | None = None) -> dict[str, Any]:
    """The metrics of `arc.sessions[position]`."""
    rules = rules or load_rules()
    session = arc.sessions[position]
    cjk = arc_is_cjk(arc)
    missing = memo_missing(session, rules, placeholder_paths(arc))
    following = arc.sessions[position + 1] if position + 1 < len(arc.sessions) else None
    items = assignments(session)
    follow = any(followed_up(i, following, rules) for i in items) if following and items else None
    return {
        "turns": len(session.turns),
        **alternation(session.turns),
        **leakage(session.turns, rules),
        **repetition(session.turns, cjk, rules),
        **turn_lengths(session.turns, cjk),
        "homework_followed_up_next": follow,
        "memo_missing": missing,
        "memo_complete": not missing,
        "session_end_reason": session.end_reason,
        "crisis": session.crisis or any(t.risk not in (None, "none") for t in session.turns),
        **technique_metrics([session], arc.strategy),
    }


def arc_metrics(arc: ArcRecord, rules: FidelityRules | None = None) -> dict[str, Any]:
    """Arc-level metrics: the same measures over every turn of the arc, plus follow-up rate,
    memo completeness, sessions and end reason."""
    rules = rules or load_rules()
    cjk = arc_is_cjk(arc)
    turns = [t for s in arc.sessions for t in s.turns]
    follow = homework_follow_up(arc.sessions, rules)
    leaks = leakage(turns, rules)
    violations = sum(alternation(s.turns)["alternation_violations"] for s in arc.sessions)
    boundaries = sum(max(len(s.turns) - 1, 0) for s in arc.sessions)
    return {
        "sessions": len(arc.sessions),
        "end_reason": arc.outcome.end_reason,
        "turns": len(turns),
        "alternation_violations": violations,
        "alternation_violation_rate": _rate(violations, boundaries),
        "client_leaks": leaks["client_leaks"],
        "counselor_leaks": leaks["counselor_leaks"],
        "own_label_turns": leaks["own_label_turns"],
        **repetition(turns, cjk, rules),
        **turn_lengths(turns, cjk),
        "homework_follow_up_rate": _rate(sum(follow), len(follow)),
        "memo_completeness": _rate(
            sum(not memo_missing(s, rules, placeholder_paths(arc)) for s in arc.sessions), len(arc.sessions)
        ),
        "turn_cap_sessions": sum(s.end_reason == "turn_cap" for s in arc.sessions),
        **risk_detection(arc),
        **arc_technique_metrics(arc),
    }
