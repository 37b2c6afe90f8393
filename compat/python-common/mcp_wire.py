"""The MCP side of the Python stacks of the compatibility bed, framework-neutral.

Streamable HTTP on POST /mcp with JSON answers, the protected resource metadata (RFC 9728) and
the challenge's ``resource_metadata`` parameter. Token validation is NOT here: each stack
validates with its library as documented and hands this module the validated subject. No MCP
SDK (those are acceptance targets, kept apart); the standard library only.
"""

import json
import os
import re
import secrets
import sys
import threading
import urllib.request
from urllib.parse import urlsplit

PROTOCOL_VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"

TOOLS = [
    {
        "name": "canary",
        "description": "Calls the upstream API once.",
        "inputSchema": {"type": "object", "properties": {}},
    },
    {
        "name": "echo",
        "description": "Returns its text.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
]


class Config:
    """What every stack reads from its environment."""

    def __init__(self):
        def need(name):
            value = os.environ.get(name)
            if not value:
                sys.exit(f"environment variable {name} is required")
            return value

        self.port = int(need("PORT"))
        self.issuer = need("ISSUER")
        self.jwks_uri = need("JWKS_URI")
        self.resource = need("RESOURCE")
        self.upstream = need("UPSTREAM_URL")
        parts = urlsplit(self.resource)
        self.mcp_path = parts.path or "/"
        self.prm_paths = [PRM_WELL_KNOWN, PRM_WELL_KNOWN + parts.path]
        self.prm_url = f"{parts.scheme}://{parts.netloc}{PRM_WELL_KNOWN}{parts.path}"


def prm(config, scopes):
    """The PRM document; ``scopes_supported`` is left out when the stack requires no scope
    (RFC 9728 §2 omits empty arrays)."""
    doc = {"resource": config.resource, "authorization_servers": [config.issuer]}
    if scopes:
        doc["scopes_supported"] = list(scopes)
    doc["bearer_methods_supported"] = ["header"]
    return doc


_BEARER = re.compile(r"(^|,\s*)Bearer(?=\s|,|$)( (?=[^,]*=))?", re.IGNORECASE)


def with_resource_metadata(challenge, prm_url):
    """``challenge`` (a WWW-Authenticate value, or None) with ``resource_metadata`` added to its
    Bearer challenge; everything the library wrote is kept."""
    param = f'resource_metadata="{prm_url}"'
    if not challenge:
        return f"Bearer {param}"
    m = _BEARER.search(challenge)
    if not m:
        return f"Bearer {param}, {challenge}"
    end = m.end()
    insert = f"{param}, " if m.group(2) is not None else f" {param}"
    return challenge[:end] + insert + challenge[end:]


class Mcp:
    """The JSON-RPC side: sessions bound to the token's subject, tools/list, tools/call."""

    def __init__(self, config, name):
        self.config = config
        self.name = name
        self.sessions = {}
        self.lock = threading.Lock()

    def handle(self, subject, session, body):
        """One authenticated POST: returns (status, JSON value or None, extra headers)."""
        try:
            message = json.loads(body)
        except ValueError:
            return 400, rpc_error(None, -32700, "parse error"), {}
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return 400, rpc_error(None, -32600, "invalid JSON-RPC message"), {}
        rid = message.get("id")
        method = message.get("method")
        if method == "initialize":
            sid = secrets.token_urlsafe(18)
            with self.lock:
                self.sessions[sid] = subject
            asked = (message.get("params") or {}).get("protocolVersion")
            version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[-1]
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": self.name, "version": "0.1.0"},
            }
            return 200, rpc_result(rid, result), {"Mcp-Session-Id": sid}
        if not session:
            return 400, rpc_error(rid, -32600, "Mcp-Session-Id required"), {}
        with self.lock:
            owner = self.sessions.get(session)
        if owner != subject:
            return 404, rpc_error(rid, -32600, "unknown session"), {}
        if "id" not in message:
            return 202, None, {}  # a notification, e.g. notifications/initialized
        if method == "ping":
            return 200, rpc_result(rid, {}), {}
        if method == "tools/list":
            return 200, rpc_result(rid, {"tools": TOOLS}), {}
        if method == "tools/call":
            return 200, self.call_tool(rid, message.get("params") or {}), {}
        return 200, rpc_error(rid, -32601, "method not found"), {}

    def call_tool(self, rid, params):
        name = params.get("name")
        if name == "echo":
            text = str((params.get("arguments") or {}).get("text", ""))
            return rpc_result(rid, {"content": [{"type": "text", "text": text}], "isError": False})
        if name != "canary":
            return rpc_error(rid, -32602, "unknown tool")
        # The upstream call carries no credential of the client (MCP: no token passthrough).
        request = urllib.request.Request(
            self.config.upstream,
            data=json.dumps({"tool": "canary"}).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=3) as answer:
                text = f"upstream answered {answer.status}"
        except OSError:
            text = "upstream unreachable"
        return rpc_result(rid, {"content": [{"type": "text", "text": text}], "isError": False})


def rpc_result(rid, result):
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def rpc_error(rid, code, message):
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def ready(name, config):
    """The ready line the bed waits for."""
    print(f"ready {name} http://127.0.0.1:{config.port}{config.mcp_path}", flush=True)
