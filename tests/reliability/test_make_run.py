"""The processes of `make run` (Procfile.dev under honcho): Ctrl-C is a warm shutdown
that lets a running task finish, and a process that dies comes back by itself."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from providers import Provider
from reconciliation import services
from reconciliation.models import ReconciliationRun, RunStatus, RunTrigger
from reconciliation.tasks import reconciliation_run_task
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel
from tests.worker import ROOT, free_port, process_env, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

SID = "AC" + "1" * 32
PAGE_SECONDS = 4


class SlowTwilio(BaseHTTPRequestHandler):
    """Twilio's message list, one empty page that takes PAGE_SECONDS to come."""

    def do_GET(self):
        time.sleep(PAGE_SECONDS)
        body = json.dumps({"messages": [], "next_page_uri": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _make_run(processes: list[str], env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and launcher
        [sys.executable, "config/run_procfile.py", *processes],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # like a terminal: Ctrl-C reaches honcho's group only
    )


def test_ctrl_c_lets_a_running_task_finish(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("A worker process writes the run while the test reads it (PostgreSQL).")
    provider = ThreadingHTTPServer(("127.0.0.1", free_port()), SlowTwilio)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    channel = make_channel(OrganizationFactory(), Provider.TWILIO, account_id=SID)
    env = process_env(TWILIO_API_URL=f"http://127.0.0.1:{provider.server_port}", PORT="0")
    log_path = tmp_path / "make-run.log"

    with log_path.open("w") as log:
        honcho = _make_run(["maintenance"], env, log)
        try:
            wait_for(lambda: " ready." in log_path.read_text(), timeout=30)
            run = services.run_create(channel=channel, trigger=RunTrigger.API)
            reconciliation_run_task.delay(run.pk)
            wait_for(lambda: _status(run.pk) == RunStatus.RUNNING, timeout=15)

            os.killpg(honcho.pid, signal.SIGINT)  # Ctrl-C, mid-page
            honcho.wait(timeout=45)
        finally:
            stop(honcho)
            provider.shutdown()

    output = log_path.read_text()
    assert "Warm shutdown" in output
    assert "SIGKILL" not in output
    assert "WorkerLostError" not in output
    assert _status(run.pk) == RunStatus.SUCCEEDED  # the task finished before the exit


def test_a_process_that_dies_is_started_again(tmp_path):
    log_path = tmp_path / "supervise.log"
    pids = tmp_path / "pids"
    script = (
        f"import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(60)"
    )

    with log_path.open("w") as log:
        supervisor = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "config/supervise.py", "--", sys.executable, "-c", script],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            first = int(wait_for(lambda: pids.exists() and pids.read_text().split(), timeout=10)[0])
            os.kill(first, signal.SIGKILL)  # the process dies
            wait_for(lambda: len(pids.read_text().split()) == 2, timeout=10)  # and is back
            second = int(pids.read_text().split()[1])

            supervisor.send_signal(signal.SIGTERM)
            assert supervisor.wait(timeout=10) == 0
        finally:
            stop(supervisor)

    assert "exited with -9" in log_path.read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)  # stopped with its supervisor, not left behind


def _status(run_id: int) -> str:
    return ReconciliationRun.objects.get(pk=run_id).status
