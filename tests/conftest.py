"""Shared fixtures: a real Kafka-protocol broker (Tansu) and a real ClickHouse engine (chDB).

chDB allows one data folder per process, so the session holds one engine and each test gets
its own database on it. Topics get a unique prefix per test, so tests never see each other's
messages on the one broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from posguard.store.backends.chdb_backend import ChdbBackend
from posguard.store.migrations import migrate
from posguard.streams.broker import EmbeddedBroker
from posguard.streams.topics import Topics, ensure_topics

# Short group timeouts: a consumer group join otherwise waits tens of seconds.
TEST_SESSION_TIMEOUT_MS = 6000


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of a Tansu broker started for this test session."""
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    """Fresh posguard topics (4 partitions) with a unique prefix."""
    t = Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(kafka_bootstrap, t, partitions=4)
    return t


@pytest.fixture(scope="session")
def chdb_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbBackend]:
    engine = ChdbBackend(tmp_path_factory.mktemp("chdb"), database="posguard_session")
    yield engine
    engine.close()


@pytest.fixture
def store(chdb_engine: ChdbBackend) -> Iterator[ChdbBackend]:
    """A migrated, empty posguard database on the session's chDB engine."""
    backend = chdb_engine.sibling(f"t_{uuid.uuid4().hex[:12]}")
    migrate(backend)
    yield backend
    backend.command(f"DROP DATABASE IF EXISTS {backend.database}")


@pytest.fixture(scope="session")
def clickhouse_url(chdb_engine: ChdbBackend) -> Iterator[str]:
    """A ClickHouse-HTTP endpoint served from the session's chDB engine."""
    from posguard.store.chdb_http import ChdbHttpServer

    with ChdbHttpServer(chdb_engine.session, lock=chdb_engine.lock) as server:
        yield server.url


@pytest.fixture(params=["chdb", "clickhouse-connect"])
def any_store(request: pytest.FixtureRequest, chdb_engine: ChdbBackend) -> Iterator[object]:
    """The same fresh database reached through each backend in turn."""
    backend = chdb_engine.sibling(f"t_{uuid.uuid4().hex[:12]}")
    migrate(backend)
    if request.param == "chdb":
        yield backend
    else:
        from posguard.store.backends.http_backend import HttpBackend

        url = request.getfixturevalue("clickhouse_url")
        http = HttpBackend(url, backend.database)
        yield http
        http.close()
    backend.command(f"DROP DATABASE IF EXISTS {backend.database}")


def docker_available() -> str | None:
    """None when a Docker engine answers, else the reason it does not."""
    if os.environ.get("POSGUARD_DOCKER_TESTS") != "1":
        return "opt-in: set POSGUARD_DOCKER_TESTS=1 where a Docker engine runs"
    try:
        import docker

        docker.from_env().ping()
    except Exception as e:
        return f"no Docker engine here ({type(e).__name__}: {e})"
    return None
