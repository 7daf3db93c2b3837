"""Allowlist decisions on tricky inputs: spoofed forwarding headers, mapped addresses,
`Origin: null`, look-alike domains."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.errors import InvalidRequest
from gateway.services.keys import allowlist
from gateway.services.keys.client_ip import client_ip, parse_networks

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
LIST = parse_networks(["198.51.100.0/24", "2001:db8::/32", "::ffff:192.0.2.1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "allowed"),
    [
        ("198.51.100.7", None, True),
        ("203.0.113.1", "198.51.100.7", False),  # spoofed header from an untrusted peer
        ("10.1.2.3", "198.51.100.7", True),  # behind our proxy
        ("10.1.2.3", "198.51.100.7, 203.0.113.1", False),  # the right-most untrusted hop decides
        ("10.1.2.3", "203.0.113.1, 198.51.100.7", True),  # a spoofed left part is ignored
        ("::ffff:198.51.100.9", None, True),  # IPv4-mapped IPv6 peer
        ("192.0.2.1", None, True),  # the mapped entry in the list matches plain IPv4
        ("2001:db8:1::5", None, True),
        ("2001:db9::5", None, False),
        ("10.1.2.3", "junk", False),
        ("10.1.2.3", "", False),  # the proxy itself is not on the list
    ],
)
def test_ip_allowlist(peer: str, forwarded: str | None, allowed: bool) -> None:
    client = client_ip(peer, forwarded, PROXIES)

    def check() -> None:
        allowlist.check(networks=LIST, domains=(), client=client, origin=None, referer=None)

    if allowed:
        check()
    else:
        with pytest.raises(allowlist.IpNotAllowed):
            check()


@pytest.mark.parametrize(
    ("origin", "referer", "allowed"),
    [
        ("https://app.example.com", None, True),
        ("https://a.b.example.com:8443", None, True),
        ("https://APP.Example.COM.", None, True),
        (None, "https://app.example.com/path?q=1", True),
        ("https://example.com", None, False),  # *.example.com is subdomains only
        ("https://example.com.evil.net", None, False),
        ("https://evilexample.com", None, False),
        ("https://app.example.com@evil.net", None, False),  # userinfo trick: the host is evil.net
        ("null", None, False),  # sandboxed pages send Origin: null
        ("null", "https://app.example.com/", False),  # an Origin header, even null, decides
        (None, None, False),
        ("not a url", None, False),
        ("https://shop.test", None, True),
        ("https://www.shop.test", None, False),
        # What a browser's URL parser makes of these: the host is evil.net, or no host at all.
        ("https://evil.net\\@app.example.com", None, False),
        ("https://evil.net%2F.example.com", None, False),
        (None, "https://evil.net\\@app.example.com/", False),
        (None, "https://evil.net%2F.example.com/", False),
        ("https://user@app.example.com", None, False),  # browsers never send userinfo
        ("https://app.example.com/path", None, True),
        ("ftp://app.example.com", None, False),  # only web pages' origins
        ("https://app.example.com:99999", None, False),
        ("https://xn--bcher-kva.example.com", None, True),
    ],
)
def test_domain_allowlist(origin: str | None, referer: str | None, allowed: bool) -> None:
    domains = allowlist.normalise_domains(["*.example.com", "shop.test"])

    def check() -> None:
        allowlist.check(networks=(), domains=domains, client="198.51.100.1", origin=origin, referer=referer)

    if allowed:
        check()
    else:
        with pytest.raises(allowlist.DomainNotAllowed):
            check()


@pytest.mark.parametrize("entry", ["http://x.com", "*", "*.", "a..b", "-a.com", "x.com/", "ex ample.com", "*.*.com"])
def test_bad_domain_entries_are_refused(entry: str) -> None:
    with pytest.raises(InvalidRequest):
        allowlist.normalise_domains([entry])


def test_ip_entries_are_normalised() -> None:
    assert allowlist.normalise_ip_allowlist(["10.0.0.5/8", " 2001:DB8::1 ", "192.0.2.1/32"]) == [
        "10.0.0.0/8",
        "2001:db8::1",
        "192.0.2.1",
    ]
    with pytest.raises(InvalidRequest):
        allowlist.normalise_ip_allowlist(["300.1.1.1"])
