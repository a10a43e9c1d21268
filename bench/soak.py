"""The soak: sustained collection over HTTP, and the server's memory while it lasts.

`python -m bench.soak` (or section 14 of `python -m bench`): a server process on a
seeded SQLite store takes `/v1/batch` requests from client threads for 10 minutes
(`--seconds`, or BENCH_SOAK_SECONDS, to shorten it), with new visitors arriving all
along as real traffic has them. The server's resident set size (RSS, from
/proc/<pid>/status) is sampled every few seconds; reported are its value when the
load starts (after a warm-up), at the middle and at the end, and how much it grew
over the second half: memory that plateaus grows little there, memory that leaks
grows as much as in the first half.

A long run cannot send bodies built in advance (millions of them), and building
each as it goes makes the load generator, not the server, the limit. So each client
builds a few hundred *templates* first and sends them over and over, each time with
new message ids and new anonymous ids for the new visitors in it (two byte
replacements): every message is new to the server, and new visitors keep arriving
(3% of messages) for the whole run, as they do in real traffic.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from bench.http_load import REPO, _stop, _wait_until_up, basic_auth, free_port
from bench.report import Figure
from bench.traffic import Traffic, make_users
from bench.world import Store, new_store, seed

SOAK_SECONDS = 600.0  # the soak's length unless shortened
WARMUP_SECONDS = 20.0
SAMPLE_EVERY = 5.0
BATCH = 100
CLIENTS = 4
USERS = 5_000
# Target: over the second half of the soak RSS grows by at most this share of its
# value at the middle (a plateau, give or take the allocator's tides).
TARGET_SECOND_HALF_GROWTH = 0.05
TEMPLATES = 300  # bodies each client builds before the load starts
_MESSAGE = b'"messageId":"m-'
_NEW_VISITOR = b'"anonymousId":"v-'


def seconds_from_env(default: float = SOAK_SECONDS) -> float:
    """The soak's length: BENCH_SOAK_SECONDS when set (0 skips it), else `default`."""
    found = os.environ.get("BENCH_SOAK_SECONDS")
    return float(found) if found else default


def rss_bytes(pid: int) -> int:
    """The resident set size of process `pid` (Linux: /proc/<pid>/status, VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class SoakResult:
    seconds: float
    events: int = 0
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, RSS)

    def rss_at(self, fraction: float) -> int:
        """RSS at the sample nearest `fraction` of the way through the load."""
        wanted = fraction * self.seconds
        return min(self.samples, key=lambda s: abs(s[0] - wanted))[1]

    @property
    def start(self) -> int:
        return self.rss_at(0.0)

    @property
    def middle(self) -> int:
        return self.rss_at(0.5)

    @property
    def end(self) -> int:
        return self.rss_at(1.0)

    @property
    def peak(self) -> int:
        return max(rss for _, rss in self.samples)

    @property
    def second_half_growth(self) -> float:
        return (self.end - self.middle) / self.middle

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        verdict = "PASS" if self.second_half_growth <= TARGET_SECOND_HALF_GROWTH else "MISS"
        return [
            f"soak: {self.seconds:.0f} s of collection over HTTP, {self.events:,} events "
            f"({self.events_per_s:,.0f}/s), {len(self.errors)} failed requests",
            f"server RSS: start {self.start / mib:.1f} MiB, middle {self.middle / mib:.1f} "
            f"MiB, end {self.end / mib:.1f} MiB (peak {self.peak / mib:.1f} MiB)",
            f"growth over the second half: {self.second_half_growth:+.1%} "
            f"(target <= {TARGET_SECOND_HALF_GROWTH:.0%}): {verdict}",
        ]


def figures(result: SoakResult) -> list[Figure]:
    return [
        Figure(
            f"server RSS growth over the soak's second half ({result.seconds:.0f} s soak)",
            100 * result.second_half_growth,
            100 * TARGET_SECOND_HALF_GROWTH,
            "%",
            higher_is_better=False,
        )
    ]


def render(result: SoakResult) -> list[str]:
    """The soak's section of the report: RSS at start, middle and end, and the samples."""
    mib = 1024 * 1024
    lines = [
        "",
        "## Soak: the server's memory under sustained collection",
        "",
        f"{result.seconds:.0f} s of `/v1/batch` over HTTP on SQLite after a warm-up, new "
        "visitors arriving all along (`bench/soak.py`); RSS of the server process.",
        "",
        "| at | RSS |",
        "| --- | --- |",
        f"| start | {result.start / mib:.1f} MiB |",
        f"| middle | {result.middle / mib:.1f} MiB |",
        f"| end | {result.end / mib:.1f} MiB |",
        f"| peak | {result.peak / mib:.1f} MiB |",
        "",
        f"{result.events:,} events ({result.events_per_s:,.0f}/s), {len(result.errors)} "
        f"failed requests; growth over the second half {result.second_half_growth:+.1%}.",
    ]
    return lines


@contextmanager
def _server(store: Store, log_path: Path) -> Iterator[tuple[str, int]]:
    """`bench.server` on `store`: its URL and process id; stopped however we leave."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.server"],
            cwd=REPO,
            env=store.env(port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(process, url, log_path)
            yield url, process.pid
        finally:
            _stop(process)


def templates(traffic: Traffic, count: int) -> list[bytes]:
    """`count` bodies whose message ids, and new visitors' anonymous ids, carry a
    prefix that each sending replaces with one of its own."""
    found = []
    for _ in range(count):
        batch = traffic.batch(BATCH)
        for message in batch["batch"]:
            message["messageId"] = "m-" + message["messageId"]
            if message.get("userId") is None:
                message["anonymousId"] = "v-" + message["anonymousId"]
        found.append(orjson.dumps(batch))
    return found


def _load(
    url: str, write_key: str, bodies: list[list[bytes]], seconds: float, result: SoakResult | None
) -> None:
    """Each client posts its bodies, made new each time, until `seconds` are up."""
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(write_key)}
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    sendings = itertools.count()

    def client(mine: list[bytes]) -> None:
        events = 0
        errors: list[str] = []
        with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
            while time.monotonic() < deadline:
                n = next(sendings)
                tag = f"s{n:x}-".encode()
                body = (
                    mine[n % len(mine)]
                    .replace(_MESSAGE, _MESSAGE + tag)
                    .replace(_NEW_VISITOR, _NEW_VISITOR + tag)
                )
                try:
                    answer = http.post("/v1/batch", content=body)
                except httpx.HTTPError as exc:
                    errors.append(exc.__class__.__name__)
                    break
                if answer.status_code == 200:
                    events += BATCH
                else:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")
        if result is not None:
            with lock:
                result.events += events
                result.errors.extend(errors)

    threads = [threading.Thread(target=client, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(
    tmp: Path,
    *,
    seconds: float = SOAK_SECONDS,
    warmup: float = WARMUP_SECONDS,
    clients: int = CLIENTS,
    users: int = USERS,
    seed_value: int = 20261204,
    progress: object = None,
) -> SoakResult:
    """Seed a store, serve it, warm up, then soak for `seconds`, sampling RSS."""
    say = progress if callable(progress) else (lambda _text: None)
    tmp.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed_value)
    pool = make_users(users, rng)
    seeded = seed(new_store(tmp / "soak"), pool, rng)
    say(f"  building {clients} x {TEMPLATES} request bodies")
    bodies = [
        templates(Traffic(pool, random.Random(seed_value + n)), TEMPLATES) for n in range(clients)
    ]
    result = SoakResult(seconds)
    with _server(seeded.store, tmp / "soak-server.log") as (url, pid):
        say(f"  server up (pid {pid}); warming up for {warmup:.0f} s")
        _load(url, seeded.write_key, bodies, warmup, None)
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while True:
                result.samples.append((time.monotonic() - started, rss_bytes(pid)))
                if stop.wait(min(SAMPLE_EVERY, max(seconds / 20, 0.5))):
                    result.samples.append((time.monotonic() - started, rss_bytes(pid)))
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        say(f"  soaking for {seconds:.0f} s with {clients} clients")
        _load(url, seeded.write_key, bodies, seconds, result)
        stop.set()
        sampler.join()
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=seconds_from_env(),
        help="how long the load lasts (default 600, or BENCH_SOAK_SECONDS)",
    )
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trustable-soak-") as tmp:
        result = measure(
            Path(tmp),
            seconds=args.seconds,
            warmup=args.warmup,
            clients=args.clients,
            progress=lambda text: print(text, flush=True),
        )
    for line in result.lines():
        print(line, flush=True)
    mib = 1024 * 1024
    for at, rss in result.samples:
        print(f"  {at:6.1f} s  {rss / mib:7.1f} MiB")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
