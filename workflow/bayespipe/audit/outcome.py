"""What ``reproduce`` found, as a result object, text for the terminal and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from bayespipe.audit.comparers import (
    EQUIVALENT,
    EXPECTED,
    IDENTICAL,
    UNEXPECTED,
    FileComparison,
)


@dataclass
class ReproduceResult:
    version: str
    reproduced_version: str | None
    code_source: str
    scratch: str | None
    run_ok: bool
    audit_problems: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)  # differences in software / engine
    files: list[FileComparison] = field(default_factory=list)
    log_tail: str = ""

    @property
    def unexpected(self) -> list[FileComparison]:
        return [f for f in self.files if f.status == UNEXPECTED]

    @property
    def ok(self) -> bool:
        return self.run_ok and not self.unexpected and not self.audit_problems

    def counts(self) -> dict[str, int]:
        out = {IDENTICAL: 0, EQUIVALENT: 0, EXPECTED: 0, UNEXPECTED: 0}
        for f in self.files:
            out[f.status] += 1
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["counts"] = self.counts()
        data["ok"] = self.ok
        return json.dumps(data, indent=2, sort_keys=True, default=str)


def _version_line(result: ReproduceResult) -> str:
    if not result.reproduced_version:
        return "-"
    same = "same" if result.reproduced_version == result.version else "DIFFERS"
    return f"{result.reproduced_version} ({same})"


def format_result(result: ReproduceResult) -> str:
    counts = result.counts()
    lines = [
        f"reproduce {result.version}: code from {result.code_source}",
        f"re-run {'completed' if result.run_ok else 'FAILED'}; version id {_version_line(result)}",
    ]
    if result.scratch:
        lines.append(f"scratch folder kept: {result.scratch}")
    if result.environment:
        lines.append("software differs from the recorded run: " + "; ".join(result.environment))
    if result.audit_problems:
        lines.append(f"\naudit of the original ({len(result.audit_problems)} problems):")
        lines += [f"  {p}" for p in result.audit_problems]
    lines.append(
        f"\n{len(result.files)} files: {counts[IDENTICAL]} bit-identical, "
        f"{counts[EQUIVALENT]} equivalent (per-run fields only), "
        f"{counts[EXPECTED]} expected differences, {counts[UNEXPECTED]} unexpected"
    )
    for status in (UNEXPECTED, EXPECTED, EQUIVALENT):
        items = [f for f in result.files if f.status == status]
        if items:
            lines.append(f"\n{status}:")
            lines += [f"  {f.path}: {f.detail}" for f in items]
    if not result.run_ok:
        lines.append("\nre-run log (tail):\n" + result.log_tail)
    lines.append("\nOK: reproduced" if result.ok else "\nNOT REPRODUCED")
    return "\n".join(lines)
