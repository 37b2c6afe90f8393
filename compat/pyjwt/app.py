"""PyJWT with ``PyJWKClient`` guarding an MCP endpoint on Starlette (served by uvicorn).

Configured as PyJWT's documentation shows for keys from a JWKS endpoint: one ``PyJWKClient``
for the issuer's ``jwks_uri`` (its defaults: the JWK Set cached 300 s, an unknown ``kid``
refetched at most every 30 s), ``get_signing_key_from_jwt(token)``, then
``jwt.decode(token, signing_key, audience=..., issuer=...)``. The algorithm is the one the
PyJWK is bound to (the JWK's ``alg``; PyJWT's API reference: "If key is a PyJWK object, allowed
algorithms will default to the key alg"), so nothing is taken from the token. Refusals are the
usual FastAPI/Starlette-style 401 with an RFC 6750 challenge and ``resource_metadata``.
"""

import json
import os
import sys

import jwt
import uvicorn
from jwt import PyJWKClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-common"))
import mcp_wire  # noqa: E402

NAME = "pyjwt"
config = mcp_wire.Config()
jwks_client = PyJWKClient(config.jwks_uri)
mcp = mcp_wire.Mcp(config, NAME)


def refusal(error=None):
    challenge = f'Bearer error="{error}"' if error else None
    headers = {"WWW-Authenticate": mcp_wire.with_resource_metadata(challenge, config.prm_url)}
    return JSONResponse({"error": error or "unauthorized"}, status_code=401, headers=headers)


def claims_of(request):
    """The validated claims, or the refusal to send."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None, refusal()
    try:
        signing_key = jwks_client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, signing_key, audience=config.resource, issuer=config.issuer)
    except jwt.PyJWTError:
        return None, refusal("invalid_token")
    return claims, None


async def endpoint(request):
    # PyJWKClient and the canary's upstream call block: both run in Starlette's thread pool.
    claims, refused = await run_in_threadpool(claims_of, request)
    if refused:
        return refused
    if request.method != "POST":
        return Response(status_code=405, headers={"Allow": "POST"})
    body = await request.body()
    session = request.headers.get("mcp-session-id")
    status, value, headers = await run_in_threadpool(mcp.handle, str(claims.get("sub")), session, body)
    content = b"" if value is None else json.dumps(value).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def prm_document(request):
    return JSONResponse(mcp_wire.prm(config, []))


routes = [Route(path, prm_document, methods=["GET"]) for path in config.prm_paths]
routes.append(Route(config.mcp_path, endpoint, methods=["POST", "GET", "DELETE"]))
app = Starlette(routes=routes)


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        mcp_wire.ready(NAME, config)  # once listening


if __name__ == "__main__":
    Server(uvicorn.Config(app, host="127.0.0.1", port=config.port, log_level="warning")).run()
