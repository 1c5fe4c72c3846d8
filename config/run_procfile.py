"""`make run`: honcho over Procfile.dev, with time for warm shutdowns.

On Ctrl-C honcho sends SIGTERM to every process and SIGKILL to whatever still runs
five seconds later (honcho.manager.KILL_WAIT; honcho has no option for it). A Celery
worker's warm shutdown lets its running tasks finish, which can take longer, so this
runs honcho with a longer wait. Each process is wrapped by config/supervise.py, which
turns the SIGTERM into a warm shutdown and falls back to a cold one before this wait
is over.

    python config/run_procfile.py [PROCESS...]
"""

import sys

import honcho.manager
from honcho.command import main

KILL_WAIT_SECONDS = 40  # above supervise.py's grace (30 s)

if __name__ == "__main__":
    honcho.manager.KILL_WAIT = KILL_WAIT_SECONDS
    sys.exit(main(["--procfile", "Procfile.dev", "start", *sys.argv[1:]]))
