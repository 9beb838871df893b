# ruff: noqa: RUF001 (Chinese full-width punctuation in expected texts)
"""PsychEval beyond CBT: the integrative layout, client states that move in every therapy,
reasoning-only turns, "not mentioned" markers, ages written in many ways, normalised gender
and provenance that names the therapy folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO
from muspsy.exports import ExportOptions, export
from muspsy.importers import import_arcs, import_profiles, write_arcs

PSYCHEVAL = REPO / "tests" / "fixtures" / "import" / "psycheval"
pytestmark = pytest.mark.unit


def source_extra(arc: object) -> dict[str, object]:
    return arc.model_extra["source_extra"]  # type: ignore[attr-defined,no-any-return]


def test_an_integrative_case_imports_as_profile_and_arc() -> None:
    (profile,) = import_profiles("psycheval", [PSYCHEVAL / "integrative_3.json"])
    assert profile.id == "psycheval-integrative-3"
    assert profile.name == "周宁" and profile.gender == "男" and profile.age == 22
    assert "二十出头" in profile.extra["muspsy_defaults"]["age"]
    assert profile.initial_state.cognitive_state == "别人不会喜欢我。"
    assert profile.initial_state.recent_life_events == ["同事聚餐没叫他"]
    assert set(profile.extra["theory"]) == {"cbt", "het", "bt"}  # every therapy's conceptualisation is kept
    assert profile.extra["intake_profile"] == {"referral": "单位心理热线转介", "first_contact": "电话预约"}
    assert profile.personality == "来源未说明。"  # "未提及" is not a personality
    assert profile.provenance.source == "psycheval: psycheval/integrative_3.json"
    (arc,) = import_arcs("psycheval", [PSYCHEVAL / "integrative_3.json"])
    assert arc.strategy == "integrative"
    assert arc.plan.case_conceptualization == "减轻孤独感，建立一两段稳定的朋友关系。"
    # Session 2 starts where session 1's summary left the client, in both therapies' terms.
    state = arc.sessions[1].client_state
    assert state.emotion_state == "孤单、低落。"
    assert (
        state.cognitive_state
        == "cognitive_patterns: 认定别人不会喜欢自己。\nexistentialism_topic: 在陌生城市里找不到归属。"
    )


def test_reasoning_only_turns_are_dropped_and_stray_tags_never_reach_the_transcript() -> None:
    (arc,) = import_arcs("psycheval", [PSYCHEVAL / "integrative_3.json"])
    first = arc.sessions[0]
    speakers = [t.speaker for t in first.turns]
    assert speakers == ["counselor", "client", "counselor", "client"]  # the think-only turn is gone
    assert first.turns[1].text == "还行吧，就是晚上一个人的时候特别难受。\n有时候觉得在这个城市根本没人认识我。"
    assert all(t.text.strip() and "think>" not in t.text for s in arc.sessions for t in s.turns)
    extra = source_extra(arc)["sessions"][0]  # type: ignore[index]
    assert extra["turns_without_speech"] == [3] and extra["turns_merged_into_the_one_before"] == [4]
    assert extra["counselor_reasoning"]["3"] == "他停顿了，需要等一等，不急着追问。"
    # A trailing stray </think> goes, the speech before it stays; before a </think> whose
    # opening tag was lost, the text is reasoning and the speech follows.
    assert first.turns[2].text == "想先了解一下，是哪些时刻最难熬？"
    assert arc.sessions[1].turns[0].text == "欢迎回来。上周的记录怎么样？"
    assert source_extra(arc)["sessions"][1]["counselor_reasoning"] == {"1": "回顾上周的作业。"}  # type: ignore[index]


def test_a_behaviour_therapy_arc_moves_its_client_state_forward() -> None:
    (arc,) = import_arcs("psycheval", [PSYCHEVAL / "bt_5.json"])
    assert arc.strategy == "bt"
    one, two = (s.client_state for s in arc.sessions)
    assert one.emotion_state == "出门前要反复检查门锁，每次花半小时以上。"
    assert (two.emotion_state, two.cognitive_state) == ("焦虑，担心迟到。", "每次出门检查门锁七到八遍。")
    placeholders = arc.model_extra["import_placeholders"]  # type: ignore[index]
    assert not any("client_state" in key for key in placeholders)
    assert arc.profile["name"] == "来访者" and arc.profile["extra"]["muspsy_defaults"]["name"]


def test_ages_in_words_ranges_and_birth_years_and_gender_markers() -> None:
    profiles = import_profiles("psycheval", [PSYCHEVAL / "ages_and_markers.json"])
    assert [p.age for p in profiles] == [35, 32, 35, 45]
    assert [p.gender for p in profiles] == ["女", "男", "来源未说明。", "女"]
    assert all(p.name == "来访者" for p in profiles)
    notes = [p.extra.get("muspsy_defaults", {}).get("age", "") for p in profiles]
    assert "in words" in notes[0] and "midpoint" in notes[1] and "born 1990" in notes[2] and "四十多岁" in notes[3]


def test_imported_psycheval_arcs_export_to_every_format(tmp_path: Path) -> None:
    arcs = import_arcs("psycheval", [PSYCHEVAL / "integrative_3.json", PSYCHEVAL / "bt_5.json"])
    write_arcs(arcs, tmp_path / "arcs.jsonl")
    for fmt in ("openai", "sharegpt", "parquet", "muspsy-raw", "muspsy-tasks"):
        out = tmp_path / (fmt if fmt in ("parquet", "muspsy-raw") else f"{fmt}.jsonl")
        export([tmp_path / "arcs.jsonl"], fmt, out, ExportOptions(), notify=None)  # type: ignore[arg-type]
        assert out.exists(), fmt
    assert json.loads((tmp_path / "openai.jsonl").read_text(encoding="utf-8").splitlines()[0])["messages"]
