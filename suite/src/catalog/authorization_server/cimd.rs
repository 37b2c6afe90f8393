//! Spec §2.7: client ID metadata documents (CIMD). The run is the client: it hosts its client
//! metadata at an https URL on its own listener (the loopback certificate of `fixtures/tls`,
//! which the authorization server must trust; or a public https name forwarded to the listener,
//! `--cimd-base-url`) and names that URL as `client_id`. Every stimulus is a document (or an
//! answer) at a fresh unguessable path, so no server cache mixes two stimuli, and the listener
//! counts the server's fetches of each.
//!
//! A client is accepted or refused at the authorization endpoint, before any login: a login
//! page for the valid document is its acceptance (the happy row goes on to a code and a token
//! when the run can log in). Each row is calibrated by the valid document first; the rows apply
//! when the metadata advertises `client_id_metadata_document_supported` (its absence is graded
//! by as.metadata.cimd-flag). Not automated here: the SSRF row (a fetch of an internal address
//! cannot be told apart on loopback, where the valid document itself lives) and the consent
//! page rows (what a person reads).

use std::time::Duration;

use serde_json::{Value, json};

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext, AuthzAnswer, classify_authz};
use crate::engine::listener::{Answer, Listener};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{Assertion, Part};
use crate::http::Exchange;
use crate::model::{Level, SpecVersion, Verdict};

use super::token::{probe as token_probe, redeemed, redemption_form, token_request};

const CIMD_DRAFT: &str =
    "https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/";

/// The redirect URI every hosted document lists: the tool's loopback callback, any port
/// (RFC 8252 §7.3), so a login can end at the run's listener.
const LISTED_REDIRECT: &str = "http://127.0.0.1/callback";
/// A second loopback redirect URI, listed only by the cache row's changed document.
const OTHER_LISTED_REDIRECT: &str = "http://127.0.0.1/callback-changed";
/// A loopback redirect URI no document lists.
const UNLISTED_REDIRECT: &str = "http://127.0.0.1:9/other";
/// The documents of as.cimd.size-limit: a megabyte, and a valid document sent a byte per tick.
const LARGE_DOCUMENT_BYTES: usize = 1024 * 1024;
const DRIP_INTERVAL: Duration = Duration::from_millis(100);

/// CIMD is the MCP 2025-11-25 way for clients to identify themselves (SHOULD); earlier
/// revisions do not know it.
pub(super) const FROM_2025_11_25: Applies = Applies::InVersions {
    versions: &[SpecVersion::V2025_11_25, SpecVersion::V2026_07_28],
    otherwise: Level::Info,
};

const MCP_CIMD: crate::check::SpecRef = mcp(
    "Client ID Metadata Documents",
    "authorization servers SHOULD support client ID metadata documents and MUST validate them",
);

const fn meta(
    id: &'static str,
    row: &'static str,
    title: &'static str,
    summary: &'static str,
    level: Level,
    refs: &'static [crate::check::SpecRef],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    let mut meta = super::as_meta(
        id,
        row,
        title,
        summary,
        level,
        refs,
        &[Need::Anonymous],
        broken_by,
    );
    meta.applies = FROM_2025_11_25;
    meta
}

/// Where this run hosts its documents.
struct Host {
    listener: &'static Listener,
    /// The https base URL the documents are named under.
    base: String,
    /// The same listener over plain http (the `http://` stimulus of the URL grammar row).
    plain_base: String,
    /// Whether the server fetches from a public name (`--cimd-base-url`): then the internal
    /// addresses it could reach are its own, not the tool's.
    public: bool,
    /// Every path this row hosts, withdrawn when the row ends.
    paths: std::sync::Mutex<Vec<String>>,
}

/// A document URL of the run.
#[derive(Debug, Clone)]
struct Hosted {
    path: String,
    url: String,
}

impl Host {
    fn of(ctx: &AsContext) -> Result<Host, Outcome> {
        let Some(listener) = Listener::shared() else {
            return Err(Outcome::new(
                Verdict::NotEvaluated,
                "the tool could not bind a loopback port to host client ID metadata documents",
            ));
        };
        let base = match (&ctx.cimd_base_url, listener.https_base_url()) {
            (Some(public), _) => public.trim_end_matches('/').to_owned(),
            (None, Some(https)) => https.to_owned(),
            (None, None) => {
                return Err(Outcome::new(
                    Verdict::NotEvaluated,
                    "the tool could not start its https listener for client ID metadata \
                     documents; give --cimd-base-url (a public https name forwarded to \
                     --cimd-listen)",
                ));
            }
        };
        Ok(Host {
            listener,
            base,
            plain_base: listener.base_url().to_owned(),
            public: ctx.cimd_base_url.is_some(),
            paths: Default::default(),
        })
    }

    /// A fresh unguessable path ending in `file` (nothing served there yet).
    fn fresh(&self, file: &str) -> Hosted {
        let path = format!("/cimd/{}/{file}", mock_idp::random_b64url(12));
        self.paths
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        Hosted {
            url: format!("{}{path}", self.base),
            path,
        }
    }

    fn serve(&self, at: &Hosted, answer: Answer) {
        self.listener.answer_at(&at.path, answer);
    }

    /// A fresh path serving `document` as JSON.
    fn document(&self, document: impl FnOnce(&str) -> Value) -> Hosted {
        let at = self.fresh("client.json");
        self.serve(&at, json_answer(&document(&at.url)));
        at
    }

    fn fetches(&self, at: &Hosted) -> u64 {
        self.listener.hits(&at.path)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let paths = self.paths.get_mut().unwrap_or_else(|e| e.into_inner());
        for path in paths.drain(..) {
            self.listener.withdraw(&path);
        }
    }
}

fn json_answer(document: &Value) -> Answer {
    Answer::document("application/json", document.to_string().into_bytes())
}

/// A valid document for `client_id`: a public native client with the loopback redirect URI.
fn valid_document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "mcp-authspec client ID metadata document probe",
        "redirect_uris": [LISTED_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    })
}

/// The valid document with `members` replaced (`null` removes one).
fn valid_with(client_id: &str, members: Value) -> Value {
    let mut document = valid_document(client_id);
    if let (Value::Object(d), Value::Object(changes)) = (&mut document, members) {
        for (name, value) in changes {
            if value.is_null() {
                d.remove(&name);
            } else {
                d.insert(name, value);
            }
        }
    }
    document
}

fn client(client_id: &str, redirect_uri: &str) -> AsClient {
    AsClient {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
    }
}

/// What the authorization endpoint must do with a stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// An error page: no code, no redirect (nothing in the document can be trusted).
    Refused,
    /// [`Due::Refused`], and the document URL never fetched (refused on its face).
    RefusedUnfetched,
    /// The flow goes on: a code, or a login step.
    Proceeds,
}

/// One authorization request of a row, naming a document URL as `client_id`.
struct Stimulus {
    /// The stimulus in a few words ("a document whose client_id has a trailing /").
    what: String,
    client: AsClient,
    /// The hosted paths whose fetches are judged or reported.
    watched: Vec<Hosted>,
    due: Due,
}

fn stimulus(what: impl Into<String>, client: AsClient, watched: Vec<Hosted>, due: Due) -> Stimulus {
    Stimulus {
        what: what.into(),
        client,
        watched,
        due,
    }
}

/// A stimulus whose `client_id` is the document at `at`, with the listed redirect URI.
fn of_document(what: impl Into<String>, at: Hosted, due: Due) -> Stimulus {
    stimulus(what, client(&at.url, LISTED_REDIRECT), vec![at], due)
}

/// What came of one authorization request.
struct Seen {
    answer: AuthzAnswer,
    exchange: Exchange,
    fetches: u64,
}

async fn send(ctx: &AsContext, host: &Host, s: &Stimulus) -> Seen {
    let before: u64 = s.watched.iter().map(|h| host.fetches(h)).sum();
    let exchange = ctx
        .authorize(&ctx.valid_authorization_params(&s.client))
        .await;
    let answer = classify_authz(
        &exchange,
        &s.client.redirect_uri,
        &ctx.authorization_origin(),
    );
    let after: u64 = s.watched.iter().map(|h| host.fetches(h)).sum();
    Seen {
        answer,
        exchange,
        fetches: after.saturating_sub(before),
    }
}

fn rule(level: Level, requirement: String, holds: bool, actual: String) -> Assertion {
    observation(Part::Status, level, requirement, holds, actual)
}

fn accepted(answer: &AuthzAnswer) -> bool {
    matches!(answer, AuthzAnswer::Code | AuthzAnswer::Login)
}

fn grade(level: Level, s: &Stimulus, seen: &Seen) -> Vec<Assertion> {
    let did = format!(
        "the authorization server answered {} with {}",
        s.what,
        seen.answer.describe()
    );
    let refused = matches!(seen.answer, AuthzAnswer::ErrorPage { .. });
    let refusal = || {
        rule(
            level,
            format!(
                "{} is refused with an error page: no code, no redirect",
                s.what
            ),
            refused,
            did.clone(),
        )
    };
    match s.due {
        Due::Refused => vec![refusal()],
        Due::RefusedUnfetched => vec![
            refusal(),
            rule(
                level,
                format!("{} is refused without fetching it", s.what),
                seen.fetches == 0,
                format!(
                    "the authorization server fetched {} {} time(s)",
                    s.client.client_id, seen.fetches
                ),
            ),
        ],
        Due::Proceeds => vec![rule(
            level,
            format!(
                "{} is accepted: the flow goes on (a code or a login step)",
                s.what
            ),
            accepted(&seen.answer),
            did,
        )],
    }
}

/// Why a row could not be calibrated.
enum NotCalibrated {
    /// The row does not apply, or has nothing to go on: its outcome.
    Outcome(Outcome),
    /// The valid document was not accepted: the positive control failed (the happy row's
    /// finding).
    Refused { valid: Hosted, seen: Seen },
}

impl NotCalibrated {
    /// The outcome of a row whose positive control this is.
    fn outcome(self) -> Outcome {
        match self {
            NotCalibrated::Outcome(outcome) => outcome,
            NotCalibrated::Refused { valid, seen } => Outcome::error(
                format!(
                    "positive control: an authorization request naming the valid client ID \
                     metadata document {} (redirect_uri {LISTED_REDIRECT}) got {} after {} \
                     fetch(es) of it, so no refusal can be judged (see as.cimd.happy). The \
                     documents are on a loopback address under the tool's test CA \
                     (fixtures/tls/ca.pem): the server must trust that CA and fetch from \
                     loopback (an SSRF guard refuses it), or give --cimd-base-url",
                    valid.url,
                    seen.answer.describe(),
                    seen.fetches
                ),
                vec![seen.exchange],
            ),
        }
    }
}

/// The row's applicability and positive control: the metadata advertises CIMD and a valid
/// document is accepted. `Ok` carries the control's evidence.
async fn calibrate(ctx: &AsContext, host: &Host) -> Result<Seen, NotCalibrated> {
    let Some((_, document)) = ctx.documents.primary() else {
        return Err(NotCalibrated::Outcome(Outcome::error(
            format!(
                "no metadata document of {} could be read (see as.metadata.available)",
                ctx.issuer
            ),
            ctx.documents.exchanges(),
        )));
    };
    if document.bool("client_id_metadata_document_supported") != Some(true) {
        return Err(NotCalibrated::Outcome(Outcome::new(
            Verdict::Skip,
            "the metadata does not advertise client_id_metadata_document_supported: this \
             server does not offer client ID metadata documents (see as.metadata.cimd-flag)",
        )));
    }
    if ctx.authorization_endpoint().is_none() {
        return Err(NotCalibrated::Outcome(Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        )));
    }
    let valid = host.document(valid_document);
    let control = of_document("a valid document", valid.clone(), Due::Proceeds);
    let seen = send(ctx, host, &control).await;
    if !accepted(&seen.answer) {
        return Err(NotCalibrated::Refused { valid, seen });
    }
    Ok(seen)
}

/// Runs a row: calibration, then each stimulus graded on its own.
async fn run_row(ctx: &AsContext, row: &CimdRow) -> Outcome {
    let host = match Host::of(ctx) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let control = match calibrate(ctx, &host).await {
        Ok(seen) => seen,
        Err(not) => return not.outcome(),
    };
    let stimuli = (row.stimuli)(&host);
    if stimuli.is_empty() {
        return Outcome::new(Verdict::NotEvaluated, row.unavailable);
    }
    let mut assertions = Vec::new();
    let mut evidence = vec![control.exchange];
    for s in stimuli {
        let seen = send(ctx, &host, &s).await;
        if let AuthzAnswer::NoAnswer(e) = &seen.answer {
            assertions.push(rule(
                row.meta.level,
                format!("{} is answered", s.what),
                false,
                format!("the authorization endpoint did not answer {} ({e})", s.what),
            ));
            evidence.push(seen.exchange);
            continue;
        }
        let rules = grade(row.meta.level, &s, &seen);
        if rules.iter().any(|r| !r.holds) {
            evidence.push(seen.exchange);
        }
        assertions.extend(rules);
    }
    crate::catalog::prm::graded(row.meta.level, assertions, evidence, row.pass.to_owned())
}

/// A row of stimuli.
struct CimdRow {
    meta: CheckMeta,
    stimuli: fn(&Host) -> Vec<Stimulus>,
    pass: &'static str,
    /// Why a run can send none of the stimuli, when it cannot (else empty).
    unavailable: &'static str,
}

fn client_id_mismatch(host: &Host) -> Vec<Stimulus> {
    let elsewhere = host.document(valid_document);
    vec![
        of_document(
            "a document whose client_id is another URL",
            host.document(|_| valid_document(&elsewhere.url)),
            Due::Refused,
        ),
        of_document(
            "a document whose client_id is its URL with a trailing /",
            host.document(|url| valid_document(&format!("{url}/"))),
            Due::Refused,
        ),
    ]
}

fn redirect_not_listed(host: &Host) -> Vec<Stimulus> {
    let at = host.document(valid_document);
    vec![stimulus(
        format!("redirect_uri {UNLISTED_REDIRECT}, which the document does not list"),
        client(&at.url, UNLISTED_REDIRECT),
        vec![at],
        Due::Refused,
    )]
}

fn bad_document(host: &Host) -> Vec<Stimulus> {
    let served = |what: &str, answer: fn(&str) -> Answer, due: Due| {
        let at = host.fresh("client.json");
        host.serve(&at, answer(&at.url));
        of_document(what, at, due)
    };
    vec![
        served(
            "a document that is not JSON",
            |_| Answer::document("application/json", b"client_id: not json".to_vec()),
            Due::Refused,
        ),
        served(
            "a document that is a JSON array",
            |url| json_answer(&json!([valid_document(url)])),
            Due::Refused,
        ),
        served(
            "a document without redirect_uris",
            |url| json_answer(&valid_with(url, json!({"redirect_uris": null}))),
            Due::Refused,
        ),
        served(
            "a valid document served as text/html",
            |url| Answer::document("text/html", valid_document(url).to_string().into_bytes()),
            Due::Refused,
        ),
    ]
}

fn url_grammar(host: &Host) -> Vec<Stimulus> {
    // Each URL's document is hosted where a fetch of it would land, with client_id equal to
    // the URL as written, so only the grammar can refuse it.
    let mut stimuli = Vec::new();
    let mut add = |what: &str, url: String, at: Hosted, due: Due| {
        host.serve(&at, json_answer(&valid_document(&url)));
        stimuli.push(stimulus(what, client(&url, LISTED_REDIRECT), vec![at], due));
    };
    let at = host.fresh("client.json");
    let http = format!("{}{}", host.plain_base, at.path);
    add("an http client_id URL", http, at, Due::RefusedUnfetched);
    let at = host.fresh("client.json");
    // /cimd/<random>/client.json as /cimd/<random>/../<random>/client.json: the same document.
    let (dir, file) = at.path.rsplit_once('/').unwrap_or_default();
    let last = dir.rsplit('/').next().unwrap_or_default();
    let dotted = format!("{}{dir}/../{last}/{file}", host.base);
    add(
        "a client_id URL with a .. segment",
        dotted,
        at,
        Due::RefusedUnfetched,
    );
    let at = host.fresh("client.json");
    let fragment = format!("{}#x", at.url);
    add(
        "a client_id URL with a fragment",
        fragment,
        at,
        Due::RefusedUnfetched,
    );
    let at = host.fresh("client.json");
    let userinfo = at.url.replacen("://", "://user:secret@", 1);
    add(
        "a client_id URL with userinfo",
        userinfo,
        at,
        Due::RefusedUnfetched,
    );
    stimuli
}

fn no_shared_secret(host: &Host) -> Vec<Stimulus> {
    vec![
        of_document(
            "a document with a client_secret",
            host.document(|url| valid_with(url, json!({"client_secret": "s3cr3t-shared"}))),
            Due::Refused,
        ),
        of_document(
            "a document with token_endpoint_auth_method client_secret_basic",
            host.document(|url| {
                valid_with(
                    url,
                    json!({"token_endpoint_auth_method": "client_secret_basic"}),
                )
            }),
            Due::Refused,
        ),
    ]
}

fn redirect_follow(host: &Host) -> Vec<Stimulus> {
    let original = host.fresh("client.json");
    // Another origin (another host name for the same listener) serving a document that
    // claims the original client_id: what an open redirect on the client's host would give.
    let target = host.fresh("client.json");
    let cross_origin = target.url.replacen("://127.0.0.1", "://localhost", 1);
    host.serve(&target, json_answer(&valid_document(&original.url)));
    host.serve(&original, Answer::redirect(&cross_origin));
    vec![stimulus(
        format!("a document URL answering 302 to {cross_origin}"),
        client(&original.url, LISTED_REDIRECT),
        vec![target],
        Due::Refused,
    )]
}

fn ssrf(host: &Host) -> Vec<Stimulus> {
    if host.public {
        return Vec::new();
    }
    // The valid documents live at 127.0.0.1, so that address must be let through; any other
    // internal address serves the same document, and a fetch of it is an SSRF.
    host.listener
        .internal_https_base_urls()
        .iter()
        .map(|base| {
            let at = host.fresh("client.json");
            let url = format!("{base}{}", at.path);
            host.serve(&at, json_answer(&valid_document(&url)));
            stimulus(
                format!("a client_id URL on the internal address {base}"),
                client(&url, LISTED_REDIRECT),
                vec![at],
                Due::RefusedUnfetched,
            )
        })
        .collect()
}

fn size_limit(host: &Host) -> Vec<Stimulus> {
    let large = host.fresh("client.json");
    let mut document = valid_document(&large.url);
    document["padding"] = Value::String("x".repeat(LARGE_DOCUMENT_BYTES));
    host.serve(&large, json_answer(&document));
    let slow = host.fresh("client.json");
    host.serve(
        &slow,
        json_answer(&valid_document(&slow.url)).dripped(DRIP_INTERVAL),
    );
    vec![
        of_document("a valid document of 1 MiB", large, Due::Refused),
        of_document(
            "a valid document sent at one byte per 100 ms",
            slow,
            Due::Refused,
        ),
    ]
}

/// as.cimd.cache: a document that may not be cached is changed between two requests; the
/// second is valid only under the changed document.
async fn cache(ctx: &AsContext) -> Outcome {
    let host = match Host::of(ctx) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    if let Err(not) = calibrate(ctx, &host).await {
        return not.outcome();
    }
    let at = host.fresh("client.json");
    let uncached =
        |document: Value| json_answer(&document).with_header("cache-control", "max-age=0");
    host.serve(&at, uncached(valid_document(&at.url)));
    let first = of_document(
        "a document served with Cache-Control: max-age=0",
        at.clone(),
        Due::Proceeds,
    );
    let seen = send(ctx, &host, &first).await;
    if !accepted(&seen.answer) {
        return Outcome::error(
            format!(
                "positive control: {} got {}, so its replacement cannot be judged",
                first.what,
                seen.answer.describe()
            ),
            vec![seen.exchange],
        );
    }
    host.serve(
        &at,
        uncached(valid_with(
            &at.url,
            json!({"redirect_uris": [OTHER_LISTED_REDIRECT]}),
        )),
    );
    let second = stimulus(
        format!(
            "redirect_uri {OTHER_LISTED_REDIRECT} after the max-age=0 document was changed to \
             list only it"
        ),
        client(&at.url, OTHER_LISTED_REDIRECT),
        vec![at],
        Due::Proceeds,
    );
    let changed = send(ctx, &host, &second).await;
    let mut assertions = grade(CACHE.level, &second, &changed);
    assertions.push(rule(
        Level::Info,
        "the changed document is fetched again".into(),
        changed.fetches > 0,
        "the authorization server did not fetch the changed document".into(),
    ));
    crate::catalog::prm::graded(
        CACHE.level,
        assertions,
        vec![seen.exchange, changed.exchange],
        "a document served with max-age=0 was fetched again and its change honoured".to_owned(),
    )
}

/// as.cimd.happy: the valid document fetched and accepted, then, when the run gets a code
/// (at once, or through its login), redeemed for a token as that client.
async fn happy(ctx: &AsContext) -> Outcome {
    let host = match Host::of(ctx) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let level = HAPPY.level;
    let control = match calibrate(ctx, &host).await {
        Ok(seen) => seen,
        // A refused valid document is this row's finding, not an Error.
        Err(NotCalibrated::Refused { valid, seen }) => {
            return crate::catalog::prm::graded(
                level,
                vec![rule(
                    level,
                    "an authorization request naming a valid client ID metadata document is \
                     accepted"
                        .into(),
                    false,
                    format!(
                        "the authorization server answered an authorization request naming the \
                         valid document {} (redirect_uri {LISTED_REDIRECT}) with {} after {} \
                         fetch(es) of it",
                        valid.url,
                        seen.answer.describe(),
                        seen.fetches
                    ),
                )],
                vec![seen.exchange],
                String::new(),
            );
        }
        Err(not) => return not.outcome(),
    };
    let mut assertions = vec![rule(
        level,
        "the valid document is fetched".into(),
        control.fetches > 0,
        "the authorization server accepted the client without fetching its document".into(),
    )];
    let mut evidence = vec![control.exchange];
    let at = host.document(valid_document);
    let cimd_client = client(&at.url, LISTED_REDIRECT);
    let resource = ctx.resource.clone().unwrap_or_default();
    let pass = match ctx.request_code(&cimd_client, &resource).await {
        Ok(code) => {
            evidence.push(code.exchange.clone());
            let form = redemption_form(&code, Some(&code.verifier), Some(&cimd_client.client_id));
            let redemption = token_probe("the code's redemption", form, super::token::Due::Issued);
            let exchange = ctx.driver.send(token_request(ctx, &redemption)).await;
            let issued = redeemed(&exchange);
            assertions.push(rule(
                level,
                "the code issued to the document's client is redeemed for a token".into(),
                issued.is_ok(),
                format!(
                    "the token endpoint answered the redemption of a code issued to {} with {}",
                    at.url,
                    issued.as_ref().err().cloned().unwrap_or_default()
                ),
            ));
            evidence.push(exchange);
            "the authorization server fetched the document, issued a code to its client and \
             redeemed it for a token"
        }
        Err((AuthzAnswer::Login, _)) => {
            "the authorization server fetched the document and went on to its login page (the \
             run cannot log in, so the code and token steps were not tried: --login-command, \
             or --login-user and --login-password-env)"
        }
        Err((answer, exchange)) => {
            assertions.push(rule(
                level,
                "the flow of the document's client ends in a code".into(),
                false,
                format!(
                    "the authorization server answered the flow of {} with {}",
                    at.url,
                    answer.describe()
                ),
            ));
            evidence.push(exchange);
            ""
        }
    };
    crate::catalog::prm::graded(level, assertions, evidence, pass.to_owned())
}

pub(super) const HAPPY: CheckMeta = meta(
    "as.cimd.happy",
    "as-cimd-happy",
    "Fetches a client ID metadata document and completes the flow",
    "An authorization request whose client_id is the URL of a valid document the tool hosts is accepted after the server fetched the document; with a login (or none needed) its code is redeemed for a token.",
    Level::Should,
    &[
        MCP_CIMD,
        rfc(
            "CIMD draft",
            "§4",
            "the authorization server fetches the document at the client_id URL",
            CIMD_DRAFT,
        ),
    ],
    &["as-cimd-ignored"],
);

pub(super) const CACHE: CheckMeta = meta(
    "as.cimd.cache",
    "as-cimd-cache",
    "Honours the HTTP cache headers of client ID metadata documents",
    "A document served with Cache-Control: max-age=0 is changed to list another redirect URI; a request with the new redirect URI is accepted (the server fetched the changed document).",
    Level::Should,
    &[
        mcp(
            "Client ID Metadata Documents",
            "authorization servers SHOULD cache documents according to their HTTP cache headers",
        ),
        rfc(
            "CIMD draft",
            "§4.3",
            "caching follows HTTP caching rules",
            CIMD_DRAFT,
        ),
    ],
    &["as-cimd-cache-ignores-headers"],
);

static ROWS: &[CimdRow] = &[
    CimdRow {
        meta: meta(
            "as.cimd.client-id-mismatch",
            "as-cimd-clientid-mismatch",
            "Refuses a document whose client_id is not its URL",
            "Documents whose client_id is another URL, or their own URL with a trailing /, are refused with an error page: the client_id must equal the URL by simple string comparison.",
            Level::Must,
            &[
                MCP_CIMD,
                rfc(
                    "CIMD draft",
                    "§4",
                    "client_id in the document MUST match the URL exactly (simple string comparison)",
                    CIMD_DRAFT,
                ),
            ],
            &["as-cimd-client-id-unchecked"],
        ),
        stimuli: client_id_mismatch,
        pass: "documents whose client_id differs from their URL were refused",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.redirect-not-listed",
            "as-cimd-redirect-not-listed",
            "Refuses a redirect URI the document does not list",
            "An authorization request naming a valid document and a redirect_uri it does not list gets an error page, never a redirect.",
            Level::Must,
            &[
                MCP_CIMD,
                rfc(
                    "CIMD draft",
                    "§4",
                    "the redirect_uri is validated against the document's redirect_uris",
                    CIMD_DRAFT,
                ),
            ],
            &["as-cimd-redirect-unchecked"],
        ),
        stimuli: redirect_not_listed,
        pass: "a redirect URI the document does not list was refused with an error page",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.bad-document",
            "as-cimd-bad-document",
            "Refuses malformed client ID metadata documents",
            "Documents that are not JSON, are a JSON array, lack redirect_uris or are served as text/html are refused with an error page (client_name is OPTIONAL: its absence is no stimulus).",
            Level::Must,
            &[
                MCP_CIMD,
                rfc(
                    "CIMD draft",
                    "§4",
                    "a successful response is 200 with content type application/json (or application/<AS-defined>+json) and a JSON object; the authorization server MUST treat every other status and content type as an error",
                    CIMD_DRAFT,
                ),
            ],
            &["as-cimd-document-unchecked"],
        ),
        stimuli: bad_document,
        pass: "malformed documents were refused with an error page",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.url-grammar",
            "as-cimd-url-grammar",
            "Refuses client_id URLs that break the CIMD URL rules, without fetching them",
            "client_id URLs over http, with a .. segment, a fragment or userinfo are refused without a fetch (a query, which the draft only discourages clients from using, is no stimulus).",
            Level::Must,
            &[rfc(
                "CIMD draft",
                "§3",
                "client identifier URLs use https, contain a path, and no dot segments, fragment or userinfo",
                CIMD_DRAFT,
            )],
            &["as-cimd-url-lax"],
        ),
        stimuli: url_grammar,
        pass: "client_id URLs breaking the CIMD URL rules were refused without a fetch",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.no-shared-secret",
            "as-cimd-no-shared-secret",
            "Refuses documents with a shared secret",
            "Documents carrying client_secret, or a shared-secret token_endpoint_auth_method (client_secret_basic), are refused with an error page: anyone can read the document.",
            Level::Must,
            &[rfc(
                "CIMD draft",
                "§4",
                "documents MUST NOT use symmetric secrets for client authentication",
                CIMD_DRAFT,
            )],
            &["as-cimd-shared-secret-accepted"],
        ),
        stimuli: no_shared_secret,
        pass: "documents with a shared secret were refused",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.redirect-follow",
            "as-cimd-redirect-follow",
            "Does not take a client ID metadata document from another origin through a redirect",
            "A document URL that answers 302 to another origin serving a document that claims the original client_id is refused: following it lets an open redirect on the client's host speak for the client.",
            Level::Must,
            &[rfc(
                "CIMD draft",
                "§4",
                "the authorization server MUST NOT automatically follow HTTP redirects when fetching the document",
                CIMD_DRAFT,
            )],
            &["as-cimd-follows-redirects"],
        ),
        stimuli: redirect_follow,
        pass: "a document URL answering a cross-origin redirect was refused",
        unavailable: "",
    },
    CimdRow {
        meta: meta(
            "as.cimd.ssrf",
            "as-cimd-ssrf",
            "Does not fetch client ID metadata documents from internal addresses",
            "client_id URLs on internal addresses other than the one the run's valid documents are on (127.0.0.2 and [::1], where the run also serves them) are refused without a fetch. The valid documents themselves are on 127.0.0.1, which the server under test must let through. Not evaluated with --cimd-base-url (the server's internal addresses are not the run's); DNS rebinding is not tried.",
            Level::Should,
            &[
                mcp(
                    "Client ID Metadata Documents",
                    "authorization servers SHOULD take precautions against SSRF when fetching documents",
                ),
                rfc(
                    "CIMD draft",
                    "§6",
                    "fetching a URL the client chose is a server-side request forgery risk",
                    CIMD_DRAFT,
                ),
            ],
            &["as-cimd-ssrf"],
        ),
        stimuli: ssrf,
        pass: "client_id URLs on internal addresses were refused without a fetch",
        unavailable: "the internal addresses an SSRF stimulus names are those of the machine fetching the documents: with --cimd-base-url that is not the tool's, which cannot see the fetch (and on this machine no address besides 127.0.0.1 could be bound)",
    },
    CimdRow {
        meta: meta(
            "as.cimd.size-limit",
            "as-cimd-size-limit",
            "Limits the size and fetch time of client ID metadata documents",
            "A 1 MiB document and a document dripped at a byte per 100 ms are refused (the fetch given up) with an error page, within the tool's request deadline.",
            Level::Should,
            &[rfc(
                "CIMD draft",
                "§6",
                "authorization servers limit the size of documents and the time to fetch them",
                CIMD_DRAFT,
            )],
            &["as-cimd-no-size-limit"],
        ),
        stimuli: size_limit,
        pass: "an oversized document and a slow one were refused",
        unavailable: "",
    },
];

/// Every §2.7 check.
pub(super) fn checks() -> Vec<Check<AsContext>> {
    let mut checks = vec![Check::new(HAPPY, |ctx: &AsContext| -> CheckFuture<'_> {
        Box::pin(happy(ctx))
    })];
    checks.extend(ROWS.iter().map(|row| {
        Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(run_row(ctx, row))
        })
    }));
    checks.push(Check::new(CACHE, |ctx: &AsContext| -> CheckFuture<'_> {
        Box::pin(cache(ctx))
    }));
    checks
}
