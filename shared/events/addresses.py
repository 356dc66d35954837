"""Which URLs a webhook may be sent to, and which addresses it may reach
(docs/product.md#events-signed-webhooks): the defence against a publisher
pointing the server at its own network (SSRF).

A URL is `https`, or `http` to a host the operator allows. Its host is
resolved here, at registration and again at every delivery, and every
address it resolves to must be a public one: loopback, private, link-local
(the cloud metadata address 169.254.169.254), multicast, reserved and
unspecified addresses are refused, IPv4 and IPv6 alike, an IPv4 address
written inside an IPv6 one (`::ffff:127.0.0.1`, 6to4, NAT64) included. The
delivery then connects to the address checked here, never to the name
again, so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot move it. `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`
lifts the address checks and allows `http`."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import WebhookSettings
from shared.errors import InvalidFields
from shared.models import MAX_WEBHOOK_URL_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    """A URL checked, with the addresses its host had when it was checked."""

    scheme: str
    host: str  # lower-case, an IPv6 address without its brackets
    port: int
    path: str  # the path and query, as the request line sends them
    host_header: str
    addresses: tuple[str, ...]


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not reach this address; None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal(embedded)
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse(url: object, policy: WebhookSettings) -> Target:
    """The URL's parts, unresolved (no addresses yet); InvalidFields naming `url` when it cannot be one."""
    if not isinstance(url, str) or not url:
        raise _refused("must be a URL, such as https://shop.example/hooks")
    if len(url) > MAX_WEBHOOK_URL_LENGTH or not url.isprintable() or any(c.isspace() for c in url):
        raise _refused(f"must be at most {MAX_WEBHOOK_URL_LENGTH} characters, without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("is not a valid URL") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("https", "http") or not host:
        raise _refused("must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise _refused("must not contain a user name or password")
    if scheme == "http" and not (policy.allow_private_networks or host in policy.http_hosts):
        raise _refused(f"must use https; http is allowed only to hosts the operator allows, and {host} is not one")
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode()
    except UnicodeError:
        raise _refused(f"has a host name that cannot be used: {host}") from None
    port = port or (443 if scheme == "https" else 80)
    netloc = parts.netloc.rpartition("@")[2]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, ascii_host, port, path, netloc, ())


def checked(url: object, policy: WebhookSettings, resolver: Resolver | None = None) -> Target:
    """The URL parsed, its host resolved, and every address checked; InvalidFields naming `url` otherwise."""
    target = parse(url, policy)
    addresses = _resolved(target, resolver or resolve)
    if not policy.allow_private_networks:
        for address in addresses:
            why = refusal(ipaddress.ip_address(address))
            if why is not None:
                raise _refused(f"reaches {address}, {why}; webhooks are sent to public addresses only")
    return Target(target.scheme, target.host, target.port, target.path, target.host_header, addresses)


def _resolved(target: Target, resolver: Resolver) -> tuple[str, ...]:
    try:
        addresses = tuple(dict.fromkeys(resolver(target.host, target.port)))
    except (OSError, UnicodeError):
        addresses = ()
    if not addresses:
        raise _refused(f"has a host that could not be resolved: {target.host}")
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """Every address of the host (an address resolves to itself), each without an IPv6 scope."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).partition("%")[0] for info in found]


def _refused(problem: str) -> InvalidFields:
    return InvalidFields({"url": problem})
