"""What the import did with each row: taken, changed (and how), or refused (and why)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["taken", "changed", "refused"]


@dataclass(frozen=True)
class Line:
    file: str
    row: int | None  # spreadsheet row / feature number, as the city's own tools show it
    action: Action
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        return f"{where}: {self.action}: {self.message}"


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)

    def add(self, file: str, row: int | None, action: Action, message: str) -> None:
        self.lines.append(Line(file, row, action, message))

    def refused(self) -> list[Line]:
        return [x for x in self.lines if x.action == "refused"]

    def counts(self) -> Counter[str]:
        return Counter(x.action for x in self.lines)

    def ordered(self) -> list[Line]:
        """File by file in the order they were read, row by row (file-wide notes first)."""
        files = list(dict.fromkeys(x.file for x in self.lines))
        return sorted(self.lines, key=lambda x: (files.index(x.file), x.row or 0))

    def text(self) -> str:
        return "".join(f"{x}\n" for x in self.ordered())
