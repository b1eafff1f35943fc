"""The OpenAPI 3.1 document served at ``/openapi.json``.

Written out by hand rather than generated from the handlers: it is the contract crawlers in
other languages code against, so it changes only on purpose. The tests validate the document
itself and validate real responses of a running server against its schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from .._version import __version__
from ..types import MODES, PURPOSES, VERDICTS

_STR_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_STR_LIST = {"type": "array", "items": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_SCHEMAS: dict[str, Any] = {
    "Evidence": {
        "type": "object",
        "description": "One observation a decision rests on (or a source found silent).",
        "required": ["protocol", "locator", "raw", "interpretation", "strength", "decisive"],
        "properties": {
            "protocol": {"type": "string", "examples": ["robots", "tdmrep", "robots-header"]},
            "locator": {"type": "string", "examples": ["robots.txt line 2"]},
            "raw": {"type": "string"},
            "interpretation": {
                "type": "string",
                "enum": ["reserved", "allowed", "unknown", "info"],
            },
            "reason": _STR_OR_NULL,
            "spec_version": _STR_OR_NULL,
            "source_url": _STR_OR_NULL,
            "sha256": _STR_OR_NULL,
            "strength": {"type": "string"},
            "decisive": {"type": "boolean"},
        },
    },
    "RobotsOutcome": {
        "type": "object",
        "description": "Which robots.txt copy was used, which RFC 9309 branch applied, which rule.",
        "required": ["branch", "verdict"],
        "properties": {
            "branch": {
                "type": "string",
                "enum": [
                    "parsed",
                    "4xx-allow",
                    "redirect-limit",
                    "unreachable",
                    "stale-copy",
                    "absent",
                ],
            },
            "status": _INT_OR_NULL,
            "url": _STR_OR_NULL,
            "sha256": _STR_OR_NULL,
            "fetched_at": {"type": ["string", "null"], "format": "date-time"},
            "verdict": {"type": "string", "enum": ["allow", "disallow", "no-rule"]},
            "matched_line": _INT_OR_NULL,
            "matched_rule": _STR_OR_NULL,
            "group": _STR_OR_NULL,
            "truncated": {"type": "boolean"},
            "error": _STR_OR_NULL,
        },
    },
    "Decision": {
        "type": "object",
        "description": "The answer for one (url, agent, purpose). Ingest only when `ingest`.",
        "required": [
            "url",
            "agent",
            "purpose",
            "mode",
            "verdict",
            "ingest",
            "reasons",
            "evidence",
            "robots",
        ],
        "properties": {
            "url": {"type": "string", "description": "The URL as given (canonical form in rows)."},
            "final_url": _STR_OR_NULL,
            "agent": {"type": "string"},
            "purpose": {"type": "string", "enum": list(PURPOSES)},
            "mode": {"type": "string", "enum": list(MODES)},
            "verdict": {"type": "string", "enum": list(VERDICTS)},
            "ingest": {
                "type": "boolean",
                "description": "True only for `allowed`: `unknown` means retry later.",
            },
            "reasons": _STR_LIST,
            "tdm_policy": _STR_OR_NULL,
            "tdm_reservation": _INT_OR_NULL,
            "tdm_source": _STR_OR_NULL,
            "licences": _STR_LIST,
            "errors": _STR_LIST,
            "robots": {"oneOf": [_ref("RobotsOutcome"), {"type": "null"}]},
            "evidence": {"type": "array", "items": _ref("Evidence")},
        },
    },
    "CheckResult": {
        "description": (
            "The requested agent's decision, plus `input` (the URL exactly as sent) and, "
            "with `all=true`, `decisions`: one per configured agent, the requested one first."
        ),
        "allOf": [
            _ref("Decision"),
            {
                "type": "object",
                "required": ["input"],
                "properties": {
                    "input": {"type": "string"},
                    "decisions": {"type": "array", "items": _ref("Decision"), "minItems": 1},
                },
            },
        ],
    },
    "BatchLine": {
        "description": "One line of the NDJSON answer to POST /v1/check, in input order.",
        "oneOf": [
            _ref("CheckResult"),
            {
                "type": "object",
                "required": ["input", "error", "message"],
                "properties": {
                    "input": {"type": "string"},
                    "error": {"type": "string"},
                    "message": {"type": "string"},
                },
                "not": {"required": ["verdict"]},
            },
        ],
    },
    "ResponseInput": {
        "type": "object",
        "description": "A page the crawler fetched: decided with its headers and first bytes.",
        "required": ["url", "status"],
        "properties": {
            "url": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "headers": {
                "description": "Response header fields, repeated fields as separate pairs.",
                "oneOf": [
                    {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "prefixItems": [{"type": "string"}, {"type": "string"}],
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    },
                    {"type": "object", "additionalProperties": {"type": "string"}},
                ],
            },
            "body": {"type": "string", "description": "The first bytes of the body, as text."},
            "body_base64": {
                "type": "string",
                "contentEncoding": "base64",
                "description": "The first bytes of the body, base64 (instead of `body`).",
            },
            "agent": {"type": "string"},
            "purpose": {"type": "string", "enum": list(PURPOSES)},
            "all": {"type": "boolean"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "version", "run_id", "started_at", "uptime_seconds", "limits"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "stopping"]},
            "version": {"type": "string"},
            "run_id": {"type": ["string", "null"], "description": "The ledger run of this server."},
            "started_at": {"type": "string", "format": "date-time"},
            "uptime_seconds": {"type": "number"},
            "limits": {
                "type": "object",
                "description": "Caps of this server (clients split batches by max_urls).",
                "required": ["max_urls", "max_body_bytes"],
                "properties": {
                    "max_urls": {"type": "integer", "minimum": 1},
                    "max_body_bytes": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "A short code: bad-request, unauthorized, body-too-large, "
                "too-many-urls, not-found, method-not-allowed, unavailable.",
            },
            "message": {"type": "string", "description": "One line, for a human."},
        },
    },
}

_AGENT = {
    "name": "agent",
    "in": "query",
    "required": False,
    "description": "Product token to decide for [default: the server's --agent].",
    "schema": {"type": "string"},
}
_PURPOSE = {
    "name": "purpose",
    "in": "query",
    "required": False,
    "description": "Use the content is checked for [default: the server's --purpose].",
    "schema": {"type": "string", "enum": list(PURPOSES)},
}
_ALL = {
    "name": "all",
    "in": "query",
    "required": False,
    "description": "Also decide for every configured agent (the catalogue's training tokens).",
    "schema": {"type": "boolean", "default": False},
}

_UNAUTHORIZED = _error("Missing or wrong bearer token (only when the server has --token-file).")


def build(max_urls: int, max_body_bytes: int) -> dict[str, Any]:
    """The document, with this server's limits in the descriptions."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tdmscan serve",
            "version": __version__,
            "summary": "Decide whether web content is reserved from text and data mining.",
            "description": (
                "Every decision is recorded in the server's ledger (one run per server "
                "lifetime). Verdicts: allowed (ingest), reserved, unknown (retry later), "
                "invalid (not an http(s) URL)."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/check": {
                "get": {
                    "operationId": "check",
                    "summary": "Decide one URL.",
                    "parameters": [
                        {
                            "name": "url",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _AGENT,
                        _PURPOSE,
                        _ALL,
                    ],
                    "responses": {
                        "200": _json(_ref("CheckResult"), "The decision."),
                        "400": _error("Missing url, or a bad agent or purpose."),
                        "401": _UNAUTHORIZED,
                    },
                },
                "post": {
                    "operationId": "checkMany",
                    "summary": "Decide many URLs; answers stream back as NDJSON in input order.",
                    "parameters": [_AGENT, _PURPOSE, _ALL],
                    "requestBody": {
                        "required": True,
                        "description": (
                            f"A JSON array of URL strings, or one URL per line (each a JSON "
                            f"string or the bare URL). At most {max_urls} URLs and "
                            f"{max_body_bytes} bytes."
                        ),
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}}
                            },
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One JSON object per line, in input order.",
                            "content": {
                                "application/x-ndjson": {
                                    "schema": {"type": "string"},
                                    # OpenAPI 3.1 has no schema for stream items (3.2's
                                    # itemSchema): each line is a BatchLine.
                                    "x-item-schema": _ref("BatchLine"),
                                }
                            },
                        },
                        "400": _error("A body that is neither a JSON array nor URL lines."),
                        "401": _UNAUTHORIZED,
                        "413": _error("Too many URLs, or a body over the size cap."),
                    },
                },
            },
            "/v1/response": {
                "post": {
                    "operationId": "checkResponse",
                    "summary": "Decide a page the crawler fetched (headers and first bytes).",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ResponseInput")}},
                    },
                    "responses": {
                        "200": _json(_ref("CheckResult"), "The page-level decision."),
                        "400": _error("Not a JSON object, or a missing or wrong field."),
                        "401": _UNAUTHORIZED,
                        "413": _error("A body over the size cap."),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness; never needs the token.",
                    "security": [{}],
                    "responses": {"200": _json(_ref("Health"), "The server is up.")},
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format).",
                    "responses": {
                        "200": {
                            "description": "Checks by verdict and reason, origin cache hits, "
                            "fetch outcomes, latency histograms.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": _json({"type": "object"}, "The OpenAPI 3.1 document."),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
        },
    }
