"""The director's seeded week (`plan_week`, `draw_numbers`): homework adherence drawn with a
probability from acceptance, attitude and alliance; life events with valence and impact;
dropout only after sessions_min; the same numbers for the arcs of a pair."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from muspsy.agents.director import WeekPlan, draw_numbers, plan_week, strategy_fit
from muspsy.agents.spec import strategy_aliases
from muspsy.data import profiles_dir
from muspsy.dynamics import adherence_probability, life_event_from_draw, load_params
from muspsy.graphs.state import ArcState
from muspsy.profiles import load_profile
from muspsy.records import ClientProfile, ClientState, Memo, SessionAppraisal, SessionRecord

pytestmark = pytest.mark.unit

PARAMS = load_params()
ALIASES = strategy_aliases()


@functools.cache
def _hannah() -> ClientProfile:
    return load_profile(profiles_dir() / "hannah-work-anxiety.yaml")


def appraisal(rating: int = 3, rupture: bool = False, accepted: bool = True) -> SessionAppraisal:
    return SessionAppraisal(
        felt_understood=rating,
        goal_agreement=rating,
        task_agreement=rating,
        rupture=rupture,
        new_insight=False,
        homework_accepted=accepted,
    )


MEMO = Memo(
    summary="Talked through the week.",
    emotion_and_cognitive_state="Wary.",
    counselor_observations="Short answers.",
    counseling_assignments=["Note one worry a day"],
    session_goal="Build trust.",
    next_session_goal="Review the notes.",
    progress="some",
    risk="low",
)


def week_state(
    seed: int = 0,
    strategy: str = "cbt",
    attitude: str = "positive",
    alliance: float = 3,
    completed: int = 1,
    sessions_min: int = 3,
    appraised: SessionAppraisal | None = None,
    homework: bool = True,
    memo: Memo = MEMO,
) -> ArcState:
    profile: dict[str, Any] = {**_hannah().model_dump(mode="json", by_alias=True), "attitude": attitude}
    current = ClientState(emotion_state="Flat.", cognitive_state="Doubts this helps.", alliance=alliance)
    sessions = [
        SessionRecord(
            index=i,
            goal="Build trust.",
            client_state=current,
            turns=[{"index": 1, "speaker": "counselor", "text": "Hello again.", "kind": "open"}],
            homework_given=["Note one worry a day"] if homework else [],
            end_reason="turn_cap",
            memo=memo,
            appraisal=appraised or appraisal(),
        ).model_dump(mode="json")
        for i in range(1, completed + 1)
    ]
    return {
        "run_id": "run-week",
        "arc_id": f"hannah-work-anxiety--{strategy}--seed{seed}",
        "seed": seed,
        "strategy": strategy,
        "profile": profile,
        "limits": {"sessions_min": sessions_min, "sessions_max": 8, "turns_min": 5, "turns_max": 11},
        "client_state": current.model_dump(mode="json"),
        "sessions": sessions,
    }


def plan(**options: Any) -> WeekPlan:
    return plan_week(week_state(**options), PARAMS, ALIASES)


def test_the_week_is_deterministic_for_a_seed() -> None:
    for seed in (0, 1, 42):
        assert plan(seed=seed) == plan(seed=seed)


def test_the_numbers_vary_with_the_client_the_seed_and_the_week() -> None:
    first = draw_numbers(0, "hannah-work-anxiety", 1)
    assert any(draw_numbers(0, f"someone-{n}", 1) != first for n in range(8))
    assert any(draw_numbers(seed, "hannah-work-anxiety", 1) != first for seed in range(1, 9))
    assert any(draw_numbers(0, "hannah-work-anxiety", week) != first for week in range(2, 10))


def test_the_events_of_a_week_are_the_same_under_another_strategy() -> None:
    # Paired runs share every random number: the same things happen whatever the strategy.
    for seed in range(20):
        cbt, mi = plan(seed=seed, strategy="cbt"), plan(seed=seed, strategy="motivational_interviewing")
        assert cbt.event == mi.event


def test_adherence_probability_rises_with_acceptance_attitude_and_alliance() -> None:
    p = PARAMS.adherence
    assert adherence_probability("neutral", True, 3, p) > adherence_probability("neutral", False, 3, p)
    assert (
        adherence_probability("positive", True, 3, p)
        > adherence_probability("neutral", True, 3, p)
        > adherence_probability("negative", True, 3, p)
    )
    assert adherence_probability("neutral", True, 4.5, p) > adherence_probability("neutral", True, 1.5, p)
    assert all(
        p.low <= adherence_probability(a, x, t, p) <= p.high
        for a in ("positive", "negative")
        for x in (True, False)
        for t in (1, 5)
    )  # type: ignore[arg-type]


def test_accepted_homework_is_done_more_often_over_seeds() -> None:
    def done(accepted: bool, attitude: str) -> int:
        weeks = [plan(seed=s, attitude=attitude, appraised=appraisal(accepted=accepted)) for s in range(400)]
        return sum(w.adherence in ("done", "partial") for w in weeks)

    assert done(True, "neutral") > done(False, "neutral") + 60
    assert done(True, "positive") > done(True, "negative") + 60


def test_no_homework_means_not_assigned() -> None:
    weeks = [plan(seed=s, homework=False) for s in range(30)]
    assert {w.adherence for w in weeks} == {"not_assigned"} and all(w.adherence_probability == 0 for w in weeks)


def test_life_events_are_drawn_with_every_valence_and_bounded_impact() -> None:
    events = [plan(seed=s).event for s in range(400)]
    happened = [e for e in events if e is not None]
    share = len(happened) / len(events)
    assert abs(share - PARAMS.life_events.probability) < 0.08
    by_valence = {v: sum(e[0] == v for e in happened) for v in ("negative", "neutral", "positive")}
    assert all(count > 40 for count in by_valence.values()), by_valence
    low, high = PARAMS.life_events.impact
    assert all(low <= impact <= high for _, impact in happened)
    assert life_event_from_draw(0.99, 0.0, 0.0, PARAMS.life_events) is None  # a quiet week


def test_a_negative_event_makes_the_week_worse_than_a_positive_one() -> None:
    negative = [plan(seed=s) for s in range(300) if (plan(seed=s).event or ("", 0))[0] == "negative"]
    positive = [plan(seed=s) for s in range(300) if (plan(seed=s).event or ("", 0))[0] == "positive"]
    mean = lambda weeks: sum(w.severity for w in weeks) / len(weeks)  # noqa: E731
    assert mean(negative) > mean(positive) + 0.5


@pytest.mark.parametrize("completed", [1, 2])
def test_no_dropout_before_sessions_min(completed: int) -> None:
    weeks = [
        plan(seed=s, attitude="negative", alliance=1, completed=completed, appraised=appraisal(1, rupture=True))
        for s in range(300)
    ]
    assert not any(w.drops_out for w in weeks)
    assert all(w.dropout_probability > 0.2 for w in weeks)  # the condition was there


def test_dropout_follows_attitude_alliance_and_ruptures_once_sessions_min_is_held() -> None:
    def dropped(**options: Any) -> int:
        return sum(plan(seed=s, completed=3, **options).drops_out for s in range(400))

    poor = dropped(attitude="negative", alliance=1, appraised=appraisal(1, rupture=True))
    good = dropped(attitude="positive", alliance=4, appraised=appraisal(5))
    assert poor > 70 and good < 20


def test_strategy_fit_reads_aliases_and_defaults_to_neutral() -> None:
    profile = _hannah().model_copy(update={"strategy_fit": {"pc": 0.2, "cbt": 0.9}})
    assert strategy_fit(profile, "person_centred", ALIASES) == 0.2
    assert strategy_fit(profile, "cbt", ALIASES) == 0.9
    assert strategy_fit(profile, "solution_focused", ALIASES) == 0.5
