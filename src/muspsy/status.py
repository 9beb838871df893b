"""`muspsy status`: where a run stands, read from its folder alone (no model, no checkpoints)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from muspsy.runfolder import RunFolder
from muspsy.runlock import run_in_use


def run_status(run_dir: Path) -> str:
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    torn: list[Path] = []
    finished = folder.finished_arc_ids(on_torn=torn.append)
    attempts = manifest.get("attempts", [])
    last = attempts[-1] if attempts else {}
    live = manifest["status"] == "running" and "ended_at" not in last and run_in_use(folder.root)
    states: dict[str, str] = {}
    for arc, entry in manifest["arcs"].items():
        # arcs.jsonl is the truth: a manifest that says finished ran ahead of it when the process died.
        state = "finished" if arc in finished else entry["status"].replace("finished", "pending")
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
    by_strategy = _by_strategy(manifest["arcs"], states)
    if len(by_strategy) > 1:  # a paired run: how far each strategy got
        lines.append(
            "by strategy: "
            + "; ".join(f"{name} {done} finished of {total}" for name, (done, total) in by_strategy.items())
        )
    for arc, state in states.items():
        if state == "failed":
            lines.append(f"  failed {arc}: {manifest['arcs'][arc].get('error', '')}")
        elif state in ("running", "interrupted"):
            lines.append(f"  {state} {arc}")
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
