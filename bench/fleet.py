"""What the scale-out benchmark measures around real `trustable serve` processes.

Each function here takes a store that servers run on (or ran on) and returns plain
figures; `bench.scale` decides which stores, in what order, and what is judged.

- `collect`: one timed collection run through `trustable serve --workers N`, with
  the CPU the server's processes and every `postgres` process on the machine spent
  in the timed window, and the tree size when it began (for the merge delay).
- `merge_delay`: for every ledger entry written during a window, how long it waited
  for a signed head covering it.
- `copy_baseline`: the same number of event rows loaded with a plain `COPY`.
- `twin_servers`: two servers on one database, every batch sent to both.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psutil
from sqlalchemy import func, select

from bench.http_load import LoadResult, basic_auth, drive, trustable_serve
from bench.traffic import Traffic
from bench.world import Store
from trustable.bootstrap import Trustable
from trustable.events.service import EVENT_COLUMNS
from trustable.events.tables import events, received_messages
from trustable.ledger import service as ledger_service
from trustable.ledger.sequencing import pending_count
from trustable.ledger.tables import ledger_entries
from trustable.ledger.verify import verify

BATCH = 100  # events per `/v1/batch` request, as in section 1
SETTLE_TIMEOUT_S = 120.0


def check(result: LoadResult, what: str) -> None:
    if result.errors:
        raise RuntimeError(
            f"{what}: {len(result.errors)} of {result.requests} requests failed; first: "
            f"{result.errors[0]}"
        )


def server_errors(log_path: Path) -> list[str]:
    """The last line of each traceback in a server's log: the exception each failed
    request ended in (a class and a message that holds no personal data)."""
    found: list[str] = []
    inside = False
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback"):
            inside = True
        elif inside and line and not line.startswith((" ", "\t", "The above", "During")):
            found.append(line[:300])
            inside = False
    return found


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- CPU of the server and of the database ---------------------------------------


def _cpu_of(processes: list[psutil.Process]) -> dict[int, float]:
    """Seconds of CPU (user + system) each process has used so far."""
    spent: dict[int, float] = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        spent[process.pid] = times.user + times.system
    return spent


def _server_processes(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


POSTGRES_NAMES = ("postgres", "postmaster")


def _postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in POSTGRES_NAMES]


def _data_directory(process: psutil.Process) -> str:
    """The data directory of the PostgreSQL server (the node, on a cluster) that a
    postgres process belongs to: its postmaster's `-D` argument ("" if unknown)."""
    try:
        top = process
        for parent in process.parents():
            if parent.name() not in POSTGRES_NAMES:
                break
            top = parent
        arguments = top.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""
    for flag, value in zip(arguments, arguments[1:], strict=False):
        if flag == "-D":
            return value
    return ""


def _backends_of(server: list[psutil.Process], app: Trustable) -> list[psutil.Process]:
    """The PostgreSQL sessions serving the server's own connections: its processes'
    TCP connections to the database's port, matched to `pg_stat_activity` by the
    client port. What others run on the same PostgreSQL is left out."""
    port = app.engine.url.port or 5432
    mine: set[int] = set()
    for process in server:
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        mine.update(c.laddr.port for c in connections if c.raddr and c.raddr.port == port)
    with app.engine.connect() as conn:
        sessions = conn.exec_driver_sql(
            "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL"
        ).all()
    found = []
    for pid, client_port in sessions:
        if client_port in mine:
            try:
                found.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
    return found


@dataclass(frozen=True)
class CpuSample:
    server: dict[int, float]
    database: dict[int, float]  # every postgres process on the machine
    sessions: dict[int, float]  # the server's own sessions (empty without PostgreSQL)
    nodes: dict[int, str]  # each postgres process's data directory: its server or node


def cpu_sample(server_pid: int, app: Trustable | None) -> CpuSample:
    server = _server_processes(server_pid)
    postgres = app is not None and app.engine.dialect.name == "postgresql"
    database = _postgres_processes()
    return CpuSample(
        _cpu_of(server),
        _cpu_of(database),
        _cpu_of(_backends_of(server, app)) if postgres and app is not None else {},
        {p.pid: _data_directory(p) for p in database},
    )


def _spent_by_node(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU of the postgres processes between two samples, summed per data directory:
    on a Citus cluster, what the coordinator and each worker spent."""
    spent: dict[str, float] = {}
    for pid, now in after.database.items():
        node = after.nodes.get(pid, "")
        spent[node] = spent.get(node, 0.0) + now - before.database.get(pid, 0.0)
    return spent


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples: a process born in between counts whole, one that
    ended in between is lost (backends live as long as the server's pool)."""
    return sum(now - before.get(pid, 0.0) for pid, now in after.items())


@dataclass(frozen=True)
class CpuCost:
    """CPU the timed window cost, per event stored in it."""

    server_s: float
    database_s: float  # every postgres process on the machine
    sessions_s: float  # the server's own PostgreSQL sessions alone
    by_node: dict[str, float]  # database_s apart per data directory (server or node)
    server_processes: int
    database_processes: int
    sessions: int
    stored: int
    received: int

    @property
    def server_us(self) -> float:
        return 1e6 * self.server_s / self.stored

    @property
    def database_us(self) -> float:
        return 1e6 * self.database_s / self.stored

    @property
    def sessions_us(self) -> float:
        return 1e6 * self.sessions_s / self.stored

    def node_us(self, directory: str) -> float:
        """CPU per stored event of the server or node whose data directory this is."""
        return 1e6 * self.by_node.get(directory, 0.0) / self.stored


# -- one collection run ----------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    dialect: str
    workers: int
    clients: int
    warm: LoadResult
    load: LoadResult
    window: tuple[datetime, datetime]
    size_at_start: int  # the tree size as the timed window began (-1: not read)
    cpu: CpuCost
    # Failed requests (not counted as collected) and what the server's log says of them.
    failures: list[str]

    @property
    def events_per_s(self) -> float:
        return self.load.events_per_s

    def latency_ms(self, q: float) -> float:
        return 1000 * quantile(self.load.latencies_s, q)


def collect(
    store: Store,
    write_key: str,
    traffic: Traffic,
    log_path: Path,
    *,
    workers: int,
    clients: int,
    warmup_s: float,
    duration_s: float,
    app: Trustable | None,
) -> Collection:
    """Warm up, size the timed run from the warm-up's rate, time it; then, given an
    `app` on the same store, wait until everything the run submitted is sequenced and
    signed before the server stops. (Without one the server's last round sequences
    it as it stops: SQLite runs take none, since an open store runs a WAL
    checkpointer of its own beside the servers'.)"""
    args = ("--workers", str(workers), "--no-worker")
    with trustable_serve(store, log_path, *args) as (url, process):
        warm = drive(
            url,
            write_key,
            traffic.bodies(max(clients * 4, 150), BATCH),
            batch_size=BATCH,
            clients=clients,
            duration_s=warmup_s,
        )
        # Enough bodies for twice the warm-up's rate (a warm-up starts cold): running out
        # would end the run early, and the report would say so.
        needed = math.ceil(warm.events_per_s * duration_s * 2 / BATCH) + 4 * clients
        bodies = traffic.bodies(needed, BATCH)
        size_at_start = -1
        if app is not None:
            with app.reader() as uow:
                size_at_start = ledger_service.tree_size(uow)
        before = cpu_sample(process.pid, app)
        started = datetime.now(UTC)
        load = drive(
            url, write_key, bodies, batch_size=BATCH, clients=clients, duration_s=duration_s
        )
        ended = datetime.now(UTC)
        after = cpu_sample(process.pid, app)
        if app is not None:
            settle(app)
    cpu = CpuCost(
        server_s=_spent(before.server, after.server),
        database_s=_spent(before.database, after.database),
        sessions_s=_spent(before.sessions, after.sessions),
        by_node=_spent_by_node(before, after),
        server_processes=len(after.server),
        database_processes=len(after.database),
        sessions=len(after.sessions),
        stored=load.stored,
        received=load.events,
    )
    failures = [*warm.errors, *load.errors]
    if failures:  # shown beside the figures, which count only what was collected
        failures += [f"server log: {line}" for line in server_errors(log_path)]
    return Collection(
        store.dialect,
        workers,
        clients,
        warm,
        load,
        (started, ended),
        size_at_start,
        cpu,
        failures,
    )


def settle(app: Trustable, timeout_s: float = SETTLE_TIMEOUT_S) -> float:
    """Wait until nothing is pending and a signed head covers the whole log (the
    servers' sequencer does it); seconds waited."""
    started = time.monotonic()
    while True:
        with app.reader() as uow:
            pending = pending_count(uow)
            size = ledger_service.tree_size(uow)
            head = ledger_service.latest_head(uow)
        if pending == 0 and (size == 0 or (head is not None and head.size >= size)):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{pending} records still pending after {timeout_s:.0f} s")
        time.sleep(0.1)


# -- the maximum merge delay, measured ------------------------------------------


@dataclass(frozen=True)
class MergeDelay:
    entries: int
    heads: int  # heads signed over them
    delays_s: list[float]

    def at(self, q: float) -> float:
        return quantile(self.delays_s, q)

    @property
    def max_s(self) -> float:
        return max(self.delays_s)


def merge_delay(app: Trustable, collection: Collection) -> MergeDelay:
    """For every entry recorded in the timed window: `signed_at` of the first head whose
    size is above its index, minus the entry's own `at`. Entries recorded during the
    window all have an index at or above the size when it began."""
    start, end = collection.window
    with app.reader() as uow:
        signed = ledger_service.heads(uow)
        rows = uow.connection.execute(
            select(ledger_entries.c.idx, ledger_entries.c.body)
            .where(ledger_entries.c.idx >= collection.size_at_start)
            .order_by(ledger_entries.c.idx)
        ).all()
    sizes = [h.size for h in signed]
    delays: list[float] = []
    used: set[int] = set()
    for idx, body in rows:
        at = datetime.fromisoformat(orjson.loads(body)["at"])
        if not start <= at <= end:
            continue
        first = bisect.bisect_right(sizes, idx)  # first head with size > idx
        if first == len(signed):
            raise RuntimeError(f"no signed head covers entry {idx}")
        used.add(first)
        delays.append((signed[first].signed_at - at).total_seconds())
    if not delays:
        raise RuntimeError("no ledger entry was recorded in the timed window")
    return MergeDelay(len(delays), len(used), delays)


# -- the baseline: a plain COPY of the same rows ---------------------------------

# The columns collection writes: the baseline copies exactly what an event costs.
_COPY_COLUMNS = EVENT_COLUMNS
SCRATCH = "bench_copy_events"


@dataclass(frozen=True)
class CopyResult:
    rows: int
    seconds: float
    mean_payload_bytes: float
    megabytes: float  # of COPY text sent

    @property
    def per_s(self) -> float:
        return self.rows / self.seconds


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes | memoryview):
        return "\\\\x" + bytes(value).hex()
    return str(value)


def copy_baseline(app: Trustable, *, rows: int, seed: int) -> CopyResult:
    """`rows` rows shaped as the events the run stored (copies of them: same customers
    and sealed payloads, fresh message ids) loaded with one `COPY … FROM STDIN` in one
    transaction into a scratch table built `LIKE events INCLUDING ALL` (same columns,
    defaults and indexes). The COPY text is built before timing: what is timed is the
    database taking the rows."""
    import random

    rng = random.Random(seed)
    names = ", ".join(c for c in _COPY_COLUMNS if c != "message_id")
    with app.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT {names} FROM events ORDER BY id DESC LIMIT 20000"  # noqa: S608
        ).all()
    if not stored:
        raise RuntimeError("the run stored no events: nothing to copy")
    lines: list[str] = []
    payload_bytes = 0
    for _ in range(rows):
        customer, kind, occurred, received, categories, payload, history = rng.choice(stored)
        payload_bytes += len(payload)
        message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        values = (customer, message_id, kind, occurred, received, categories, payload, history)
        lines.append("\t".join(_copy_text(v) for v in values) + "\n")
    data = "".join(lines).encode()
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    raw = app.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
            cursor.execute(f"CREATE TABLE {SCRATCH} (LIKE events INCLUDING ALL)")
        driver.commit()
        copy_sql = f"COPY {SCRATCH} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
        started = time.perf_counter()
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for chunk in chunks:
                copy.write(chunk)
        driver.commit()
        seconds = time.perf_counter() - started
        with driver.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {SCRATCH}")
            found = cursor.fetchone()
            cursor.execute(f"DROP TABLE {SCRATCH}")
        driver.commit()
    finally:
        raw.close()
    if found is None or found[0] != rows:
        raise RuntimeError(f"COPY loaded {found} rows, not {rows}")
    return CopyResult(rows, seconds, payload_bytes / rows, len(data) / 2**20)


# -- two servers, one database ---------------------------------------------------


@dataclass
class TwinResult:
    batches: int
    messages: int
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "503", "transport"
    acknowledged: int = 0  # messages in batches at least one server answered 200 to
    reported_stored: int = 0  # the sum of the answers' `stored`
    lost: int = 0  # acknowledged, but no receipt in the store
    duplicated: int = 0  # message ids received or stored more than once
    receipts: int = 0
    events_stored: int = 0
    collect_entries: int = 0
    verified: bool = False
    problem: str | None = None
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))


def twin_servers(
    store: Store,
    write_key: str,
    traffic: Traffic,
    logs: Path,
    *,
    batches: int,
    clients: int,
    app: Trustable,
) -> TwinResult:
    """Two `trustable serve` processes on one database; every batch goes to both at
    once (same message ids, users shared by all batches), so both servers race to
    create the same new customers and to store the same messages. Then the store is
    counted: every acknowledged message received once, no event stored twice, the
    servers' `stored` answers adding up to the events stored, and the ledger verifies."""
    bodies = traffic.bodies(batches, BATCH)
    ids = [[m["messageId"] for m in orjson.loads(b)["batch"]] for b in bodies]
    result = TwinResult(batches=batches, messages=batches * BATCH)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "Authorization": basic_auth(write_key)}
    with (
        trustable_serve(store, logs / "twin-a.log", "--no-worker") as (url_a, _),
        trustable_serve(store, logs / "twin-b.log", "--no-worker") as (url_b, _),
    ):
        urls = (url_a, url_b)
        next_body = iter(range(batches))

        def post(client: httpx.Client, body: bytes) -> tuple[str, int]:
            try:
                answer = client.post("/v1/batch", content=body)
            except httpx.HTTPError:
                return "transport", 0
            stored = orjson.loads(answer.content)["stored"] if answer.status_code == 200 else 0
            return str(answer.status_code), stored

        def client_loop(number: int) -> None:
            with (
                httpx.Client(base_url=urls[number % 2], headers=headers, timeout=60) as mine,
                httpx.Client(base_url=urls[1 - number % 2], headers=headers, timeout=60) as other,
                ThreadPoolExecutor(1) as beside,
            ):
                while True:
                    with lock:
                        index = next(next_body, None)
                    if index is None:
                        return
                    body = bodies[index]
                    there = beside.submit(post, other, body)
                    answers = [post(mine, body), there.result()]
                    with lock:
                        for status, stored in answers:
                            result.statuses[status] += 1
                            result.reported_stored += stored
                        if any(status == "200" for status, _ in answers):
                            acknowledged.update(ids[index])

        started = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.seconds = time.perf_counter() - started
        settle(app)
    result.acknowledged = len(acknowledged)
    with app.reader() as uow:
        conn = uow.connection
        receipts = Counter(m for (m,) in conn.execute(select(received_messages.c.message_id)))
        stored = Counter(m for (m,) in conn.execute(select(events.c.message_id)))
        result.collect_entries = conn.execute(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.kind == "collect")
        ).scalar_one()
        checked = verify(
            uow, app.vault.public_key(), now=app.clock(), max_delay=app.settings.ledger_max_delay
        )
    result.receipts = sum(receipts.values())
    result.events_stored = sum(stored.values())
    result.lost = sum(1 for m in acknowledged if m not in receipts)
    result.duplicated = sum(1 for n in receipts.values() if n > 1) + sum(
        1 for n in stored.values() if n > 1
    )
    result.verified = checked.ok
    result.problem = checked.problem
    return result
