"""The public ledger at 10^6 entries: serving tiles and the checkpoint, and a witness.

A log of `entries` entries is built as section 5 builds it, on SQLite, and served by a
real `python -m trustable serve` process. Then, over HTTP with no key:
1. `GET /ledger/checkpoint`, `requests` times, one client: p50 and p99 (judged, 5 ms);
2. `GET /ledger/tile/<L>/<N>` of random full tiles at levels 0 and 1: p50, p99
   (judged, 5 ms);
3. a witness (in this process, its state in its own folder, following the log with
   its URL) cosigning each new checkpoint after the log grew by `grow` entries, the
   consistency proof built from the log's tiles over HTTP included: p50, p99, max of
   `rounds` cosignings (judged on p99, 100 ms).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.http_load import trustable_serve
from bench.ledger import build_log
from bench.report import Figure, Latencies
from bench.world import new_store
from trustable.bootstrap import Trustable
from trustable.ledger.public import checkpoint, log_key
from trustable.ledger.sequencer import flush
from trustable.ledger.tiles import WIDTH, tile_path
from trustable.witness.client import TileFetcher
from trustable.witness.service import Witness, init, request_body

TARGET_SERVE_P99_MS = 5.0
TARGET_COSIGN_P99_MS = 100.0
ORIGIN = "bench.trustable.example"


@dataclass(frozen=True)
class TilesResult:
    entries: int
    build_s: float
    checkpoint: Latencies
    tiles: Latencies
    cosign: Latencies
    grow: int


def measure(
    home: Path,
    *,
    entries: int,
    requests: int,
    rounds: int,
    grow: int,
    progress: Callable[[str], None],
) -> TilesResult:
    store = new_store(home / "log")
    app = store.open()
    try:
        progress(f"  building a log of {entries:,} entries")
        build_s = build_log(app, entries=entries, chunk=10_000, progress=progress)
        flush(app)
        with trustable_serve(store, home / "serve.log", "--no-worker") as (url, _):
            picker = random.Random(5)
            with httpx.Client(base_url=url, timeout=10) as client:
                for _ in range(50):  # warm the process and its connections
                    client.get("/ledger/checkpoint")
                checkpoints = _timed(requests, lambda: client.get("/ledger/checkpoint"))
                full0 = entries // WIDTH
                paths = [
                    "/ledger/" + tile_path(0, picker.randrange(full0), WIDTH)
                    if n % 4
                    else "/ledger/" + tile_path(1, picker.randrange(max(1, full0 // WIDTH)), WIDTH)
                    for n in range(requests)
                ]
                paths_left = iter(paths)
                tiles = _timed(requests, lambda: client.get(next(paths_left)))
            progress("  a witness cosigning each new checkpoint (tiles read over HTTP)")
            cosign = _cosign(app, home / "witness", url, rounds=rounds, grow=grow)
    finally:
        app.close()
    return TilesResult(entries, build_s, checkpoints, tiles, cosign, grow)


def _timed(count: int, call: Callable[[], httpx.Response]) -> Latencies:
    samples: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.request.url} answered {answer.status_code}")
    return Latencies(samples)


def _cosign(app: Trustable, folder: Path, url: str, *, rounds: int, grow: int) -> Latencies:
    init(folder, "witness.bench.example")
    fetcher = TileFetcher()
    witness = Witness.open(folder, fetcher)
    samples: list[float] = []
    try:
        witness.follow(log_key(app.vault, app.settings.checkpoint_origin).vkey(), url)
        old = 0
        for _ in range(rounds + 1):
            with app.reader() as uow:
                note = checkpoint(uow, app.vault, app.settings.checkpoint_origin).note
            body = request_body(old, [], note.serialize())
            start = time.perf_counter()
            answer = witness.add_checkpoint(body)
            took = (time.perf_counter() - start) * 1000
            if answer.status != 200:
                raise RuntimeError(f"the witness refused: {answer.status} {answer.body}")
            if old:  # the first one only records the starting point
                samples.append(took)
            old = witness.followed(app.settings.checkpoint_origin).size  # type: ignore[union-attr]
            build_log(app, entries=grow, chunk=grow, progress=lambda _: None)
            flush(app)
    finally:
        witness.close()
        fetcher.close()
    return Latencies(samples)


def figures(result: TilesResult) -> list[Figure]:
    return [
        Figure(
            f"checkpoint served, p99 ({result.entries:,} entries)",
            result.checkpoint.at(0.99),
            TARGET_SERVE_P99_MS,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            f"full tile served, p99 ({result.entries:,} entries)",
            result.tiles.at(0.99),
            TARGET_SERVE_P99_MS,
            "ms",
            higher_is_better=False,
        ),
        Figure(
            "witness cosigns a new checkpoint, p99 (tiles over HTTP)",
            result.cosign.at(0.99),
            TARGET_COSIGN_P99_MS,
            "ms",
            higher_is_better=False,
        ),
    ]


def render(result: TilesResult) -> list[str]:
    def row(name: str, found: Latencies) -> str:
        return (
            f"| {name} | {len(found.samples_ms):,} | {found.at(0.5):.2f} | "
            f"{found.at(0.99):.2f} | {max(found.samples_ms):.2f} |"
        )

    return [
        "",
        f"## 16. The public ledger: tiles, checkpoint and a witness at {result.entries:,} entries",
        "",
        f"Log built in {result.build_s:.0f} s; served by `python -m trustable serve` on SQLite, "
        "read over HTTP with no key by one client. The witness runs in the bench's process "
        f"with its own state, and after each growth of {result.grow:,} entries cosigns the "
        "new checkpoint, reading the log's tiles over HTTP to build the consistency proof.",
        "",
        "| what | samples | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- |",
        row("GET /ledger/checkpoint", result.checkpoint),
        row("GET /ledger/tile/0 or 1/N (full)", result.tiles),
        row("witness add-checkpoint (tiles over HTTP)", result.cosign),
    ]
