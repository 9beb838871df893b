"""Shared helpers of the importers: reading sources, naming the failing field, ids, language,
honest defaults, provenance and atomic output.

Every importer reports bad input as `ImportDataError` with one line naming the file, the
record (or line) and the field. Defaults for required profile fields that a source lacks are
recorded in `extra["muspsy_defaults"]`, so a reader can always tell source text from filler.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from muspsy.records import PROFILE_SCHEMA, ClientProfile
from muspsy.runfolder import write_atomic

T = TypeVar("T")


class ImportDataError(ValueError):
    """A source file cannot be imported; the message names the file, the record and the field.

    `field` and `reason`, when known, are the message's parts for a `--skip-bad` report.
    """

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class Batch:
    """Runs the records of an import: the first bad one stops it, or with `skip_bad` each bad
    record (or unreadable file) is left out and listed in `bad` (file, record, field, reason)."""

    def __init__(self, skip_bad: bool = False) -> None:
        self.skip_bad = skip_bad
        self.bad: list[dict[str, Any]] = []

    @contextmanager
    def record(self, path: Path, record: int | str | None = None) -> Iterator[None]:
        """Guards one record's import: a bad record raises, or is listed and skipped."""
        try:
            yield
        except ImportDataError as exc:
            if not self.skip_bad:
                raise
            self.bad.append(
                {
                    "file": str(path),
                    "record": record,
                    "field": exc.field,
                    "reason": exc.reason or str(exc),
                    "error": str(exc),
                }
            )

    def each_record(self, path: Path, read: Callable[[Any, Where], list[T]]) -> list[T]:
        """`read(record, where)` for every record of a JSON file, each guarded by `record()`."""
        out: list[T] = []
        for number, record in self.records(path):
            with self.record(path, number):
                out.extend(read(record, Where(path, number)))
        return out

    def records(self, path: Path) -> list[tuple[int, Any]]:
        """(number, record) for the records of a JSON file; none when the file itself is bad
        and skipped."""
        with self.record(path):
            return list(enumerate(json_records(path), start=1))
        return []


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")

# Filler for required free-text fields the source does not have, in the profile's language.
NOT_STATED = {"en": "Not stated in the source.", "zh": "来源未说明。"}
UNNAMED = {"en": "Client", "zh": "来访者"}
DEFAULT_AGE = 40
DEFAULT_RISK = "low"
# Words that make a reviewer look at the risk level; we never raise the level ourselves, because
# sources mention these words in negations as often as in disclosures ("无自伤想法").
RISK_WORDS = (
    *("suicid", "self-harm", "self harm", "kill myself", "end my life", "overdose"),
    *("自杀", "轻生", "自伤", "自残", "不想活"),
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_text(path: Path) -> str:
    try:
        # utf-8-sig: files saved on Windows often start with a byte-order mark; CRLF and CR line
        # ends become "\n" in text mode.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportDataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportDataError(f"{path}: cannot read as UTF-8 text: {exc}") from None
    if not text.strip():
        raise ImportDataError(f"{path}: empty file")
    return text


def read_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportDataError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from None


def json_records(path: Path) -> list[Any]:
    """A JSON file holding one record (an object) or a list of records."""
    data = read_json(path)
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data:
        return data
    raise ImportDataError(f"{path}: expected a JSON object or a non-empty list of objects")


class Where:
    """Names a place in a source for error messages: file, record number (1-based)."""

    def __init__(self, path: Path, record: int | None = None, unit: str = "record") -> None:
        self.path = path
        self.record = record
        self.unit = unit

    def __str__(self) -> str:
        return f"{self.path}: {self.unit} {self.record}" if self.record is not None else str(self.path)

    def fail(self, field: str, reason: str) -> ImportDataError:
        return ImportDataError(f"{self}: field {field}: {reason}", field=field, reason=reason)


def need(record: Any, dotted: str, where: Where, kind: type | tuple[type, ...] = str) -> Any:
    """The value at `dotted` (a.b.c) in `record`, which must exist and be of `kind`."""
    value = record
    walked: list[str] = []
    for part in dotted.split("."):
        walked.append(part)
        if not isinstance(value, Mapping):
            raise where.fail(".".join(walked[:-1]) or "(record)", "expected an object")
        if part not in value or value[part] is None:
            raise where.fail(dotted, "missing")
        value = value[part]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise where.fail(dotted, f"expected {expected}, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise where.fail(dotted, "empty")
    return value


def strings(record: dict[str, Any], key: str, where: Where, *, required: bool = False) -> list[str]:
    """The non-blank strings at `key`: a list of strings, or one string as a list of one."""
    if required:
        need(record, key, where, (list, str))
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.fail(key, "expected a list of strings")
    return [v for v in value if v.strip()]


def optional(record: Mapping[str, Any], key: str, where: Where, kind: type = str) -> Any:
    value = record.get(key)
    if value is not None and not isinstance(value, kind):
        raise where.fail(key, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def slug(text: str) -> str:
    """Lower-case ASCII slug; empty when nothing ASCII is left (e.g. a Chinese name)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Keep ids in order; a repeated id gets -2, -3, ... so every output file is distinct."""
    seen: set[str] = set()
    out: list[str] = []
    for base in ids:
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def detect_language(value: Any) -> str:
    """zh when CJK characters dominate the text (one CJK character is about one word), else en."""
    text = "".join(strings_in(value))
    cjk = len(CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk and cjk >= latin_words else "en"


class Defaults:
    """Collects the fields an importer had to fill without source text, with the reason."""

    def __init__(self, language: str) -> None:
        self.language = language if language in NOT_STATED else "en"
        self.used: dict[str, str] = {}

    def text(self, field: str, value: str | None) -> str:
        if value and value.strip():
            return value.strip()
        if field == "name":
            self.used[field] = "not in the source; a generic name"
            return UNNAMED[self.language]
        self.used[field] = "not in the source; filler text"
        return NOT_STATED[self.language]

    def value(self, field: str, value: Any, reason: str) -> Any:
        self.used[field] = reason
        return value


def risk_from_text(source: Any, defaults: Defaults) -> dict[str, str]:
    """The default risk level, with a note naming any risk words the source contains."""
    text = "\n".join(strings_in(source)).lower()
    found = sorted({word for word in RISK_WORDS if word in text})
    level = defaults.value("risk.level", DEFAULT_RISK, "not assessed in the source; muspsy's default for imports")
    zh = defaults.language == "zh"
    note = "来源未评估风险。" if zh else "Not assessed in the source."
    if found:
        note += f"{'来源提到' if zh else ' The source mentions'}: {', '.join(found)}; review the level by hand."
        defaults.used["risk.notes"] = "lists risk words found in the source; review by hand"
    return {"level": level, "notes": note}


def source_name(path: Path) -> str:
    """The file with its folder, `cbt/10.json`: corpora reuse file names across folders
    (PsychEval has a `10.json` per therapy)."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def provenance(fmt: str, path: Path, license: str | None, url: str | None = None) -> dict[str, Any]:
    return {
        "source": f"{fmt}: {path.name}",
        "kind": "imported",
        "author": "imported by muspsy",
        "license": license,
        "url": url,
        "source_sha256": sha256_file(path),
    }


def build_profile(data: dict[str, Any], where: Where, defaults: Defaults) -> ClientProfile:
    """Validate an importer's mapping as a profile; a failure names the source record."""
    if defaults.used:
        data.setdefault("extra", {})["muspsy_defaults"] = dict(sorted(defaults.used.items()))
    try:
        return ClientProfile.model_validate({"schema": PROFILE_SCHEMA, **data})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ImportDataError(
            f"{where}: profile field {field}: {first['msg']}", field=field, reason=first["msg"]
        ) from None


def profile_yaml(profile: ClientProfile) -> str:
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def write_profiles(profiles: list[ClientProfile], out_dir: Path) -> list[Path]:
    """One `<id>.yaml` per profile, each written atomically; ids must be unique."""
    ids = [p.id for p in profiles]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ImportDataError(f"{out_dir}: two profiles would share the id {dupes[0]!r}")
    paths = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for profile in profiles:
            path = out_dir / f"{profile.id}.yaml"
            write_atomic(path, profile_yaml(profile))
            paths.append(path)
    except OSError as exc:
        raise ImportDataError(f"{out_dir}: cannot write: {exc.strerror or exc}") from None
    return paths


def joined(parts: Iterable[str | None], sep: str = " ") -> str:
    return sep.join(p.strip() for p in parts if p and p.strip())


def as_sentences(items: Iterable[str], language: str = "en") -> str:
    """Items joined as running text, ending each with a full stop unless it has one."""
    stop = "。" if language == "zh" else "."
    parts = []
    for item in items:
        text = item.strip()
        if text:
            parts.append(text if text[-1] in ".!?。\uff01\uff1f\uff1b;" else text + stop)
    return ("" if language == "zh" else " ").join(parts)


def age_from(text: str) -> int | None:
    match = re.search(r"(\d{1,3})\s*(?:周岁|岁|years? old|-year-old)", text) or re.fullmatch(r"\s*(\d{1,3})\s*", text)
    if match and 5 <= int(match.group(1)) <= 110:
        return int(match.group(1))
    return None
