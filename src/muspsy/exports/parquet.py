"""`parquet`: a folder that Hugging Face `datasets` loads, with a generated dataset card.

Three configs, one Parquet file each (split `train`):
- `sessions` (default): one row per session with its turns nested (`turns`: list of
  index, speaker, text, risk, assessed_risk, kind, and for counselor turns the protocol `phase`
  and `technique`), the client state at session start, the memo,
  homework, crisis flag and end reason; self-report scores as a JSON string (`instruments`); the
  strategy the session used (`session_strategy`), `termination` and its `relapse_prevention`;
  the crisis protocol's `risk_assessment` and `safety_plan` (structs), `disposition` and whether
  the opening reviewed an earlier plan (`safety_plan_reviewed`).
- `arcs`: one row per arc: outcome, session count, crisis flags, strategy switches, the exit and
  follow-up PHQ-9 and GAD-7 totals, and the profile, plan, plan versions, provenance and usage as
  JSON strings (their shapes vary between sources).
- `turns`: one row per turn, flat, for quick filtering.
Near-duplicate sessions (`--dedup`) are left out of `sessions` and `turns`.
`README.md` is the dataset card: YAML header (configs, licence), then provenance, models,
counts, strategies, end reasons, switches, terminations and a statement on crisis content with
the dispositions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import yaml

from muspsy.course import course_counts, strategy_switches
from muspsy.exports.sources import ExportError, Selection, has_crisis
from muspsy.records import DISPOSITIONS, SAFETY_PLAN_STEPS, SCREENER_ITEMS, TURN_RISK_SEVERITY, ArcRecord
from muspsy.redact import redact

DEFAULT_LICENSE = "cc-by-4.0"
CONFIGS = ("sessions", "arcs", "turns")

_str = pa.string()
TURN = pa.struct(
    [
        ("index", pa.int32()),
        ("speaker", _str),
        ("text", _str),
        ("risk", _str),
        ("assessed_risk", _str),
        ("kind", _str),
        ("phase", _str),
        ("technique", _str),
    ]
)
STATE = pa.struct(
    [
        ("emotion_state", _str),
        ("cognitive_state", _str),
        ("recent_life_events", pa.list_(_str)),
        ("homework_adherence", _str),
        ("alliance", pa.float64()),
        ("symptom_severity", pa.float64()),
        ("risk_level", _str),  # the client's hidden risk level (null: the profile's)
    ]
)
MEMO = pa.struct(
    [
        ("summary", _str),
        ("emotion_and_cognitive_state", _str),
        ("counselor_observations", _str),
        ("counseling_assignments", pa.list_(_str)),
        ("session_goal", _str),
        ("next_session_goal", _str),
        ("progress", _str),
        ("risk", _str),
    ]
)
ASSESSMENT = pa.struct(
    [
        *[(item, _str) for item in SCREENER_ITEMS],
        ("recency", _str),
        ("other_concerns", pa.list_(_str)),
        ("complete", pa.bool_()),
        ("level", _str),
        ("turns", pa.list_(pa.int32())),
    ]
)
SAFETY_PLAN = pa.struct(
    [*[(step, pa.list_(_str)) for step in SAFETY_PLAN_STEPS], ("complete", pa.bool_()), ("session", pa.int32())]
)
KEYS = [("run_id", _str), ("arc_id", _str), ("client_id", _str), ("language", _str), ("strategy", _str)]
SCHEMAS: dict[str, pa.Schema] = {
    "sessions": pa.schema(
        [
            *KEYS,
            ("session", pa.int32()),
            ("goal", _str),
            ("client_state", STATE),
            ("homework_reviewed", pa.list_(_str)),
            ("turns", pa.list_(TURN)),
            ("homework_given", pa.list_(_str)),
            ("crisis", pa.bool_()),
            ("end_reason", _str),
            ("memo", MEMO),
            ("instruments", _str),
            ("session_strategy", _str),
            ("termination", pa.bool_()),
            ("relapse_prevention", pa.list_(_str)),
            ("risk_assessment", ASSESSMENT),
            ("safety_plan", SAFETY_PLAN),
            ("disposition", _str),
            ("safety_plan_reviewed", pa.bool_()),
        ]
    ),
    "arcs": pa.schema(
        [
            *KEYS,
            ("sessions", pa.int32()),
            ("end_reason", _str),
            ("rationale", _str),
            ("crisis", pa.bool_()),
            ("risk_disclosures", pa.int32()),
            ("profile", _str),
            ("plan", _str),
            ("provenance", _str),
            ("usage", _str),
            ("strategy_switches", pa.int32()),
            ("plan_versions", _str),
            ("exit_phq9", pa.int32()),
            ("exit_gad7", pa.int32()),
            ("follow_up_weeks", pa.int32()),
            ("follow_up_phq9", pa.int32()),
            ("follow_up_gad7", pa.int32()),
        ]
    ),
    "turns": pa.schema(
        [
            *KEYS,
            ("session", pa.int32()),
            ("turn", pa.int32()),
            ("speaker", _str),
            ("text", _str),
            ("risk", _str),
            ("kind", _str),
            ("phase", _str),
            ("technique", _str),
        ]
    ),
}


def _json(value: Any) -> str:
    # Redacted: provenance from older runs or other tools may hold a URL with credentials.
    return redact(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _disclosures(arc: ArcRecord) -> int:
    return sum(1 for s in arc.sessions for t in s.turns if TURN_RISK_SEVERITY.get(t.risk or "none", 0) > 0)


def _after_course(arc: ArcRecord) -> dict[str, int | None]:
    """The exit and follow-up totals (null when not measured)."""
    exit_point, later = arc.exit_measurement, arc.follow_up
    return {
        "exit_phq9": exit_point.phq9.total if exit_point else None,
        "exit_gad7": exit_point.gad7.total if exit_point else None,
        "follow_up_weeks": later.weeks_after_last_session if later else None,
        "follow_up_phq9": later.phq9.total if later else None,
        "follow_up_gad7": later.gad7.total if later else None,
    }


def build_tables(selection: Selection) -> dict[str, pa.Table]:
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    for arc in selection.arcs:
        keys = {
            "run_id": arc.run_id,
            "arc_id": arc.arc_id,
            "client_id": arc.client_id,
            "language": arc.language,
            "strategy": arc.strategy,
        }
        rows["arcs"].append(
            {
                **keys,
                "sessions": len(arc.sessions),
                "end_reason": arc.outcome.end_reason,
                "rationale": arc.outcome.rationale,
                "crisis": has_crisis(arc),
                "risk_disclosures": _disclosures(arc),
                "profile": _json(arc.profile),
                "plan": _json(arc.plan.model_dump(mode="json")),
                "provenance": _json(arc.provenance),
                "usage": _json({k: v.model_dump(mode="json") for k, v in arc.usage.items()}),
                "strategy_switches": strategy_switches(arc),
                "plan_versions": _json([v.model_dump(mode="json") for v in arc.plan_versions]),
                **_after_course(arc),
            }
        )
        for session in arc.sessions:
            if selection.skipped(arc, session.index):
                continue
            data = session.model_dump(mode="json")
            scores = {k: data[k] for k in ("phq9", "gad7", "wai_sr") if data.get(k)}
            rows["sessions"].append(
                {
                    **keys,
                    "session": session.index,
                    "goal": session.goal,
                    "client_state": data["client_state"],
                    "homework_reviewed": session.homework_reviewed,
                    "turns": [{k: t[k] for k in TURN.names} for t in data["turns"]],
                    "homework_given": session.homework_given,
                    "crisis": session.crisis,
                    "end_reason": session.end_reason,
                    "memo": data["memo"],
                    "instruments": _json(scores) if scores else None,
                    "session_strategy": session.strategy,
                    "termination": session.termination,
                    "relapse_prevention": session.relapse_prevention,
                    "risk_assessment": data["risk_assessment"],
                    "safety_plan": data["safety_plan"],
                    "disposition": session.disposition,
                    "safety_plan_reviewed": session.safety_plan_reviewed is not None,
                }
            )
            rows["turns"] += [
                {
                    **keys,
                    "session": session.index,
                    "turn": t.index,
                    "speaker": t.speaker,
                    "text": t.text,
                    "risk": t.risk,
                    "kind": t.kind,
                    "phase": t.phase,
                    "technique": t.technique,
                }
                for t in session.turns
            ]
    return {name: pa.Table.from_pylist(rows[name], schema=SCHEMAS[name]) for name in CONFIGS}


def check_tables(tables: Mapping[str, pa.Table]) -> None:
    """Every config present with its schema; turns have a known speaker and non-empty text;
    session numbers are positive; the flat `turns` table matches the nested turns."""
    for name in CONFIGS:
        if name not in tables:
            raise ExportError(f"parquet: config {name}: missing")
        if not tables[name].schema.equals(SCHEMAS[name]):
            raise ExportError(f"parquet: config {name}: schema differs from the documented one")
    nested = 0
    for number, row in enumerate(tables["sessions"].to_pylist(), start=1):
        where = f"parquet: config sessions: row {number} (arc {row['arc_id']}, session {row['session']})"
        if row["session"] < 1:
            raise ExportError(f"{where}: field session: must be >= 1")
        if not row["turns"]:
            raise ExportError(f"{where}: field turns: empty")
        for t in row["turns"]:
            if t["speaker"] not in ("counselor", "client"):
                raise ExportError(f"{where}: field turns[{t['index']}].speaker: {t['speaker']!r}")
            if not (t["text"] or "").strip():
                raise ExportError(f"{where}: field turns[{t['index']}].text: empty")
        nested += len(row["turns"])
    if nested != tables["turns"].num_rows:
        raise ExportError(f"parquet: config turns: {tables['turns'].num_rows} rows for {nested} nested turns")


def _counts(table: pa.Table, column: str) -> str:
    counted = Counter(table.column(column).to_pylist())
    return "\n".join(f"- `{k}`: {v}" for k, v in sorted(counted.items())) or "- (none)"


def _origin(simulated: int, imported: int, formats: list[str]) -> str:
    parts = []
    if simulated:
        parts.append(
            f"{simulated} arc(s) were simulated by `muspsy` with language-model agents (a client, a counselor and"
            " a supervisor agent): the dialogue is synthetic, not a record of real counseling, and not clinical"
            " advice."
        )
    if imported:
        parts.append(
            f"{imported} arc(s) were imported from published data ({', '.join(formats)}) and keep their"
            " source's provenance and licence (see the `arcs` config)."
        )
    return "Multi-session psychological counseling arcs. " + " ".join(parts)


def _course_text(counts: dict[str, int]) -> str:
    return (
        f"- strategy switches: {counts['strategy_switches']} (in {counts['arcs_with_switch']} arc(s))\n"
        f"- plan revisions: {counts['plan_revisions']}\n"
        f"- termination sessions: {counts['termination_sessions']}\n"
        f"- exit measurements: {counts['exit_measurements']}; follow-up measurements: {counts['follow_ups']}"
    )


def dataset_card(selection: Selection, tables: Mapping[str, pa.Table], license: str) -> str:
    arcs = selection.arcs
    languages = sorted({a.language for a in arcs})
    header = {
        "license": license,
        "language": languages,
        "pretty_name": "muspsy synthetic multi-session counseling",
        "tags": ["synthetic", "counseling", "multi-session", "mental-health"],
        "configs": [
            {
                "config_name": name,
                **({"default": True} if name == "sessions" else {}),
                "data_files": [{"split": "train", "path": f"{name}/train.parquet"}],
            }
            for name in CONFIGS
        ],
    }
    models = sorted(
        {
            f"{role}: {m.get('name', '?')}"
            for a in arcs
            for role, m in (a.provenance.get("models") or {}).items()
            if isinstance(m, dict)
        }
    )
    backends = sorted({str(a.provenance.get("backend")) for a in arcs if a.provenance.get("backend")})
    sources = sorted({str(a.profile.get("provenance", {}).get("kind", "unknown")) for a in arcs})
    profile_licences = sorted({str(a.profile.get("provenance", {}).get("license") or "not stated") for a in arcs})
    crisis_arcs = sum(1 for a in arcs if has_crisis(a))
    crisis_sessions = sum(1 for a in arcs for s in a.sessions if s.crisis)
    disclosing = sum(1 for a in arcs if _disclosures(a))
    dispositions = Counter(s.disposition for a in arcs for s in a.sessions if s.disposition)
    imported = [a for a in arcs if a.provenance.get("kind") == "imported" or not a.provenance.get("models")]
    formats = sorted({str(a.provenance.get("format") or "unknown format") for a in imported})
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        "# muspsy synthetic multi-session counseling",
        "",
        "## Provenance",
        "",
        _origin(len(arcs) - len(imported), len(imported), formats),
        "",
        f"Client profiles: {', '.join(sources)} (profile licences: {', '.join(profile_licences)}).",
        "",
        f"Backends: {', '.join(backends) or 'not recorded'}.",
        "",
        "## Models",
        "",
        *([f"- {m}" for m in models] or ["- not recorded (imported arcs)"]),
        "",
        "## Contents",
        "",
        f"- arcs: {len(arcs)}",
        f"- sessions: {tables['sessions'].num_rows}",
        f"- turns: {tables['turns'].num_rows}",
        f"- near-duplicate sessions left out: {len(selection.skip)}",
        "",
        "Configs: `sessions` (default; one row per session, turns nested), `arcs` (one row per arc;"
        " profile, plan, provenance and usage as JSON strings) and `turns` (one row per turn). Counselor"
        " turns carry the `phase` of the strategy's session protocol and the `technique` they used.",
        "",
        "### Strategies",
        "",
        _counts(tables["arcs"], "strategy"),
        "",
        "### End reasons",
        "",
        _counts(tables["arcs"], "end_reason"),
        "",
        "### Adaptive supervision and endings",
        "",
        _course_text(course_counts(arcs)),
        "",
        "## Crisis content",
        "",
        f"{disclosing} of {len(arcs)} arc(s) contain client disclosures of suicidal thoughts or self-harm risk;"
        f" {crisis_arcs} arc(s) have a crisis session or a crisis outcome ({crisis_sessions} crisis session(s)"
        " in all). Such dialogue may be distressing to read. Turn-level `risk` labels mark the disclosures.",
        "",
        "Crisis protocol dispositions (sessions; set by rule from the counselor's risk assessment):",
        "",
        *[f"- `{name}`: {dispositions.get(name, 0)}" for name in DISPOSITIONS],
        "",
        "## Licence",
        "",
        f"`{license}` (set with `muspsy export --license`). Check the terms of the models listed above"
        " and the licences of the client profiles before redistributing.",
        "",
    ]
    return "\n".join(lines)
