"""Case-report extraction: one structured call per report on any backend; on the scripted one
it writes valid profiles with the report's provenance, and bad reports or bad model output are
reported, never written."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from conftest import REPO
from muspsy import backends
from muspsy.config import RunConfig
from muspsy.extract import (
    ExtractedProfileOutput,
    ExtractionFailed,
    extract_profiles,
    extraction_view,
    read_report,
    template,
)
from muspsy.importers import ImportDataError
from muspsy.importers.common import sha256_file
from muspsy.profiles import load_profile
from muspsy.testing import default_responder

REPORTS = REPO / "tests" / "fixtures" / "import" / "reports"
EN, ZH = REPORTS / "ines-exam-panic.md", REPORTS / "zhao-insomnia.txt"
SCRIPTED = RunConfig(backend="scripted")


def muspsy(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(["muspsy", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.cli
def test_cli_extracts_one_valid_profile_per_report_with_provenance(tmp_path: Path) -> None:
    out = tmp_path / "profiles"
    result = muspsy(
        *("profiles", "extract", EN, ZH, "-o", out, "--backend", "scripted"),
        *("--source-url", "https://example.org/cases", "--license", "CC-BY-4.0"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(out / "ines-exam-panic.yaml"), str(out / "zhao-insomnia.yaml")]
    ines, zhao = (load_profile(out / f"{name}.yaml") for name in ("ines-exam-panic", "zhao-insomnia"))
    assert (ines.language, zhao.language) == ("en", "zh")
    assert (ines.name, ines.age, zhao.age) == ("Ines", 21, 46)
    for profile, report in ((ines, EN), (zhao, ZH)):
        assert profile.provenance.kind == "case_report"
        assert profile.provenance.source == f"case report: {report.name}"
        assert profile.provenance.source_sha256 == sha256_file(report)
        assert profile.provenance.url == "https://example.org/cases"
        assert profile.provenance.license == "CC-BY-4.0"
        assert profile.extra["extraction"]["model"] == "scripted"
        assert profile.extra["extraction"]["prompt_sha256"] == template().sha256


@pytest.mark.cli
def test_cli_bad_report_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "report.pdf"
    bad.write_text("not a text report", encoding="utf-8")
    result = muspsy("profiles", "extract", EN, bad, "-o", tmp_path / "out", "--backend", "scripted", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: not a case report: expected a .txt, .md, .markdown file"
    ]
    assert not (tmp_path / "out").exists()  # the good report was not half-processed either


@pytest.mark.unit
def test_empty_report_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ImportDataError, match=r"empty\.md: empty file"):
        read_report(empty)


@pytest.mark.unit
def test_the_prompt_renders_with_exactly_its_view() -> None:
    report = read_report(ZH)
    values = {**extraction_view(report), "response_format": "Reply with one JSON object and nothing else."}
    assert set(values) == set(template().variables)
    text = template().render(values)
    assert report.text in text and "Simplified Chinese" in text and "{{" not in text


@pytest.mark.unit
def test_bad_model_output_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def broken(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | str:
        calls.append(schema)
        return {"name": "Ines"}  # misses every other required field

    monkeypatch.setattr(backends, "default_responder", broken)
    config = SCRIPTED.model_copy(update={"structured_retries": 1})
    with pytest.raises(ExtractionFailed, match=r"ines-exam-panic\.md: .*no valid ExtractedProfileOutput after 2"):
        asyncio.run(extract_profiles([EN], config))
    assert calls == ["ExtractedProfileOutput", "ExtractedProfileOutput"]


@pytest.mark.unit
def test_scripted_reply_fits_the_schema() -> None:
    prompt = template().render({**extraction_view(read_report(EN)), "response_format": "JSON"})
    reply = default_responder("ExtractedProfileOutput", [HumanMessage(prompt)])
    parsed = ExtractedProfileOutput.model_validate(reply)
    assert parsed.name == "Ines" and parsed.age == 21 and parsed.gender == "female"


@pytest.mark.unit
def test_a_failing_endpoint_is_reported_per_report(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | str:
        raise ConnectionError("endpoint unreachable")

    monkeypatch.setattr(backends, "default_responder", down)
    with pytest.raises(ExtractionFailed, match=r"zhao-insomnia\.txt: model call failed: ConnectionError: endpoint"):
        asyncio.run(extract_profiles([ZH], SCRIPTED))
