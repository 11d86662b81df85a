"""ICE for the server's peers: which STUN/TURN servers (settings, none by default) and which host addresses aioice offers.

aioice gathers host candidates from every interface except 127.0.0.1 (`aioice.ice.get_host_addresses`).
MEDIA_HOST_ADDRESSES replaces that discovery, process-wide, in this one place: a deployment
names the addresses browsers can reach, and tests (in a loopback-only network namespace)
name 127.0.0.1. Unset, aioice's own choice stands. We never add a public STUN server:
aiortc's default configuration has one, so every peer is built from `rtc_configuration`.
"""

from __future__ import annotations

from typing import Any, Sequence

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

_DISCOVER = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Offer exactly these addresses as host candidates (empty: aioice's discovery)."""
    chosen = list(addresses)
    if not chosen:
        aioice.ice.get_host_addresses = _DISCOVER
        return

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured


def rtc_configuration(ice_servers: Sequence[dict[str, Any]]) -> RTCConfiguration:
    """An RTCConfiguration from ICE_SERVERS entries ({"urls", "username"?, "credential"?}).

    Everything on one transport (max-bundle), as browsers offer it: with aiortc's default (balanced),
    a second video m-line (a screen share beside the camera) stays on a transport that never starts.
    """
    return RTCConfiguration(iceServers=[RTCIceServer(urls=s["urls"], username=s.get("username"),
                                                     credential=s.get("credential")) for s in ice_servers],
                            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
