"""JSON-lines export file with size/interval rotation, backups and compression.

Rotated files are named like Tetragon's (lumberjack): tetragon-<UTC time>.log,
optionally gzipped; only the newest `max_backups` are kept.

A write that fails (a full disk, a quota) loses that batch, never the agent: the file is
cut back to its last whole line, the failure is raised as ExportWriteFailed for the
pipeline to count, and the next batch tries again.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta


class ExportWriteFailed(OSError):
    """A batch of events not written; ``lines`` events are lost."""

    def __init__(self, path: str, err: OSError, lines: int):
        super().__init__(err.errno, err.strerror or str(err), path)
        self.lines = lines


class RotatingFile:
    def __init__(
        self,
        path: str,
        max_size_mb: int = 10,
        max_backups: int = 5,
        compress: bool = False,
        rotation_interval_s: float = 0,
        perm: int = 0o600,
    ):
        self.path = path
        self.max_bytes = max(0, max_size_mb) * 1024 * 1024
        self.max_backups = max_backups
        self.compress = compress
        self.interval = rotation_interval_s
        self.perm = perm
        self._lock = threading.Lock()
        self._last_stamp = datetime.min.replace(tzinfo=UTC)
        self._open()

    def _open(self) -> None:
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.perm)
        os.fchmod(fd, self.perm)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        self._opened = time.monotonic()

    def write_lines(self, lines: list[bytes]) -> None:
        """Append `lines`, rotating first when due; raises ExportWriteFailed (the file
        keeps only whole lines) when the file system refuses them."""
        with self._lock:
            chunk: list[bytes] = []
            for line in lines:
                n = len(line) + 1
                due = self.max_bytes and self._size + n > self.max_bytes and self._size
                if due or (self.interval and time.monotonic() - self._opened >= self.interval):
                    self._write(chunk)
                    chunk = []
                    self._rotate()
                chunk.append(line)
                self._size += n
            self._write(chunk)

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        if self._fd < 0:  # a rotation could not open the new file: try again
            try:
                self._open()
                self._size += sum(len(x) + 1 for x in chunk)
            except OSError as e:
                self._size = 0
                raise ExportWriteFailed(self.path, e, len(chunk)) from None
        data = b"\n".join(chunk) + b"\n"
        start = self._size - len(data)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            try:
                os.ftruncate(self._fd, start)  # no half line before the next batch
                self._size = start
            except OSError:
                self._size = os.fstat(self._fd).st_size
            raise ExportWriteFailed(self.path, e, len(chunk)) from None

    def rotate(self) -> None:
        with self._lock:
            self._rotate()

    def _rotate(self) -> None:
        os.close(self._fd)
        stem, ext = os.path.splitext(self.path)
        stamp = self._next_stamp()
        backup = f"{stem}-{stamp}{ext}"
        self._fd = -1
        os.replace(self.path, backup)
        try:
            self._open()
        except OSError:
            self._size = 0  # reopened by the next write

        if self.compress:
            try:
                with open(backup, "rb") as src, gzip.open(backup + ".gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(backup + ".gz", self.perm)
                os.unlink(backup)
            except OSError:  # no room for the compressed copy: keep the plain backup
                with contextlib.suppress(OSError):
                    os.unlink(backup + ".gz")
        self._prune(stem, ext)

    def _next_stamp(self) -> str:
        """The backup's time to the millisecond, later than the previous backup's: two
        rotations within one millisecond must not give one backup the other's name."""
        t = datetime.now(UTC)
        now = t.replace(microsecond=t.microsecond // 1000 * 1000)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return now.strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]

    def _prune(self, stem: str, ext: str) -> None:
        if self.max_backups <= 0:
            return
        backups = sorted(glob.glob(f"{glob.escape(stem)}-*{ext}*"))
        for old in backups[: -self.max_backups]:
            try:
                os.unlink(old)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
