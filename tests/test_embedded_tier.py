"""How the embedded tier is set up, without starting the model: threads, slots, timeouts,
short limits, compact windows and answer bounds."""

from __future__ import annotations

import json
import os

import pytest

from muspsy.agents.outputs import AllianceQuestionnaireOutput, MemoOutput, PlanOutput
from muspsy.agents.spec import load_specs
from muspsy.backends import embedded_request_fields
from muspsy.backends.embedded import (
    busy_between,
    busy_cores,
    expected_time,
    free_cores,
    quiet_openmp_threads,
    slot_of,
    thread_count,
)
from muspsy.config import (
    BACKEND_DEFAULTS,
    EmbeddedSettings,
    RunConfig,
    build_config,
    fingerprint,
    resolved,
    role_settings,
)
from muspsy.llm import request_options
from muspsy.records import ROLES

pytestmark = pytest.mark.unit


def test_threads_follow_the_free_cores_unless_configured():
    assert free_cores(total=2, busy=0.2) == 2
    assert free_cores(total=2, busy=1.4) == 1
    assert free_cores(total=2, busy=9.0) == 1  # never none
    assert thread_count(EmbeddedSettings(threads=3)) == 3
    assert thread_count(EmbeddedSettings(threads=0)) == -1  # llama.cpp's own choice
    assert 1 <= thread_count(EmbeddedSettings()) <= free_cores(busy=0)


def test_busy_cores_are_read_from_two_cpu_time_readings_not_the_load_average():
    # (busy, total) jiffies summed over 2 CPUs: 150 of 200 jiffies busy is 1.5 CPUs.
    assert busy_between((1_000, 10_000), (1_150, 10_200), cpus=2) == 1.5
    assert busy_between((1_000, 10_000), (1_000, 10_000), cpus=2) == 0.0  # no time passed
    assert 0.0 <= busy_cores(sample_s=0.05) <= (os.cpu_count() or 1)


def test_openmp_threads_sleep_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    quiet_openmp_threads()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    quiet_openmp_threads()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_each_role_keeps_its_own_cached_slot():
    config = RunConfig()
    fields = [embedded_request_fields(role, config) for role in ROLES]
    assert all(f["cache_prompt"] for f in fields)
    slots = {role: f["id_slot"] for role, f in zip(ROLES, fields, strict=True)}
    assert sorted({slots["client"], slots["counselor"], slots["supervisor"]}) == [0, 1, 2]
    # Once a week, between sessions: not the supervisor's slot, whose plan and memories the next
    # memo and decision reuse.
    assert slots["director"] == slots["client"]
    unpinned = RunConfig(embedded={"slot_per_role": False})
    assert all("id_slot" not in embedded_request_fields(role, unpinned) for role in ROLES)
    assert slot_of("supervisor", EmbeddedSettings(parallel=2)) == 0  # fewer slots than roles: they share


def test_a_local_server_gets_no_timeout_that_throws_work_away_and_no_retries():
    for s in role_settings(RunConfig(), "embedded").values():
        assert s.timeout_s is not None and s.timeout_s >= 3600
        assert s.max_retries == 0


def test_short_limits_on_the_embedded_model_unless_configured():
    def limits(data):
        return resolved(build_config(data, "test"), {}).limits

    short = limits({})
    assert (short.sessions_max, short.turns_max) == (2, 7)
    given = limits({"limits": {"sessions_max": 4}})
    assert (given.sessions_max, given.turns_max) == (4, 7)
    assert limits({"limits": {"turns_min": 10}}).turns_max == 10  # what was given holds
    assert limits({"backend": "scripted"}).sessions_max == 6  # other backends keep the defaults
    # A resume reads the resolved limits back: they stay as they were.
    stored = resolved(build_config({}, "test"), {}).model_dump(mode="json")
    assert resolved(build_config(stored, "manifest"), {}).limits == short


def test_server_layout_does_not_change_the_fingerprint_but_compactness_does():
    base = fingerprint(resolved(RunConfig(), {}))
    assert fingerprint(resolved(RunConfig(embedded={"threads": 1, "parallel": 2}), {})) == base
    assert fingerprint(resolved(RunConfig(embedded={"compact": False}), {})) != base


def test_compact_windows_and_answer_bounds():
    full, compact = load_specs(ROLES), load_specs(ROLES, compact=True)
    assert compact["counselor"].settings.recent_turns < full["counselor"].settings.recent_turns
    assert compact["client"].settings.recent_turns < full["client"].settings.recent_turns
    assert compact["supervisor"].settings == full["supervisor"].settings
    sent = request_options(MemoOutput, "json_schema", 0.5)["response_format"]["json_schema"]["schema"]
    original = MemoOutput.model_json_schema()
    for name, prop in sent["properties"].items():
        if "maxLength" in prop:
            assert prop["maxLength"] == original["properties"][name]["maxLength"] // 2
            assert prop["maxLength"] >= prop.get("minLength", 0)
    plan = request_options(PlanOutput, "json_schema", 0.35)["response_format"]["json_schema"]["schema"]
    assert plan["properties"]["goals"]["maxItems"] == 2  # 4 goals at most, rounded up
    wai = request_options(AllianceQuestionnaireOutput, "json_schema", 0.35)["response_format"]["json_schema"]["schema"]
    assert wai["properties"]["wai_sr"]["minItems"] == wai["properties"]["wai_sr"]["maxItems"] == 12  # fixed
    unscaled = request_options(MemoOutput, "json_schema")["response_format"]["json_schema"]["schema"]
    assert unscaled == {**original, "additionalProperties": False}


def test_schemas_sent_are_closed_and_the_embedded_model_gets_a_compact_json_grammar():
    # Every object, nested ones too, allows no made-up keys for a small model to run on with.
    plan = request_options(PlanOutput, "json_schema")["response_format"]["json_schema"]["schema"]
    objects = [plan, *plan["$defs"].values()]
    assert all(o["additionalProperties"] is False for o in objects if "properties" in o)
    grammar = request_options(MemoOutput, "llguidance", 0.5)["grammar"]
    header, _, schema_json = grammar.partition("start: %json ")
    assert header == "%llguidance {}\n"
    sent = json.loads(schema_json)
    assert sent["x-guidance"] == {"whitespace_flexible": False} and sent["additionalProperties"] is False
    assert (
        sent["properties"]["summary"]["maxLength"]
        == MemoOutput.model_json_schema()["properties"]["summary"]["maxLength"] // 2
    )
    assert BACKEND_DEFAULTS["embedded"].structured_method == "llguidance"


def test_the_expected_time_is_said_in_minutes_for_long_runs():
    assert "up to 10 calls" in expected_time(10) and " s on an idle 2-core machine" in expected_time(10)
    assert "min on an idle" in expected_time(600)
