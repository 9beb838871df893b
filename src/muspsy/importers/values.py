"""Reading single values that sources write in many ways: "not mentioned" markers, ages
(digits, words, ranges, decades, birth years) and gender.

Each reader returns None when the text says nothing usable, so the caller falls back to a
listed default instead of keeping a marker such as "未提及" as if it were a name.
"""

from __future__ import annotations

import re
from typing import Any

# Whole-value markers meaning "the source does not say". "无" (none) is left out on purpose:
# for a medical history it is information.
NOT_MENTIONED = {
    *("未提及", "未提到", "未提供", "未说明", "未注明", "不详", "未知", "暂无", "不明"),
    *("not mentioned", "not stated", "not provided", "unknown", "n/a", "na", "none given", "unspecified"),
    "cannot be identified",
}
# Longer markers: "Not specified in the paper fragment."
NOT_MENTIONED_OPENINGS = ("not specified", "not mentioned", "not stated", "未提及", "未说明")
AGE_RANGE = (3, 110)

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # noqa: RUF001
EN_UNITS = {
    **{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9},
    **{"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16},
    **{"seventeen": 17, "eighteen": 18, "nineteen": 19},
}
EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
EN_DECADES = {f"{w[:-1]}ies" if w.endswith("y") else w: n for w, n in EN_TENS.items()}  # twenties, thirties ...
AGE_WORD = r"(?:周岁|岁|years? old|-year-old|yo\b)"


def given(value: Any) -> str | None:
    """The value as stripped text, or None when it is empty or a "not mentioned" marker."""
    if value is None:
        return None
    text = str(value).strip()
    bare = text.strip("。.;；,，!！ ").lower()  # noqa: RUF001
    return None if not bare or bare in NOT_MENTIONED or bare.startswith(NOT_MENTIONED_OPENINGS) else text


def _cn_number(text: str) -> int | None:
    """一 .. 九十九 written in Chinese numerals (十八, 二十, 三十五, 四五 is not a number)."""
    if not text or any(c not in CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return CN_DIGITS[text] if len(text) == 1 else None
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[units] if units else 0)


def _en_number(text: str) -> int | None:
    parts = re.split(r"[\s-]+", text.strip().lower())
    if len(parts) == 1:
        return EN_UNITS.get(parts[0], EN_TENS.get(parts[0]))
    if len(parts) == 2 and parts[0] in EN_TENS and parts[1] in EN_UNITS and 0 < EN_UNITS[parts[1]] < 10:
        return EN_TENS[parts[0]] + EN_UNITS[parts[1]]
    return None


def _number(text: str) -> int | None:
    text = text.strip()
    if text.isdigit():
        return int(text)
    return _cn_number(text) if re.fullmatch(r"[零〇一二两三四五六七八九十]+", text) else _en_number(text)


NUMBER = r"(\d{1,3}|[零〇一二两三四五六七八九十]{1,3}|[a-z]+(?:[\s-][a-z]+)?)"


def _plausible(age: int | None) -> int | None:
    return age if age is not None and AGE_RANGE[0] <= age <= AGE_RANGE[1] else None


def read_age(text: str, reference_year: int | None = None) -> tuple[int, str] | None:
    """An age and how it was read ("stated", "in words", "midpoint of ...", "decade ...",
    "born ..."), or None. Birth years need the year the source describes (`reference_year`)."""
    raw = given(text)
    if raw is None:
        return None
    lower = raw.lower()
    range_sign = r"(?:-|–|—|~|～|到|至|to)"  # noqa: RUF001 (dashes and tildes as written in sources)
    range_match = re.search(
        rf"(\d{{1,3}}|[一二两三四五六七八九十]{{1,3}})\s*{range_sign}\s*{NUMBER}\s*{AGE_WORD}?", lower
    )
    if range_match:
        low, high = _number(range_match.group(1)), _number(range_match.group(2))
        if _plausible(low) and _plausible(high) and low is not None and high is not None and low < high:
            return (low + high) // 2, f"midpoint of the range {range_match.group(0).strip()!r}"
    decade = re.search(
        r"(\d)0\s*岁?\s*(?:多|余|来|几|出头)\s*岁?|([一二三四五六七八九]?)十\s*岁?\s*(?:多|余|来|几|出头)\s*岁?", lower
    )
    if decade:
        tens = int(decade.group(1)) if decade.group(1) else CN_DIGITS.get(decade.group(2), 1)
        return tens * 10 + (2 if "出头" in decade.group(0) else 5), f"estimated from {decade.group(0).strip()!r}"
    stated = re.search(rf"{NUMBER}\s*{AGE_WORD}", lower) or re.fullmatch(r"\s*(\d{1,3})\s*", lower)
    if stated:
        age = _plausible(_number(stated.group(1)))
        if age is not None:
            return age, "stated" if stated.group(1).isdigit() else f"in words: {stated.group(0).strip()!r}"
    decade_en = re.search(r"\b(?:in (?:his|her|their) )?(early |mid-?|late )?(" + "|".join(EN_DECADES) + r")\b", lower)
    decade_en = decade_en or re.search(r"\b(early |mid-?|late )?(\d)0s\b", lower)
    if decade_en:
        word = decade_en.group(2)
        base = EN_DECADES[word] if word in EN_DECADES else int(word) * 10
        offset = {"early ": 2, "late ": 8}.get(decade_en.group(1) or "", 5)
        return base + offset, f"estimated from {decade_en.group(0).strip()!r}"
    born = re.search(r"((?:19|20)\d{2})\s*年?\s*(?:出生|生人|生|born)|born (?:in )?((?:19|20)\d{2})", lower)
    if born and reference_year is not None:
        year = int(born.group(1) or born.group(2))
        age = _plausible(reference_year - year)
        if age is not None:
            return age, f"born {year}, age in {reference_year}"
    return None


GENDERS = {
    "female": ("女", "女性", "女生", "女士", "female", "f", "woman", "girl", "女孩"),
    "male": ("男", "男性", "男生", "男士", "male", "m", "man", "boy", "男孩"),
}
GENDER_IN_LANGUAGE = {"female": {"zh": "女", "en": "female"}, "male": {"zh": "男", "en": "male"}}


def normal_gender(value: Any, language: str) -> str | None:
    """男/男性/Male/M -> 男 (zh) or male (en), likewise female; other stated genders as written."""
    text = given(value)
    if text is None:
        return None
    bare = text.strip("。. ").lower()
    for gender, words in GENDERS.items():
        if bare in words:
            return GENDER_IN_LANGUAGE[gender]["zh" if language == "zh" else "en"]
    return text


def gender_field(value: Any, language: str, used: dict[str, str]) -> str | None:
    """`normal_gender`, noting in `used` (the profile's muspsy_defaults) what the source wrote
    when normalising changed it."""
    gender = normal_gender(value, language)
    original = given(value)
    if gender is not None and original is not None and gender != original:
        used["gender"] = f"normalised from {original!r}"
    return gender
