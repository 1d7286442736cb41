"""Which data folders this user's own Murmuration made: a seal in `instance.json` that only this user can write.

A data folder found somewhere — committed to a repository, unpacked from a download, named by a project's MCP
config — can hold a queue of commands and a token. Work queued or interrupted in a folder is resumed only when
the folder carries this user's seal: an HMAC of the folder's real path and id under a key kept in the user's
base folder (0600), which no repository can know. A folder without it is used for its knowledge, but its
unfinished work is set aside and its token replaced before it is sealed (ARCHITECTURE.md, "Private data folders").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import replace
from pathlib import Path

from murmuration.datafolder import DataFolder, InstanceInfo
from murmuration.home import base_folder, instances_folder
from murmuration.privatefiles import UnsafePath, create_private, is_private_file, private_folder, read_private

KEY_FILE = "user.key"
KEY_BYTES = 32


def user_key() -> bytes:
    """This user's sealing key: made once (the first writer wins), kept 0600 in the base folder.

    A key that others could have read (a wider mode, a link, another owner) is replaced: seals made with it stop
    counting, so each folder outside `instances/` is treated once more as found, never the other way round.
    """
    path = private_folder(base_folder()) / KEY_FILE
    if os.path.lexists(path) and not is_private_file(path):
        os.unlink(path)
    if not os.path.lexists(path):
        _make_key(path)
    key = read_private(path, KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise UnsafePath(f"{path} does not hold a key Murmuration can use; move it away so a new one is made.")
    return key


def _make_key(path: Path) -> None:
    # Written whole under another name, then linked into place: a reader never sees half a key, and of two
    # processes making one at the same moment the first link wins and both use its key.
    staging = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = create_private(staging, append=False)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(KEY_BYTES))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(staging)


def seal_of(folder: DataFolder, instance_id: str) -> str:
    """The seal that this user's Murmuration gives the data folder at `folder` holding instance `instance_id`."""
    message = f"murmuration data folder\0{os.path.realpath(folder.path)}\0{instance_id}".encode()
    return hmac.new(user_key(), message, hashlib.sha256).hexdigest()


def made_here(folder: DataFolder, info: InstanceInfo) -> bool:
    """True for a folder this user's Murmuration made: sealed for this path, or an unsealed one of `instances/`.

    Folders under `<base>/instances/` predate seals; only this user can write there, so they count as made here.
    """
    if info.seal:
        return hmac.compare_digest(info.seal, seal_of(folder, info.id))
    return folder.path.absolute().parent == instances_folder()


def seal(folder: DataFolder, info: InstanceInfo) -> InstanceInfo:
    """Record in `instance.json` that this user's Murmuration owns the folder from now on."""
    sealed = replace(info, seal=seal_of(folder, info.id))
    if sealed != info:
        folder.write_info(sealed)
    return sealed
