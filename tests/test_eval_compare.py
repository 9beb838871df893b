"""Comparison statistics: bootstrap intervals, pairing on (client_id, seed), trajectories, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from eval_arcs import CLEAN_S1, CLEAN_S2, arc, session
from muspsy.evaluation.compare import (
    bootstrap_difference,
    bootstrap_mean,
    compare_groups,
    comparison_table,
    make_groups,
)
from muspsy.evaluation.report import write_comparison
from muspsy.evaluation.sources import Source

pytestmark = pytest.mark.unit


def test_bootstrap_mean_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    samples = [rng.normal(3.0, 1.0, size=40) for _ in range(200)]
    covered = [low < 3.0 < high for low, high in (bootstrap_mean(list(x))[1:] for x in samples)]
    assert 0.88 <= sum(covered) / len(covered) <= 0.99


def test_bootstrap_mean_is_deterministic_with_its_seed():
    values = list(np.random.default_rng(3).normal(3.0, 1.0, size=50))
    mean, low, high = bootstrap_mean(values)
    assert mean == pytest.approx(float(np.mean(values))) and low < mean < high
    assert bootstrap_mean(values) == (mean, low, high)
    assert bootstrap_mean(values, seed=1) != (mean, low, high)
    assert bootstrap_mean([]) is None


def test_paired_bootstrap_difference_contains_the_true_difference():
    rng = np.random.default_rng(11)
    base = rng.normal(15.0, 5.0, size=60)  # large between-client spread
    other = base - 2.0 + rng.normal(0.0, 0.5, size=60)  # every client improves by 2
    diff, low, high = bootstrap_difference(list(base), list(other), paired=True)
    assert low < -2.0 < high and high < 0
    # Unpaired, the client spread swamps the effect: the interval is far wider.
    _, ulow, uhigh = bootstrap_difference(list(base), list(other), paired=False)
    assert uhigh - ulow > 5 * (high - low)
    assert bootstrap_difference(list(base), list(other), paired=True) == (diff, low, high)


def outcome_arc(client: str, strategy: str, seed: int | None, phq: list[int], gad: list[int], wai: int):
    sessions = [
        session(i + 1, CLEAN_S1 if i == 0 else CLEAN_S2, phq9=p, gad7=g, wai=wai)
        for i, (p, g) in enumerate(zip(phq, gad, strict=True))
    ]
    return arc(sessions, arc_id=f"{client}--{strategy}--seed{seed}", client_id=client, strategy=strategy, seed=seed)


def source(name: str, arcs) -> Source:
    return Source(Path(f"/nowhere/{name}.jsonl"), list(arcs))


def test_a_run_folder_orders_its_strategy_groups_as_its_config_does(tmp_path):
    cbt = [outcome_arc(c, "cbt", 0, [18, 14], [12, 10], 40) for c in ("ann", "bo")]
    pc = [outcome_arc(c, "person_centred", 0, [18, 16], [12, 12], 48) for c in ("ann", "bo")]
    run = tmp_path / "run"
    run.mkdir()
    finished_first = Source(run, [*pc, *cbt])  # concurrent arcs finish in any order
    assert [g.name for g in make_groups([finished_first], "strategy")] == ["person_centred", "cbt"]
    (run / "manifest.json").write_text(
        json.dumps({"config": {"strategy": ["cbt", "solution_focused", "person_centred"]}})
    )
    assert [g.name for g in make_groups([finished_first], "strategy")] == ["cbt", "person_centred"]
    (run / "manifest.json").write_text("{not json")
    assert [g.name for g in make_groups([finished_first], "strategy")] == ["person_centred", "cbt"]


def test_groups_pair_on_client_and_seed_and_measure_change():
    cbt = [outcome_arc(c, "cbt", 0, [18, 14, 10], [12, 10, 8], 40) for c in ("ann", "bo", "cy")]
    pc = [outcome_arc(c, "person_centred", 0, [18, 16, 15], [12, 12, 11], 48) for c in ("ann", "bo", "cy")]
    groups = make_groups([source("mixed", [*cbt, *pc])], "strategy")
    assert [g.name for g in groups] == ["cbt", "person_centred"]
    rows = {r.key: r for r in compare_groups(groups)}
    assert rows["phq9_change"].stats[0][1][0] == -8.0
    assert rows["gad7_change"].stats[1][1][0] == -1.0
    kind, pairs, (diff, low, high) = rows["phq9_change"].diffs[0]
    assert (kind, pairs, diff, low, high) == ("paired", 3, 5.0, 5.0, 5.0)
    assert rows["wai_sr_final"].diffs[0][2][0] == 8.0
    table = comparison_table(groups, list(rows.values()))
    assert table.header[0] == "measure" and table.rows[0][0].startswith("PHQ-9 change")
    assert not any("UNPAIRED" in n for n in table.notes)


def test_without_shared_seeds_differences_are_unpaired_and_say_so():
    a = [outcome_arc(c, "cbt", 0, [18, 10], [12, 8], 40) for c in ("ann", "bo")]
    b = [outcome_arc(c, "cbt", None, [18, 16], [12, 11], 44) for c in ("ann", "bo")]  # imported: no seed
    groups = make_groups([source("run_a", a), source("run_b", b)], "source")
    assert [g.name for g in groups] == ["run_a", "run_b"]
    rows = compare_groups(groups)
    assert all(r.diffs[0][0] == "unpaired" for r in rows)
    assert any("UNPAIRED" in n for n in comparison_table(groups, rows).notes)


def colours(png: Path) -> int:
    image = imread(png)
    return len(np.unique(image.reshape(-1, image.shape[-1]), axis=0))


def test_comparison_files_and_trajectory_plots(tmp_path):
    cbt = [outcome_arc(c, "cbt", 0, [18, 14, 10], [12, 10, 8], 40) for c in ("ann", "bo", "cy")]
    pc = [outcome_arc(c, "person_centred", 0, [17, 16, 15], [12, 12, 11], 48) for c in ("ann", "bo", "cy")]
    table, written = write_comparison([source("mixed", [*cbt, *pc])], "strategy", tmp_path)
    names = {p.name for p in written}
    assert {"comparison.md", "comparison.csv", "trajectories.png", "sessions.png"} <= names
    assert "judges.png" not in names  # no evaluation.jsonl, so no judge scores to plot
    assert any("muspsy evaluate" in n for n in table.notes)
    csv = (tmp_path / "comparison.csv").read_text().splitlines()
    assert "phq9_change,person_centred,3,-2.0000,-2.0000,-2.0000,cbt,6.0000,6.0000,6.0000,paired,3" in csv
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and colours(png) > 2
