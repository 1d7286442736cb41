"""Files and folders only this user can reach: made 0700/0600, never reached through a link, refused when foreign.

A data folder holds a secret token and a queue of commands to run, so whatever can plant or read a file there can
run commands as the user. Every file of a data folder is opened here, by these rules
(ARCHITECTURE.md, "Private data folders"):

- folders are 0700 and files 0600, and a start repairs wider modes;
- a path where a file or folder of ours belongs must be exactly that — a regular file or a real directory — never a
  symbolic link, a FIFO or a device (opened with O_NOFOLLOW and checked with fstat/lstat, so nothing is followed);
- a file or folder owned by another user is refused with a sentence, never used.
"""

from __future__ import annotations

import contextlib
import errno
import logging.handlers
import os
import stat
import sys
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Without O_NOFOLLOW (Windows) the lstat checks below are the guard; making links there needs a privilege.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
BINARY = getattr(os, "O_BINARY", 0)
POSIX = sys.platform != "win32"


class UnsafePath(OSError):
    """A path of a data folder that is a link, not a regular file or folder, or another user's; the message says."""


def owner_is_us(st: os.stat_result) -> bool:
    """True when the entry `st` describes belongs to the user Murmuration runs as."""
    return not POSIX or st.st_uid == os.getuid()


def wanted_mode(st: os.stat_result) -> int | None:
    """The mode an entry of a data folder must have (0700 folders, 0600 files); None for a link or a special file."""
    return FOLDER_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE if stat.S_ISREG(st.st_mode) else None


def is_link(st: os.stat_result) -> bool:
    """True for a symbolic link, and for a Windows junction or other reparse point (it redirects as a link does)."""
    reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & reparse)


def what(st: os.stat_result) -> str:
    """What kind of entry `st` describes, in a few words ("a symbolic link", "a FIFO (named pipe)" …).

    The one wording of every refusal that names what was found where a file or folder belongs: a caller says what
    was wanted after it ("… is a FIFO (named pipe), not a regular file").
    """
    mode = st.st_mode
    if is_link(st):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "a special file"


def check_folder(path: Path) -> None:
    """Raise UnsafePath unless `path` is a real folder (not a link) that this user owns."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{path} is {what(st)}, not a folder; Murmuration keeps its data only in a real folder there.")
    if not owner_is_us(st):
        raise UnsafePath(f"{path} belongs to another user; Murmuration uses only folders of the user it runs as.")


def check_ancestors(path: Path) -> None:
    """Raise UnsafePath when a folder above `path` lets another user swap what lies beneath it.

    That is one owned by another user (root aside), or one anybody may write to without the sticky bit (which
    `/tmp` has): whoever can rename entries there can trade our folder for theirs between two of our steps.
    """
    if not POSIX:
        return
    for folder in Path(os.path.abspath(path)).parents:
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            continue  # made later, by us, 0700

        foreign = st.st_uid not in (0, os.getuid())
        open_to_all = st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX
        if foreign or open_to_all:
            whose = "belongs to another user" if foreign else "can be changed by any user"
            raise UnsafePath(
                f"{folder} {whose}, so someone else could swap the data folder {path} for their own; "
                "keep it in a folder of yours."
            )


def private_folder(path: Path) -> Path:
    """`path` as a real folder of ours with mode 0700, made (with its missing parents) when absent."""
    try:
        os.mkdir(path, FOLDER_MODE)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, FOLDER_MODE)
    check_folder(path)
    if POSIX and stat.S_IMODE(os.lstat(path).st_mode) != FOLDER_MODE:
        os.chmod(path, FOLDER_MODE)
    return path


def _checked_file(fd: int, path: Path) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is {what(st)}, not a regular file; Murmuration will not read it.")
    if not owner_is_us(st):
        raise UnsafePath(f"{path} belongs to another user; Murmuration will not use it.")
    return st


def _open_for_reading(path: Path) -> int:
    """A descriptor of the regular file at `path`, opened without following a link and without blocking on a FIFO."""
    if not POSIX:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(f"{path} is a symbolic link; Murmuration will not follow it.")
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | NONBLOCK | CLOEXEC | BINARY)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link as the last component
            raise UnsafePath(f"{path} is a symbolic link; Murmuration will not follow it.") from None
        raise
    try:
        _checked_file(fd, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: Path, limit: int = 1 << 20) -> bytes:
    """The bytes of our regular file at `path` (at most `limit`); UnsafePath for a link, a FIFO or a foreign file.

    FileNotFoundError when there is nothing there.
    """
    fd = _open_for_reading(path)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def is_private_file(path: Path) -> bool:
    """True when `path` is a regular file (not a link) of ours that only we can read and write (0600)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or not owner_is_us(st):
        return False
    return not POSIX or stat.S_IMODE(st.st_mode) == FILE_MODE


def create_private(path: Path, append: bool = True) -> int:
    """A descriptor for writing our file at `path`, created 0600; a link, FIFO or foreign file there is refused."""
    flags = os.O_WRONLY | os.O_CREAT | NOFOLLOW | NONBLOCK | CLOEXEC | BINARY | (os.O_APPEND if append else 0)
    if not POSIX and path.is_symlink():
        raise UnsafePath(f"{path} is a symbolic link; Murmuration will not write through it.")
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{path} is a symbolic link; Murmuration will not write through it.") from None
        raise
    try:
        st = _checked_file(fd, path)
        if POSIX and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def repair_modes(folder: Path) -> None:
    """Make every folder under `folder` 0700 and every regular file 0600; links are left alone and never followed.

    Only our own entries are changed (another user's file in our folder is reported where it is used).
    """
    if not POSIX:
        return
    for root, folders, files in os.walk(folder, followlinks=False):
        for name in (*folders, *files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not owner_is_us(st):
                continue
            wanted = wanted_mode(st)
            if wanted is not None and stat.S_IMODE(st.st_mode) != wanted:
                os.chmod(path, wanted)


class PrivateRotatingLog(logging.handlers.RotatingFileHandler):
    """A rotated log file whose files are 0600 and never opened through a link."""

    def _open(self):  # type: ignore[no-untyped-def]
        return open(create_private(Path(self.baseFilename)), "a", encoding=self.encoding, errors=self.errors)
