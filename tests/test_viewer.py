"""`muspsy view` without a browser: the executed path read from records, paging over a byte-offset
index that follows a growing file, escaping of everything a record holds, fields of newer
schemas, the static copy, the server's addresses and live stamp, and bad input."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from muspsy.cli import app
from muspsy.records import ArcRecord
from muspsy.transcript import render_transcript
from muspsy.viewer.arc_page import arc_body
from muspsy.viewer.index import ArcIndex
from muspsy.viewer.pair_page import pair_body
from muspsy.viewer.path import arc_route, session_route
from muspsy.viewer.run_page import run_body
from muspsy.viewer.site import ServerLinks, Source
from viewer_runs import IMAGE, SCRIPT, mark_running, paired_run, read_arcs, viewer, wait_for

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return paired_run(tmp_path_factory.mktemp("runs"))


def view(*args: str) -> Result:
    """`muspsy view` in this process (the server test starts the console script itself)."""
    return CliRunner().invoke(app, ["view", *args])


def arc_named(run_dir: Path, prefix: str) -> tuple[int, dict[str, Any]]:
    return next((i, a) for i, a in enumerate(read_arcs(run_dir)) if a["arc_id"].startswith(prefix))


def test_the_executed_path_counts_nodes_and_routes_from_the_record(run_dir):
    _, crisis_arc = arc_named(run_dir, "graham-chronic-pain-risk--cbt")
    sessions = crisis_arc["sessions"]
    route = arc_route(crisis_arc)
    n = len(sessions)
    assert (route.nodes["plan"], route.nodes["session"], route.nodes["memo"], route.nodes["decide"]) == (1, n, n, n)
    assert route.nodes["between_sessions"] == n - 1 and route.edges[("decide", "exit_measure")] == 1
    assert route.edges[("exit_measure", "finalize")] == 1
    inner = session_route(sessions)
    clients = sum(1 for s in sessions for t in s["turns"] if t["speaker"] == "client")
    # The crisis protocol's turns (counselor and client) are one run of the crisis subgraph.
    runs = sum(1 for s in sessions if s.get("risk_assessment"))
    answered = sum(
        1 for s in sessions for t in s["turns"] if t["kind"] == "crisis" and t["technique"] != "ask_directly"
    )
    assert runs > 0 and inner.nodes["crisis"] == runs
    assert inner.nodes["client_turn"] == clients - answered and inner.nodes["self_report_start"] == n
    assert inner.edges[("client_turn", "crisis")] == runs

    _, dropout = arc_named(run_dir, "zhou-lihua-job-loss--motivational_interviewing")
    assert dropout["outcome"]["end_reason"] == "dropout"
    route = arc_route(dropout)  # the week after the last session ended the arc
    assert route.nodes["between_sessions"] == len(dropout["sessions"])
    assert route.edges[("between_sessions", "finalize")] == 1 and route.edges[("decide", "finalize")] == 0


def test_the_arc_page_draws_the_path_marks_overrides_and_escapes_every_text(run_dir):
    source = Source.open(0, run_dir)
    source.refresh()
    position, _ = arc_named(run_dir, "graham-chronic-pain-risk--cbt")
    html = arc_body(source, ServerLinks(), position)
    assert re.search(r'data-node="crisis" data-count="[1-9]', html)
    assert 'data-node="decide" data-count="3"' in html and "overridden by" in html
    assert "LLM calls per node" in html  # from events.jsonl
    planted = arc_body(source, ServerLinks(), 0)
    for page in (planted, pair_body(source, ServerLinks(), 0)):
        assert "<script>" not in page and "<img" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;window.__planted = 1" in planted and "&lt;img src=&quot;x&quot;" in planted
    assert "felt heard" in planted  # a field of a newer schema, shown as it is


def test_fields_of_newer_schemas_are_shown_and_none_is_required(run_dir, tmp_path):
    record = copy.deepcopy(read_arcs(run_dir)[0])
    session = record["sessions"][0]
    record["disclosures"] = [{"fact": "lost the job in March", "session": 1, "turn": 2}]
    session["turns"][2]["technique"] = "socratic_questioning"
    session["turns"][2]["assessed_risk"] = "low"
    session.update(strategy="cbt", termination="planned", safety_plan={"warning_signs": ["not sleeping"]})
    bare = {
        "arc_id": "imported-1",
        "client_id": "x",
        "strategy": "unknown",
        "plan": {},
        "outcome": {"end_reason": "max_sessions", "sessions": 1},
        "sessions": [{"index": 1, "goal": "g", "turns": [{"index": 1, "speaker": "client", "text": "hi"}]}],
    }
    arcs = tmp_path / "mixed.jsonl"
    arcs.write_text(json.dumps(record) + "\n" + json.dumps(bare) + "\n", encoding="utf-8")
    source = Source.open(0, arcs)
    html = arc_body(source, ServerLinks(), 0)
    shown_texts = ("disclosed: lost the job in March", "technique: socratic_questioning", "assessed: low")
    for shown in (*shown_texts, "not sleeping"):
        assert shown in html
    assert "termination" in html and "planned" in html
    assert "hi" in arc_body(source, ServerLinks(), 1)  # no usage, provenance, memo or scores


def test_the_run_page_shows_failures_with_their_errors(run_dir, tmp_path):
    run_dir = Path(shutil.copytree(run_dir, tmp_path / run_dir.name))
    error = "StructuredOutputError: counselor gave no valid <CounselorTurnOutput> after 3 attempts"
    failure = {"arc_id": "late--cbt--seed0", "client_id": "late", "error": error}
    (run_dir / "failed.jsonl").write_text(json.dumps(failure) + "\n", encoding="utf-8")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["arcs"]["late--cbt--seed0"] = {"client_id": "late", "seed": 0, "strategy": "cbt", "status": "failed"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = run_body(Source.open(0, run_dir), ServerLinks())
    assert "1 failed attempt(s); 1 arc(s) failed now." in page and "6 finished" in page and "1 failed" in page
    assert "no valid &lt;CounselorTurnOutput&gt; after 3 attempts" in page


def test_the_index_pages_by_offsets_and_follows_a_growing_file(run_dir, tmp_path):
    record = read_arcs(run_dir)[0]
    path = tmp_path / "arcs.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for seed in range(120):
            handle.write(json.dumps({**record, "arc_id": f"a--cbt--seed{seed}", "provenance": {"seed": seed}}) + "\n")
    index = ArcIndex(path)
    assert index.refresh() and len(index.arcs) == 120
    assert index.load(77)["arc_id"] == "a--cbt--seed77"  # read by seeking to its offset
    source = Source.open(0, path)
    page = run_body(source, ServerLinks(), 3)
    assert "120 arc(s); page 3 of 3" in page and page.count('href="/s0/arc/') == 20
    assert 'href="/s0/?page=2"' in page and "a--cbt--seed119" in page and "a--cbt--seed0<" not in page
    line = json.dumps({**record, "arc_id": "late--cbt--seed0"}) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line[:100])  # a line still being written is not read
    assert not index.refresh() and len(index.arcs) == 120
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line[100:])
    assert index.refresh() and index.arcs[-1].arc_id == "late--cbt--seed0"


def test_the_static_copy_links_only_to_its_own_files(run_dir, tmp_path):
    out = tmp_path / "site"
    result = view(str(run_dir), "--html", str(out))
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()) == out / "index.html"
    pages = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    assert sum(name.startswith("s0-arc-") for name in pages) == 6 and sum("-pair-" in name for name in pages) == 6
    for name, html in pages.items():
        for href in re.findall(r'<a href="([^"]+)"', html):
            assert href in pages, (name, href)
        assert "<script" not in html, name  # no live refresh, no planted script
    again = view(str(run_dir), "--html", str(out))
    assert again.exit_code == 2 and "exists and is not empty (pass --force" in again.stderr
    assert again.exception is None or isinstance(again.exception, SystemExit)
    assert (out / "index.html").exists()
    assert view(str(run_dir), "--html", str(out), "--force").exit_code == 0


def test_the_static_copy_never_replaces_a_run_or_its_sources_and_holds_no_credentials(run_dir, tmp_path):
    for target in (run_dir, run_dir / "site", run_dir.parent):  # the run, inside it, the folder holding it
        refused = view(str(run_dir), "--html", str(target), "--force")
        assert refused.exit_code == 2 and str(target) in refused.stderr, refused.output
    assert (run_dir / "arcs.jsonl").exists() and not (run_dir / "site").exists()
    arcs = read_arcs(run_dir)
    # Arcs from another tool may quote a URL with a password; the copy to share must not.
    arcs[0]["sessions"][0]["turns"][1]["text"] = "I wrote to http://bob:pw-canary-4711@10.0.0.1/v1 for help."
    source = tmp_path / "other.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in arcs), encoding="utf-8")
    out = tmp_path / "site"
    assert view(str(source), "--html", str(out)).exit_code == 0
    pages = [p.read_text(encoding="utf-8") for p in out.iterdir()]
    assert any("http://bob:***@10.0.0.1/v1" in html for html in pages)
    assert not any("pw-canary-4711" in html for html in pages)


def test_bad_sources_are_one_line_and_exit_2(tmp_path):
    missing = view(str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "nope: no such file or folder" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"arc_id": "a"}\nnot json\n', encoding="utf-8")
    result = view(str(bad), "--html", str(tmp_path / "out"))
    assert result.exit_code == 2 and "bad.jsonl: line 2: not JSON" in result.stderr
    assert not (tmp_path / "out").exists()


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8")


def test_the_server_serves_every_page_and_a_live_stamp(run_dir, tmp_path):
    run_dir = Path(shutil.copytree(run_dir, tmp_path / run_dir.name))
    mark_running(run_dir, os.getpid())  # this test process plays the run's writer
    with viewer(run_dir) as address:
        status, headers, html = fetch(address + "s0/")
        assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
        assert "6 arc(s); page 1 of 1" in html and 'name="muspsy-stamp"' in html and "(live" in html
        assert fetch(address)[0] == 200 and fetch(address + "live.js")[0] == 200
        for page in ("arc/0", "pair/0", "arc/5"):
            assert fetch(address + f"s0/{page}")[0] == 200, page
        assert fetch(address + "s0/?strategy=cbt")[2].count('href="/s0/arc/') == 3
        assert fetch(address + "s0/arc/99")[0] == 404 and fetch(address + "s9/")[0] == 404
        stamp = fetch(address + "s0/stamp")[2]
        arcs = read_arcs(run_dir)
        with (run_dir / "arcs.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**arcs[0], "arc_id": "appended--cbt--seed9"}) + "\n")
        wait_for(lambda: fetch(address + "s0/stamp")[2] != stamp)
        assert "appended--cbt--seed9" in fetch(address + "s0/")[2]


def test_markdown_transcripts_escape_model_output(run_dir):
    record = read_arcs(run_dir)[1]
    record["sessions"][0]["turns"][1]["text"] = f"Fine {SCRIPT} {IMAGE}"
    record["sessions"][0]["memo"]["counseling_assignments"] = ["<b>walk</b> daily"]
    text = render_transcript(ArcRecord.model_validate(record))
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;window.__planted = 1" in text and "&lt;b&gt;walk&lt;/b&gt; daily" in text
