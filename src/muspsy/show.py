"""`muspsy show`: one arc's dialogue as a transcript, finished or not.

A finished arc is read from `arcs.jsonl`; a running, interrupted or failed one from its last
checkpoint, down to the last turn of the session in progress. No model is called: the graph
is built with scripted models only to read its state.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from muspsy.agents.spec import load_strategy
from muspsy.checkpointers import open_checkpointer
from muspsy.graphs.arc import build_arc_graph
from muspsy.records import ArcRecord
from muspsy.runfolder import ARCS, RunFolder, RunFolderError, read_lines
from muspsy.testing import scripted_models
from muspsy.transcript import render_partial_transcript, render_transcript


async def arc_transcript(run_dir: Path, arc_id: str, checkpointer: str | None = None) -> str:
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    entry = manifest["arcs"].get(arc_id)
    if entry is None:
        known = ", ".join(manifest["arcs"]) or "none"
        raise RunFolderError(f"{folder.path('manifest.json')}: field arcs: no arc {arc_id} (arcs: {known})")
    for record in read_lines(folder.path(ARCS)):
        if record["arc_id"] == arc_id:
            return render_transcript(ArcRecord.model_validate(record))
    stored = manifest.get("checkpointer", "sqlite")
    if checkpointer is None and stored != "sqlite":
        if "***" in stored:
            raise RunFolderError(f"this run used the checkpointer {stored}: pass --checkpointer with its password")
        checkpointer = stored
    async with AsyncExitStack() as stack:
        saver = await open_checkpointer(stack, folder, checkpointer)
        graph = build_arc_graph(scripted_models(), load_strategy(entry.get("strategy", "cbt"))).compile(
            checkpointer=saver
        )
        thread: Any = {"configurable": {"thread_id": f"{manifest['run_id']}/{arc_id}"}}
        snapshot = await graph.aget_state(thread, subgraphs=True)
    if not snapshot.values.get("profile"):
        return f"arc {arc_id} has not started yet ({entry['status']})\n"
    # The session in progress lives in the session subgraph's own checkpoint.
    current = None
    for task in snapshot.tasks:
        inner = getattr(task.state, "values", None) or {}
        if inner.get("session"):
            current = inner["session"]
    return render_partial_transcript(snapshot.values, current)
