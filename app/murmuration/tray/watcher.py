"""Telling the model when the instances on disk changed, so that it looks only then.

The registry's folders, every data folder and every instance.json are watched with the platform's
notifications (inotify, kqueue, ReadDirectoryChangesW, through QFileSystemWatcher): a new or removed
instance, a server that starts (its runtime.json appears) or stops cleanly (it goes), a rename (instance.json
changes, in place or replaced) all arrive here. A burst of changes (an atomic write is several) is one
`changed` signal a moment later. Nothing here runs while nothing changes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

SETTLE_MS = 100


class FolderWatcher(QObject):
    """Watches a set of folders and files; `changed(paths)` once per burst of changes, with the paths touched."""

    changed = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._touched)
        self._watcher.fileChanged.connect(self._touched)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._touched_paths: set[str] = set()
        # The inode each watched file had when it was added: a file replaced by a rename is a new inode,
        # which must be watched afresh or its next change goes unseen.
        self._inodes: dict[str, int] = {}

    def follow(self, paths: Iterable[Path]) -> None:
        """Watch exactly the existing ones of `paths` from now on (a missing one is looked for at the next call)."""
        wanted: dict[str, int | None] = {}
        for path in paths:
            with contextlib.suppress(OSError):
                stat = os.stat(path)
                wanted[str(path)] = None if path.is_dir() else stat.st_ino
        directories, files = set(self._watcher.directories()), set(self._watcher.files())
        stale = (directories | files) - wanted.keys()
        stale |= {p for p in files & wanted.keys() if self._inodes.get(p) != wanted[p]}
        if stale:
            self._watcher.removePaths(sorted(stale))
            for name in stale:
                self._inodes.pop(name, None)
        kept = (directories | files) - stale
        added = sorted(wanted.keys() - kept)
        if added:
            self._watcher.addPaths(added)
        for name in added:
            inode = wanted[name]
            if inode is not None:
                self._inodes[name] = inode

    def watched(self) -> set[str]:
        """Every path watched now."""
        return set(self._watcher.directories()) | set(self._watcher.files())

    def _touched(self, path: str) -> None:
        self._touched_paths.add(path)
        if not self._settle.isActive():
            self._settle.start()

    def _settled(self) -> None:
        paths, self._touched_paths = sorted(self._touched_paths), set()
        self.changed.emit(paths)
