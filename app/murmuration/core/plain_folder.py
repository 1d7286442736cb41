"""One folder's regular files, read and written without following a link or blocking on a device.

A `.knowledge` folder comes from anywhere (a cloned repository, an archive), so nothing in it is trusted: a
symbolic link may point at `/dev/zero` or at the user's secrets, and a FIFO blocks whoever opens it for ever.
On POSIX every step is relative to the folder's own descriptor and opened with O_NOFOLLOW, so no name is
resolved twice and no link is followed, even one swapped in between the check and the open. Where the
platform has no descriptor-relative calls (Windows) the same checks run on paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

from murmuration.privatefiles import is_link, what

# Descriptor-relative calls with O_NOFOLLOW: Linux, macOS and the BSDs; not Windows.
_AT = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class NotPlain(Exception):
    """An entry that is not what it must be (a link, a FIFO, a device, too big); the message is the reason."""


def _plain_name(name: str) -> str:
    """`name` when it is one entry of a folder (no separator, no `..`); a name from data never escapes."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or ":" in name:
        raise ValueError(f"{name[:80]!r} is not a plain file name")
    return name


def size_text(limit: int) -> str:
    """A size limit in words: 1 MiB, 512 KiB."""
    if limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    return f"{limit // 1024} KiB"


class PlainFolder:
    """An open folder whose entries are only ever read or written as regular files and real sub-folders."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def open(cls, path: Path) -> PlainFolder:
        """Open the folder a person named (its own path may go through links: it is theirs)."""
        if not _AT:
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path))
            return cls(path, None)
        return cls(path, os.open(path, os.O_RDONLY | _DIRECTORY | _BINARY))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PlainFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ---- looking -------------------------------------------------------------------------------------------

    def _lstat(self, name: str) -> os.stat_result | None:
        try:
            if self._fd is not None:
                return os.stat(_plain_name(name), dir_fd=self._fd, follow_symlinks=False)
            return os.lstat(self.path / _plain_name(name))
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        """The names of the folder's entries, sorted (whatever they are)."""
        return sorted(os.listdir(self._fd if self._fd is not None else self.path))

    def is_file(self, name: str) -> bool:
        """True when `name` is a regular file here (a link to one is not)."""
        st = self._lstat(name)
        return st is not None and stat.S_ISREG(st.st_mode) and not is_link(st)

    def folder(self, name: str, create: bool = False) -> PlainFolder | None:
        """The real sub-folder `name` (made when `create`), None when absent; NotPlain when it is anything else."""
        st = self._lstat(name)
        if st is None:
            if not create:
                return None
            if self._fd is not None:
                os.mkdir(_plain_name(name), 0o755, dir_fd=self._fd)
            else:
                os.mkdir(self.path / _plain_name(name), 0o755)
            st = self._lstat(name)
            assert st is not None
        if is_link(st) or not stat.S_ISDIR(st.st_mode):
            raise NotPlain(f"it is {what(st)}, not a folder")
        if self._fd is None:
            return PlainFolder(self.path / name, None)
        try:
            fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _BINARY, dir_fd=self._fd)
        except OSError as exc:  # swapped for a link or a file since the look: the same refusal
            raise NotPlain("it changed into something that is not a folder while being opened") from exc
        return PlainFolder(self.path / name, fd)

    # ---- reading and writing -------------------------------------------------------------------------------

    def read(self, name: str, limit: int) -> bytes:
        """The whole of regular file `name`, at most `limit` bytes; NotPlain for anything else or anything bigger."""
        st = self._lstat(name)
        if st is None:
            raise NotPlain("it is gone")
        # Looked at before opening: opening a FIFO blocks and opening a device can act (a tape rewinds).
        if is_link(st) or not stat.S_ISREG(st.st_mode):
            raise NotPlain(f"it is {what(st)}, not a regular file")
        too_big = NotPlain(f"it is larger than {size_text(limit)}, the most an imported file may be")
        if st.st_size > limit:
            raise too_big
        flags = os.O_RDONLY | _NONBLOCK | _NOFOLLOW | _BINARY
        try:
            fd = os.open(name, flags, dir_fd=self._fd) if self._fd is not None else os.open(self.path / name, flags)
        except OSError as exc:
            raise NotPlain(f"it cannot be opened ({exc.strerror})") from None
        try:
            # Checked again on what was opened: the name may have been swapped for a FIFO or a device since.
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                raise NotPlain(f"it is {what(opened)}, not a regular file")
            chunks, total = [], 0
            while chunk := os.read(fd, min(1 << 16, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:  # it grew since the look
                    raise too_big
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Replace `name` with a regular file holding `data`, atomically; a link there is replaced, never followed."""
        target = self._lstat(name)
        if target is not None and stat.S_ISDIR(target.st_mode) and not is_link(target):
            raise NotPlain("it is a folder")
        tmp = f".{_plain_name(name)}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY
        if self._fd is not None:
            fd = os.open(tmp, flags, mode, dir_fd=self._fd)
        else:
            fd = os.open(self.path / tmp, flags, mode)
        try:
            if hasattr(os, "fchmod"):  # exactly `mode`, as the other files the export wrote before
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if self._fd is not None:
                os.replace(tmp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            else:
                os.replace(self.path / tmp, self.path / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self._unlink(tmp)
            raise

    def remove(self, name: str) -> bool:
        """Delete `name` when it is a regular file here; anything else is left alone. True when deleted."""
        if not self.is_file(name):
            return False
        self._unlink(name)
        return True

    def _unlink(self, name: str) -> None:
        if self._fd is not None:
            os.unlink(_plain_name(name), dir_fd=self._fd)
        else:
            os.unlink(self.path / _plain_name(name))
