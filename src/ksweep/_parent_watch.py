"""Worker processes that end when their driver dies.

A loky worker waits on its task queue for as long as the pool lives; when the
driver is killed (SIGTERM from Slurm, docker or systemd; SIGKILL; a crash) nothing
tells it, and it would wait until its idle timeout. :func:`watch_parent` runs in
each worker of ksweep's own pool (as loky's ``initializer``) and starts a daemon
thread that polls the worker's parent pid: when the driver is gone the worker is
re-parented (to init or a sub-reaper), its parent pid changes, and it exits at once.
When the last worker has exited, loky's resource tracker sees the end of its pipe
and removes the memory-mapped copy of X the driver registered with it
(:func:`ksweep._shipping.write_mapped`).

A task stuck in native code that holds the GIL delays the exit until it returns.
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between two looks at the parent pid.
POLL_SECONDS = 0.2
#: The exit status of a worker that outlived its driver.
ORPHANED_EXIT_STATUS = 70


def watch_parent(parent_pid: int, poll_seconds: float = POLL_SECONDS) -> None:
    """End this process soon after ``parent_pid`` stops being its parent.

    Parameters
    ----------
    parent_pid : int
        The driver's pid, as the driver saw it when it started the pool.
    poll_seconds : float, default=POLL_SECONDS
        Seconds between two looks.

    Examples
    --------
    The driver passes itself when it starts its pool
    (``initializer=watch_parent, initargs=(os.getpid(),)``). A process told of a parent
    it does not have exits at once:

    >>> import subprocess, sys
    >>> code = (  # this module alone, without importing ksweep
    ...     "import sys, time; space = {}; exec(open(sys.argv[1]).read(), space); "
    ...     "space['watch_parent'](-1); time.sleep(30)"
    ... )
    >>> run = subprocess.run([sys.executable, "-c", code, __file__])
    >>> run.returncode == ORPHANED_EXIT_STATUS
    True
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(ORPHANED_EXIT_STATUS)  # no cleanup handlers: the driver that ran them is gone

    threading.Thread(target=watch, name="ksweep-parent-watch", daemon=True).start()
