"""What LangGraph itself costs per LLM call, before any muspsy code: the floor under target 1
of `throughput.py`.

Runs the same structured request to the fake server (in-process, no latency) N times:
bare `ChatOpenAI`; inside a one-node LangGraph loop without a checkpointer; with muspsy's
SQLite saver (durability sync); and as a subgraph, as muspsy's sessions are. Prints client CPU
per call and the ratio to bare, side by side in one run.

    python benchmarks/langgraph_floor.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph

from muspsy.agents.outputs import ClientTurnOutput
from muspsy.backends.openai_chat import openai_chat_model
from muspsy.checkpointers import LoopSqliteSaver
from muspsy.config import ModelSettings
from muspsy.llm import request_options
from muspsy.testing import FakeOpenAIServer


class LoopState(TypedDict, total=False):
    n: int
    profile: dict[str, str]
    turns: list[dict[str, str]]


async def main(calls: int) -> None:
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        chat = openai_chat_model(ModelSettings(model="m", base_url=server.base_url, max_retries=0, timeout_s=30), "x")
        options = {"extra_body": request_options(ClientTurnOutput, "json_schema")}  # as muspsy sends it
        messages = [HumanMessage("Session 1, turn 2. " + "word " * 400)]

        async def call() -> None:
            reply = await chat.ainvoke(messages, **options)
            ClientTurnOutput.model_validate_json(str(reply.content))

        for _ in range(20):  # warm up connections and caches
            await call()
        cpu = time.process_time()
        for _ in range(calls):
            await call()
        bare = (time.process_time() - cpu) / calls * 1000
        print(f"{'bare ChatOpenAI':<34} {bare:6.2f} ms/call  1.00x")

        async def node(state: LoopState) -> dict[str, Any]:
            await call()
            return {"n": state["n"] + 1, "turns": [*state["turns"][-15:], {"text": "x" * 200}]}

        def loop() -> StateGraph[LoopState]:
            graph = StateGraph(LoopState)
            graph.add_node("node", node)
            graph.add_edge(START, "node")
            graph.add_conditional_edges("node", lambda s: END if s["n"] >= calls else "node")
            return graph

        def nested() -> StateGraph[LoopState]:
            outer = StateGraph(LoopState)
            outer.add_node("inner", loop().compile())
            outer.add_edge(START, "inner")
            outer.add_edge("inner", END)
            return outer

        profile = {f"field{i}": "v" * 50 for i in range(60)}  # about the size of a client profile
        for n, (label, graph, durable) in enumerate(
            [
                ("graph, no checkpointer", loop(), False),
                ("graph, SQLite, durability sync", loop(), True),
                ("subgraph, SQLite, durability sync", nested(), True),
            ]
        ):
            saver = None
            if durable:
                conn = sqlite3.connect(str(Path(tmp) / f"c{n}.sqlite"), check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                saver = LoopSqliteSaver(conn)
                saver.setup()
            compiled = graph.compile(checkpointer=saver)
            extra: dict[str, Any] = {"durability": "sync"} if saver else {}
            cpu = time.process_time()
            await compiled.ainvoke(
                {"n": 0, "profile": profile, "turns": []},
                {"configurable": {"thread_id": "t"}, "recursion_limit": calls + 10},
                **extra,
            )
            per_call = (time.process_time() - cpu) / calls * 1000
            print(f"{label:<34} {per_call:6.2f} ms/call  {per_call / bare:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(main(parser.parse_args().calls))
