"""Keep one process running: start it again when it dies, stop it warmly when told to.

    python config/supervise.py [--grace SECONDS] -- COMMAND [ARGS...]

`make run` starts web, workers and beat under honcho (Procfile.dev), which stops all
of them as soon as one exits, and on Ctrl-C sends SIGTERM to each process *group*,
then SIGKILL five seconds later. Run bare, a Celery worker got that SIGTERM in its pool
processes too (they died mid-task) and was then killed. Under this wrapper:

- the command runs in a session of its own, so the group signal and the terminal's
  Ctrl-C reach this wrapper only;
- on SIGTERM or SIGINT the wrapper sends one SIGTERM to the command (for Celery a warm
  shutdown: running tasks finish, nothing new starts) and waits up to --grace seconds
  (default 30; `make run` gives honcho longer: config/run_procfile.py); then SIGQUIT
  (Celery's cold shutdown: unfinished late-acked tasks go back to the broker, their
  work stays leased in the database); then it kills what is left of the command's group;
- if the command exits without being asked to, it is started again after a pause
  (1 s, doubling up to 30 s while it keeps dying; back to 1 s once it ran a minute).

It runs as a script (no Django, no imports from this project), so a broken setting
cannot stop it from restarting what it supervises. Production uses the init system
for the same job (README: systemd units with Restart=always and KillMode=mixed).
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

FIRST_PAUSE, MAX_PAUSE, HEALTHY_AFTER = 1.0, 30.0, 60.0


class Supervisor:
    def __init__(self, command: list[str], *, grace: float) -> None:
        self.command, self.grace = command, grace
        self.stopping, self.deadline = False, 0.0
        self.process: subprocess.Popen | None = None

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        pause = FIRST_PAUSE
        while True:
            started = time.monotonic()
            self.process = subprocess.Popen(self.command, start_new_session=True)  # noqa: S603
            code = self._wait()
            if self.stopping:
                self._kill_group()
                return 0
            ran = time.monotonic() - started
            pause = FIRST_PAUSE if ran >= HEALTHY_AFTER else min(pause * 2, MAX_PAUSE)
            _say(f"{self.command[0]} exited with {code} after {ran:.0f}s; again in {pause:g}s")
            self._kill_group()  # children it left behind (Django's autoreloader, a pool)
            if self._sleep(pause):
                return 0

    def _wait(self) -> int:
        """Wait for the command, escalating to a cold shutdown once the grace is over
        (polling: a signal handler must not wait on the process itself)."""
        quit_sent = False
        while (code := self.process.poll()) is None:
            if self.stopping and not quit_sent and time.monotonic() > self.deadline:
                _say(f"{self.command[0]} still running; cold shutdown")
                _signal(self.process.pid, signal.SIGQUIT)
                quit_sent = True
            time.sleep(0.1)
        return code

    def _stop(self, signum, frame) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.deadline = time.monotonic() + self.grace
        if self.process is not None and self.process.poll() is None:
            _say(f"stopping {self.command[0]} (warm, up to {self.grace:g}s)")
            _signal(self.process.pid, signal.SIGTERM)

    def _kill_group(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop; True when asked."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.stopping


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _say(text: str) -> None:
    print(f"supervise: {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the command to supervise after --")
    return Supervisor(command, grace=options.grace).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
