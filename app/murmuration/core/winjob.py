"""Windows Job objects: a managed process and every process it starts end together, and end with the instance.

A job is created with kill-on-close, so when the server's handle to it closes — a stop, a crash, `kill` from the
task manager — Windows ends every process in it. Children inherit the job, so grandchildren are caught too.
Importable everywhere (for type checks and tests); the functions only work on Windows.
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import wintypes
from typing import Any

JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
PROCESS_SET_QUOTA = 0x0100
PROCESS_TERMINATE = 0x0001
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000  # a console program started by a windowless server opens no console window


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in ("r_ops", "w_ops", "o_ops", "r_bytes", "w_bytes", "o_bytes")]


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_longlong),
        ("PerJobUserTimeLimit", ctypes.c_longlong),
        ("LimitFlags", wintypes.DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", wintypes.DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", wintypes.DWORD),
        ("SchedulingClass", wintypes.DWORD),
    ]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", _IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


if sys.platform == "win32":
    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    # Handles are pointer-sized: without these, ctypes would cut them to a C int on 64-bit Windows.
    _kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    _kernel32.CreateJobObjectW.argtypes = (wintypes.LPVOID, wintypes.LPCWSTR)
    _kernel32.OpenProcess.restype = wintypes.HANDLE
    _kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    _kernel32.SetInformationJobObject.argtypes = (wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD)
    _kernel32.AssignProcessToJobObject.argtypes = (wintypes.HANDLE, wintypes.HANDLE)
    _kernel32.TerminateJobObject.argtypes = (wintypes.HANDLE, wintypes.UINT)
    _kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)

    def _failure() -> OSError:
        return ctypes.WinError(ctypes.get_last_error())

else:
    _kernel32 = None

    def _failure() -> OSError:
        return OSError("Job objects exist only on Windows.")


class Job:
    """One kill-on-close job holding one managed process's tree."""

    def __init__(self) -> None:
        if _kernel32 is None:
            raise _failure()
        self._kernel32: Any = _kernel32
        handle = _kernel32.CreateJobObjectW(None, None)  # no security attributes: never inherited
        if not handle:
            raise _failure()
        self._handle: int | None = handle
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not self._kernel32.SetInformationJobObject(
            handle, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION, ctypes.byref(limits), ctypes.sizeof(limits)
        ):
            failure = _failure()
            self.close()
            raise failure

    def add(self, pid: int) -> None:
        """Put process `pid` in the job (its later children join by inheritance)."""
        process = self._kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
        if not process:
            raise _failure()
        try:
            if not self._kernel32.AssignProcessToJobObject(self._handle, process):
                raise _failure()
        finally:
            self._kernel32.CloseHandle(process)

    def terminate(self, code: int = 1) -> None:
        """End every process in the job at once."""
        if self._handle is not None:
            self._kernel32.TerminateJobObject(self._handle, code)

    def close(self) -> None:
        """Let go of the job; kill-on-close ends whatever still runs in it."""
        if self._handle is not None:
            self._kernel32.CloseHandle(self._handle)
            self._handle = None
