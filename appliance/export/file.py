"""JSON-lines export file with size/interval rotation, backups and compression.

Rotated files are named like Tetragon's (lumberjack): tetragon-<UTC time>.log,
optionally gzipped; only the newest `max_backups` are kept.
"""

from __future__ import annotations

import glob
import gzip
import os
import shutil
import threading
import time
from datetime import UTC, datetime


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
        self._open()

    def _open(self) -> None:
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.perm)
        os.fchmod(fd, self.perm)
        self._f = os.fdopen(fd, "ab", buffering=1 << 16)
        self._size = os.fstat(fd).st_size
        self._opened = time.monotonic()

    def write_lines(self, lines: list[bytes]) -> None:
        with self._lock:
            for line in lines:
                n = len(line) + 1
                if self.max_bytes and self._size + n > self.max_bytes and self._size:
                    self._rotate()
                elif self.interval and time.monotonic() - self._opened >= self.interval:
                    self._rotate()
                self._f.write(line)
                self._f.write(b"\n")
                self._size += n
            self._f.flush()

    def rotate(self) -> None:
        with self._lock:
            self._rotate()

    def _rotate(self) -> None:
        self._f.close()
        stem, ext = os.path.splitext(self.path)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]
        backup = f"{stem}-{stamp}{ext}"
        os.replace(self.path, backup)
        if self.compress:
            with open(backup, "rb") as src, gzip.open(backup + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(backup + ".gz", self.perm)
            os.unlink(backup)
        self._prune(stem, ext)
        self._open()

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
            self._f.close()
