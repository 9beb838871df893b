"""The viewer on a large run: index build, page render times and memory for N arcs.

Writes an arcs file of N copies of one scripted arc (ids and seeds varied, so pairs exist),
then times what `muspsy view` does: indexing the file (and re-indexing after one more line),
the first and the last page of the arc list, a filtered page, an arc page and a pair page.
Memory is the growth of the process's peak RSS while indexing.

    python benchmarks/viewer.py [--arcs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from muspsy.config import Limits
from muspsy.profiles import load_profile
from muspsy.simulate import simulate_arc
from muspsy.testing import scripted_models
from muspsy.viewer.arc_page import arc_body
from muspsy.viewer.pair_page import pair_body
from muspsy.viewer.run_page import run_body
from muspsy.viewer.site import ServerLinks, Source

PROFILE = Path(__file__).resolve().parent.parent / "profiles" / "graham-chronic-pain-risk.yaml"


def timed(what: str, work: Callable[[], object]) -> None:
    start = time.perf_counter()
    result = work()
    size = f" ({len(result) / 1024:.0f} KiB of HTML)" if isinstance(result, str) else ""
    print(f"  {what:<38} {1000 * (time.perf_counter() - start):8.1f} ms{size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arcs", type=int, default=10_000)
    args = parser.parse_args()
    limits = Limits(sessions_min=2, sessions_max=4, turns_min=5, turns_max=11)
    record = asyncio.run(simulate_arc(load_profile(PROFILE), scripted_models(), limits=limits)).model_dump(
        mode="json", by_alias=True
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "arcs.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for n in range(args.arcs):
                strategy = ("cbt", "motivational_interviewing")[n % 2]
                seed = n // 2
                arc = {**record, "arc_id": f"graham--{strategy}--seed{seed}", "strategy": strategy}
                arc["provenance"] = {**record["provenance"], "seed": seed}
                handle.write(json.dumps(arc, ensure_ascii=False) + "\n")
        mib = path.stat().st_size / 2**20
        print(f"{args.arcs} arcs, {mib:.0f} MiB arcs.jsonl, one record {len(json.dumps(record)) / 1024:.0f} KiB")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        source = Source.open(0, path)
        print(f"  {'index the file':<38} {1000 * (time.perf_counter() - start):8.1f} ms")
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"  {'peak RSS growth while indexing':<38} {(rss_after - rss_before) / 1024:8.1f} MiB")
        links, last = ServerLinks(), -(-args.arcs // 50)
        timed("refresh, nothing new", source.refresh)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**record, "arc_id": "late--cbt--seed0"}) + "\n")
        timed("refresh, one line appended", source.refresh)
        timed("run page 1", lambda: run_body(source, links, 1))
        timed(f"run page {last}", lambda: run_body(source, links, last))
        timed("run page 1, strategy filter", lambda: run_body(source, links, 1, "cbt"))
        timed("arc page (first use builds the graphs)", lambda: arc_body(source, links, args.arcs // 2))
        timed("arc page", lambda: arc_body(source, links, args.arcs // 2 + 1))
        timed("pair page", lambda: pair_body(source, links, args.arcs // 2))


if __name__ == "__main__":
    main()
