"""Every counselor strategy file is valid and runs a whole arc."""

from __future__ import annotations

import pytest

from conftest import arc_of
from muspsy.agents.spec import SpecError, available_strategies, load_strategy
from muspsy.config import Limits
from muspsy.simulate import simulate_arc
from muspsy.testing import scripted_models

pytestmark = pytest.mark.unit


def test_the_four_strategies_are_available():
    assert {"cbt", "person_centred", "motivational_interviewing", "solution_focused"} <= set(available_strategies())


@pytest.mark.parametrize("name", available_strategies())
async def test_each_strategy_reaches_the_counselor(profile, name):
    strategy = load_strategy(name)
    models = scripted_models()
    record = await simulate_arc(
        profile("ryan-drinking-ambivalent"), models, strategy=name, limits=Limits(turns_min=5, turns_max=7)
    )
    assert record.strategy == name
    system_prompt = str(models["counselor"].chat.calls[0][1][0].content)
    assert strategy.title in system_prompt and strategy.techniques[0].description in system_prompt


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"unknown strategy 'nosuch' .*cbt"):
        load_strategy("nosuch")


async def test_arc_helper_still_uses_cbt_by_default(profile):
    assert (await arc_of(profile("hannah-work-anxiety"))).strategy == "cbt"
