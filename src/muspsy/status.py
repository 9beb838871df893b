"""`muspsy status`: where a run stands, read from its folder alone (no model, no checkpoints)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from muspsy.runfolder import RunFolder
from muspsy.runledger import current_arcs
from muspsy.runlock import run_in_use


def process_alive(pid: int | None) -> bool:
    """Whether a process `pid` exists (the viewer's test of a run's writer; `run_status`
    asks the run folder's lock, which a reused pid cannot fool)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(run_dir: Path) -> str:
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    torn: list[Path] = []
    arcs = current_arcs(folder, manifest, on_torn=torn.append)
    attempts = manifest.get("attempts", [])
    last = attempts[-1] if attempts else {}
    live = manifest["status"] == "running" and "ended_at" not in last and run_in_use(folder.root)
    states: dict[str, str] = {}
    for arc, entry in arcs.items():
        state = entry["status"]
        if state == "running" and not live:
            state = "interrupted"
        states[arc] = state
    counts = Counter(states.values())
    run_state = manifest["status"] if live or manifest["status"] != "running" else "interrupted"
    lines = [
        f"run {manifest['run_id']}: {run_state} ({manifest['backend']} backend, {len(attempts)} attempt(s))",
        "arcs: "
        + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("finished", "running", "interrupted", "failed", "pending"))
        + f" of {len(states)}",
    ]
    by_strategy = _by_strategy(arcs, states)
    if len(by_strategy) > 1:  # a paired run: how far each strategy got
        lines.append(
            "by strategy: "
            + "; ".join(f"{name} {done} finished of {total}" for name, (done, total) in by_strategy.items())
        )
    for arc, state in states.items():
        if state == "failed":
            lines.append(f"  failed {arc}: {arcs[arc].get('error', '')}")
        elif state in ("running", "interrupted"):
            worker = arcs[arc].get("worker", "local")
            lines.append(f"  {state} {arc}" + (f" (on {worker})" if worker != "local" else ""))
    if torn:
        lines.append(f"{torn[0]}: a torn last line was ignored (a killed process); resume repairs it")
    if run_state != "completed" and counts.get("finished", 0) < len(states) and not live:
        lines.append(f"continue with: muspsy resume {run_dir}")
    return "\n".join(lines)


def _by_strategy(arcs: dict[str, dict[str, str]], states: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Strategy -> (finished, planned) arcs; manifests from before paired runs have one strategy."""
    counts: dict[str, tuple[int, int]] = {}
    for arc, entry in arcs.items():
        done, total = counts.get(entry.get("strategy", "?"), (0, 0))
        counts[entry.get("strategy", "?")] = (done + (states[arc] == "finished"), total + 1)
    return counts
