"""`murmuration serve`: kept apart from the other commands so that starting a server imports only what it needs."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

from murmuration import registry
from murmuration.cli.errors import CommandError
from murmuration.core.errors import DiskFull
from murmuration.datafolder import DataFolderError
from murmuration.ports import BadPortSetting, parse_port, port_settings


def serve(args: argparse.Namespace) -> int:
    from murmuration.server.lifecycle import serve as run_server

    try:
        cli_port = parse_port(args.port, "--port") if args.port is not None else None
        fixed, port_range = port_settings(cli_port)
        if args.data_dir:
            folder = registry.open_data_dir(Path(args.data_dir))
        else:
            try:
                folder = registry.find(args.instance)
            except registry.InstanceNotFound:
                folder = registry.create(args.instance, Path.cwd())
        return run_server(folder, fixed, port_range, args.idle_exit)
    except (BadPortSetting, DataFolderError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    except registry.InstanceExists:
        return serve(args)  # created by someone else a moment ago: serve that one
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise CommandError(DiskFull(args.data_dir or "the data folder").message) from None
        raise CommandError(f"Cannot use the data folder: {exc}.") from None
