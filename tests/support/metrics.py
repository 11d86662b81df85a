"""Reading one sample from a server's /metrics, as an operator's scraper would."""

from __future__ import annotations

import re

import httpx


async def metric(url: str, sample: str) -> float:
    """The value of `sample` (a name with its labels, as /metrics writes it: `name{label="v"}`), 0 if absent."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        text = (await http.get("/metrics")).text
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0
