"""Judge rubrics: which apply, prompts rendered from data, model settings, failures recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval_arcs import CLEAN_S1, CLEAN_S2, arc, session
from muspsy.config import build_config
from muspsy.evaluation.evaluate import evaluate_source
from muspsy.evaluation.judges import applicable, judge_settings, load_judge, messages_for, prompt_values
from muspsy.evaluation.rubrics import RUBRICS
from muspsy.evaluation.sources import Source
from muspsy.llm import RoleModel
from muspsy.testing import ScriptedChatModel, default_responder

pytestmark = pytest.mark.unit


def test_rubrics_apply_by_strategy_and_disclosed_risk():
    settings, _ = load_judge()
    risky = session(2, [*CLEAN_S2[:3], ("client", "I wish I was not here.")], risks={4: "passive_ideation"})
    mi = arc([session(1, CLEAN_S1), risky], strategy="motivational_interviewing")
    assert applicable(mi, mi.sessions[0], settings) == ["miti", "miti_behaviours", "alliance", "persona"]
    assert applicable(mi, mi.sessions[1], settings) == ["miti", "miti_behaviours", "alliance", "crisis", "persona"]
    # Strategy-matched fidelity: CTRS only for CBT, each other strategy its own scale.
    for strategy, fidelity in (("cbt", "ctrs"), ("person_centred", "pceps"), ("solution_focused", "sfbt")):
        one = arc([session(1, CLEAN_S1)], strategy=strategy)
        assert applicable(one, one.sessions[0], settings) == [fidelity, "alliance", "persona"]
    imported = arc([session(1, CLEAN_S1)], strategy="unknown")
    assert applicable(imported, imported.sessions[0], settings) == ["alliance", "persona"]


def test_every_judge_template_renders_with_the_transcript_and_format():
    settings, templates = load_judge()
    a = arc([session(1, CLEAN_S1, risks={2: "passive_ideation"})])
    values = prompt_values(a, a.sessions[0], settings)
    for rubric in RUBRICS:
        system, task = messages_for(rubric, values, templates)
        assert "clinical rater" in str(system.content)
        assert "[turn 2, client] [risk: passive_ideation] I worry about work" in str(task.content)
        assert "Answer with one JSON object" in str(task.content)
    persona = messages_for("persona", values, templates)[1].content
    assert "Lena Park" in str(persona) and "Careful, self-critical" in str(persona)


def test_every_judge_template_is_known_and_gets_exactly_its_variables():
    settings, templates = load_judge()
    assert set(templates) == {"system", *RUBRICS}
    a = arc([session(1, CLEAN_S1)])
    supplied = {*prompt_values(a, a.sessions[0], settings), "response_format"}
    for name, template in templates.items():
        assert template.variables <= supplied, name
        if name != "system":
            assert {"transcript", "response_format", "session_index"} <= template.variables, name
    assert "profile" in templates["persona"].variables and "disclosures" in templates["crisis"].variables


def test_judge_model_settings_fall_back_to_the_default():
    cfg = build_config({"models": {"default": {"model": "big", "temperature": 0.3}}}, "test")
    assert judge_settings(cfg).model == "big"
    cfg = build_config({"models": {"default": {"model": "big"}, "judge": {"model": "judge-1"}}}, "test")
    assert judge_settings(cfg).model == "judge-1"


async def test_a_rubric_that_keeps_failing_is_recorded_as_an_error_not_a_score():
    def responder(schema, messages):
        return "not json" if schema == "AllianceJudgement" else default_responder(schema, messages)

    model = RoleModel(ScriptedChatModel(responder=responder), "scripted")
    source = Source(Path("x.jsonl"), [arc([session(1, CLEAN_S1), session(2, CLEAN_S2)])])
    evaluation = await evaluate_source(source, model, retries=1, concurrency=2, judge_name="scripted")
    first = evaluation.rows[0]
    assert "AllianceJudgement" in first["judge"]["alliance"]["error"]
    assert 0 <= first["judge"]["ctrs"]["summary"] <= 66
    assert evaluation.judge_errors == 2
    assert "alliance" not in evaluation.rows[-1]["judge"]  # arc means skip failed rubrics
