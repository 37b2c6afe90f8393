//! The probe requests of spec §0.3 `Req(h)`: MCP messages to the endpoint with a chosen set of
//! credential headers. `Accept` always lists both JSON and SSE (streamable HTTP).

use serde_json::{Value, json};

use crate::http::ProbeRequest;

/// The MCP protocol version the probes speak.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The credential part of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: DPoP <token>` and `DPoP: <proof>`.
    Dpop {
        token: String,
        proof: String,
    },
    /// Exactly these header fields, in order (malformed and repeated forms).
    Headers(Vec<(String, String)>),
}

impl Credential {
    fn apply(&self, mut req: ProbeRequest) -> ProbeRequest {
        match self {
            Credential::None => req,
            Credential::Bearer(t) => req.header("authorization", &format!("Bearer {t}")),
            Credential::Dpop { token, proof } => req
                .header("authorization", &format!("DPoP {token}"))
                .header("dpop", proof),
            Credential::Headers(fields) => {
                for (name, value) in fields {
                    req = req.header(name, value);
                }
                req
            }
        }
    }
}

/// A JSON-RPC message to the endpoint.
pub fn rpc(
    endpoint: &str,
    credential: &Credential,
    session: Option<&str>,
    body: &Value,
) -> ProbeRequest {
    let mut req = ProbeRequest::new("POST", endpoint)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL_VERSION);
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    credential.apply(req).json_body(body)
}

pub fn initialize_body() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-authspec", "version": env!("CARGO_PKG_VERSION")}
        }
    })
}

pub fn initialized_body() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

pub fn tools_list_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
}

pub fn tools_call_body(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_become_exact_header_fields() {
        let r = rpc(
            "http://h/mcp",
            &Credential::Bearer("t".into()),
            Some("s1"),
            &tools_list_body(),
        );
        assert!(
            r.headers
                .contains(&("authorization".into(), "Bearer t".into()))
        );
        assert!(r.headers.contains(&("mcp-session-id".into(), "s1".into())));
        let two = Credential::Headers(vec![
            ("authorization".into(), "Bearer a".into()),
            ("authorization".into(), "Bearer b".into()),
        ]);
        let r = rpc("http://h/mcp", &two, None, &initialize_body());
        assert_eq!(
            r.headers
                .iter()
                .filter(|(n, _)| n == "authorization")
                .count(),
            2
        );
        let d = rpc(
            "http://h/mcp",
            &Credential::Dpop {
                token: "t".into(),
                proof: "p".into(),
            },
            None,
            &initialize_body(),
        );
        assert!(d.headers.contains(&("dpop".into(), "p".into())));
    }
}
