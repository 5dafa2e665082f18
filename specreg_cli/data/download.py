"""Download a released dataset archive and unpack one folder of it, safely: the network code of the data
layer (CIFAR-10, CIFAR-10-C).

:func:`fetch_folder` does the whole job, each step safe to interrupt:

1. :func:`download`: the archive is streamed to ``<name>.part`` in chunks (memory stays at one chunk,
   whatever its size). A rerun after an interruption resumes where the ``.part`` file stops (an HTTP
   ``Range`` request; a server that ignores it sends the whole file, which then replaces the part), and a
   dropped connection is resumed the same way a few times before giving up. The finished file is checked
   against the published MD5 before it takes its final name; a mismatch deletes it (resuming a wrong file
   can never succeed) and is one :class:`SpecregError` line.
2. :func:`extract_folder`: the archive is untrusted. Every member must be a regular file or a folder
   inside the expected top folder: absolute names, ``..``, links and device files are refused before
   anything is written, and tarfile's ``data`` filter (PEP 706) checks again while extracting. It is
   extracted into a temporary folder beside the target, validated, then renamed into place, so the
   target is either absent or complete.
3. The archive is deleted once its folder is in place (the folder is what is used; keeping both would
   double the disk space, 5.8 GB for CIFAR-10-C).

One process at a time per download folder (an advisory lock on it), so two commands started together don't
write one ``.part`` file. The library never prints: progress goes through ``progress(done, total)``
(bytes; total None when the server does not say), and the command draws the bar.

Example::

    archive = Archive("https://host/data.tar", md5="...", filename="data.tar", folder="data")
    fetch_folder(archive, Path("data"), Path("data/data"), progress=lambda done, total: None)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from specreg_cli.errors import SpecregError

CHUNK_BYTES = 1 << 20  # bytes read and written at a time: 1 MiB (memory does not grow with the file)
TIMEOUT_S = 60  # seconds without a byte before a connection counts as dropped
ATTEMPTS = 3  # connections per download: a drop is resumed (Range) twice before the user is asked to rerun
USER_AGENT = "specreg (dataset download)"  # some hosts refuse Python's default agent
ProgressFn = Callable[[int, "int | None"], None]  # (bytes done, total bytes or None)


@dataclass(frozen=True)
class Archive:
    """A released archive: where it is, its published MD5, its file name, and the folder it unpacks to."""

    url: str
    md5: str
    filename: str  # the archive's name in the download folder
    folder: str  # the archive's top folder, the one that is kept


class _Interrupted(Exception):
    """A connection that ended before the whole file arrived (resumable)."""


def fetch_folder(
    archive: Archive,
    download_dir: Path,
    target: Path,
    validate: Callable[[Path], object] | None = None,
    progress: ProgressFn | None = None,
    attempts: int | None = None,
) -> Path:
    """Download ``archive`` into ``download_dir`` (resumable), verify it, extract its top folder to
    ``target`` atomically (``validate(folder)`` raises SpecregError on bad contents, before the rename), and
    delete the archive. Returns ``target``. An existing non-empty ``target`` is never overwritten."""
    download_dir, target = Path(download_dir), Path(target)
    _check_target(target)
    download_dir.mkdir(parents=True, exist_ok=True)
    path = download_dir / archive.filename
    with _locked(download_dir):
        if not target.exists() or not any(target.iterdir()):  # else another process finished it meanwhile
            if not path.exists():
                download(archive.url, path, archive.md5, progress=progress, attempts=attempts)
            else:
                verify(path, archive.md5)  # left by an extraction that failed (e.g. disk full): check again
            extract_folder(path, archive.folder, target, validate)
        path.unlink(missing_ok=True)
    return target


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise SpecregError(
            f"{target} exists and is not the downloaded folder",
            hint="remove it, or point at a new folder to download into",
        )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder`` itself (POSIX flock on its descriptor, so no lock file
    is left behind; elsewhere no lock is taken)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent downloads are the user's to avoid
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor is closed
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------- download


def download(
    url: str,
    path: Path,
    md5: str,
    progress: ProgressFn | None = None,
    attempts: int | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Stream ``url`` to ``path`` through ``path.part`` (resumed when it exists), verify its MD5, rename.

    Raises SpecregError: the server refuses (HTTP error), the connection drops ``attempts`` times (the
    ``.part`` file is kept: rerunning resumes), or the MD5 differs (the ``.part`` file is deleted).
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    attempts = attempts or ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            _fetch(url, part, progress, timeout)
            break
        except (_Interrupted, urllib.error.URLError, HTTPException, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError) or attempt == attempts:
                raise _failure(url, part, exc) from None
    verify(part, md5)
    os.replace(part, path)
    return path


def _fetch(url: str, part: Path, progress: ProgressFn | None, timeout: float) -> None:
    """One connection: append what the server sends after the bytes ``part`` already holds."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT} | ({"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after the part: it is already whole (verified next)
            return
        raise
    with response:
        start, total = _resume_point(response, offset)
        with part.open("r+b" if start else "wb") as out:
            out.seek(start)
            out.truncate()
            done = start
            if progress is not None:
                progress(done, total)  # a resumed download starts the bar where the part ends
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    if total is not None and done < total:
        raise _Interrupted(f"the connection closed after {done:,} of {total:,} bytes")


def _resume_point(response, offset: int) -> tuple[int, int | None]:
    """(byte where the response's body starts, total size or None) from its status and headers."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if match and int(match[1]) == offset:
            return offset, int(match[3]) if match[3] != "*" else None
        raise _Interrupted(f"the server resumed at {response.headers.get('Content-Range')!r}, not {offset}")
    return 0, int(length) if length is not None and length.isdigit() else None  # 200: the whole file


def _failure(url: str, part: Path, exc: Exception) -> SpecregError:
    if isinstance(exc, urllib.error.HTTPError):
        return SpecregError(f"could not download {url}: HTTP {exc.code} {exc.reason}", hint="check the URL")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.timeout):
        reason = "timed out"
    held = part.stat().st_size if part.exists() else 0
    return SpecregError(
        f"download of {url} interrupted ({reason}); {held:,} bytes kept in {part}",
        hint="run the same command again: it resumes from there",
    )


def file_md5(path: Path) -> str:
    """The MD5 of a file, read in chunks (the checksum datasets publish; not a security hash)."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, md5: str) -> None:
    """Raise SpecregError (and delete ``path``) when its MD5 is not ``md5``."""
    actual = file_md5(path)
    if actual != md5.lower():
        Path(path).unlink(missing_ok=True)
        raise SpecregError(
            f"{path.name} has MD5 {actual}, not the published {md5}: deleted",
            hint="run again to download it afresh; if it happens again, the server sends another file",
        )


# ------------------------------------------------------------------------------------------- extract


def extract_folder(
    archive_path: Path, folder: str, target: Path, validate: Callable[[Path], object] | None = None
) -> Path:
    """Extract the top folder ``folder`` of a tar archive (any compression) to ``target``, atomically.

    Raises SpecregError for an unreadable archive, a member that is not a plain file or folder under
    ``folder`` (absolute, ``..``, link, device), an archive without ``folder``, or contents that
    ``validate`` refuses. Nothing is left behind on failure.
    """
    archive_path, target = Path(archive_path), Path(target)
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        try:
            with tarfile.open(archive_path, "r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, folder, archive_path)
                tar.extractall(work, members=members, **_DATA_FILTER)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise SpecregError(
                f"{archive_path} could not be unpacked ({exc})", hint="delete it and rerun"
            ) from None
        unpacked = work / folder
        if not unpacked.is_dir():
            raise SpecregError(f"{archive_path} holds no folder {folder}/", hint="is it the right archive?")
        if validate is not None:
            validate(unpacked)
        if target.exists():
            target.rmdir()  # empty (checked above): the rename needs it gone
        os.rename(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


# PEP 706's filter (Python 3.10.12+, 3.11.4+): refuses what _check_member refuses, and drops modes such
# as setuid; on older Pythons the member check above is the only guard.
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _check_member(member: tarfile.TarInfo, folder: str, archive_path: Path) -> None:
    name = PurePosixPath(member.name)
    inside = not name.is_absolute() and ".." not in name.parts and name.parts[:1] == (folder,)
    if not inside or not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "file" if member.isfile() else "entry"
        raise SpecregError(
            f"{archive_path} holds {kind} {member.name!r}, outside {folder}/ or not a plain file: refused, "
            "nothing extracted",
            hint="the archive is not the release; delete it",
        )


def _remove_stale(target: Path) -> None:
    """Temporary folders of an extraction that was killed (the lock is held, so none is in use)."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
