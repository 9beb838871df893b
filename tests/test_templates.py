"""Every prompt template renders with exactly the variables its view supplies.

The table `RENDERERS` mirrors which view feeds which template in `muspsy.agents` (plus the
`response_format` that `Agent.messages` adds and the task edits the counselor makes for
crisis and close). Templates are discovered on disk, so a new template without a known view
fails here; a second test drives the real agent methods with a scripted model, so the table
cannot silently drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from muspsy import views, views_crisis, views_protocol, views_supervision
from muspsy.agents.base import Agent
from muspsy.agents.client import Client
from muspsy.agents.counselor import Counselor
from muspsy.agents.crisis import CrisisCounselor
from muspsy.agents.director import Director, WeekPlan, plan_week
from muspsy.agents.ending import Ending
from muspsy.agents.spec import available_strategies, load_spec, load_strategy, strategy_aliases
from muspsy.agents.supervisor import Supervisor
from muspsy.crisis import load_protocol
from muspsy.data import agents_dir, profiles_dir
from muspsy.dynamics import load_params
from muspsy.events import NullEventLog
from muspsy.graphs.state import ArcState
from muspsy.llm import RoleModel
from muspsy.profiles import load_profile
from muspsy.records import ROLES, ClientProfile, ClientState, Memo, SessionRecord, TreatmentPlan
from muspsy.templates import PLACEHOLDER, Template, TemplateError, load_template
from muspsy.testing import ScriptedChatModel, default_responder

pytestmark = pytest.mark.unit

RESPONSE_FORMAT = "Reply with one JSON object and nothing else."


# --- a realistic arc state: session 1 finished, session 2 under way ----------------------


def _turn(index: int, speaker: str, text: str, risk: str | None = None, kind: str = "dialogue") -> dict[str, Any]:
    turn: dict[str, Any] = {"index": index, "speaker": speaker, "text": text, "kind": kind}
    if risk is not None:
        turn["risk"] = risk
    return turn


def build_state() -> ArcState:
    profile = load_profile(profiles_dir() / "hannah-work-anxiety.yaml")
    plan = TreatmentPlan.model_validate(
        {
            "case_conceptualization": "Perfectionist beliefs about mistakes keep worry and late-night checking going.",
            "goals": ["Sleep at least six hours on most nights", "Hold a 9 pm cut-off for work email"],
            "stages": [
                {"name": "Engagement", "sessions": "1-2", "focus": "Map the worry cycle and sleep habits."},
                {"name": "Restructuring", "sessions": "3-4", "focus": "Test predictions about mistakes."},
            ],
            "first_session_goal": "Understand the work worry and agree on goals.",
        }
    )
    week_one = ClientState(
        emotion_state="Anxious and jittery.",
        cognitive_state="Thinks worry proves she is not cut out for the job.",
        recent_life_events=["Deadline moved forward a week"],
        alliance=3,
        symptom_severity=6,
    )
    memo = Memo(
        summary="Mapped the worry cycle around deadlines and the midnight email checking.",
        emotion_and_cognitive_state="Tense, self-critical, hopeful about sleep help.",
        counselor_observations="Talks at length; engages well once feelings are reflected.",
        counseling_assignments=["Keep a sleep diary every night"],
        session_goal="Understand the work worry and agree on goals.",
        next_session_goal="Review the sleep diary and link thoughts to worry.",
        progress="some",
        risk="low",
    )
    finished = SessionRecord(
        index=1,
        goal="Understand the work worry and agree on goals.",
        client_state=week_one,
        turns=[
            _turn(1, "counselor", "Welcome, Hannah. What brings you here today?", kind="open"),
            _turn(2, "client", "I can't stop worrying about mistakes at work.", risk="none"),
            _turn(3, "counselor", "Before next time, could you keep a sleep diary?", kind="close"),
        ],
        homework_given=["Keep a sleep diary every night"],
        end_reason="counselor_closed",
        memo=memo,
    ).model_dump(mode="json")
    week_two = week_one.model_copy(update={"homework_adherence": "partial", "symptom_severity": 5})
    return {
        "run_id": "run-test",
        "arc_id": "hannah-work-anxiety--cbt--seed0",
        "seed": 0,
        "strategy": "cbt",
        "language": "en",
        "profile": profile.model_dump(mode="json", by_alias=True),
        "limits": {"sessions_min": 2, "sessions_max": 5, "turns_min": 6, "turns_max": 20},
        "plan": plan.model_dump(mode="json"),
        "client_state": week_two.model_dump(mode="json"),
        "client_memories": ["We talked about my deadlines and I agreed to track my sleep."],
        "next_goal": memo.next_session_goal,
        "sessions": [finished],
        "history": [
            {"index": finished["index"], "memo": finished["memo"], "homework_given": finished["homework_given"]}
        ],
        "session": {
            "index": 2,
            "goal": memo.next_session_goal,
            "client_state": week_two.model_dump(mode="json"),
            "homework_reviewed": list(memo.counseling_assignments),
            "turns": [
                _turn(1, "counselor", "Welcome back. How did the sleep diary go?", kind="open"),
                _turn(
                    2,
                    "client",
                    "I filled it in most nights. Some nights I wish I could just disappear.",
                    "passive_ideation",
                ),
            ],
            "ready_to_close": False,
            "crisis": True,
            "homework_given": ["Set a 9 pm cut-off for work email"],
        },
        "usage": {},
    }


# --- which view feeds which template ------------------------------------------------------

Renderer = Callable[[ArcState], dict[str, str]]


def _with_format(view: Renderer) -> Renderer:
    # Agent.messages adds response_format to every task (non-system) prompt.
    return lambda state: {**view(state), "response_format": RESPONSE_FORMAT}


def _settings(role: str) -> Any:
    return load_spec(role).settings  # type: ignore[arg-type]


def _strategy() -> Any:
    return load_strategy("cbt")


def _counselor_task(state: ArcState) -> dict[str, str]:
    return views.counselor_task(state, _settings("counselor").recent_turns)


def _counselor_turn(state: ArcState) -> dict[str, str]:
    return {**_counselor_task(state), **views_protocol.dialogue_turn(state["session"], _strategy())}


def _counselor_open(state: ArcState) -> dict[str, str]:
    return {**views.counselor_open(state), **views_protocol.opening(state["session"], _strategy())}


def _counselor_crisis(view: Callable[..., dict[str, str]]) -> Renderer:
    return lambda state: view(state, load_protocol(), _settings("counselor").recent_turns)


def _counselor_close(state: ArcState) -> dict[str, str]:
    task = _counselor_task(state)
    del task["turns_left"]
    task["safety_note"] = "Make sure the safety plan is clear."
    return {**task, **views_protocol.closing(_strategy())}


def _counselor_terminate(state: ArcState) -> dict[str, str]:
    task = _counselor_close(state)
    del task["homework_task"]  # the termination close gives no homework
    return task


def _preferences(state: ArcState) -> str:
    strategies = {name: load_strategy(name) for name in available_strategies()}
    return views.client_preferences(ClientProfile.model_validate(state["profile"]), strategies)


def _week_plan(state: ArcState) -> WeekPlan:
    return plan_week(state, load_params(), strategy_aliases())


RENDERERS: dict[tuple[str, str], Renderer] = {
    ("client", "system"): views.client_system,
    ("client", "turn"): _with_format(lambda s: views.client_turn(s, _settings("client").recent_turns)),
    ("client", "self_report_start"): _with_format(lambda s: views.client_self_report_start(s, "PHQ-9 ...")),
    ("client", "self_report_end"): _with_format(
        lambda s: views.client_appraisal(s, "WAI-SR ...", _settings("client").recent_turns, _preferences(s))
    ),
    ("counselor", "system"): lambda s: views.counselor_system(s, _strategy(), _settings("counselor").earlier_memos),
    ("counselor", "open"): _with_format(_counselor_open),
    ("counselor", "turn"): _with_format(_counselor_turn),
    ("counselor", "crisis_screen"): _with_format(_counselor_crisis(views_crisis.crisis_screen)),
    ("counselor", "crisis_safety_plan"): _with_format(_counselor_crisis(views_crisis.crisis_safety_plan)),
    ("counselor", "crisis_action"): _with_format(_counselor_crisis(views_crisis.crisis_action)),
    ("counselor", "close"): _with_format(_counselor_close),
    ("counselor", "terminate"): _with_format(_counselor_terminate),
    ("client", "self_report_exit"): _with_format(
        lambda s: views_supervision.client_self_report_exit(s, 5, "some time later", "PHQ-9 ...")
    ),
    ("supervisor", "revise"): _with_format(views_supervision.supervisor_revise),
    ("supervisor", "system"): lambda s: views.supervisor_system(s, _strategy()),
    ("supervisor", "plan"): _with_format(views.supervisor_plan),
    ("supervisor", "memo"): _with_format(lambda s: views.supervisor_memo(s, _settings("supervisor").earlier_memos)),
    ("supervisor", "decide"): _with_format(lambda s: views_supervision.supervisor_review(s, ["cbt", "mi"])),
    ("director", "system"): lambda s: views.director_system(s, _week_plan(s)),
    ("director", "week"): _with_format(lambda s: views.director_week(s, _week_plan(s))),
}


def discovered_templates() -> list[tuple[str, str]]:
    # Arc roles only: agents/extractor/, exports/ and judge/ hold texts used outside arcs, each
    # rendered by its own tests (test_extract.py, test_export_*.py, test_eval_judges.py).
    return sorted((p.parent.name, p.stem) for p in agents_dir().glob("*/*.md") if p.parent.name in ROLES)


def test_templates_are_discovered_for_every_role() -> None:
    found = discovered_templates()
    assert {role for role, _ in found} == set(ROLES)
    for role in ROLES:
        assert (role, "system") in found


def test_every_known_view_has_its_template() -> None:
    stale = set(RENDERERS) - set(discovered_templates())
    assert not stale, f"views mapped to templates that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize(("role", "name"), discovered_templates(), ids=lambda v: str(v))
def test_template_renders_with_exactly_its_view(role: str, name: str) -> None:
    if (role, name) not in RENDERERS:
        pytest.fail(f"agents/{role}/{name}.md has no known view: add it to RENDERERS")
    template = load_template(agents_dir() / role / f"{name}.md")
    assert template.variables, f"agents/{role}/{name}.md uses no variables"
    values = RENDERERS[(role, name)](build_state())
    assert set(values) == set(template.variables)
    text = template.render(values)
    assert "{{" not in text and "}}" not in text
    for value in values.values():
        assert value in text
    if name != "system":
        assert RESPONSE_FORMAT in text


def test_the_spec_loads_the_same_templates() -> None:
    on_disk = set(discovered_templates())
    loaded = {(role, name) for role in ROLES for name in load_spec(role).templates}
    assert loaded == on_disk


# --- Template.render strictness --------------------------------------------------------------


def test_render_substitutes_with_spaces_inside_braces() -> None:
    template = Template("t", "Hello {{ name }}, {{greeting}}!")
    assert template.variables == frozenset({"name", "greeting"})
    assert template.render({"name": "Ana", "greeting": "welcome"}) == "Hello Ana, welcome!"


def test_render_raises_on_a_missing_variable() -> None:
    template = Template("agents/x/t.md", "Hello {{name}}, {{greeting}}!")
    with pytest.raises(TemplateError) as info:
        template.render({"name": "Ana"})
    assert "greeting" in str(info.value)
    assert "agents/x/t.md" in str(info.value)


def test_render_raises_on_an_unexpected_variable() -> None:
    template = Template("agents/x/t.md", "Hello {{name}}!")
    with pytest.raises(TemplateError) as info:
        template.render({"name": "Ana", "mood": "calm"})
    assert "mood" in str(info.value)


def test_render_does_not_resubstitute_values() -> None:
    template = Template("t", "{{a}} and {{b}}")
    assert template.render({"a": "{{b}}", "b": "x"}) == "{{b}} and x"


def test_load_template_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hello.md"
    path.write_text("Hi {{name}}\n", encoding="utf-8")
    template = load_template(path)
    assert template.variables == frozenset({"name"})
    assert template.render({"name": "Bo"}) == "Hi Bo\n"
    assert len(template.sha256) == 64
    assert template.sha256 != Template("other", "Hi {{ name }}\n").sha256


# --- the real agent methods render their templates -----------------------------------------


def _agents() -> tuple[Client, Counselor, Supervisor, Director, Ending, dict[str, ScriptedChatModel]]:
    chats = {role: ScriptedChatModel(responder=default_responder) for role in ROLES}
    agent = {
        role: Agent(load_spec(role), RoleModel(chats[role], "scripted", "function_calling"), NullEventLog(), 0)
        for role in ROLES
    }
    strategies = {"cbt": load_strategy("cbt")}
    return (
        Client(agent["client"]),
        Counselor(agent["counselor"], strategies),
        Supervisor(agent["supervisor"], strategies),
        Director(agent["director"]),
        Ending(agent["client"]),
        chats,
    )


async def test_agent_methods_render_every_template() -> None:
    client, counselor, supervisor, director, ending, chats = _agents()
    state: ArcState = {**build_state(), "outcomes": True}
    before_session = {k: v for k, v in state.items() if k != "session"}

    await supervisor.plan(before_session)  # type: ignore[arg-type]
    await client.report_start(before_session)  # type: ignore[arg-type]
    await counselor.open(before_session)  # type: ignore[arg-type]
    await counselor.turn(state)
    crisis = CrisisCounselor(counselor)
    started: ArcState = {**state, **crisis.start(state)}  # type: ignore[typeddict-item]
    screened: ArcState = {**started, **await crisis.screen(started)}  # type: ignore[typeddict-item]
    disposed: ArcState = {**screened, **crisis.dispose(screened)}  # type: ignore[typeddict-item]
    await crisis.plan(disposed)
    await crisis.act(disposed)
    await counselor.close(state)
    await counselor.close({**state, "session": {**state["session"], "termination": True}})
    await client.report_end(state)
    await client.reply(state)
    await director.week(state)
    await supervisor.memo(state)
    await supervisor.decide(state)
    await supervisor.revise_plan(state)
    await ending.exit_measure({**state, "outcome": {"end_reason": "goals_met", "sessions": 1, "rationale": "r"}})

    asked = {
        "client": [
            "SymptomQuestionnairesOutput",
            "AllianceQuestionnaireOutput",
            "ClientTurnOutput",
            "SymptomQuestionnairesOutput",
        ],
        "counselor": [
            "OpeningOutput",
            "CounselorTurnOutput",
            "RiskScreenOutput",
            "SafetyPlanOutput",
            "CrisisActionOutput",
            "ClosingOutput",
            "TerminationOutput",
        ],
        "supervisor": ["PlanOutput", "MemoOutput", "DecisionOutput", "PlanOutput"],
        "director": ["DirectorWeekOutput"],
    }
    for role, chat in chats.items():
        assert [schema for schema, _ in chat.calls] == asked[role]
        prompts = [str(message.content) for _, messages in chat.calls for message in messages]
        for prompt in prompts:
            assert not PLACEHOLDER.search(prompt)
        # Every template on disk was rendered by some call: its longest fixed line shows up.
        for name, template in load_spec(role).templates.items():  # type: ignore[arg-type]
            marker = _fixed_line(template)
            assert any(marker in prompt for prompt in prompts), f"agents/{role}/{name}.md was never rendered"


def _fixed_line(template: Template) -> str:
    lines = [line.strip() for line in template.text.splitlines() if line.strip() and not PLACEHOLDER.search(line)]
    assert lines, f"{template.name} has no fixed text"
    return max(lines, key=len)
