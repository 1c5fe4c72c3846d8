"""What the benchmarks share: a fresh PostgreSQL database, production-like settings,
signed WhatsApp payloads, and process helpers. Benchmarks print figures; they are not
tests and never run in CI."""

import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
# BENCH_DATABASE names another one, so that people sharing a server do not drop
# each other's.
BENCH_DB = os.environ.get("BENCH_DATABASE", "switchboard_bench")
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "bench-app-secret"


def require(tool: str, install_hint: str) -> None:
    if shutil.which(tool) is None:
        sys.exit(f"{tool} is needed: {install_hint}")


def bench_environment() -> dict[str, str]:
    """Production settings (DEBUG off) against a fresh database named switchboard_bench
    (or $BENCH_DATABASE) on the server of DATABASE_URL, with REDIS_URL as the broker."""
    base_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: benchmarks measure those.")
    parts = urlsplit(base_url)
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{BENCH_DB}")),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def fresh_database(env: dict[str, str]) -> None:
    admin_url = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )


def drop_database(env: dict[str, str]) -> None:
    """Drop the benchmark's database (a million rows are not left behind)."""
    from django.db import connections

    connections.close_all()
    admin_url = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def whatsapp_channel():
    from providers import Provider
    from tenants import services

    organization = services.organization_create(name="Bench", slug="bench")
    return services.channel_create(
        organization=organization,
        provider=Provider.WHATSAPP_CLOUD,
        name="Bench WhatsApp",
        check_credentials=False,  # fake numbers: Meta would refuse them
        phone_number_id=PHONE_NUMBER_ID,
        waba_id="102290129340398",
        app_secret=APP_SECRET,
    )


def whatsapp_text_payload(
    index: int,
    *,
    messages: int = 1,
    contacts: int = 1000,
    text: str | None = None,
    timestamp: int | None = None,
) -> bytes:
    """A WhatsApp webhook with `messages` distinct text messages from one of `contacts`
    customers (`text` as the body of each, if given: a keyword), written at `timestamp`
    (default: a fixed day in 2025). Compact JSON, non-ASCII escaped, as Meta sends it."""
    wa_id = f"1650555{index % contacts:04d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": f"Customer {wa_id}"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.bench.{index}.{n}",
                "timestamp": str(timestamp if timestamp is not None else 1_760_000_000 + index),
                "type": "text",
                "text": {
                    "body": text
                    if text is not None
                    else f"Message {index}.{n}: does it come in another colour? ✓"
                },
            }
            for n in range(messages)
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def whatsapp_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def purge_broker(*queues: str) -> None:
    """Drop what a benchmark queued and no worker will take."""
    from config.celery import app

    with app.connection_for_write() as connection:
        for queue in queues or ("webhooks",):
            connection.default_channel.queue_purge(queue)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(
    command: list[str], env: dict[str, str], *, ready_port: int | None = None, cwd: Path = ROOT
):
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if ready_port:
            _wait_listening(ready_port)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"Nothing listens on port {port} after {timeout}s")


def celery_worker(queue: str, concurrency: int) -> list[str]:
    """The command of a real Celery worker on one queue, quiet and quick to start."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--queues",
        queue,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
