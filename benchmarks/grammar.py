"""Why JSON-constrained generation is slower than free text on the embedded model, per variant.

    python benchmarks/grammar.py [--rounds 3] [--prompts runs/RUN/prompts.jsonl]

One embedded llama.cpp server (the settings that ship), the same prompts and seeds for every
variant, variants interleaved round by round so a change of machine load hits them all alike.
Each request starts from an empty cache for its slot (`cache_prompt: false`): only generation
differs between variants. Printed per variant: generated tokens, generation tokens/s (the
server's own `timings`), its ratio to free text in the same round, and completion tokens per
second of the whole call (prompt processing included: what dividing a call's completion tokens
by its latency gives). Also printed: which grammar engine the server compiles a JSON schema for
(`json_schema_to_grammar`: a `%llguidance` grammar is LLGuidance's, else llama.cpp's GBNF).

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
from muspsy.backends import COMPACT_LENGTH_SCALE
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
    json_schema = request_options(schema, "json_schema")["response_format"]["json_schema"]
    sent = {**json_schema, "schema": transform(json_schema["schema"])}
    return {"response_format": {"type": "json_schema", "json_schema": sent}}


def grammar_engine(schema: type[Any]) -> str:
    import xllamacpp

    grammar = xllamacpp.json_schema_to_grammar(json.dumps(schema.model_json_schema()))
    return "LLGuidance" if grammar.startswith("%llguidance") else f"GBNF ({len(grammar)} characters)"


def variants(schema: type[Any], free_tokens: int) -> dict[str, dict[str, Any]]:
    """name -> request fields on top of the shipped ones (repeat_penalty 1.2, temperature 0.7)."""
    compact = schema_body(schema, lambda s: scaled_bounds(s, COMPACT_LENGTH_SCALE))
    return {
        "free text": {"max_tokens": free_tokens},
        "schema, compact bounds (shipped)": compact,
        "schema, bounds at 0.5": schema_body(schema, lambda s: scaled_bounds(s, 0.5)),
        "schema, full bounds": schema_body(schema, lambda s: s),
        "schema, no maxLength": schema_body(schema, strip_max_length),
        "compact, repeat_penalty 1.0": {**compact, "repeat_penalty": 1.0},
        "compact, top_k 1": {**compact, "top_k": 1},
        "compact, backend_sampling": {**compact, "backend_sampling": True},
    }


def latest_prompts() -> Path:
    found = sorted(ROOT.glob("runs/*/prompts.jsonl"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit("no runs/*/prompts.jsonl: first run `muspsy run ... --record-prompts` (see --help)")
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
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the cores free at start)")
    args = parser.parse_args()
    prompts = pick_prompts(args.prompts or latest_prompts())
    rates: dict[str, list[float]] = {}
    call_rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    tokens: dict[str, list[int]] = {}
    settings = EmbeddedSettings(threads=args.threads)
    with EmbeddedServer(settings) as server, httpx.Client(base_url=server.base_url, timeout=3600) as http:
        print(f"server threads {server.threads}; prompts: {', '.join(p['role'] + '/' + p['node'] for p in prompts)}")
        for record in prompts:
            print(f"  {record['schema']}: JSON schema compiled to {grammar_engine(getattr(outputs, record['schema']))}")
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
                    seconds = time.perf_counter() - started
                    timings = reply.get("timings", {})
                    rate = timings.get("predicted_per_second", 0.0)
                    if name == "free text":
                        free_rate = rate
                    rates.setdefault(name, []).append(rate)
                    ratios.setdefault(name, []).append(rate / free_rate if free_rate else 0.0)
                    generated = timings.get("predicted_n", 0)
                    tokens.setdefault(name, []).append(generated)
                    call_rates.setdefault(name, []).append(generated / seconds)
                    print(
                        f"  round {round_ + 1} {record['node']:<5} {name:<34} {generated:4d} tokens "
                        f"{rate:6.1f} tok/s  call {seconds:6.1f} s (prompt {timings.get('prompt_n', 0)} tokens)",
                        flush=True,
                    )
    print("\nvariant                            tokens  generation tok/s  ratio to free  whole-call tok/s (medians)")
    for name in rates:
        print(
            f"{name:<34} {sum(tokens[name]):6d} {statistics.median(rates[name]):12.1f} "
            f"{statistics.median(ratios[name]):14.2f} {statistics.median(call_rates[name]):14.1f}"
        )


if __name__ == "__main__":
    main()
