"""Who the client is on the network: the TCP peer, or — when the peer is a trusted proxy —
the right-most address in X-Forwarded-For that is not one of our proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IpAddress | None:
    """An address from a header or peer; IPv4-mapped IPv6 is read as the IPv4 it carries."""
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # zone ids are local detail
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: str | Sequence[str] | None, proxies: Sequence[IpNetwork]) -> str:
    """The client's address as text ("unknown" if the peer itself is unknown).

    `forwarded_for` is every X-Forwarded-For header line, in order: RFC 9110 makes repeated
    lines one comma-separated list, and a proxy may append a line of its own rather than
    extend the client's, so reading only the first line would let the client decide.
    """
    peer_address = parse_ip(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    lines = [forwarded_for] if isinstance(forwarded_for, str) else forwarded_for
    hops = [hop.strip() for line in lines for hop in line.split(",") if hop.strip()]
    client = str(peer_address)
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            return hop  # a garbled hop: stop believing the chain here
        client = str(address)
        if not _trusted(address, proxies):
            return client
    return client


def parse_networks(entries: Sequence[str]) -> tuple[IpNetwork, ...]:
    """Allowlist entries (addresses or CIDRs, v4 or v6) as networks; invalid ones are skipped
    here because they were refused when the key was saved."""
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv6Network) and (mapped := _mapped_v4(network)) is not None:
            network = mapped
        networks.append(network)
    return tuple(networks)


def _mapped_v4(network: ipaddress.IPv6Network) -> ipaddress.IPv4Network | None:
    """`::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8 written in IPv6."""
    address = network.network_address.ipv4_mapped
    if address is None or network.prefixlen < 96:
        return None
    return ipaddress.IPv4Network(f"{address}/{network.prefixlen - 96}", strict=False)


def allowed(address: str, networks: Sequence[IpNetwork]) -> bool:
    parsed = parse_ip(address)
    return parsed is not None and _trusted(parsed, networks)
