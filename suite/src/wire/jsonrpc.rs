//! Telling an MCP success from everything else (spec §3.1 tp-jsonrpc-classify): a JSON-RPC
//! `result` versus an `error`, in a JSON body or in a `text/event-stream` body, and an HTTP 200
//! that carries an error. This is the basis of every "accepted" judgement.

use serde_json::Value;

/// What an MCP response body says.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcOutcome {
    /// A JSON-RPC response with a `result` member.
    Result(Value),
    /// A JSON-RPC response with an `error` member.
    Error { code: Option<i64>, message: String },
    /// No body (e.g. 202 for a notification).
    Empty,
    /// A body that holds no JSON-RPC response.
    NotJsonRpc(String),
}

impl RpcOutcome {
    pub fn is_result(&self) -> bool {
        matches!(self, RpcOutcome::Result(_))
    }
}

/// Classifies a response body by its content type.
pub fn classify(content_type: Option<&str>, body: &[u8]) -> RpcOutcome {
    if body.iter().all(u8::is_ascii_whitespace) {
        return RpcOutcome::Empty;
    }
    let is_sse = content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
    });
    if is_sse {
        classify_sse(body)
    } else {
        classify_json(body)
    }
}

fn classify_json(body: &[u8]) -> RpcOutcome {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => classify_message(&v)
            .unwrap_or_else(|| RpcOutcome::NotJsonRpc("JSON without result or error".into())),
        Err(e) => RpcOutcome::NotJsonRpc(format!("not JSON: {e}")),
    }
}

fn classify_message(v: &Value) -> Option<RpcOutcome> {
    // A batch answer counts by its first response.
    if let Value::Array(items) = v {
        return items.iter().find_map(classify_message);
    }
    let obj = v.as_object()?;
    if let Some(err) = obj.get("error") {
        return Some(RpcOutcome::Error {
            code: err.get("code").and_then(Value::as_i64),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    obj.get("result").map(|r| RpcOutcome::Result(r.clone()))
}

/// Reads SSE events (`data:` lines joined by newlines, events separated by a blank line) and
/// returns the first JSON-RPC response among them.
fn classify_sse(body: &[u8]) -> RpcOutcome {
    let text = String::from_utf8_lossy(body);
    let mut data = String::new();
    let flush = |data: &mut String| -> Option<RpcOutcome> {
        let out = serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|v| classify_message(&v));
        data.clear();
        out
    };
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            if let Some(found) = flush(&mut data) {
                return found;
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    flush(&mut data).unwrap_or_else(|| {
        RpcOutcome::NotJsonRpc("event stream without a JSON-RPC response".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_result_error_and_200_with_error() {
        assert!(
            classify(
                Some("application/json"),
                br#"{"jsonrpc":"2.0","id":1,"result":{}}"#
            )
            .is_result()
        );
        assert_eq!(
            classify(
                Some("application/json"),
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"Unauthorized"}}"#
            ),
            RpcOutcome::Error {
                code: Some(-32001),
                message: "Unauthorized".into()
            }
        );
        assert!(matches!(
            classify(None, b"<html>login</html>"),
            RpcOutcome::NotJsonRpc(_)
        ));
        assert_eq!(classify(None, b""), RpcOutcome::Empty);
    }

    #[test]
    fn sse_events() {
        let body = b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\r\ndata: \"result\":{\"tools\":[]}}\r\n\r\n";
        assert!(classify(Some("text/event-stream; charset=utf-8"), body).is_result());
        let body = b": ping\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"no\"}}\n";
        assert!(matches!(
            classify(Some("text/event-stream"), body),
            RpcOutcome::Error { .. }
        ));
        assert!(matches!(
            classify(Some("text/event-stream"), b"data: garbage\n\n"),
            RpcOutcome::NotJsonRpc(_)
        ));
    }
}
