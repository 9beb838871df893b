"""Strategy lists for paired runs: names and aliases resolved, the config's canonical form,
the arc plan's pairing, and the prompt hashes of every strategy used."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.agents.spec import SpecError, load_spec, load_strategy, resolve_strategies, strategy_aliases
from muspsy.config import RunConfig, fingerprint, resolved
from muspsy.data import agents_dir
from muspsy.profiles import load_profile
from muspsy.records import ROLES
from muspsy.runner import plan_arcs, prompt_hashes

pytestmark = pytest.mark.unit

MI = "motivational_interviewing"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cbt", ["cbt"]),
        ("mi", [MI]),
        ("cbt,mi", ["cbt", MI]),
        (" cbt , pc ,sfbt ", ["cbt", "person_centred", "solution_focused"]),
        (["mi", MI, "cbt"], [MI, "cbt"]),  # an alias and its name are one strategy
        (["cbt,pc"], ["cbt", "person_centred"]),
    ],
)
def test_names_and_aliases_resolve_to_canonical_names(given, expected):
    assert resolve_strategies(given) == expected


def test_an_unknown_or_empty_list_is_refused():
    with pytest.raises(SpecError, match=r"unknown strategy 'nope' \(known: cbt"):
        resolve_strategies("cbt,nope")
    with pytest.raises(SpecError, match="no strategy given"):
        resolve_strategies(" , ")


def test_one_strategy_stays_a_string_and_several_become_a_list():
    assert resolved(RunConfig(backend="scripted", strategy="mi")).strategy == MI
    several = resolved(RunConfig(backend="scripted", strategy="cbt,mi"))
    assert several.strategy == ["cbt", MI] and several.strategies == ["cbt", MI]
    # Spelling does not change the fingerprint; the set of strategies does.
    same = [resolved(RunConfig(backend="scripted", strategy=s)) for s in ("cbt", ["cbt"], "cbt,cbt")]
    assert len({fingerprint(c) for c in same}) == 1
    assert fingerprint(several) != fingerprint(same[0])
    assert fingerprint(resolved(RunConfig(backend="scripted", outcomes=False))) != fingerprint(same[0])


def test_the_plan_pairs_every_profile_and_seed_under_every_strategy():
    profiles = [
        load_profile(PROFILES / "hannah-work-anxiety.yaml"),
        load_profile(PROFILES / "mateo-social-anxiety.yaml"),
    ]
    config = resolved(RunConfig(backend="scripted", strategy="cbt,pc", arcs_per_profile=2, seed=5))
    plans = plan_arcs(profiles, config)
    assert len(plans) == 2 * 2 * 2 and len({p.arc_id for p in plans}) == 8
    assert {(p.client_id, p.seed, p.strategy) for p in plans} == {
        (c, s, st)
        for c in ("hannah-work-anxiety", "mateo-social-anxiety")
        for s in (5, 6)
        for st in ("cbt", "person_centred")
    }
    assert plans[0].arc_id == "hannah-work-anxiety--cbt--seed5"
    assert plans[1].arc_id == "hannah-work-anxiety--person_centred--seed5"  # pairs sit side by side


def test_prompt_hashes_cover_every_strategy_and_questionnaire():
    specs = {role: load_spec(role) for role in ROLES}
    hashes = prompt_hashes(specs, [load_strategy("cbt"), load_strategy(MI)])
    assert {"counselor/strategies/cbt", f"counselor/strategies/{MI}", "client/instruments/wai_sr"} <= set(hashes)
    assert "client/self_report_start" in hashes and "client/self_report_end" in hashes
    assert hashes != prompt_hashes(specs, [load_strategy("cbt")])


def _strategies_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "counselor" / "strategies"
    folder.mkdir(parents=True)
    for source in (agents_dir() / "counselor" / "strategies").glob("*.yaml"):
        (folder / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_an_alias_that_means_two_strategies_is_refused(tmp_path):
    folder = _strategies_copy(tmp_path)
    assert strategy_aliases(tmp_path)["mi"] == MI
    path = folder / "solution_focused.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("aliases: [sfbt, sf]", "aliases: [sfbt, mi]"))
    with pytest.raises(SpecError, match=r"field aliases: 'mi' already names strategy"):
        resolve_strategies("cbt", tmp_path)
