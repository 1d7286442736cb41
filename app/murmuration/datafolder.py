"""One instance's data folder: what is in it and how each file is read and written."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from murmuration.atomicfile import write_atomic, write_json
from murmuration.privatefiles import (
    UnsafePath,
    check_ancestors,
    check_folder,
    create_private,
    is_private_file,
    private_folder,
    read_private,
    repair_modes,
)

TOKEN_BYTES = 32
LOOPBACK_URL = "http://127.0.0.1:{port}/"


class DataFolderError(Exception):
    """A data folder whose files cannot be used as they are."""


def read_private_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in our regular file at `path`; None when it is missing or is not a JSON object.

    A link, a FIFO or another user's file there raises DataFolderError: it is never followed or read.
    """
    try:
        value = json.loads(read_private(path))
    except FileNotFoundError:
        return None
    except UnsafePath as exc:
        raise DataFolderError(str(exc)) from None
    except (OSError, ValueError, RecursionError):  # RecursionError: a file of 200,000 nested brackets
        return None
    return value if isinstance(value, dict) else None


@dataclass
class InstanceInfo:
    """What `instance.json` records: who the instance is and how it starts."""

    id: str
    name: str
    created_at: str
    cwd: str
    last_port: int | None = None
    autostart: bool = False
    # This user's mark that their own Murmuration made the folder (provenance.py); empty on a folder found elsewhere.
    seal: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: Path) -> InstanceInfo:
        """Check each field's type, so a hand-edited or truncated file gets a clear error."""
        expected: dict[str, tuple[type, ...]] = {
            "id": (str,),
            "name": (str,),
            "created_at": (str,),
            "cwd": (str,),
            "last_port": (int, type(None)),
            "autostart": (bool,),
            "seal": (str,),
        }
        values: dict[str, Any] = {}
        for key, types in expected.items():
            if key not in raw:
                if key in ("last_port", "autostart", "seal"):
                    continue
                raise DataFolderError(f"{where} has no {key!r}; restore it or remove the file to start afresh.")
            value = raw[key]
            wrong_type = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            if wrong_type or (key == "last_port" and value is not None and not 0 < value < 65536):
                raise DataFolderError(f"{where} has a bad {key!r} ({value!r}); fix or remove that field.")
            values[key] = value
        if not values["id"] or not values["name"]:
            raise DataFolderError(f"{where} has an empty id or name; fix or remove the file.")
        return cls(**values)


@dataclass
class Runtime:
    """What `runtime.json` records while a server runs: how to reach it and how to tell it is alive."""

    pid: int
    port: int
    url: str
    token: str
    started_at: str
    version: str
    # The OS's start time of `pid`: a pid reused by another process has another start time.
    create_time: float = field(default=0.0)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Runtime | None:
        try:
            runtime = cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except TypeError:
            return None
        if not isinstance(runtime.pid, int) or not isinstance(runtime.port, int):
            return None
        if not isinstance(runtime.token, str) or not isinstance(runtime.url, str):
            return None
        if not isinstance(runtime.create_time, (int, float)):
            return None
        # Only ever a loopback address on the recorded port: a hand-written runtime.json cannot send a client's
        # token to another host.
        if not 0 < runtime.port < 65536 or runtime.url != LOOPBACK_URL.format(port=runtime.port):
            return None
        return runtime


def now_iso() -> str:
    """The current time as an ISO 8601 string in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DataFolder:
    """The files of one instance, in one folder that exactly one live server may own."""

    path: Path

    @property
    def instance_file(self) -> Path:
        return self.path / "instance.json"

    @property
    def runtime_file(self) -> Path:
        return self.path / "runtime.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def token_file(self) -> Path:
        return self.path / "token"

    @property
    def sessions_file(self) -> Path:
        """The dashboard's signed-in sessions, as hashes only (see sessions.py)."""
        return self.path / "sessions.json"

    @property
    def state_db(self) -> Path:
        return self.path / "state.db"

    @property
    def log_folder(self) -> Path:
        return self.path / "logs"

    @property
    def server_log(self) -> Path:
        return self.log_folder / "server.log"

    @property
    def stderr_log(self) -> Path:
        return self.log_folder / "stderr.log"

    def exists(self) -> bool:
        return self.instance_file.is_file()

    def read_info(self) -> InstanceInfo:
        """The instance's identity; raises DataFolderError when the file is missing, broken or not ours."""
        raw = read_private_json(self.instance_file)
        if raw is None:
            raise DataFolderError(f"{self.instance_file} is missing or is not a JSON object.")
        return InstanceInfo.from_json(raw, self.instance_file)

    def write_info(self, info: InstanceInfo) -> None:
        write_json(self.instance_file, asdict(info))

    def read_runtime(self) -> Runtime | None:
        """The live server's facts, or None when no server has left any (or they are unreadable or not ours)."""
        if not is_private_file(self.runtime_file):
            return None  # a link, another user's file, or one others can write: never a server of ours
        try:
            raw = read_private_json(self.runtime_file)
        except DataFolderError:
            return None
        return None if raw is None else Runtime.from_json(raw)

    def write_runtime(self, runtime: Runtime) -> None:
        write_json(self.runtime_file, asdict(runtime), mode=0o600)

    def remove_runtime(self) -> None:
        self.runtime_file.unlink(missing_ok=True)

    def load_or_create_token(self, renew: bool = False) -> str:
        """The instance's secret: 256 random bits, made once and kept readable by its owner only.

        A token that is not a regular 0600 file of ours (a link, a committed file, a wider mode) is replaced by a
        new one, as is any token when `renew` is set (a folder found elsewhere); a link is replaced, never followed.
        """
        token = ""
        if not renew and is_private_file(self.token_file):
            try:
                token = read_private(self.token_file, 4096).decode("ascii").strip()
            except (OSError, UnsafePath, UnicodeDecodeError):
                token = ""
        if len(token) < 32:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            write_atomic(self.token_file, token.encode())
        return token

    def ensure_layout(self) -> None:
        """Make the folder and the sub-folders a running server writes into real folders of ours, 0700."""
        private_folder(self.path)
        private_folder(self.log_folder)
        private_folder(self.log_folder / "processes")

    def secure(self) -> None:
        """Refuse a folder that is not ours or has links where its files belong, then repair its modes.

        Every folder becomes 0700 and every file 0600. A link in place of `token` or `runtime.json` is replaced
        (they are remade anyway); any other link at the top is refused, and one inside `logs/` is removed, since
        a log folder of ours never holds one. Raises DataFolderError with a sentence naming the path.
        """
        try:
            check_ancestors(self.path)
            check_folder(self.path)
            for entry in os.scandir(self.path):
                path = Path(entry.path)
                if entry.is_symlink() and path in (self.token_file, self.runtime_file):
                    path.unlink()
                elif entry.is_symlink():
                    raise UnsafePath(
                        f"{path} is a symbolic link, which Murmuration never follows; "
                        "put the file itself there, or move the link away."
                    )
            self.ensure_layout()
            for root, folders, files in os.walk(self.log_folder):
                for name in (*folders, *files):
                    if os.path.islink(os.path.join(root, name)):
                        os.unlink(os.path.join(root, name))
            repair_modes(self.path)
            for path in (self.instance_file, self.state_db, self.lock_file):
                if os.path.lexists(path) and not path.is_file():
                    raise UnsafePath(f"{path} is not a regular file; move it away so Murmuration can make its own.")
            if not os.path.lexists(self.state_db):
                # Made here first, 0600, so SQLite's -wal and -shm files (which copy its mode) are private too.
                os.close(create_private(self.state_db))
        except UnsafePath as exc:
            raise DataFolderError(str(exc)) from None
