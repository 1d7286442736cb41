"""Port choice at unit level: parsing user settings and the fixed → last → range → ephemeral order.

Every port here is held by a socket the test binds itself, inside a block no other test or worker uses.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from murmuration.ports import (
    DEFAULT_RANGE,
    HOST,
    PORT_ENV,
    RANGE_ENV,
    BadPortSetting,
    PortLease,
    PortUnavailable,
    lease_port,
    listen_on,
    parse_port,
    parse_range,
    port_settings,
)
from tests.conftest import port_block


@contextmanager
def held(port: int, host: str = HOST) -> Iterator[socket.socket]:
    """Another program listening on `port`.

    SO_REUSEADDR only spares us a bind failure against TIME_WAIT left by earlier tests; on Linux a listening
    socket still excludes every other listener on that address, so the port is truly taken.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1)
        yield sock
    finally:
        sock.close()


@contextmanager
def leased(lease: PortLease) -> Iterator[PortLease]:
    try:
        yield lease
    finally:
        lease.sock.close()


def accepts_connections(lease: PortLease) -> bool:
    with socket.create_connection((HOST, lease.port), timeout=5):
        return True


# --- parse_port -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "port"), [("1", 1), ("8080", 8080), ("65535", 65535), (" 8080 ", 8080)])
def test_parse_port_accepts_port_numbers(text: str, port: int) -> None:
    assert parse_port(text, "--port") == port


@pytest.mark.parametrize(
    "text",
    ["abc", "", " ", "0", "-1", "65536", "70000", "9" * 30, "80.5", "1e3", "0x50", "nan", "8080;", "\t"],
)
def test_parse_port_rejects_non_ports_with_a_sentence_naming_the_setting(text: str) -> None:
    with pytest.raises(BadPortSetting) as caught:
        parse_port(text, "--port")
    message = str(caught.value)
    assert message.startswith("--port must be a port number from 1 to 65535")
    assert message.endswith(".")
    assert "\n" not in message


def test_bad_port_setting_is_a_value_error() -> None:
    # The CLI reports ValueError as a one-sentence error with exit code 1.
    assert issubclass(BadPortSetting, ValueError)


# --- parse_range ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, DEFAULT_RANGE),
        ("", DEFAULT_RANGE),
        ("9000-9010", range(9000, 9011)),
        (" 9000 - 9010 ", range(9000, 9011)),
        ("9000-9000", range(9000, 9001)),
        ("1-65535", range(1, 65536)),
    ],
)
def test_parse_range_reads_an_inclusive_range(text: str | None, expected: range) -> None:
    assert parse_range(text) == expected


def test_default_range_is_8080_to_8179() -> None:
    assert range(8080, 8180) == DEFAULT_RANGE


@pytest.mark.parametrize(
    "text",
    ["9000", "b-a", "9100-9000", "0-10", "1-99999", "-", "-9000", "9000-", "9000--9010", "9000-9010-9020", "9000:9010"],
)
def test_parse_range_rejects_hostile_values_naming_the_variable(text: str) -> None:
    with pytest.raises(BadPortSetting) as caught:
        parse_range(text)
    message = str(caught.value)
    assert message.startswith(RANGE_ENV)
    assert message.endswith(".")
    assert "\n" not in message


# --- port_settings ----------------------------------------------------------------------------------------------


def test_port_settings_prefers_the_command_line_over_ws_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_ENV, "9001")
    assert port_settings(9002)[0] == 9002


def test_port_settings_reads_ws_port_and_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_ENV, "9001")
    monkeypatch.setenv(RANGE_ENV, "9100-9109")
    assert port_settings(None) == (9001, range(9100, 9110))


def test_port_settings_without_a_fixed_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PORT_ENV, raising=False)
    monkeypatch.delenv(RANGE_ENV, raising=False)
    assert port_settings(None) == (None, DEFAULT_RANGE)


def test_port_settings_names_ws_port_when_it_is_bad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_ENV, "x")
    with pytest.raises(BadPortSetting, match=f"^{PORT_ENV} "):
        port_settings(None)


# --- listen_on and lease_port -----------------------------------------------------------------------------------


def test_listen_on_listens_on_loopback_only() -> None:
    port = port_block(1)[0]
    sock = listen_on(port)
    assert sock is not None
    with sock:
        assert sock.getsockname() == (HOST, port)
        with socket.create_connection((HOST, port), timeout=5):
            pass


def test_listen_on_refuses_a_port_someone_listens_on() -> None:
    port = port_block(1)[1]
    with held(port):
        assert listen_on(port) is None


def test_a_wildcard_listener_also_holds_the_port() -> None:
    port = port_block(1)[2]
    with held(port, host="0.0.0.0"):
        assert listen_on(port) is None


def test_fixed_port_is_exactly_that_port() -> None:
    ports = port_block(2)
    with leased(lease_port(ports[5], last=ports[6], port_range=ports)) as lease:
        assert (lease.port, lease.how) == (ports[5], "fixed")
        assert accepts_connections(lease)


def test_busy_fixed_port_raises_and_never_moves_elsewhere() -> None:
    ports = port_block(2)
    with held(ports[5]), pytest.raises(PortUnavailable) as caught:
        # The last port and the whole range are free: a silent move would be easy, and wrong.
        lease_port(ports[5], last=ports[6], port_range=ports)
    assert caught.value.port == ports[5]
    # Nothing was left listening on the ports it could have moved to.
    for port in (ports[0], ports[6]):
        with leased(lease_port(port, None, range(0))):
            pass


def test_last_port_wins_over_lower_free_ports_of_the_range() -> None:
    ports = port_block(3)
    with leased(lease_port(None, last=ports[7], port_range=ports)) as lease:
        assert (lease.port, lease.how) == (ports[7], "last")
        assert accepts_connections(lease)


def test_taken_last_port_falls_back_to_the_first_free_port_of_the_range() -> None:
    ports = port_block(3)
    with held(ports[7]), held(ports[0]), leased(lease_port(None, last=ports[7], port_range=ports)) as lease:
        assert (lease.port, lease.how) == (ports[1], "range")


def test_without_a_last_port_the_range_is_tried_in_order() -> None:
    ports = port_block(4)
    with ExitStack() as stack:
        for port in ports[:3]:
            stack.enter_context(held(port))
        lease = stack.enter_context(leased(lease_port(None, None, ports)))
        assert (lease.port, lease.how) == (ports[3], "range")


def test_exhausted_range_gives_an_ephemeral_port_outside_it() -> None:
    ports = port_block(4)[10:12]
    with held(ports[0]), held(ports[1]), leased(lease_port(None, last=ports[0], port_range=ports)) as lease:
        assert lease.how == "ephemeral"
        assert lease.port not in ports
        assert lease.port == lease.sock.getsockname()[1]
        assert accepts_connections(lease)


def test_an_empty_range_goes_straight_to_an_ephemeral_port() -> None:
    with leased(lease_port(None, None, range(0))) as lease:
        assert lease.how == "ephemeral"
        assert lease.port > 0


@pytest.mark.parametrize("last", [0, -1, 65536, 70000])
def test_an_impossible_last_port_never_yields_a_false_lease(last: int) -> None:
    """A hand-edited instance.json may hold any integer as last_port: the lease must still tell the truth.

    Today last_port 0 leases an ephemeral port but reports port 0 (how "last"), so the server announces
    http://127.0.0.1:0/; and -1 / 65536 / 70000 raise OverflowError from socket.bind, which listen_on does not
    catch (it promises None for a port it cannot have).
    """
    with leased(lease_port(None, last=last, port_range=port_block(5))) as lease:
        assert lease.port != 0
        assert lease.port == lease.sock.getsockname()[1]


def test_concurrent_leases_from_one_range_never_share_a_port() -> None:
    """Race-free by construction: the socket that won a port is the socket handed out, no probe-and-close."""
    ports = port_block(6)[:20]
    barrier = threading.Barrier(8)
    leases: list[PortLease] = []
    lock = threading.Lock()

    def take() -> None:
        barrier.wait()
        lease = lease_port(None, None, ports)
        with lock:
            leases.append(lease)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert len(leases) == 8
        assert len({lease.port for lease in leases}) == 8
        assert all(lease.port in ports for lease in leases)
    finally:
        for lease in leases:
            lease.sock.close()
