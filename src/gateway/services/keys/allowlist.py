"""Per-key allowlists: client IP addresses and calling domains.

The client IP is decided by `client_ip` (TCP peer, or the right-most untrusted hop of
X-Forwarded-For behind TRUSTED_PROXIES). The domain is the host of `Origin`, else of
`Referer`; a key with a domain allowlist refuses requests that carry neither (and
`Origin: null`, which browsers send from sandboxed or file pages, carries none).
`example.com` allows exactly that host; `*.example.com` allows its subdomains at any depth
but neither `example.com` itself nor look-alikes such as `example.com.evil.net`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ada_url

from gateway.errors import Forbidden, InvalidRequest
from gateway.services.keys.client_ip import IpNetwork, allowed, client_ip

if TYPE_CHECKING:
    from gateway.db.database import Database
    from gateway.services.audit.chain import Auditor
    from gateway.services.keys.authenticate import Principal

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")
MAX_ENTRIES = 100


class IpNotAllowed(Forbidden):
    code = "ip_not_allowed"
    default_message = "requests from this IP address are not allowed for this key"


class DomainNotAllowed(Forbidden):
    code = "domain_not_allowed"
    default_message = "requests from this domain are not allowed for this key"


def normalise_ip_allowlist(entries: Sequence[str]) -> list[str]:
    """Validated entries as stored: canonical addresses and CIDRs, v4 or v6."""
    if len(entries) > MAX_ENTRIES:
        raise InvalidRequest(f"at most {MAX_ENTRIES} entries", param="ip_allowlist")
    result = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise InvalidRequest(f"{entry!r} is not an IP address or CIDR", param="ip_allowlist") from None
        result.append(str(network) if network.num_addresses > 1 else str(network.network_address))
    return result


def normalise_domains(entries: Sequence[str]) -> list[str]:
    if len(entries) > MAX_ENTRIES:
        raise InvalidRequest(f"at most {MAX_ENTRIES} entries", param="domain_referrers")
    result = []
    for entry in entries:
        domain = entry.strip().lower().rstrip(".")
        if not _DOMAIN.fullmatch(domain):
            raise InvalidRequest(
                f"{entry!r} is not a domain such as example.com or *.example.com", param="domain_referrers"
            )
        result.append(domain)
    return result


_WEB_SCHEMES = ("http:", "https:")
_PLAIN_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\]")


def _host(url: str | None) -> str | None:
    """The host a browser would see in this URL, or None when it is not a plain web host.

    Parsed by a WHATWG URL parser (Ada, as browsers parse): `https://evil.net\\@app.example.com`
    is evil.net to a browser, and `https://evil.net%2F.example.com` no URL at all. Browsers
    never put credentials in Origin or Referer, so a URL carrying them is not a browser's.
    """
    if not url or url.strip().lower() == "null":
        return None
    try:
        parsed = ada_url.URL(url.strip())
    except ValueError:
        return None
    if parsed.protocol not in _WEB_SCHEMES or parsed.username or parsed.password:
        return None
    host = parsed.hostname.rstrip(".")
    return host if _PLAIN_HOST.fullmatch(host) else None


def request_domain(origin: str | None, referer: str | None) -> str | None:
    return _host(origin) if origin and origin.strip() else _host(referer)


def domain_matches(domain: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:]) and len(domain) > len(pattern) - 1
    return domain == pattern


def check(
    *, networks: Sequence[IpNetwork], domains: Sequence[str], client: str, origin: str | None, referer: str | None
) -> None:
    """Raise IpNotAllowed / DomainNotAllowed if the key's allowlists refuse this request."""
    if networks and not allowed(client, networks):
        raise IpNotAllowed(f"requests from {client} are not allowed for this key")
    if domains:
        domain = request_domain(origin, referer)
        if domain is None:
            raise DomainNotAllowed("this key only accepts requests that carry an allowed Origin or Referer")
        if not any(domain_matches(domain, pattern) for pattern in domains):
            raise DomainNotAllowed(f"requests from {domain} are not allowed for this key")


@dataclass(frozen=True, slots=True)
class Caller:
    """Where a request comes from, as the allowlists see it."""

    ip: str
    origin: str | None = None
    referer: str | None = None


def caller_of(
    *,
    peer: str | None,
    forwarded_for: Sequence[str],
    origin: str | None,
    referer: str | None,
    trusted_proxies: Sequence[IpNetwork],
) -> Caller:
    """Where a request comes from, from what HTTP says of it."""
    return Caller(ip=client_ip(peer, forwarded_for, trusted_proxies), origin=origin, referer=referer)


async def guard(db: Database, auditor: Auditor, *, principal: Principal, caller: Callable[[], Caller]) -> None:
    """The key's allowlists, on whatever route it calls; `caller` is asked only of a key that
    has some. Refusals are audited — a key used from the wrong place is worth knowing about —
    once a minute per key and reason at most: refusals come before any rate limit, so a leaked
    key must not be able to fill the log."""
    if not principal.restricted:
        return
    where = caller()
    try:
        check(
            networks=principal.ip_networks,
            domains=principal.policy.domain_referrers,
            client=where.ip,
            origin=where.origin,
            referer=where.referer,
        )
    except (IpNotAllowed, DomainNotAllowed) as refused:
        await auditor.record_now_unless_recent(
            db, user_id=principal.user_id, action=f"request.{refused.code}", actor="gateway",
            key_id=principal.key_id, details={"ip": where.ip, "origin": where.origin, "referer": where.referer},
        )  # fmt: skip
        raise
