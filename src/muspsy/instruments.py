"""Client-reported outcome questionnaires: their wording (data) and their scoring (here).

The simulated client fills in the PHQ-9 and the GAD-7 at the start of every session and the
WAI-SR at its end. Item wordings and answer labels are data files under
`agents/client/instruments/`; this module holds the scoring facts, checked against the
instruments' own publications:

- PHQ-9: 9 items scored 0-3, total 0-27; severity bands 0-4 minimal, 5-9 mild, 10-14 moderate,
  15-19 moderately severe, 20-27 severe (Kroenke, Spitzer & Williams 2001, "The PHQ-9:
  validity of a brief depression severity measure", J Gen Intern Med 16(9):606-613).
- GAD-7: 7 items scored 0-3, total 0-21; bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21
  severe (Spitzer, Kroenke, Williams & Loewe 2006, "A brief measure for assessing generalized
  anxiety disorder: the GAD-7", Arch Intern Med 166(10):1092-1097).
- WAI-SR: 12 items scored 1-5 (seldom .. always), total 12-60, no reverse-keyed items;
  subscale sums (4-20 each) task = items 1, 2, 10, 12; bond = 3, 5, 7, 9; goal = 4, 6, 8, 11
  (Hatcher & Gillaspy 2006, "Development and validation of a revised short version of the
  Working Alliance Inventory", Psychotherapy Research 16(1):12-25). It has no severity bands.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from muspsy.data import agents_dir
from muspsy.records import ArcRecord, Instrument, InstrumentScore

INSTRUMENTS: tuple[Instrument, ...] = ("phq9", "gad7", "wai_sr")
AT_START: tuple[Instrument, ...] = ("phq9", "gad7")
AT_END: tuple[Instrument, ...] = ("wai_sr",)


@dataclass(frozen=True)
class Scoring:
    """How one instrument is scored: item count and range, bands by lowest total, subscales."""

    items: int
    low: int
    high: int
    bands: tuple[tuple[int, str], ...] = ()
    subscales: dict[str, tuple[int, ...]] = field(default_factory=dict)  # 1-based item numbers

    @property
    def total_range(self) -> tuple[int, int]:
        return self.items * self.low, self.items * self.high


SCORING: dict[Instrument, Scoring] = {
    "phq9": Scoring(
        items=9,
        low=0,
        high=3,
        bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe")),
    ),
    "gad7": Scoring(items=7, low=0, high=3, bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))),
    "wai_sr": Scoring(
        items=12,
        low=1,
        high=5,
        subscales={"task": (1, 2, 10, 12), "bond": (3, 5, 7, 9), "goal": (4, 6, 8, 11)},
    ),
}


class InstrumentError(ValueError):
    """An instrument file is invalid, or answers do not fit the instrument."""


def total_range(instrument: Instrument) -> tuple[int, int]:
    return SCORING[instrument].total_range


def band(instrument: Instrument, total: int) -> str | None:
    """The severity band of a total (None for instruments without bands)."""
    rule = SCORING[instrument]
    low, high = rule.total_range
    if not low <= total <= high:
        raise InstrumentError(f"{instrument}: total {total} is outside {low}-{high}")
    found = None
    for floor, name in rule.bands:
        if total >= floor:
            found = name
    return found


def questionnaires_text(specs: Mapping[Instrument, InstrumentSpec], names: Sequence[Instrument]) -> str:
    """The questionnaires' texts as the client is shown them, in `names` order."""
    return "\n\n".join(specs[name].text for name in names)


def score(instrument: Instrument, items: list[int]) -> InstrumentScore:
    """Score one filled-in questionnaire; raises InstrumentError on a wrong count or range."""
    rule = SCORING[instrument]
    if len(items) != rule.items:
        raise InstrumentError(f"{instrument}: expected {rule.items} answers, got {len(items)}")
    for number, value in enumerate(items, start=1):
        if not rule.low <= value <= rule.high:
            raise InstrumentError(f"{instrument}: item {number} is {value}, outside {rule.low}-{rule.high}")
    total = sum(items)
    return InstrumentScore(
        instrument=instrument,
        items=list(items),
        total=total,
        band=band(instrument, total),
        subscales={name: sum(items[i - 1] for i in numbers) for name, numbers in rule.subscales.items()},
    )


def trajectory(arc: ArcRecord | dict[str, Any], instrument: Instrument) -> list[int | None]:
    """The instrument's total in each session of an arc, in session order; None where absent.

    Accepts a record or a line of `arcs.jsonl` as a dict; sessions without the score (imported
    arcs, outcomes switched off) give None so positions stay session numbers.
    """
    record = arc if isinstance(arc, ArcRecord) else ArcRecord.model_validate(arc)
    totals: list[int | None] = []
    for session in sorted(record.sessions, key=lambda s: s.index):
        found: InstrumentScore | None = getattr(session, instrument)
        totals.append(found.total if found else None)
    return totals


# --- the questionnaires as data -------------------------------------------------------------


class InstrumentSpec(BaseModel):
    """One questionnaire file: what the client reads."""

    model_config = ConfigDict(extra="forbid")

    name: Instrument
    title: str
    when: Literal["start", "end"]
    instructions: str
    scale: dict[int, str] = Field(min_length=2)
    items: list[str] = Field(min_length=1)

    @property
    def text(self) -> str:
        """The questionnaire as the client reads it in the prompt."""
        scale = "; ".join(f"{value} = {label}" for value, label in sorted(self.scale.items()))
        items = "\n".join(f"{number}. {item}" for number, item in enumerate(self.items, start=1))
        return f"{self.title}\n{self.instructions}\nAnswers: {scale}\n{items}"


def instruments_dir(root: Path | None = None) -> Path:
    return (root or agents_dir()) / "client" / "instruments"


def load_instrument(name: Instrument, root: Path | None = None) -> InstrumentSpec:
    """Read and check one questionnaire file against the scoring rules it must fit."""
    path = instruments_dir(root) / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = InstrumentSpec.model_validate(data)
    except OSError as exc:
        raise InstrumentError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{path}: malformed YAML: {' '.join(str(exc).split())}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InstrumentError(f"{path}: field {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    rule = SCORING[name]
    expected_when = "start" if name in AT_START else "end"
    if spec.name != name:
        raise InstrumentError(f"{path}: field name: {spec.name!r} does not match the file name")
    if len(spec.items) != rule.items:
        raise InstrumentError(f"{path}: field items: {len(spec.items)} items, the instrument has {rule.items}")
    if sorted(spec.scale) != list(range(rule.low, rule.high + 1)):
        raise InstrumentError(f"{path}: field scale: answers must be {rule.low}-{rule.high}")
    if spec.when != expected_when:
        raise InstrumentError(f"{path}: field when: {name} is filled in at the {expected_when} of a session")
    return spec


@functools.cache
def _cached(name: Instrument, root: Path | None) -> InstrumentSpec:
    return load_instrument(name, root)


def load_instruments(root: Path | None = None) -> dict[Instrument, InstrumentSpec]:
    return {name: _cached(name, root) for name in INSTRUMENTS}


def instrument_hashes(root: Path | None = None) -> dict[str, str]:
    """sha256 of each questionnaire file, for the run's prompt hashes."""
    folder = instruments_dir(root)
    return {
        f"client/instruments/{name}": hashlib.sha256((folder / f"{name}.yaml").read_bytes()).hexdigest()
        for name in INSTRUMENTS
    }
