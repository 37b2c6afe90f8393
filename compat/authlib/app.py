"""Authlib's RFC 9068 resource protector guarding an MCP endpoint on Flask.

Configured as Authlib's documentation of ``authlib.oauth2.rfc9068.JWTBearerTokenValidator``
shows: a subclass implementing ``get_jwks`` (downloaded once and cached, as its docstring's
example does), registered on the Flask ``ResourceProtector`` with the issuer and the resource
server identifier, and ``@require_oauth("mcp:tools")`` on the endpoint. The one override is
``raise_error_response`` (the documented hook "to customize the error response"): it adds
``resource_metadata`` to the challenge Authlib wrote and changes nothing else.
"""

import json
import os
import sys
import urllib.request

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.integrations.flask_oauth2.errors import raise_http_exception
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from flask import Flask, Response, request
from werkzeug.serving import make_server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-common"))
import mcp_wire  # noqa: E402

NAME = "authlib"
SCOPE = "mcp:tools"
config = mcp_wire.Config()
cache = {}


class MyJWTBearerTokenValidator(JWTBearerTokenValidator):
    def get_jwks(self):
        if "jwks" in cache:
            return cache["jwks"]
        with urllib.request.urlopen(config.jwks_uri, timeout=5) as answer:
            cache["jwks"] = json.load(answer)
        return cache["jwks"]


class McpResourceProtector(ResourceProtector):
    def raise_error_response(self, error):
        headers = list(error.get_headers())
        names = [i for i, (name, _) in enumerate(headers) if name.lower() == "www-authenticate"]
        if names:
            name, value = headers[names[0]]
            headers[names[0]] = (name, mcp_wire.with_resource_metadata(value, config.prm_url))
        elif error.status_code == 401:
            headers.append(("WWW-Authenticate", mcp_wire.with_resource_metadata(None, config.prm_url)))
        raise_http_exception(error.status_code, json.dumps(dict(error.get_body())), headers)


require_oauth = McpResourceProtector()
require_oauth.register_token_validator(
    MyJWTBearerTokenValidator(issuer=config.issuer, resource_server=config.resource)
)

app = Flask(__name__)
mcp = mcp_wire.Mcp(config, NAME)


def prm_document():
    return Response(json.dumps(mcp_wire.prm(config, [SCOPE])), mimetype="application/json")


for path in config.prm_paths:
    app.add_url_rule(path, f"prm{path}", prm_document, methods=["GET"])


@app.route(config.mcp_path, methods=["POST", "GET", "DELETE"])
@require_oauth(SCOPE)
def endpoint():
    if request.method != "POST":
        return Response(status=405, headers={"Allow": "POST"})
    status, value, headers = mcp.handle(
        str(current_token.get("sub")),
        request.headers.get("Mcp-Session-Id"),
        request.get_data(),
    )
    body = "" if value is None else json.dumps(value)
    return Response(body, status=status, headers=headers, mimetype="application/json")


if __name__ == "__main__":
    # Flask's own server (Werkzeug), threaded, bound before the ready line.
    server = make_server("127.0.0.1", config.port, app, threaded=True)
    mcp_wire.ready(NAME, config)
    server.serve_forever()
