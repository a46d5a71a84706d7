"""What a doctor check says: a status, a summary and a fix, and how the list is printed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from station.config import Config

Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    summary: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def ok(name: str, summary: str) -> CheckResult:
    return CheckResult(name, "OK", summary)


def warn(name: str, summary: str, fix: str) -> CheckResult:
    return CheckResult(name, "WARN", summary, fix)


def fail(name: str, summary: str, fix: str) -> CheckResult:
    return CheckResult(name, "FAIL", summary, fix)


Check = Callable[[Config], CheckResult]


def failed(results: Sequence[CheckResult]) -> bool:
    return any(r.status == "FAIL" for r in results)


def render_text(results: Sequence[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        lines.append(f"{r.status:<4}  {r.name:<{width}}  {r.summary}")
        if r.fix and r.status != "OK":
            lines.append(f"{'':<4}  {'':<{width}}  fix: {r.fix}")
    if len(results) == 1 and results[0].status == "FAIL":
        lines.append("(the other checks need a valid config)")
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[CheckResult]) -> str:
    body = {"ok": not failed(results), "checks": [r.to_json() for r in results]}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


__all__ = [
    "Check",
    "CheckResult",
    "Status",
    "fail",
    "failed",
    "ok",
    "render_json",
    "render_text",
    "warn",
]
