"""Fixtures: a store on SQLite, PostgreSQL or Citus, a bootstrapped Trustable, a live server.

Every test that asks for `settings` (or anything built on it) runs twice: on a SQLite
file in a temporary folder and on PostgreSQL in schemas of its own, dropped after.
Modules marked `citus` (collection, erasure, joins, concurrent senders) run a third
time, on a Citus cluster the session starts (tests/citus.py). The whole suite on
Citus takes twice as long as on the two others together, so CI runs that subset and
tests/storage/test_citus*.py; run everything on a cluster with
TRUSTABLE_TEST_STORES=citus. Under CI=true an unreachable PostgreSQL, or
a cluster that cannot start, fails those tests instead of skipping them.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import text

from tests.citus import citus_cluster
from tests.destinations.receiver import Receiver
from tests.mail import Inbox
from trustable.access.service import create_key
from trustable.api.app import create_app
from trustable.bootstrap import Trustable, bootstrap
from trustable.core.settings import Settings, example_policy_path
from trustable.storage.engine import drop_schema, make_engine
from trustable.vault.master import encode_key

POSTGRES_URL = os.environ.get(
    "TRUSTABLE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# The PostgreSQL stores are partitioned as in production (storage.partitions), in
# two partitions rather than its default 16: every test makes a store of its own, and
# each partition costs its creation; tests/storage/test_partitions.py uses more.
os.environ.setdefault("TRUSTABLE_PARTITIONS", "2")
# pytest-xdist's worker processes start with COLUMNS=80 in their environment, and a
# Rich console made when `trustable.cli` is imported would keep that width for good;
# each CLI test gives its own invocation the width it wants instead.
os.environ.pop("COLUMNS", None)
SHARED = Path(__file__).resolve().parents[2] / "shared"
MOVIELENS = Path(os.environ.get("TRUSTABLE_MOVIELENS", SHARED / "data" / "ml-100k"))


def _postgres_reachable() -> str | None:
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return None
    except Exception as exc:  # any failure to connect means "not here"
        return f"{exc.__class__.__name__}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    problem = _postgres_reachable()
    if problem is None:
        return True
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable ({problem}) and CI=true")
    return False


def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh SQLite data store and key store under `tmp_path`."""
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'home' / 'data.db'}",
        keystore_url=f"sqlite:///{tmp_path / 'home' / 'keys.db'}",
        policy_path=example_policy_path(),
        master_key=encode_key(secrets.token_bytes(32)),
    )


@contextmanager
def postgres_store(base: Settings, *, data_server: str = POSTGRES_URL) -> Iterator[Settings]:
    """`base` moved to fresh schemas, dropped afterwards: the data store's on
    `data_server` (the test PostgreSQL, or a Citus coordinator), the key store's on
    the test PostgreSQL (keys never sit with the data)."""
    tag = secrets.token_hex(6)
    pg = replace(
        base,
        database_url=f"{data_server}{'&' if '?' in data_server else '?'}schema=t_{tag}",
        keystore_url=f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema=t_{tag}_keys",
    )
    try:
        yield pg
    finally:
        for url in (pg.database_url, pg.keystore_url):
            engine = make_engine(url)
            drop_schema(engine)
            engine.dispose()


@pytest.hookimpl(tryfirst=True)  # before the fixture's own params are applied
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test that takes `settings` runs on SQLite and PostgreSQL, and those marked
    `citus` on a Citus cluster as well. TRUSTABLE_TEST_STORES (say `citus`) runs the
    chosen stores only, for every test: to try the whole suite on one."""
    if "settings" not in metafunc.fixturenames:
        return
    chosen = os.environ.get("TRUSTABLE_TEST_STORES")
    if chosen:
        stores = [s.strip() for s in chosen.split(",") if s.strip()]
    elif metafunc.definition.get_closest_marker("citus") is not None:
        stores = [*STORES, "citus"]
    else:
        return  # the fixture's own two
    # As a mark, so that pytest applies it in place of the fixture's own params.
    metafunc.definition.add_marker(pytest.mark.parametrize("settings", stores, indirect=True))


STORES = ["sqlite", "postgresql"]


@pytest.fixture(params=STORES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    base = sqlite_settings(tmp_path)
    if request.param == "sqlite":
        yield base
        return
    if request.param == "citus":
        coordinator = request.getfixturevalue("citus_url")
        with postgres_store(base, data_server=coordinator) as distributed:
            yield distributed
        return
    if not request.getfixturevalue("postgres_available"):
        pytest.skip("PostgreSQL is not reachable here (CI requires it)")
    with postgres_store(base) as pg:
        yield pg


@pytest.fixture(scope="session")
def citus_url() -> Iterator[str]:
    """A Citus cluster for the session (for each pytest-xdist worker process that runs
    a test on Citus): a coordinator and two workers on loopback,
    started with ../shared/tools/citus-cluster.sh (`make test` installs Citus), or
    TRUSTABLE_TEST_CITUS naming one already running. Under CI=true a cluster that
    cannot start fails the tests that need it."""
    given = os.environ.get("TRUSTABLE_TEST_CITUS")
    if given:
        yield given
        return
    with citus_cluster() as cluster:
        yield cluster.url


@pytest.fixture
def postgres_settings(tmp_path: Path, postgres_available: bool) -> Iterator[Settings]:
    """For what only PostgreSQL has (advisory locks, many sessions on one store)."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable here (CI requires it)")
    with postgres_store(sqlite_settings(tmp_path)) as pg:
        yield pg


@pytest.fixture
def app(settings: Settings) -> Iterator[Trustable]:
    trustable = bootstrap(settings)
    yield trustable
    trustable.close()


def make_key(app: Trustable, *scopes: str, name: str = "test") -> str:
    with app.uow() as uow:
        _, plaintext = create_key(uow, app.policy, name=name, scopes=list(scopes), now=app.clock())
        uow.commit()
    return plaintext


@pytest.fixture
def write_key(app: Trustable) -> str:
    return make_key(app, "collect", name="write")


@pytest.fixture
def server_key(app: Trustable) -> str:
    """The shop backend's secret write key: a trusted source."""
    return make_key(app, "collect:server", name="backend")


@pytest.fixture
def admin_key(app: Trustable) -> str:
    return make_key(app, "admin", name="admin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app under uvicorn on a free port, without the background threads `serve`
    adds: a test sequences the ledger itself (`flush`) where the sequencer would."""

    def __init__(self, app: Trustable) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(app),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: Trustable) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def live_server_for() -> Iterator[Callable[[Trustable], LiveServer]]:
    """Start a live server for a Trustable a test built itself (stopped at the end)."""
    started: list[LiveServer] = []

    def start(app: Trustable) -> LiveServer:
        server = LiveServer(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A destination's real HTTP endpoint on a free loopback port, and what it got."""
    found = Receiver(free_port()).start()
    yield found
    found.stop()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free loopback port, and what it received."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()
