"""The machine's PostgreSQL, Redis and RabbitMQ for the cluster-profile tests.

`scripts/ensure-services.sh` starts the ones not listening (CI's machine has them). A test
works in a PostgreSQL database and a RabbitMQ queue of its own, both deleted afterwards, so it
never meets a user's tables or runs, or another test's. Tests fail, never skip, when a service
cannot be had.
"""

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from kombu import Connection

from leadflow.paths import PROJECT_ROOT

POSTGRES_URL = os.environ.get("LEADFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("LEADFLOW_TEST_RABBITMQ_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
PORTS = {"PostgreSQL": 5432, "Redis": 6379, "RabbitMQ": 5672}
ENSURE = PROJECT_ROOT / "scripts" / "ensure-services.sh"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_services() -> None:
    """Every service listening, started by the script when one is not."""
    if not all(_listening(port) for port in PORTS.values()):
        subprocess.run(["bash", str(ENSURE)], check=True, timeout=180)


def _with_database(url: str, name: str) -> str:
    """`url` on database `name`, in the form SQLAlchemy hands to psycopg2 (dagster-postgres's driver)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", path=f"/{name}"))


@contextmanager
def scratch_database(prefix: str = "leadflow_test") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (connections and all) on exit."""
    ensure_services()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(POSTGRES_URL, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def scratch_queue(prefix: str = "leadflow-test") -> Iterator[str]:
    """The name of a RabbitMQ queue of this test's own (Celery workers declare it), deleted
    from the broker on exit with whatever is left in it."""
    ensure_services()
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        with Connection(RABBITMQ_URL) as broker:
            broker.default_channel.queue_delete(name)
