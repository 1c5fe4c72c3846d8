"""Real Celery worker processes for tests that must cross a process boundary."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    """The URL of the database the tests are using (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": test_database_url()}
    env.update(overrides)
    return env


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> None:
        wait_for(lambda: " ready." in self.log())


@contextmanager
def celery_worker(
    *,
    queues: str,
    env: dict[str, str],
    log_dir: Path,
    pool: str = "solo",
    concurrency: int = 1,
    production_like: bool = False,
):
    """A worker; `production_like`: a prefork pool with gossip, mingle and heartbeats on,
    as `make run` and the production layout start it."""
    lean = (
        [] if production_like else ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    )
    log_path = log_dir / f"worker-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running Celery
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            queues,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            *lean,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a test can kill it whole
    )
    try:
        yield Worker(process, log_path)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session, with its children."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis_server(port: int):
    """A throwaway Redis of our own, that a test may stop and start at will."""
    process = _redis_start(port)
    try:
        yield process
    finally:
        stop(process)


class RestartableRedis:
    """A throwaway Redis on a fixed port, stopped and started again by the test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process = _redis_start(port)

    def stop(self) -> None:
        stop(self.process)

    def start(self) -> None:
        self.process = _redis_start(self.port)


@contextmanager
def restartable_redis(port: int):
    server = RestartableRedis(port)
    try:
        yield server
    finally:
        server.stop()


def _redis_start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - the machine's redis-server, local only
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _answers(port), timeout=10)
    except AssertionError:
        stop(process)
        raise
    return process


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def web_server(*, port: int, env: dict[str, str], log_dir: Path):
    """The real ingest endpoint in its own process."""
    log = (log_dir / f"web-{port}.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running our app
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _listening(port), timeout=30)
        yield process
    finally:
        stop(process)
        log.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Gave up after {timeout}s waiting for {predicate}")
