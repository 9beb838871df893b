"""Logic-less prompt templates: `{{name}}` placeholders, every one supplied, nothing extra.

Prompts are data files under `agents/<role>/`. Views render lists and sections into strings
before a template sees them, so templates need no loops or conditionals; strictness here is
what lets a test prove that every template gets every variable it uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


class TemplateError(ValueError):
    """A template was rendered with missing or unexpected variables."""


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(PLACEHOLDER.findall(self.text))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, values: dict[str, str]) -> str:
        missing = self.variables - values.keys()
        unexpected = values.keys() - self.variables
        if missing or unexpected:
            raise TemplateError(f"template {self.name}: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)


def load_template(path: Path) -> Template:
    return Template(name=path.as_posix(), text=path.read_text(encoding="utf-8"))
