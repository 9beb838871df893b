"""The viewer's sources (run folders or arcs files) and the addresses of its pages.

The same pages are served live (`muspsy view`) and written as static files (`--html DIR`);
only the addresses differ, so page code asks a `Links` object for every address.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from muspsy.status import process_alive
from muspsy.viewer.index import ArcIndex, SourceError, open_source

PAGE_SIZE = 50


@dataclass
class CallIndex:
    """LLM calls per arc and graph node, from a run's `events.jsonl`, read incrementally."""

    path: Path
    calls: dict[str, Counter[str]] = field(default_factory=dict)
    read_up_to: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self) -> None:
        # The server answers requests in threads: one reader at a time, or lines count twice.
        with self._lock:
            self._read_new_lines()

    def _read_new_lines(self) -> None:
        if not self.path.exists() or self.path.stat().st_size <= self.read_up_to:
            return
        with self.path.open("rb") as handle:
            handle.seek(self.read_up_to)
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                self.read_up_to += len(line)
                if b'"llm_call"' not in line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a log line is no reason to refuse to show the run
                arc, node = event.get("arc"), event.get("node")
                if isinstance(arc, str) and isinstance(node, str):
                    self.calls.setdefault(arc, Counter())[node] += 1


@dataclass
class Source:
    """One path given to the viewer: its arcs index and, for a run folder, the folder."""

    number: int
    path: Path
    run_dir: Path | None
    index: ArcIndex
    calls: CallIndex | None

    @classmethod
    def open(cls, number: int, path: Path) -> Source:
        run_dir, index = open_source(path)
        calls = CallIndex(run_dir / "events.jsonl") if run_dir else None
        return cls(number, path, run_dir, index, calls)

    def manifest(self) -> dict[str, Any]:
        if not self.run_dir or not (self.run_dir / "manifest.json").exists():
            return {}
        try:
            data: dict[str, Any] = json.loads((self.run_dir / "manifest.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SourceError(f"{self.run_dir / 'manifest.json'}: not valid JSON: {exc}") from None
        return data

    def failures(self) -> list[dict[str, Any]]:
        """The run's failed attempts (`failed.jsonl`), last first."""
        path = self.run_dir / "failed.jsonl" if self.run_dir else None
        if not path or not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a torn last line of a running run
        return rows[::-1]

    def live(self) -> bool:
        """True while the run's process is still writing to it."""
        manifest = self.manifest()
        attempts = manifest.get("attempts") or [{}]
        pid = attempts[-1].get("pid")
        running = manifest.get("status") == "running" and "ended_at" not in attempts[-1]
        return running and isinstance(pid, int) and process_alive(pid)

    def stamp(self) -> str:
        """Changes whenever the run's files do; live pages poll it."""
        names = ("arcs.jsonl", "manifest.json", "failed.jsonl")
        paths = [self.run_dir / name for name in names] if self.run_dir else [self.path]
        return "-".join(f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths if p.exists())

    def title(self) -> str:
        return str(self.manifest().get("run_id") or self.path.name)

    def refresh(self) -> None:
        self.index.refresh()

    def calls_of(self, arc_id: str) -> Counter[str] | None:
        """LLM calls per node of one arc; `events.jsonl` is read (on from where it was left)
        only when an arc page asks, never for the run page."""
        if not self.calls:
            return None
        self.calls.refresh()
        return self.calls.calls.get(arc_id)


class Links(Protocol):
    def home(self) -> str: ...
    def run(self, source: int, page: int = 1, strategy: str | None = None, end: str | None = None) -> str: ...
    def arc(self, source: int, position: int) -> str: ...
    def pair(self, source: int, position: int) -> str: ...


class ServerLinks:
    """Addresses of the live server."""

    def home(self) -> str:
        return "/"

    def run(self, source: int, page: int = 1, strategy: str | None = None, end: str | None = None) -> str:
        query = {k: v for k, v in (("strategy", strategy), ("end", end), ("page", page)) if v and v != 1}
        return f"/s{source}/" + (f"?{urlencode(query)}" if query else "")

    def arc(self, source: int, position: int) -> str:
        return f"/s{source}/arc/{position}"

    def pair(self, source: int, position: int) -> str:
        return f"/s{source}/pair/{position}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class StaticLinks:
    """File names of the static copy: one flat folder, so every link is relative."""

    def home(self) -> str:
        return "index.html"

    def run(self, source: int, page: int = 1, strategy: str | None = None, end: str | None = None) -> str:
        kind = (f"-strategy-{_slug(strategy)}" if strategy else "") + (f"-end-{_slug(end)}" if end else "")
        return f"s{source}{kind}-p{page}.html"

    def arc(self, source: int, position: int) -> str:
        return f"s{source}-arc-{position}.html"

    def pair(self, source: int, position: int) -> str:
        return f"s{source}-pair-{position}.html"
