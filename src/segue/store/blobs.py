"""A content-addressed folder of blobs: ``<dir>/ab/cdef…`` by sha256.

Blobs are written (and fsynced) before the transaction that references them
commits, so a committed artifact always has its bytes; a crash in between only
leaves an unreferenced blob behind, which is harmless.

Each writer writes into a file of its own in ``<dir>/.incoming/`` and renames it
into place, so two writers of the same bytes at once each put a whole copy there
and either wins. A file a killed writer left in ``.incoming`` is removed by the
next process that opens the folder, once it is an hour old.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from pathlib import Path

INCOMING = ".incoming"
"""Where blobs are written before they are renamed into place."""
STALE_S = 3600
"""An unfinished write older than this was left by a process that died."""


class BlobStore:
    """Blobs in a local folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._sweep()

    def _sweep(self) -> None:
        """Remove what killed writers left in ``.incoming`` (best effort)."""
        cutoff = time.time() - STALE_S
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root / INCOMING):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    def path(self, sha256: str) -> Path:
        """Where a blob lives."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its sha256 (idempotent)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = self.root / INCOMING
        incoming.mkdir(exist_ok=True)
        name = f"{digest[:16]}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}"
        tmp = incoming / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        try:
            with open(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest

    def get(self, sha256: str) -> bytes:
        """Read a blob back."""
        return self.path(sha256).read_bytes()
