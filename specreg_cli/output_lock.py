"""One writer per output: an OS file lock beside every file a command is about to write, taken before the
work starts, so that a bad or busy output path is one line at second 0 rather than a traceback (or a
silently lost result) after an hour of computation.

``claim_outputs([path, ...])`` checks each path (not empty, not a folder, its folder creatable and
writable), then holds ``flock`` on ``.<name>.lock`` in the same folder until the block ends. The lock
file holds the owner's PID, so a second writer is told who holds it; the OS drops the lock when its
process dies (``kill -9`` included), so a stale lock never blocks anyone. :func:`hold_lock` is the same
lock for other owners (a run directory).

Example::

    with claim_outputs([Path("results/pgd.json")]):
        records = run_attack(...)          # hours
        write_results("results/pgd.json", records, prov)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from specreg_cli.errors import SpecregError


def lock_path_for(path: Path) -> Path:
    """The lock file of an output: ``results/.pgd.json.lock`` for ``results/pgd.json``."""
    return path.with_name(f".{path.name}.lock")


def check_output_path(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` made absolute, its folder created; a one-line :class:`SpecregError` when it can't be
    written: empty, an existing folder, under a file, in a folder without write permission."""
    if not str(path).strip():
        raise SpecregError(
            f"{option} is empty", hint=f"give {option} a file name, e.g. {option} results/x.json"
        )
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        raise SpecregError(f"{option} {path} is a folder", hint="give a file name inside it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise SpecregError(
            f"{option} {path}: {path.parent} exists and is not a folder", hint="choose another path"
        ) from None
    except OSError as exc:
        raise SpecregError(
            f"{option} {path}: cannot create {path.parent} ({exc.strerror})",
            hint="check the path and its permissions",
        ) from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SpecregError(
            f"{option} {path} is not writable", hint="check its permissions, or choose another path"
        )
    return path


@contextlib.contextmanager
def hold_lock(lock_file: Path, busy: str, hint: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created, holding our PID) for the block; a
    :class:`SpecregError` ``"<busy> (process PID)"`` when another process holds it. The file is removed
    when the block ends."""
    while True:
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpecregError(f"cannot create {lock_file} ({exc.strerror})", hint=_os_hint(exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise SpecregError(f"{busy} (process {holder})", hint=hint) from None
        # The previous holder may have removed the file between our open and our lock: then we hold a
        # lock on a dead name, and must take the one that now exists.
        if _same_file(fd, lock_file):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_file.unlink()
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def claim_outputs(paths: Iterable[str | os.PathLike | None], option: str = "--out") -> Iterator[list[Path]]:
    """Check and lock every output path (None entries are skipped); yields the absolute paths."""
    checked = list(dict.fromkeys(check_output_path(p, option) for p in paths if p is not None))
    with contextlib.ExitStack() as stack:
        for path in checked:
            stack.enter_context(
                hold_lock(
                    lock_path_for(path),
                    busy=f"{path} is being written by another specreg right now",
                    hint="wait for it to finish, or write to another path",
                )
            )
        yield checked


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _os_hint(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is not writable: check its permissions, or choose another path"
    if exc.errno == errno.ENOSPC:
        return "the disk is full: free some space"
    return "check the path"
