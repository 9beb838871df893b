"""`muspsy play` driven through standard input against the scripted client: a person's lines
become the counselor's turns, the commands work, the person quits mid-session and resumes, and
the finished arc is a valid record that says the counselor was human."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.records import ArcRecord
from muspsy.viewer.arc_page import arc_body
from muspsy.viewer.site import ServerLinks, Source

pytestmark = pytest.mark.cli

OPTIONS = ["--backend", "scripted", "--sessions", "2", "--turns-min", "5", "--turns-max", "9"]
# After each utterance the person is asked for the protocol labels: an empty line takes the
# first choice (the technique listed first; for the phase, staying in the current one).
TECHNIQUE = PHASE = ""
FIRST_SITTING = [
    "hi",  # too short for a turn: asked again
    "Hello Hannah, thank you for coming in today.",
    TECHNIQUE,
    "What has been weighing on you most this week?",
    PHASE,
    "weighing_evidence",  # a technique named by the person
    "/close That sounds exhausting; let us start to wrap up.",
    PHASE,
    TECHNIQUE,
    "You named the worry clearly today, well done.",
    TECHNIQUE,
    "Write down one worry each evening",
    "",
    "/see",
    "/hint",
    "/dance",
    "Welcome back. How did writing the worries down go?",
    TECHNIQUE,
    "/quit",
]
SECOND_SITTING = [
    "What did you notice when you wrote them down?",
    "homework_review",  # the phase
    "homework_review",  # the technique
    "/close Let us pull together what we learned today.",
    PHASE,
    "summarising",
    "Thank you; keep the diary and we will review it.",
    TECHNIQUE,
    "Keep the worry diary",
    "Take a ten-minute walk after work",
    "",
]
SAID = [
    FIRST_SITTING[1],
    FIRST_SITTING[3],
    FIRST_SITTING[6].removeprefix("/close "),
    FIRST_SITTING[9],
    FIRST_SITTING[16],
    SECOND_SITTING[0],
    SECOND_SITTING[3].removeprefix("/close "),
    SECOND_SITTING[6],
]


def play(folder: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    command = ["muspsy", "play", str(PROFILES / "hannah-work-anxiety.yaml"), *OPTIONS, "--dir", str(folder)]
    return subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, timeout=300)


def test_a_person_plays_two_sessions_quits_and_resumes(tmp_path):
    folder = tmp_path / "play"
    first = play(folder, FIRST_SITTING)
    assert first.returncode == 3, first.stderr  # stopped, resumable
    shown = first.stderr
    assert "(say it in 8 to 700 characters)" in shown
    assert "What you know about the client from intake" in shown and "Treatment plan" in shown  # /see
    assert "supervisor: Reflect back the feeling" in shown  # /hint, answered by the supervisor's model
    assert "unknown command /dance" in shown
    assert "client: " in shown and "--- supervisor memo, session 1 ---" in shown
    assert "--- feedback (LLM judges) ---" in shown and "ctrs: " in shown and "alliance: " in shown
    assert "stopped. Run the same command again" in shown and not (folder / "arcs.jsonl").exists()

    second = play(folder, SECOND_SITTING)
    assert second.returncode == 0, second.stderr
    assert "resuming hannah-work-anxiety--cbt--seed0" in second.stderr
    assert f"you: {FIRST_SITTING[16]}" in second.stderr  # where the person left off
    assert "The arc ended: max_sessions after 2 session(s)" in second.stderr
    lines = (folder / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = ArcRecord.model_validate(json.loads(lines[0]))
    counselor = [t.text for s in record.sessions for t in s.turns if t.speaker == "counselor"]
    assert counselor == SAID
    # Session 2 is the last allowed, so it is the termination session: the lines asked after the
    # close are its relapse-prevention plan, not homework.
    assert [s.homework_given for s in record.sessions] == [["Write down one worry each evening"], []]
    assert record.sessions[1].termination
    assert record.sessions[1].relapse_prevention == ["Keep the worry diary", "Take a ten-minute walk after work"]
    assert [t.kind for t in record.sessions[0].turns][::6] == ["open", "close"]
    labels = [(t.phase, t.technique) for s in record.sessions for t in s.turns if t.speaker == "counselor"]
    assert labels[:4] == [
        ("check_in", "mood_check"),
        ("agenda", "weighing_evidence"),
        ("agenda", "agenda_setting"),
        ("homework", "summarising"),
    ]
    assert labels[5:7] == [("homework_review", "homework_review"), ("homework_review", "summarising")]
    assert record.provenance["counselor"] == "human" and record.provenance["models"]["counselor"]["name"] == "human"
    assert record.provenance["models"]["client"]["name"] == "scripted"
    assert (folder / "transcripts" / f"{record.arc_id}.md").exists()
    assert "counselor: human" in arc_body(Source.open(0, folder), ServerLinks(), 0)

    again = play(folder, [])
    assert again.returncode == 0 and "already finished" in again.stderr
    assert len((folder / "arcs.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_ctrl_c_stops_at_once_and_the_play_resumes(tmp_path):
    folder = tmp_path / "play"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    command = ["muspsy", "play", str(PROFILES / "hannah-work-anxiety.yaml"), *OPTIONS, "--dir", str(folder)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, env=env)  # fmt: skip
    assert process.stdin and process.stderr
    shown: list[str] = []
    reader = threading.Thread(target=lambda: shown.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    process.stdin.write(FIRST_SITTING[1] + "\n" + TECHNIQUE + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + 120
    while not any("client: " in line for line in shown):  # the opening is checkpointed
        assert time.monotonic() < deadline and process.poll() is None, "".join(shown)
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)  # waiting for the next line: Ctrl-C must not wait for Enter
    assert process.wait(timeout=20) == 130
    resumed = play(folder, [*SECOND_SITTING[:3], "/quit"])
    assert resumed.returncode == 3 and f"you: {FIRST_SITTING[1]}" in resumed.stderr


def test_play_refuses_two_strategies_in_one_line(tmp_path):
    result = subprocess.run(
        ["muspsy", "play", str(PROFILES / "hannah-work-anxiety.yaml"), "--strategy", "cbt,mi", "--backend", "scripted",
         "--dir", str(tmp_path / "play")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "play follows one strategy" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "play").exists()


def test_play_refuses_a_folder_inside_a_run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}", encoding="utf-8")  # a run folder, by its manifest
    result = play(run / "play", ["/quit"])
    assert result.returncode == 2 and "is inside the run folder" in result.stderr
    assert "Traceback" not in result.stderr and sorted(p.name for p in run.iterdir()) == ["manifest.json"]
