"""One writer per results folder: an OS file lock beside the folder, naming who holds it.

Why the OS's own POSIX record lock (`fcntl.lockf`) rather than the `filelock` package or `flock`:
the kernel drops it the moment its holder dies, `kill -9` included, so a crashed batch never leaves
a stale lock to clean up by hand; unlike `flock` (which `filelock` uses on Linux) it belongs to the
process, not to the open file, so the process pool's forked workers do not inherit it, and a worker
orphaned by a killed parent cannot keep the folder locked; and because the lock file is opened
without truncation, the holder can write its pid and command line into it, so a second
`fundsim run` into the same folder can say *who* is writing there (`filelock` opens its lock file
with `O_TRUNC`, which wipes that record on every attempt). fundsim already needs a POSIX system
(its Makefile, its fork-based pool), so Windows support is not given up here.

The lock file is `DIR/.<name>.lock` (beside the results folder and its `.partial`, which are
renamed and deleted during a batch, so the lock cannot live inside them). It is removed on
release; a waiter that locked a file which was removed meanwhile tries again on the new one (the
usual inode check), so two writers can never both believe they hold the lock.

Locks are re-entrant within one process: the CLI takes every folder's lock before it checks or
deletes anything, and the chunk store takes the same lock again when it opens the folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shlex
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .errors import UsageError

_HELD: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth) for locks this process holds
_GUARD = threading.Lock()


def lock_path(folder: Path) -> Path:
    """Where the lock for a results (or sweep) folder lives: a hidden file beside it."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.lock")


def _holder_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process (it has not yet recorded its pid)"


def _record(fd: int) -> None:
    """Write this process's pid, start time and command line into the lock file it holds."""
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"pid {os.getpid()} since {when}: {command}"[:400]
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8", errors="replace"), 0)


def acquire(folder: Path) -> Path:
    """Take the lock for `folder` (re-entrant), or raise `UsageError` naming its holder.

    Never waits: a second writer is told at once, before it has checked or deleted anything.
    """
    path = lock_path(folder)
    key = str(path.absolute())
    with _GUARD:
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise UsageError(f"--out {path.parent}: cannot write results there ({reason}); choose "
                             "a folder you can write to (nothing was run)") from None
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                raise UsageError(f"--out {path.parent}: cannot write results there ({reason}); "
                                 "choose a folder you can write to (nothing was run)") from None
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise UsageError(f"{path}: cannot lock the results folder "
                                     f"({os.strerror(exc.errno or 0)}) (nothing was run)") from None
                raise UsageError(
                    f"{folder}: another fundsim is writing this folder ({_holder_text(path)}); "
                    "wait for it to finish, or stop it, then run again (nothing was run)") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed this file as it let go: lock the new one
        _record(fd)
        _HELD[key] = (fd, 1)
    return path


def release(folder: Path) -> None:
    """Let go of one `acquire`; the last one removes the lock file and closes it."""
    path = lock_path(folder)
    key = str(path.absolute())
    with _GUARD:
        if key not in _HELD:
            return
        fd, depth = _HELD[key]
        if depth > 1:
            _HELD[key] = (fd, depth - 1)
            return
        del _HELD[key]
        try:
            path.unlink(missing_ok=True)  # while still locked: see the module docstring
        except OSError:
            pass  # a lock file left behind is harmless: the next writer locks and reuses it
        finally:
            os.close(fd)


def held(folder: Path) -> bool:
    """Whether this process holds the lock for `folder`."""
    return str(lock_path(folder).absolute()) in _HELD


@contextmanager
def locked(folders: list[Path]) -> Iterator[None]:
    """Hold the locks of every folder (in a fixed order) for the duration of the block."""
    with ExitStack() as stack:
        for folder in sorted({Path(f) for f in folders}, key=lambda f: str(f.absolute())):
            acquire(folder)
            stack.callback(release, folder)
        yield
