import ipaddress

import pytest

from gateway.services.keys.client_ip import client_ip, parse_ip

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: its header is ignored
        ("10.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # spoofed left part is not believed
        ("10.0.0.1", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # right-most untrusted
        ("10.0.0.1", "10.0.0.3, 10.0.0.7", "10.0.0.3"),  # all trusted: the left-most
        ("10.0.0.1", "::ffff:198.51.100.4", "198.51.100.4"),  # IPv4-mapped IPv6
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("10.0.0.1", "[2001:db8::5]:443", "2001:db8::5"),
        ("10.0.0.1", "198.51.100.4:5555", "198.51.100.4"),
        ("10.0.0.1", "garbage, 10.0.0.2", "garbage"),
    ],
)
def test_client_ip(peer: str, forwarded: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_parse_ip_rejects_garbage() -> None:
    assert parse_ip("not an ip") is None
    assert str(parse_ip("::ffff:1.2.3.4")) == "1.2.3.4"


def test_several_header_lines_are_one_list() -> None:
    """RFC 9110: repeated lines are one comma-separated list, in order."""
    assert client_ip("10.0.0.1", ["6.6.6.6", "1.2.3.4"], PROXIES) == "1.2.3.4"
    assert client_ip("10.0.0.1", ["1.2.3.4, 6.6.6.6", "10.0.0.9"], PROXIES) == "6.6.6.6"
    assert client_ip("10.0.0.1", [], PROXIES) == "10.0.0.1"
