"""One instance's data folder: what is in it and how each file is read and written."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from murmuration.atomicfile import read_json_object, write_atomic, write_json

# The way out of a broken instance.json, said by every error about one (doctor keeps the broken file).
REBUILD = "run `murmuration doctor --repair` to rebuild it from what is left."


class DataFolderError(Exception):
    """A data folder whose files cannot be used as they are."""


@dataclass
class InstanceInfo:
    """What `instance.json` records: who the instance is and how it starts."""

    id: str
    name: str
    created_at: str
    cwd: str
    last_port: int | None = None
    autostart: bool = False

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
        }
        values: dict[str, Any] = {}
        for key, types in expected.items():
            if key not in raw:
                if key in ("last_port", "autostart"):
                    continue
                raise DataFolderError(f"{where} has no {key!r}; {REBUILD}")
            value = raw[key]
            wrong_type = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            if wrong_type or (key == "last_port" and value is not None and not 0 < value < 65536):
                raise DataFolderError(f"{where} has a bad {key!r} ({value!r}); fix that field, or {REBUILD}")
            values[key] = value
        if not values["id"] or not values["name"]:
            raise DataFolderError(f"{where} has an empty id or name; {REBUILD}")
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
        """The instance's identity; raises DataFolderError when the file is missing or broken."""
        raw = read_json_object(self.instance_file)
        if raw is None:
            raise DataFolderError(f"{self.instance_file} is missing or is not a JSON object; {REBUILD}")
        return InstanceInfo.from_json(raw, self.instance_file)

    def write_info(self, info: InstanceInfo) -> None:
        write_json(self.instance_file, asdict(info), mode=0o600)

    def read_runtime(self) -> Runtime | None:
        """The live server's facts, or None when no server has left any (or they are unreadable)."""
        raw = read_json_object(self.runtime_file)
        return None if raw is None else Runtime.from_json(raw)

    def write_runtime(self, runtime: Runtime) -> None:
        write_json(self.runtime_file, asdict(runtime), mode=0o600)

    def remove_runtime(self) -> None:
        self.runtime_file.unlink(missing_ok=True)

    def load_or_create_token(self) -> str:
        """The instance's secret: 256 random bits, made once and kept readable by its owner only."""
        try:
            token = self.token_file.read_text().strip()
        except FileNotFoundError:
            token = ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
            write_atomic(self.token_file, token.encode(), mode=0o600)
        return token

    def ensure_layout(self) -> None:
        """Create the folders a running server writes into."""
        self.log_folder.mkdir(mode=0o700, exist_ok=True)
        (self.log_folder / "processes").mkdir(mode=0o700, exist_ok=True)
