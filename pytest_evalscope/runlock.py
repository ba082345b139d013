"""One run per outputs folder at a time: an advisory lock on ``<run>/.cache/run.lock``.

Two sessions in one folder (two resumes of one job, or ``use_cache`` naming a folder that a running
session writes) would send the same prompts twice and overwrite each other's files. The controller
takes the lock when it configures the run and holds it to the end; a second session is refused with
one line. The lock is ``flock(2)``: the kernel drops it when its holder exits, however it exits, so a
crashed or killed run never leaves it behind. The file keeps the holder's pid, for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .params import ConfigError

LOCK_NAME = ".cache/run.lock"  # beside the reply journal (cache.CACHE_DIR), out of the EvalScope layout


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ConfigError naming the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid_in(fd)
            os.close(fd)
            raise ConfigError(f"{self.run_dir} is in use by another run{f' (pid {holder})' if holder else ''}; "
                              "wait for it to end, or give another work_dir (or use_cache folder)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays, unlocked
            self._fd = None


def holder(run_dir: Path) -> int | None:
    """The pid of the run holding `run_dir`'s lock (0 when unknown), or None when no run holds it."""
    path = run_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(fd) or 0
    finally:
        os.close(fd)
    return None


def _pid_in(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    return None
