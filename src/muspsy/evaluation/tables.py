"""Tables shown to people: one header and rows of cells, rendered for rich, Markdown and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.table import Table as RichTable


def cell(value: object, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    digits: int = 2

    def add(self, values: Sequence[object]) -> None:
        self.rows.append([cell(v, self.digits) for v in values])

    def rich(self) -> RichTable:
        table = RichTable(title=self.title, caption="\n".join(self.notes) or None, caption_justify="left")
        for i, name in enumerate(self.header):
            table.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        return table

    def markdown(self) -> str:
        def line(values: Sequence[str]) -> str:
            return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

        out = [f"## {self.title}", "", line(self.header), line(["---"] * len(self.header))]
        out += [line(row) for row in self.rows]
        for note in self.notes:
            out += ["", note]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue()
