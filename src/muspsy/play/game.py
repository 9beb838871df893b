"""`muspsy play`: one arc with a person in the counselor's chair.

The unchanged arc graph runs with `HumanChatModel` as the counselor's model; the simulated
client and the clinical supervisor are the configured models. The driver shows the client's
words as they come, the supervisor's memo after each session, and the judges' scores with a
short comment. Every step is checkpointed in the play folder (SQLite, durability sync), so
quitting (`/quit`, end of input, Ctrl-C) and starting the same command again resumes where the
person stopped. The finished arc is written to the folder's `arcs.jsonl` in the arc contract,
its provenance saying the counselor was human.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, Field

from muspsy import __version__
from muspsy.agents.spec import load_strategy
from muspsy.backends import open_models
from muspsy.checkpointers import open_checkpointer
from muspsy.config import RunConfig
from muspsy.data import agents_dir
from muspsy.evaluation.judges import judge_session, open_judge
from muspsy.events import EventLog, JsonlEventLog
from muspsy.graphs.arc import build_arc_graph, recursion_limit
from muspsy.graphs.crisis import CRISIS_CLIENT_NODES
from muspsy.llm import RoleModel, call_structured, describe_models, format_hint
from muspsy.planning import arc_id, initial_arc_state, now
from muspsy.play.human import HumanChatModel, PlayerQuit, Terminal
from muspsy.records import ArcRecord, ClientProfile, SessionRecord
from muspsy.runfolder import RunFolder, read_text, write_atomic
from muspsy.runner import assemble_record
from muspsy.templates import load_template
from muspsy.views import language_name


class HintOutput(BaseModel):
    hint: str = Field(min_length=2, max_length=300, description="One short, concrete hint for the next turn.")


PLAY_RUN_ID = "play"  # a played arc is a run of one arc in its own folder


@dataclass
class Play:
    profile: ClientProfile
    config: RunConfig
    folder: Path
    terminal: Terminal
    judges: bool = True
    held: int = 0  # sessions finished, as the stream reports them

    @property
    def arc_id(self) -> str:
        return arc_id(self.profile, self.config.strategies[0], self.config.seed)

    def finished(self) -> dict[str, Any] | None:
        path = self.folder / "arcs.jsonl"
        if not path.exists():
            return None
        for line in path.read_text(encoding="utf-8").splitlines():
            record: dict[str, Any] = json.loads(line)
            if record.get("arc_id") == self.arc_id:
                return record
        return None


def hint_asker(supervisor: RoleModel, language: str, events: EventLog) -> Any:
    template = load_template(agents_dir() / "play" / "hint.md")

    async def hint(messages: list[BaseMessage]) -> str:
        view = "\n\n".join(str(m.content) for m in messages)
        values = {"counselor_view": view, "language": language_name(language), "format": format_hint(HintOutput)}
        context = {"role": "supervisor", "node": "hint"}
        result = await call_structured(
            supervisor, HintOutput, [HumanMessage(template.render(values))], retries=2, events=events, context=context
        )
        return result.output.hint

    return hint


async def play(game: Play) -> ArcRecord | None:
    """Run (or resume) the arc; its record when it finished, None when the person stopped."""
    say = game.terminal.say
    if game.finished():
        say(f"{game.arc_id} is already finished in {game.folder}: see {game.folder / 'arcs.jsonl'}")
        return ArcRecord.model_validate(game.finished())
    game.folder.mkdir(parents=True, exist_ok=True)
    (game.folder / "transcripts").mkdir(exist_ok=True)
    config, strategy = game.config, game.config.strategies[0]
    async with AsyncExitStack() as stack:
        events = JsonlEventLog(game.folder / "events.jsonl", run="play")
        stack.callback(events.close)
        resolved = await open_models(config, stack)
        models = dict(resolved.models)
        language = config.language or game.profile.language
        human = HumanChatModel(terminal=game.terminal, hint=hint_asker(models["supervisor"], language, events))
        models["counselor"] = RoleModel(chat=human, name="human")
        judge = await open_judge(config, stack) if game.judges else None
        saver = await open_checkpointer(stack, RunFolder(game.folder), None)
        graph: Any = build_arc_graph(models, load_strategy(strategy), events=events).compile(checkpointer=saver)
        limits = config.limits
        thread: Any = {
            "configurable": {"thread_id": game.arc_id},
            "recursion_limit": recursion_limit(limits.sessions_max, limits.turns_max),
        }
        snapshot = await graph.aget_state(thread, subgraphs=True)
        start = None if snapshot.next else initial_arc_state(PLAY_RUN_ID, game.profile, config)
        started = _started_at(game.folder)
        if start is None:
            say(f"resuming {game.arc_id} from its last checkpoint")
            _replay_current(snapshot, say)
        else:
            say(_welcome(game, strategy))
        try:
            async for _namespace, update in graph.astream(
                start, thread, durability="sync", stream_mode="updates", subgraphs=True
            ):
                for node, values in update.items():
                    await _show(node, values, game, judge, events)
        except (PlayerQuit, KeyboardInterrupt):
            say(f"\nstopped. Run the same command again to resume from here (folder {game.folder}).")
            return None
        final = await graph.aget_state(thread)
        provenance = {
            "version": __version__,
            "backend": config.backend,
            "models": {**describe_models(models), "counselor": {"name": "human"}},
            "counselor": "human",
            "seed": config.seed,
            "started_at": started,
            "finished_at": now(),
        }
        record = assemble_record(final.values, provenance)
        RunFolder(game.folder).add_arc(record)
        outcome = record.outcome
        say(f"\nThe arc ended: {outcome.end_reason} after {outcome.sessions} session(s). {outcome.rationale}")
        say(f"Record: {game.folder / 'arcs.jsonl'}; view it with: muspsy view {game.folder}")
        return record


def _started_at(folder: Path) -> str:
    """When this play began: kept in the folder, so a resumed arc keeps its first start."""
    path = folder / "play.json"
    if path.exists() or path.is_symlink():  # a symlink is refused by read_text, not overwritten
        return str(json.loads(read_text(path))["started_at"])
    started = now()
    write_atomic(path, json.dumps({"started_at": started}) + "\n")
    return started


def _welcome(game: Play, strategy: str) -> str:
    intake = game.profile.intake
    return (
        f"You are the counselor ({strategy.replace('_', ' ')}) for {game.profile.name}, "
        f"{game.profile.age}. Presenting problem: {intake.presenting_problem}\n"
        f"Up to {game.config.limits.sessions_max} session(s) of {game.config.limits.turns_min}-"
        f"{game.config.limits.turns_max} turns; the client and the supervisor run on the "
        f"{game.config.backend} backend. Type what you say; /help lists the commands."
    )


def _replay_current(snapshot: Any, say: Any) -> None:
    """The current session's dialogue so far, so the person knows where they left off."""
    for task in snapshot.tasks:
        state = getattr(task, "state", None)
        values = getattr(state, "values", None) or {}
        for turn in (values.get("session") or {}).get("turns", [])[-6:]:
            say(f"{'you' if turn['speaker'] == 'counselor' else 'client'}: {turn['text']}")


async def _show(node: str, values: Any, game: Play, judge: RoleModel | None, events: EventLog) -> None:
    say = game.terminal.say
    if not isinstance(values, dict):
        return
    if node == "plan":
        say(f"\n=== session 1: {values['next_goal']} ===\nYou open the session.")
    elif node == "between_sessions" and not values.get("outcome"):
        # What happened in the client's week stays on the simulation side: the counselor learns it in session.
        say(f"\n=== session {game.held + 1}: a week later ===\nYou open the session; review the homework.")
    elif node == "client_turn" or node in CRISIS_CLIENT_NODES:
        turn = values["session"]["turns"][-1]
        say(f"client: {turn['text']}")
    elif node == "memo":
        session = values["sessions"][-1]
        game.held = len(values["sessions"])
        memo = session["memo"]
        say(f"\n--- supervisor memo, session {session['index']} ---")
        say(f"summary: {memo['summary']}")
        say(f"observations: {memo['counselor_observations']}")
        say(f"assignments: {'; '.join(memo['counseling_assignments'])}")
        say(f"next goal: {memo['next_session_goal']} (progress {memo['progress']}, risk {memo['risk']})")
        if judge is not None:
            await _feedback(session, game, judge, events)
    elif node == "decide":
        decision = values["sessions"][-1]["decision"]
        override = f" (overridden: {decision['overridden_by']})" if decision.get("overridden_by") else ""
        say(f"supervisor: {decision['action']}{override}. {decision['rationale']}")


async def _feedback(session: dict[str, Any], game: Play, judge: RoleModel, events: EventLog) -> None:
    # The judges read the arc's id, strategy and profile; the arc itself is not finished yet.
    arc = ArcRecord.model_construct(  # type: ignore[call-arg]
        run_id=PLAY_RUN_ID,
        arc_id=game.arc_id,
        strategy=game.config.strategies[0],
        profile=game.profile.model_dump(by_alias=True),
    )
    scores, _usage = await judge_session(judge, arc, SessionRecord.model_validate(session), retries=2, events=events)
    game.terminal.say("--- feedback (LLM judges) ---")
    for rubric, found in scores.items():
        if "error" in found:
            game.terminal.say(f"{rubric}: no score ({found['error']})")
            continue
        items = ", ".join(f"{k} {v}" for k, v in found["scores"].items())
        comment = next(iter(found["rationales"].values()), "")
        game.terminal.say(f"{rubric}: {found['summary']:.1f} ({items})" + (f"\n  {comment}" if comment else ""))
