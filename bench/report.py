"""The machine a run was measured on, each figure against its target, and RESULTS.md.

A figure means little without the machine it came from, so the report starts with
it; and a target is only useful when a miss says by how much.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu: str
    ram_gib: float
    python: str
    system: str
    sqlite: str
    storage: str
    packages: str
    code: str
    when: datetime

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("date", self.when.strftime("%Y-%m-%d %H:%M:%S %Z")),
            ("nproc", str(self.nproc)),
            ("CPU", self.cpu),
            ("RAM", f"{self.ram_gib:.1f} GiB"),
            ("Python", self.python),
            ("system", self.system),
            ("SQLite", self.sqlite),
            ("temp storage", self.storage),
            ("packages", self.packages),
            ("code", self.code),
        ]


def machine(when: datetime) -> Machine:
    return Machine(
        nproc=_nproc(),
        cpu=_cpu_model(),
        ram_gib=_ram_kib() / 1024 / 1024,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        sqlite=sqlite3.sqlite_version,
        storage=_storage_of(Path(tempfile.gettempdir())),
        packages=", ".join(
            f"{name} {metadata.version(name)}"
            for name in ("sqlalchemy", "fastapi", "starlette", "uvicorn", "httpx", "cryptography")
        ),
        code=_code_version(),
        when=when,
    )


def _code_version() -> str:
    """The commit measured, and whether src/ differed from it: others commit to src/
    while benchmarks run, so a figure must say which code it belongs to."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("log", "-1", "--format=%h %s")
        dirty = git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" (with uncommitted changes in src/)" if dirty else "")


def _storage_of(path: Path) -> str:
    """The file system holding `path` (the stores live there, and commits wait on it)."""
    best = ("", "unknown", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                source, point, fstype = line.split()[:3]
                inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best[0]):
                    best = (point, fstype, source)
    except OSError:
        pass
    return f"{path}: {best[1]} on {best[2]}" if best[2] else f"{path}: unknown"


def _nproc() -> int:
    """What `nproc` prints: the CPUs this process may run on."""
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        return len(os.sched_getaffinity(0))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_kib() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Latencies:
    """Request times of one kind, in milliseconds, and their quantiles."""

    samples_ms: list[float]

    def at(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class Figure:
    """One measured figure and the target it is held to."""

    name: str
    value: float
    target: float
    unit: str
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def shown(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.1f}%"
        if self.unit == "µs":
            return f"{value:,.2f} µs"
        if self.unit == "ms":
            return f"{value:,.2f} ms"
        if self.unit == "×":
            return f"{value:.2f}×"
        return f"{value:,.0f} {self.unit}"

    @property
    def target_text(self) -> str:
        return ("≥ " if self.higher_is_better else "≤ ") + self.shown(self.target)

    @property
    def verdict(self) -> str:
        if self.passed:
            return "PASS"
        gap = abs(self.value - self.target)
        if self.target == 0:  # nothing is allowed: there is no share to give
            return f"MISS by {self.shown(gap)}"
        if self.higher_is_better:
            return f"MISS by {self.shown(gap)} ({gap / self.target:.0%} short)"
        return f"MISS by {self.shown(gap)} ({gap / self.target:.0%} over)"


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """A Markdown table (also readable as plain text on a terminal)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def figures_table(figures: list[Figure]) -> list[str]:
    return table(
        ("figure", "measured", "target", "verdict"),
        [(f.name, f.shown(f.value), f.target_text, f.verdict) for f in figures],
    )


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
