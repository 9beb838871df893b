"""Red-team figures: muspsy tried as a careless or hurried user would, against the fake OpenAI
server (no network). Prints, in one run:

1. kills survived: `kill -9` at random moments of a run, then `resume`; arcs lost, duplicated
   or torn in `arcs.jsonl`;
2. concurrent processes on one run folder: resumes started while a run goes on, and several
   resumes at once; how many refused, and duplicate arc lines;
3. bad inputs: a catalogue of misuse (profiles, configs, run folders, paths, options, URLs);
   how many end with exit 2 and one error line, and how many with a traceback;
4. secrets on disk: canary keys and URL credentials, and a server echoing them; occurrences
   in every file written and on stdout/stderr.

    python benchmarks/redteam.py            # the full run (several minutes)
    python benchmarks/redteam.py --quick    # fewer kills, for a smoke check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from muspsy.testing import FakeOpenAIServer

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
PROFILE = PROFILES / "hannah-work-anxiety.yaml"
SMALL = ["--sessions-max", "2", "--turns-max", "7"]
KEY = "sk-redteamCANARY0123456789"
URL_PASSWORD = "pw-redteam-canary"
QUERY_KEY = "qk-redteam-canary"


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}


def muspsy(
    *args: str, extra_env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["muspsy", *args], capture_output=True, text=True, env={**env(), **(extra_env or {})}, timeout=timeout
    )


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["muspsy", *args], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_running(runs: Path, process: subprocess.Popen[str], timeout: float = 120) -> Path | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for manifest in runs.glob("*/manifest.json"):
            try:
                data = json.loads(manifest.read_text())
            except ValueError:
                continue
            ours = data["attempts"] and data["attempts"][-1]["pid"] == process.pid
            # Arcs that start running are in the ledger (arc_states.jsonl), not the manifest.
            ledger = manifest.parent / "arc_states.jsonl"
            started = ledger.exists() and '"status": "running"' in ledger.read_text(encoding="utf-8")
            if ours and data["status"] == "running" and started:
                return manifest.parent
        time.sleep(0.05)
    return None


def arc_lines(run_dir: Path) -> tuple[list[str], int]:
    """Arc ids in arcs.jsonl and the number of lines that are not JSON (torn)."""
    ids, torn = [], 0
    for line in (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            ids.append(json.loads(line)["arc_id"])
        except ValueError:
            torn += 1
    return ids, torn


def kills(workdir: Path, count: int, postgres: str | None) -> None:
    kills_with(workdir, count, None)
    if postgres:
        kills_with(workdir, count, postgres)


def kills_with(workdir: Path, count: int, checkpointer: str | None) -> None:
    rng = random.Random(11)
    runs = workdir / f"kills-{'pg' if checkpointer else 'sqlite'}"
    extra = ["--checkpointer", checkpointer] if checkpointer else []
    with FakeOpenAIServer(latency_s=0.05) as server:
        process = spawn(
            "run", str(PROFILES), "--backend", "openai", "--base-url", server.base_url, "--arcs-per-profile", "2",
            "--concurrency", "4", *SMALL, "--quiet", "--runs-dir", str(runs), *extra,
        )  # fmt: skip
        run_dir, survived = None, 0
        for _ in range(count):
            found = wait_running(runs, process)
            if found is None:
                break
            run_dir = found
            time.sleep(rng.uniform(0.0, 1.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                survived += 1
            process = spawn("resume", str(run_dir), "--quiet")
        process.communicate(timeout=900)
    if run_dir is None:
        print("  kills: the run ended before it could be killed")
        return
    ids, torn = arc_lines(run_dir)
    planned = len(json.loads((run_dir / "manifest.json").read_text())["arcs"])
    print(
        f"  {'postgres' if checkpointer else 'sqlite'}: {survived} kill -9 survived; {planned} arcs planned, "
        f"{len(set(ids))} written, {planned - len(set(ids))} lost, {len(ids) - len(set(ids))} duplicated, {torn} torn"
    )


def concurrent(workdir: Path) -> None:
    runs = workdir / "concurrent"
    with FakeOpenAIServer(latency_s=1.0) as server:
        process = spawn(
            "run", str(PROFILES), "--backend", "openai", "--base-url", server.base_url, "--concurrency", "2",
            *SMALL, "--quiet", "--runs-dir", str(runs),
        )  # fmt: skip
        run_dir = wait_running(runs, process)
        assert run_dir is not None
        others = [spawn("resume", str(run_dir), "--quiet") for _ in range(3)]
        refused = sum(
            1 for p in others if p.wait(timeout=300) == 2 and "in use by" in (p.stderr.read() if p.stderr else "")
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        both = [spawn("resume", str(run_dir), "--quiet") for _ in range(3)]
        time.sleep(5)
        server.latency_s = 0.0
        codes = [p.wait(timeout=600) for p in both]
    ids, torn = arc_lines(run_dir)
    print(
        f"  3 resumes during a run: {refused} refused; then 3 resumes at once: {codes.count(0)} ran, "
        f"{codes.count(2)} refused; {len(ids)} arc lines for {len(set(ids))} arcs, {torn} torn"
    )


def profile_text(**changes: object) -> str:
    data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True)


def bad_inputs(workdir: Path) -> None:
    root = workdir / "bad"
    root.mkdir()
    finished = muspsy("run", str(PROFILE), "--backend", "scripted", *SMALL, "--quiet", "--runs-dir", str(root / "ok"))
    good = Path(finished.stdout.strip())
    runs = str(root / "r")
    (root / "file").write_text("x")
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "fifo.yaml")

    def write(name: str, text: str) -> str:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return str(path)

    def damaged(name: str, file: str, content: bytes | None) -> str:
        run = root / "damaged" / name
        shutil.copytree(good, run, ignore=shutil.ignore_patterns(".lock"))
        if content is None:
            (run / file).unlink()
        else:
            (run / file).write_bytes(content)
        return str(run)

    bomb = "  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    profiles = {
        "long id": profile_text(id="a" * 230),
        "alias bomb in extra": profile_text(extra={}).replace("extra: {}\n", "extra:\n" + bomb),
        "share_from_session past 64 bits": profile_text(private_history=[{"fact": "f", "share_from_session": 10**30}]),
        "age as text": profile_text(age="forty"),
        "not a mapping": "- a\n- b\n",
        "malformed": "id: [unclosed\n",
        "binary": "\x00\x01\x02",
        "empty": "",
        "deep nesting": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    }
    cases = {
        f"profile: {n}": ["profiles", "validate", write(f"p/{i}/p.yaml", t)]
        for i, (n, t) in enumerate(profiles.items())
    }
    cases["profile: a FIFO"] = ["profiles", "validate", str(root / "fifo.yaml")]
    cases["profile: missing"] = ["profiles", "validate", str(root / "nowhere.yaml")]
    run = ["run", str(PROFILE), "--backend", "scripted", "--quiet", *SMALL]
    configs = {
        "seed past 64 bits": "seed: 100000000000000000000000\n",
        "negative concurrency": "concurrency: -1\n",
        "a key in api_key_env": f"models:\n  default:\n    api_key_env: {KEY}\n",
        "unknown field": "sessions: 3\n",
        "binary": "\udcff\udcfe\x00",
        "a list": "- 1\n",
        "alias bomb": "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n",
        "max_tokens past 64 bits": "models:\n  default:\n    max_tokens: 1000000000000000000000\n",
    }
    for i, (name, text) in enumerate(configs.items()):
        cases[f"config: {name}"] = [*run, "--config", write(f"c/{i}.yaml", text), "--runs-dir", runs]
    odd = {"a file": "file", "under a file": "file/runs", "a symlink loop": "loop", "a 300-character name": "n" * 300}
    for name, path in odd.items():
        cases[f"--runs-dir {name}"] = [*run, "--runs-dir", str(root / path)]
    cases["--runs-dir /dev/null"] = [*run, "--runs-dir", "/dev/null"]
    for option, value in {"--seed": str(2**70), "--concurrency": "0", "--sessions-max": "999999999999"}.items():
        cases[f"option {option} {value}"] = [*run, option, value, "--runs-dir", runs]
    damage = {
        "garbage checkpoints.sqlite": ("checkpoints.sqlite", b"not a database" * 100),
        "a manifest of the wrong shape": ("manifest.json", b'{"schema": "muspsy.manifest/1", "arcs": []}'),
        "a manifest that is not JSON": ("manifest.json", b"{"),
        "{} as the last arcs line": ("arcs.jsonl", (good / "arcs.jsonl").read_bytes() + b"{}\n"),
        "no profiles.jsonl": ("profiles.jsonl", None),
        "no manifest": ("manifest.json", None),
    }
    for i, (name, (file, content)) in enumerate(damage.items()):
        cases[f"status: {name}"] = ["status", damaged(f"s{i}", file, content)]
        cases[f"resume: {name}"] = ["resume", damaged(f"r{i}", file, content), "--quiet"]
        cases[f"export: {name}"] = ["export", damaged(f"e{i}", file, content), "-f", "openai", "-o", f"{runs}{i}.jsonl"]
    outputs = {
        "its own arcs.jsonl": good / "arcs.jsonl",
        "its manifest": good / "manifest.json",
        "under a file": root / "file" / "o.jsonl",
        "a 300-character name": root / ("o" * 300),
        "a symlink loop": root / "loop",
    }
    for name, out in outputs.items():
        cases[f"export onto {name}"] = ["export", str(good), "-f", "openai", "-o", str(out), "--force"]
    cases["parquet onto the run folder"] = ["export", str(good), "-f", "parquet", "-o", str(good), "--force"]
    cases["an existing export, no --force"] = ["export", str(good), "-f", "openai", "-o", str(root / "file")]
    cases["evaluate a duplicated arc"] = ["evaluate", str(good), str(good / "arcs.jsonl"), "--no-judges"]
    cases["compare into the run folder"] = ["compare", str(good), "-o", str(good)]
    urls = {
        "not postgres": "mysql://x@y/z",
        "malformed": "postgresql://[",
        "unreachable": "postgresql://u:p@127.0.0.1:1/d",
    }
    for name, url in urls.items():
        cases[f"checkpointer {name}"] = [*run, "--checkpointer", url, "--runs-dir", runs]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    cases["a dead endpoint"] = [
        "run",
        str(PROFILE),
        "--backend",
        "openai",
        "--base-url",
        dead,
        "-q",
        "--runs-dir",
        runs,
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cases["fake-llm port in use"] = ["dev", "fake-llm", "--port", str(taken.getsockname()[1])]
        refused = unharmed = tracebacks = 0
        for name, args in cases.items():
            result = muspsy(*args, timeout=120)
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            if "Traceback" in result.stderr:
                tracebacks += 1
                print(f"    traceback: {name}")
            elif result.returncode == 2 and len(errors) == 1:
                refused += 1
            elif result.returncode == 0:
                unharmed += 1  # the command does not need what was damaged (status reads no checkpoints)
                print(f"    exit 0 (nothing it needs was damaged): {name}")
            else:
                print(f"    neither: {name}: exit {result.returncode}: {result.stderr.strip()[:200]}")
    orphans = list((root / "r").glob("*/manifest.json"))
    print(
        f"  {len(cases)} bad inputs: {refused} refused with one line and exit 2, {unharmed} exit 0, "
        f"{tracebacks} tracebacks, {len(cases) - refused - unharmed - tracebacks} other; "
        f"{len(orphans)} orphan run folders"
    )


class Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        data = json.dumps({"error": {"message": f"bad {self.path} key {KEY} {URL_PASSWORD}"}}).encode()
        self.send_response(400)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


def secrets(workdir: Path) -> None:
    root = workdir / "secrets"
    streams: list[str] = []
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    key_env = {"OPENAI_API_KEY": KEY}

    def with_credentials(url: str, query: bool) -> str:
        return url.replace("http://", f"http://u:{URL_PASSWORD}@") + (f"?api-key={QUERY_KEY}" if query else "")

    echo_url = with_credentials(f"http://127.0.0.1:{echo.server_address[1]}/v1", True)
    result = muspsy(
        "run", str(PROFILE), "--backend", "openai", "--base-url", echo_url, *SMALL, "--runs-dir", str(root / "echo"),
        extra_env=key_env,
    )  # fmt: skip
    streams += [result.stdout, result.stderr]
    echo.shutdown()
    with FakeOpenAIServer() as server:
        result = muspsy(
            "run", str(PROFILE), "--backend", "openai", "--base-url", with_credentials(server.base_url, False),
            *SMALL, "--runs-dir", str(root / "ok"), extra_env=key_env,
        )  # fmt: skip
    streams += [result.stdout, result.stderr]
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    for fmt in ("openai", "parquet", "muspsy-raw"):
        exported = muspsy("export", str(run_dir), "-f", fmt, "-o", str(root / "exports" / fmt))
        streams += [exported.stdout, exported.stderr]
    evaluated = muspsy("evaluate", str(run_dir), "--backend", "scripted", "-q")
    streams += [evaluated.stdout, evaluated.stderr]
    files = [p for p in root.rglob("*") if p.is_file()]
    on_disk = sum(p.read_bytes().count(c.encode()) for p in files for c in (KEY, URL_PASSWORD, QUERY_KEY))
    printed = sum(s.count(c) for s in streams for c in (KEY, URL_PASSWORD, QUERY_KEY))
    print(f"  secrets: {on_disk} canary occurrences in {len(files)} files written, {printed} on stdout/stderr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="Fewer kills (a smoke check).")
    parser.add_argument("--postgres", help="A postgresql:// URL: also kill and resume on Postgres.")
    parser.add_argument("--only", choices=["kills", "concurrent", "bad-inputs", "secrets"], help="One part only.")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="muspsy-redteam-"))
    try:
        kill_count = 3 if options.quick else 12
        parts = {
            "kills": (
                "1. kill -9 at random moments, then resume",
                lambda: kills(workdir, kill_count, options.postgres),
            ),
            "concurrent": ("2. several processes on one run folder", lambda: concurrent(workdir)),
            "bad-inputs": ("3. bad inputs", lambda: bad_inputs(workdir)),
            "secrets": ("4. secrets", lambda: secrets(workdir)),
        }
        for name, (title, part) in parts.items():
            if options.only in (None, name):
                print(title, flush=True)
                part()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
