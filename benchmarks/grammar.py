"""Why JSON-constrained generation is slower than free text on the embedded model, per variant.

    python benchmarks/grammar.py [--rounds 3] [--prompts runs/RUN/prompts.jsonl]

One embedded llama.cpp server (the settings that ship), the same prompts and seeds for every
variant, variants interleaved round by round so a change of machine load hits them all alike.
Each request starts from an empty cache for its slot (`cache_prompt: false`): only generation
differs between variants. Printed per variant: generated tokens, generation tokens/s (the
server's own `timings`) and its ratio to free text in the same round.

The prompts are the quickstart arc's plan, a counselor turn and the memo (from a run recorded
with `muspsy run ... --record-prompts`, newest under runs/ unless --prompts is given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from muspsy.agents import outputs
from muspsy.backends.embedded import EmbeddedServer
from muspsy.config import EmbeddedSettings
from muspsy.llm import request_options, scaled_bounds

ROOT = Path(__file__).resolve().parent.parent
NODES = [("supervisor", "plan"), ("counselor", "turn"), ("supervisor", "memo")]
SEED = 7


def strip_max_length(node: Any) -> Any:
    """The schema with no string bounds (what a grammar without counted repetitions sees)."""
    if isinstance(node, list):
        return [strip_max_length(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: strip_max_length(value) for key, value in node.items() if key != "maxLength"}


def schema_body(schema: type[Any], transform: Callable[[Any], Any]) -> dict[str, Any]:
    options = request_options(schema, "json_schema")
    json_schema = options["response_format"]["json_schema"]
    return {"response_format": {"type": "json_schema", "json_schema": {**json_schema, "schema": transform(json_schema["schema"])}}}


def variants(schema: type[Any], free_tokens: int) -> dict[str, dict[str, Any]]:
    """name -> request fields on top of the shipped ones (repeat_penalty 1.2, temperature 0.7)."""
    compact = schema_body(schema, lambda s: scaled_bounds(s, 0.5))
    return {
        "free text": {"max_tokens": free_tokens},
        "schema, compact bounds (shipped)": compact,
        "schema, full bounds": schema_body(schema, lambda s: s),
        "schema, no maxLength": schema_body(schema, strip_max_length),
        "compact, repeat_penalty 1.0": {**compact, "repeat_penalty": 1.0},
        "compact, top_k 1": {**compact, "top_k": 1},
        "compact, temperature 0": {**compact, "temperature": 0.0},
        "compact, backend_sampling": {**compact, "backend_sampling": True},
    }


def latest_prompts() -> Path:
    found = sorted(ROOT.glob("runs/*/prompts.jsonl"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit("no runs/*/prompts.jsonl: run `muspsy run profiles/hannah-work-anxiety.yaml --record-prompts` first")
    return found[-1]


def pick_prompts(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.open()]
    picked = []
    for role, node in NODES:
        record = next((r for r in records if r["role"] == role and r["node"] == node), None)
        if record is not None:
            picked.append(record)
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=Path, help="a prompts.jsonl (default: the newest under runs/)")
    parser.add_argument("--only", help="comma-separated variant names to run (default: all)")
    args = parser.parse_args()
    prompts = pick_prompts(args.prompts or latest_prompts())
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}
    with EmbeddedServer(EmbeddedSettings()) as server, httpx.Client(base_url=server.base_url, timeout=3600) as http:
        print(f"server threads {server.threads}; prompts: {', '.join(p['role'] + '/' + p['node'] for p in prompts)}")
        for round_ in range(args.rounds):
            for record in prompts:
                schema = getattr(outputs, record["schema"])
                free_rate = 0.0
                for name, fields in variants(schema, 250).items():
                    if args.only and name not in args.only.split(",") and name != "free text":
                        continue
                    body = {
                        "model": "local",
                        "messages": record["messages"],
                        "temperature": 0.7,
                        "max_tokens": 900,
                        "repeat_penalty": 1.2,
                        "seed": SEED + round_,
                        "cache_prompt": False,
                        **fields,
                    }
                    started = time.perf_counter()
                    reply = http.post("/chat/completions", json=body).json()
                    timings = reply.get("timings", {})
                    rate = timings.get("predicted_per_second", 0.0)
                    if name == "free text":
                        free_rate = rate
                    key = name
                    rates.setdefault(key, []).append(rate)
                    ratios.setdefault(key, []).append(rate / free_rate if free_rate else 0.0)
                    tokens.setdefault(key, []).append(timings.get("predicted_n", 0))
                    print(
                        f"  round {round_ + 1} {record['node']:<5} {name:<34} {timings.get('predicted_n', 0):4d} tokens "
                        f"{rate:6.1f} tok/s  wall {time.perf_counter() - started:6.1f} s",
                        flush=True,
                    )
    print("\nvariant                             tokens  tok/s (median)  ratio to free text (median)")
    for name in rates:
        print(
            f"{name:<34} {sum(tokens[name]):7d} {statistics.median(rates[name]):10.1f} "
            f"{statistics.median(ratios[name]):14.2f}"
        )


if __name__ == "__main__":
    main()
