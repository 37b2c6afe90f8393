//! Dynamic client registration (RFC 7591) as the run does it, and the clean-up after it
//! (RFC 7592). Every registration the run makes, for its own client or for a row's stimulus,
//! is remembered in [`Registrations`]; at the end of the run each one is deleted through its
//! client configuration endpoint when the registration answer offered one, and the rest are
//! counted as left behind, so the run can say how many.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::http::{Driver, Exchange, ProbeRequest};

use super::authorization_server::AsClient;

/// The redirect URI of the clients the run registers: the loopback listener's path, so a
/// login (`--login-command`) can end there on any port (RFC 8252 §7.3).
pub fn loopback_redirect_uri() -> String {
    format!(
        "http://127.0.0.1{}",
        crate::source::auth_code::REDIRECT_PATH
    )
}

/// The metadata of the public native client the run registers for itself (and the valid
/// registration the registration rows start from): loopback redirect, no client
/// authentication, the code and refresh grants.
pub fn native_client_metadata(redirect_uris: &[&str]) -> Value {
    json!({
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "mcp-authspec conformance run",
        "application_type": "native",
    })
}

/// The answer to one registration request.
#[derive(Debug, Clone)]
pub struct RegistrationAnswer {
    /// The registration request and its answer (secrets in it are redacted by every sink).
    pub exchange: Exchange,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The answer's JSON object, when it was one.
    pub body: Option<Map<String, Value>>,
}

impl RegistrationAnswer {
    /// The `client_id` of a 2xx answer: the server registered a client.
    pub fn client_id(&self) -> Option<&str> {
        let registered = self.status.is_some_and(|s| (200..300).contains(&s));
        registered
            .then(|| self.body.as_ref()?.get("client_id")?.as_str())
            .flatten()
            .filter(|id| !id.is_empty())
    }

    /// The `error` member of a JSON answer.
    pub fn error(&self) -> Option<&str> {
        self.body.as_ref()?.get("error")?.as_str()
    }

    /// A member of the answer.
    pub fn member(&self, name: &str) -> Option<&Value> {
        self.body.as_ref()?.get(name)
    }

    /// What came back, in a few words (never a secret: no member value but `error`).
    pub fn describe(&self) -> String {
        match (&self.exchange.response, self.client_id()) {
            (Err(e), _) => format!("no answer ({e})"),
            (Ok(r), Some(id)) => format!("HTTP {} registering client {id}", r.status),
            (Ok(r), None) => match self.error() {
                Some(error) => format!("HTTP {} with error={error}", r.status),
                None => format!("HTTP {} without a client_id", r.status),
            },
        }
    }
}

/// A registration the run made, and how to undo it.
#[derive(Debug, Clone)]
struct Made {
    /// RFC 7592 §3: the client configuration endpoint and the token that opens it.
    configuration: Option<(String, String)>,
}

/// How the clean-up at the end of a run went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanUp {
    /// Registrations deleted through RFC 7592.
    pub deleted: usize,
    /// Registrations the server offered no client configuration endpoint for (or one the
    /// run does not send a token to: another origin than the registration endpoint's, or
    /// plain http off loopback).
    pub no_management: usize,
    /// Registrations whose DELETE was refused or went unanswered.
    pub failed: usize,
}

impl CleanUp {
    pub fn left_behind(&self) -> usize {
        self.no_management + self.failed
    }

    /// One sentence for the run's output; none when the run registered nothing.
    pub fn describe(&self) -> Option<String> {
        let total = self.deleted + self.left_behind();
        if total == 0 {
            return None;
        }
        let mut sentence = format!(
            "Dynamic client registration: the run registered {total} client(s) and deleted {} \
             of them (RFC 7592)",
            self.deleted
        );
        if self.left_behind() > 0 {
            sentence.push_str(&format!(
                "; {} left behind at the authorization server ({} without a client \
                 configuration endpoint, {} whose DELETE failed)",
                self.left_behind(),
                self.no_management,
                self.failed
            ));
        }
        sentence.push('.');
        Some(sentence)
    }
}

/// Every registration a run made, shared by the checks that run concurrently.
#[derive(Debug, Clone, Default)]
pub struct Registrations(Arc<Mutex<Vec<Made>>>);

impl Registrations {
    fn remember(&self, endpoint: &str, answer: &RegistrationAnswer) {
        if answer.client_id().is_none() {
            return;
        }
        let configuration = answer
            .member("registration_client_uri")
            .and_then(Value::as_str)
            .zip(
                answer
                    .member("registration_access_token")
                    .and_then(Value::as_str),
            )
            .filter(|(uri, token)| !token.is_empty() && may_carry_a_token(uri, endpoint))
            .map(|(uri, token)| (uri.to_owned(), token.to_owned()));
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Made { configuration });
    }

    /// How many registrations the run made so far.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Deletes every registration that can be deleted (RFC 7592 §2.3: DELETE with the
    /// registration access token, answered 204), and forgets them all.
    pub async fn clean_up(&self, driver: &Driver) -> CleanUp {
        let made = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let mut outcome = CleanUp::default();
        for registration in made {
            let Some((uri, token)) = registration.configuration else {
                outcome.no_management += 1;
                continue;
            };
            let exchange = driver
                .send(
                    ProbeRequest::new("DELETE", &uri)
                        .header("authorization", &format!("Bearer {token}")),
                )
                .await;
            match &exchange.response {
                Ok(r) if (200..300).contains(&r.status) => outcome.deleted += 1,
                _ => outcome.failed += 1,
            }
        }
        outcome
    }
}

/// A registration access token goes only to the registration endpoint's origin, over https
/// or plain http to a loopback host (design.md "Safety of the tool itself").
fn may_carry_a_token(uri: &str, endpoint: &str) -> bool {
    let (Ok(url), Ok(endpoint)) = (url::Url::parse(uri), url::Url::parse(endpoint)) else {
        return false;
    };
    if url.origin() != endpoint.origin() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
        _ => false,
    }
}

/// Sends one registration request (JSON, no `Authorization`) and remembers the client it
/// created, if any, for the clean-up.
pub async fn register(
    driver: &Driver,
    registrations: &Registrations,
    endpoint: &str,
    metadata: &Value,
) -> RegistrationAnswer {
    let exchange = driver
        .send(
            ProbeRequest::new("POST", endpoint)
                .header("accept", "application/json")
                .json_body(metadata),
        )
        .await;
    let (status, body) = match &exchange.response {
        Ok(r) => (
            Some(r.status),
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                }),
        ),
        Err(_) => (None, None),
    };
    let answer = RegistrationAnswer {
        exchange,
        status,
        body,
    };
    registrations.remember(endpoint, &answer);
    answer
}

/// Registers the run's own public native client (issue 14: the run's client identity when
/// no `--client-id` is given). `Err` says why there is none.
pub async fn register_run_client(
    driver: &Driver,
    registrations: &Registrations,
    endpoint: &str,
) -> Result<AsClient, String> {
    let redirect_uri = loopback_redirect_uri();
    let answer = register(
        driver,
        registrations,
        endpoint,
        &native_client_metadata(&[&redirect_uri]),
    )
    .await;
    match answer.client_id() {
        Some(client_id) => Ok(AsClient {
            client_id: client_id.to_owned(),
            redirect_uri,
        }),
        None => Err(format!(
            "registering a public native client at {endpoint} got {}",
            answer.describe()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_to_https_or_loopback_only() {
        let ok = |uri: &str, endpoint: &str| may_carry_a_token(uri, endpoint);
        assert!(ok("https://as.example/reg/1", "https://as.example/reg"));
        assert!(ok(
            "http://127.0.0.1:8080/reg/1",
            "http://127.0.0.1:8080/reg"
        ));
        assert!(ok("http://localhost/reg/1", "http://localhost/reg"));
        assert!(!ok("http://0.0.0.0:8080/reg/1", "http://0.0.0.0:8080/reg"));
        assert!(!ok("http://as.example/reg/1", "http://as.example/reg"));
        assert!(!ok(
            "https://elsewhere.example/reg/1",
            "https://as.example/reg"
        ));
        assert!(!ok("http://127.0.0.1:9/reg/1", "http://127.0.0.1:8080/reg"));
        assert!(!ok("/reg/1", "https://as.example/reg"));
    }

    #[test]
    fn the_clean_up_sentence_counts_what_is_left() {
        assert_eq!(CleanUp::default().describe(), None);
        let all = CleanUp {
            deleted: 3,
            ..CleanUp::default()
        };
        assert!(
            all.describe()
                .unwrap()
                .contains("registered 3 client(s) and deleted 3")
        );
        let some = CleanUp {
            deleted: 1,
            no_management: 2,
            failed: 1,
        };
        let s = some.describe().unwrap();
        assert!(s.contains("3 left behind"), "{s}");
    }
}
