"""Many `serve` processes started at the same moment each win a port of their own.

The original's probe-and-close let two instances starting together pick the same port; here every
process listens on the socket that won its port, so a storm ends with distinct ports and no failures.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import ServeProcess, Servers, port_block, range_text

# Port-block slots 7 and 8 are this module's alone (slots 0–6 belong to the default range, test_ports.py and
# server/test_lifecycle.py); a port another test holds would push a storm server out of its range.
# 120 Python processes on a 2-core machine (beside the other xdist worker) take a while to start.
STORM_READY_TIMEOUT = 240.0


def storm(servers: Servers, tmp_path: Path, count: int, ports: range) -> list[int]:
    """Start `count` servers at once on `ports`, stop them all; their ports, or a failure naming each fault."""
    env = {"MURMURATION_PORT_RANGE": range_text(ports)}
    spawned: list[ServeProcess] = [servers.spawn("--data-dir", str(tmp_path / f"i{n}"), env=env) for n in range(count)]
    faults: list[str] = []
    deadline = time.monotonic() + STORM_READY_TIMEOUT
    for n, server in enumerate(spawned):
        try:
            server.wait_ready(timeout=max(deadline - time.monotonic(), 1.0))
        except AssertionError as exc:
            faults.append(f"i{n}: {exc}")
    for server in spawned:
        if server.proc.poll() is None:
            server.signal(signal.SIGTERM)
    for n, server in enumerate(spawned):
        code = server.finish(timeout=60)
        if code != 0 and server.ready is not None:
            faults.append(f"i{n}: exit {code} after SIGTERM: {server.stderr.decode()}")
    assert not faults, f"{len(faults)} of {count} servers failed:\n" + "\n".join(faults)
    return [server.ready["port"] for server in spawned if server.ready is not None]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_storm_as_large_as_the_range_fills_the_range_with_distinct_ports(servers: Servers, tmp_path: Path) -> None:
    ports = port_block(7, 100)
    won = storm(servers, tmp_path, 100, ports)
    assert len(won) == 100
    assert len(set(won)) == 100
    assert set(won) == set(ports)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_storm_larger_than_the_range_spills_over_to_distinct_ephemeral_ports(
    servers: Servers, tmp_path: Path
) -> None:
    ports = port_block(8, 100)
    won = storm(servers, tmp_path, 120, ports)
    assert len(won) == 120
    assert len(set(won)) == 120
    inside = {port for port in won if port in ports}
    outside = [port for port in won if port not in ports]
    assert inside == set(ports)
    assert len(outside) == 20
