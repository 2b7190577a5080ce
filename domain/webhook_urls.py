"""Which URLs an outbound webhook may call: https to a public address; in dev mode also
http://127.0.0.1 (or localhost), for a receiver on the same machine. The address is checked
again when each delivery resolves the host, so a name that later points inside the operator's
network is refused then (no SSRF)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def url_problem(url: str, *, dev_mode: bool) -> str | None:
    """Why this URL is refused, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    host = (parts.hostname or "").lower()
    if not host:
        return "a URL with a host is needed, like https://example.com/hooks"
    try:
        host.encode("idna")
    except UnicodeError:
        return "the host is not a valid name (each label at most 63 characters)"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed; the signature authenticates us"
    if port == 0:
        return "port 0 is not a port"
    loopback = host in LOOPBACK_NAMES
    if parts.scheme == "http" and dev_mode and loopback:
        return None
    if parts.scheme != "https":
        allowed = "https://" + (" (or http://127.0.0.1 in dev mode)" if dev_mode else "")
        return f"the URL must start with {allowed}"
    if loopback and dev_mode:
        return None
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None  # a name: its addresses are checked when a delivery resolves it
    return None if is_public(literal) else "private, loopback and reserved addresses are refused"


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast, also for the IPv4 address an IPv6 one carries (mapped, NAT64, 6to4,
    Teredo): 64:ff9b::a9fe:a9fe is 169.254.169.254 on a DNS64 network."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = (
            address.ipv4_mapped
            or address.sixtofour
            or (address.teredo[1] if address.teredo else None)
            or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None)
        )
        if carried is not None and not is_public(carried):
            return False
    return address.is_global and not address.is_multicast
