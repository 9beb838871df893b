"""PNG plots for `muspsy compare` (matplotlib, Agg backend, no display needed).

Each figure has a title, axis labels and a legend naming the groups, so it reads without the
table: PHQ-9 and GAD-7 trajectories by session (mean with a bootstrap 95% band), sessions to
termination and end reasons, and judge scores per group with bootstrap 95% error bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from muspsy.evaluation.compare import END_REASONS, RESAMPLES, Group, bootstrap_mean

INSTRUMENTS = (("phq9", "PHQ-9 total (0-27)"), ("gad7", "GAD-7 total (0-21)"))
JUDGES = (
    ("judge_fidelity", "Strategy-matched fidelity (0-1)", 1),
    ("judge_ctrs", "CTRS total (0-66)", 66),
    ("judge_miti", "MITI globals (1-5)", 5),
    ("judge_pceps", "Person-centred process (1-6)", 6),
    ("judge_sfbt", "SFBT fidelity (1-5)", 5),
    ("judge_alliance", "Observer alliance (1-7)", 7),
    ("judge_crisis", "Crisis handling (1-5)", 5),
    ("judge_persona", "Persona consistency (1-5)", 5),
)
GROUP_COLORS = [matplotlib.colormaps["tab10"](i) for i in range(10)] * 3
REASON_COLORS = [matplotlib.colormaps["Set2"](i) for i in range(8)]
# Fewer resamples than the table: a band needs less precision than a reported interval.
BAND_RESAMPLES = min(RESAMPLES, 1000)


def _save(fig: Figure, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in these arcs", ha="center", va="center", transform=ax.transAxes, color="grey")


def trajectories(groups: Sequence[Group], path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for ax, (instrument, label) in zip(axes, INSTRUMENTS, strict=True):
        plotted = False
        for color, group in zip(GROUP_COLORS, groups, strict=False):
            by_session: dict[int, list[float]] = {}
            for arc in group.arcs:
                for s in arc.sessions:
                    score = getattr(s, instrument)
                    if score is not None:
                        by_session.setdefault(s.index, []).append(float(score.total))
            if not by_session:
                continue
            xs = sorted(by_session)
            stats = [bootstrap_mean(by_session[x], BAND_RESAMPLES) for x in xs]
            means = [st[0] for st in stats if st]
            low = [st[1] for st in stats if st]
            high = [st[2] for st in stats if st]
            counts = [len(by_session[x]) for x in xs]
            ax.plot(xs, means, marker="o", color=color, label=f"{group.name} (n={counts[0]} at session {xs[0]})")
            ax.fill_between(xs, low, high, color=color, alpha=0.2)
            plotted = True
        ax.set_title(f"{label.split(' ')[0]} by session: mean and 95% CI")
        ax.set_xlabel("session")
        ax.set_ylabel(label)
        if plotted:
            ax.legend(fontsize=8)
            ax.xaxis.get_major_locator().set_params(integer=True)
        else:
            _no_data(ax, f"{label.split(' ')[0]} scores")
    fig.suptitle("Client-reported symptoms across sessions (lower is better)")
    return _save(fig, path)


def sessions_and_endings(groups: Sequence[Group], path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    counts = [[len(a.sessions) for a in g.arcs] for g in groups]
    bins = np.arange(min(min(c) for c in counts), max(max(c) for c in counts) + 2)
    width = 0.8 / len(groups)
    for i, (color, group, c) in enumerate(zip(GROUP_COLORS, groups, counts, strict=False)):
        hist, _ = np.histogram(c, bins=bins)
        left.bar(bins[:-1] + (i - (len(groups) - 1) / 2) * width, hist, width=width, color=color, label=group.name)
    left.set_title("Sessions until the arc ended")
    left.set_xlabel("sessions in the arc")
    left.set_ylabel("arcs")
    left.set_xticks(bins[:-1])
    left.legend(fontsize=8)
    names = [g.name for g in groups]
    bottom = np.zeros(len(groups))
    for color, reason in zip(REASON_COLORS, END_REASONS, strict=False):
        shares = np.array([sum(a.outcome.end_reason == reason for a in g.arcs) / len(g.arcs) for g in groups])
        if shares.any():
            right.bar(names, shares, bottom=bottom, color=color, label=reason)
            bottom += shares
    right.set_title("How arcs ended (share of arcs)")
    right.set_xlabel("group")
    right.set_ylabel("share of arcs")
    right.set_ylim(0, 1.05)
    right.legend(title="end reason", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    right.tick_params(axis="x", labelrotation=15)
    fig.suptitle("Length of counseling and reasons for ending")
    return _save(fig, path)


def judge_scores(groups: Sequence[Group], path: Path) -> Path | None:
    """Judge scores per group; None (no file) when no group has judge scores."""
    shown = [j for j in JUDGES if any(m[j[0]] is not None for g in groups for m in g.measures)]
    if not shown:
        return None
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown) + 1, 4.6), squeeze=False, layout="constrained")
    for ax, (key, label, top) in zip(axes[0], shown, strict=True):
        for i, (color, group) in enumerate(zip(GROUP_COLORS, groups, strict=False)):
            stat = bootstrap_mean([v for m in group.measures if (v := m[key]) is not None])
            if stat is None:
                continue
            mean, low, high = stat
            ax.bar(i, mean, color=color, label=group.name, yerr=[[mean - low], [high - mean]], capsize=4)
        ax.set_title(label, fontsize=10)
        ax.set_ylim(0, top)
        ax.set_xticks([])
        ax.set_xlabel("group")
        ax.set_ylabel("mean score over arcs")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(groups), 4), fontsize=8)
    fig.suptitle("LLM judge scores per group (mean, 95% bootstrap CI)")
    return _save(fig, path)


def write_plots(groups: Sequence[Group], out_dir: Path) -> list[Path]:
    written = [
        trajectories(groups, out_dir / "trajectories.png"),
        sessions_and_endings(groups, out_dir / "sessions.png"),
    ]
    judged = judge_scores(groups, out_dir / "judges.png")
    return [*written, *([judged] if judged else [])]
