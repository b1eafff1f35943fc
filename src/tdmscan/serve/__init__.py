"""``tdmscan serve``: the Scanner, its origin cache and the ledger behind a JSON HTTP API.

For crawlers in any language (Crawlee, StormCrawler, Nutch, Colly ...): ``GET /v1/check``,
``POST /v1/check`` (a batch, streamed back as NDJSON), ``POST /v1/response`` (a fetched page),
``/healthz``, ``/metrics`` (Prometheus) and ``/openapi.json``. See README "HTTP service".
"""

from __future__ import annotations

from .app import create_app, serve
from .service import BadInput, Gate, ServeConfig

__all__ = ["BadInput", "Gate", "ServeConfig", "create_app", "serve"]
