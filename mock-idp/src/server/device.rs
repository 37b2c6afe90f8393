//! The device authorization grant (RFC 8628): the device authorization endpoint, the
//! verification URI where a human or a script approves or denies, and the state of each grant
//! as the token endpoint polls it.
//!
//! The mock IdP has no real user, so it decides by itself as `DeviceFlowConfig::approval`
//! says; a decision posted to the verification URI takes precedence. Polls are paced in
//! milliseconds: a poll sooner than `interval` after the previous one is `slow_down` (while the
//! grant is pending), and the grant's interval grows by `slow_down_step`.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::cimd::CimdLookup;
use super::client_auth::authenticate;
use super::clients::DEVICE_CODE_GRANT_TYPE;
use super::config::{DeviceApproval, DeviceFlowConfig};
use super::error::{OAuthError, html_escape, html_page, json_answer};
use super::params::{Params, read_form};
use super::policy::{check_resources, grant_scope};
use super::state::IssuerCtx;
use crate::random_b64url;

/// Endpoint names under the issuer.
pub(crate) const DEVICE_AUTHORIZATION_PATH: &str = "device_authorization";
pub(crate) const VERIFICATION_PATH: &str = "device";

/// RFC 8628 §6.1: consonants only, so no word and no look-alike digits can be formed.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

/// A user code in canonical form (eight alphabet characters); shown as `XXXX-XXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UserCode(String);

impl UserCode {
    fn generate() -> Self {
        // Bytes of 240 and above are dropped so each character is uniform over the 20.
        let limit = 256 - 256 % USER_CODE_ALPHABET.len();
        let rng = SystemRandom::new();
        let mut code = String::with_capacity(USER_CODE_LEN);
        while code.len() < USER_CODE_LEN {
            let mut buf = [0u8; 16];
            rng.fill(&mut buf).expect("system randomness available");
            for b in buf.map(usize::from).into_iter().filter(|&b| b < limit) {
                if code.len() < USER_CODE_LEN {
                    code.push(char::from(USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.len()]));
                }
            }
        }
        Self(code)
    }

    /// A code as a person types it: case, dashes and spaces do not matter (RFC 8628 §6.1).
    fn parse(typed: &str) -> Option<Self> {
        let code: String = typed
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
            .then_some(Self(code))
    }
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, second) = self.0.split_at(USER_CODE_LEN / 2);
        write!(f, "{first}-{second}")
    }
}

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Tokens were issued; kept to revoke them if the device code comes back.
    Redeemed {
        family: u64,
    },
}

/// One device authorization request and its progress.
#[derive(Debug)]
pub(crate) struct DeviceGrant {
    client_id: String,
    subject: String,
    scope: String,
    resources: Vec<String>,
    expires_at: i64,
    /// Kept until then: past expiry to answer `expired_token`, after redemption to revoke.
    forget_at: i64,
    /// Seconds required between polls; grows at each `slow_down`.
    interval: u32,
    last_poll_ms: Option<i64>,
    pending_answers: u32,
    status: DeviceStatus,
}

/// What an approved grant lets the token endpoint issue.
#[derive(Debug, Clone)]
pub(crate) struct ApprovedDevice {
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
}

/// A decision posted to the verification URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceDecision {
    Approve,
    Deny,
}

/// What a device authorization request asks for, once its client is authenticated.
pub(crate) struct DeviceRequest {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resources: Vec<String>,
}

/// The device grants of one issuer, by device code and by user code.
#[derive(Debug, Default)]
pub(crate) struct DeviceGrants {
    by_device_code: HashMap<String, DeviceGrant>,
    device_code_of: HashMap<UserCode, String>,
}

impl DeviceGrants {
    pub fn len(&self) -> usize {
        self.by_device_code.len()
    }

    /// Records a new pending grant; returns its device code and user code.
    pub fn start(
        &mut self,
        request: DeviceRequest,
        now: i64,
        config: &DeviceFlowConfig,
    ) -> (String, UserCode) {
        let user_code = loop {
            let candidate = UserCode::generate();
            if !self.device_code_of.contains_key(&candidate) {
                break candidate;
            }
        };
        let device_code = random_b64url(32);
        let expires_at = now.saturating_add(config.code_lifetime);
        self.device_code_of
            .insert(user_code.clone(), device_code.clone());
        self.by_device_code.insert(
            device_code.clone(),
            DeviceGrant {
                client_id: request.client_id,
                subject: request.subject,
                scope: request.scope,
                resources: request.resources,
                expires_at,
                forget_at: expires_at.saturating_add(config.code_lifetime.max(0)),
                interval: config.interval,
                last_poll_ms: None,
                pending_answers: 0,
                status: DeviceStatus::Pending,
            },
        );
        (device_code, user_code)
    }

    /// The token family issued for this device code, if it was redeemed already.
    pub fn redeemed_family(&self, device_code: &str) -> Option<u64> {
        match self.by_device_code.get(device_code)?.status {
            DeviceStatus::Redeemed { family } => Some(family),
            _ => None,
        }
    }

    /// A poll of the token endpoint (RFC 8628 §3.4, §3.5): the approved grant, or the error
    /// that says why there are no tokens yet (or ever).
    pub fn poll(
        &mut self,
        device_code: &str,
        client_id: &str,
        now_ms: i64,
        config: &DeviceFlowConfig,
    ) -> Result<ApprovedDevice, OAuthError> {
        let grant = self
            .by_device_code
            .get_mut(device_code)
            .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
        if grant.client_id != client_id {
            return Err(OAuthError::invalid_grant(
                "device_code was issued to another client",
            ));
        }
        if now_ms >= grant.expires_at.saturating_mul(1000) {
            return Err(OAuthError::expired_token("device_code expired"));
        }
        let previous = grant.last_poll_ms.replace(now_ms);
        if grant.status == DeviceStatus::Pending {
            let min_gap = i64::from(grant.interval) * 1000;
            if previous.is_some_and(|last| now_ms - last < min_gap) {
                grant.interval = grant.interval.saturating_add(config.slow_down_step);
                return Err(OAuthError::slow_down(grant.interval));
            }
            grant.status = match config.approval {
                DeviceApproval::ApproveAfter { pending_polls }
                    if grant.pending_answers >= pending_polls =>
                {
                    DeviceStatus::Approved
                }
                DeviceApproval::DenyAfter { pending_polls }
                    if grant.pending_answers >= pending_polls =>
                {
                    DeviceStatus::Denied
                }
                _ => {
                    grant.pending_answers += 1;
                    return Err(OAuthError::authorization_pending());
                }
            };
        }
        match grant.status {
            DeviceStatus::Approved => Ok(ApprovedDevice {
                subject: grant.subject.clone(),
                scope: grant.scope.clone(),
                resources: grant.resources.clone(),
            }),
            DeviceStatus::Denied => Err(OAuthError::access_denied(
                "the user denied the authorization request",
            )),
            DeviceStatus::Pending | DeviceStatus::Redeemed { .. } => {
                Err(OAuthError::invalid_grant("device_code already used"))
            }
        }
    }

    /// Marks an approved grant as redeemed by `family`, remembered until `forget_at`.
    pub fn redeem(&mut self, device_code: &str, family: u64, forget_at: i64) {
        if let Some(g) = self.by_device_code.get_mut(device_code) {
            g.status = DeviceStatus::Redeemed { family };
            g.forget_at = forget_at;
        }
    }

    /// The pending, unexpired grant a user code names.
    fn pending(&self, user_code: &UserCode, now: i64) -> Option<&DeviceGrant> {
        self.device_code_of
            .get(user_code)
            .and_then(|dc| self.by_device_code.get(dc))
            .filter(|g| g.status == DeviceStatus::Pending && now < g.expires_at)
    }

    /// A decision from the verification URI; `Err` says why it cannot be taken.
    fn decide(
        &mut self,
        user_code: &UserCode,
        decision: DeviceDecision,
        now: i64,
    ) -> Result<(), &'static str> {
        let grant = self
            .device_code_of
            .get(user_code)
            .and_then(|dc| self.by_device_code.get_mut(dc))
            .ok_or("unknown user code")?;
        if now >= grant.expires_at {
            return Err("the code has expired");
        }
        if grant.status != DeviceStatus::Pending {
            return Err("the request was already decided");
        }
        grant.status = match decision {
            DeviceDecision::Approve => DeviceStatus::Approved,
            DeviceDecision::Deny => DeviceStatus::Denied,
        };
        Ok(())
    }

    pub fn prune(&mut self, now: i64) {
        self.by_device_code.retain(|_, g| now < g.forget_at);
        let live = &self.by_device_code;
        self.device_code_of.retain(|_, dc| live.contains_key(dc));
    }
}

/// `POST <issuer>/device_authorization` (RFC 8628 §3.1, §3.2).
pub(crate) async fn device_authorization(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    json_answer(StatusCode::OK, start_grant(&ctx, &headers, body).await)
}

async fn start_grant(
    ctx: &IssuerCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, OAuthError> {
    let shared = &ctx.shared;
    let config = &shared.config;
    let params = read_form(headers, body, config.max_body_bytes).await?;
    params.refuse_duplicates(&["resource"])?;
    let cimd = CimdLookup::resolve(shared, params.get("client_id")).await;
    let issuer = ctx.issuer();
    let now = shared.now();
    let mut st = issuer.lock();
    let client = authenticate(&st, headers, &params, &cimd)?;
    if !client.allows_grant(DEVICE_CODE_GRANT_TYPE) {
        return Err(OAuthError::unauthorized_client(
            "client may not use the device authorization grant",
        ));
    }
    let request = DeviceRequest {
        scope: grant_scope(shared, &client, params.get("scope"))?,
        resources: check_resources(config, params.all("resource"))?,
        client_id: client.client_id,
        subject: config.subject.clone(),
    };
    st.maybe_prune(now);
    let (device_code, user_code) = st.devices.start(request, now, &config.device);
    let verification_uri = issuer.endpoint(VERIFICATION_PATH);
    shared.record_exchanged([device_code.as_str()]);
    Ok(json!({
        "device_code": device_code,
        "user_code": user_code.to_string(),
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "verification_uri": verification_uri,
        "expires_in": config.device.code_lifetime,
        "interval": config.device.interval,
    }))
}

/// `GET <issuer>/device`: a form for the user code, filled in from `?user_code=`
/// (`verification_uri_complete`), naming the client and scope when the code is pending.
pub(crate) async fn verification_page(State(ctx): State<IssuerCtx>, uri: Uri) -> Response {
    let params = Params::parse(uri.query().unwrap_or_default().as_bytes());
    let typed = params.get("user_code").unwrap_or_default();
    let now = ctx.shared.now();
    let asking = UserCode::parse(typed).and_then(|code| {
        let st = ctx.issuer().lock();
        st.devices.pending(&code, now).map(|g| {
            format!(
                "<p>Client <code>{}</code> asks for scope <code>{}</code>.</p>",
                html_escape(&g.client_id),
                html_escape(&g.scope)
            )
        })
    });
    let form = format!(
        "{}<form method=\"post\" action=\"{}\"><label>Code \
         <input name=\"user_code\" value=\"{}\" autocomplete=\"off\"></label> \
         <button name=\"action\" value=\"approve\">Approve</button> \
         <button name=\"action\" value=\"deny\">Deny</button></form>",
        asking.unwrap_or_default(),
        html_escape(&ctx.issuer().endpoint(VERIFICATION_PATH)),
        html_escape(typed)
    );
    html_page(StatusCode::OK, "Device sign-in", &form)
}

/// `POST <issuer>/device` with `user_code` and `action=approve|deny`: 200 when the decision
/// was taken, 400 with the reason otherwise.
pub(crate) async fn verification_decision(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match decide(&ctx, &headers, body).await {
        Ok(DeviceDecision::Approve) => html_page(
            StatusCode::OK,
            "Device approved",
            "<p>You may return to your device.</p>",
        ),
        Ok(DeviceDecision::Deny) => html_page(
            StatusCode::OK,
            "Device denied",
            "<p>The device gets no access.</p>",
        ),
        Err(why) => html_page(
            StatusCode::BAD_REQUEST,
            "Device sign-in failed",
            &format!("<p>{}</p>", html_escape(&why)),
        ),
    }
}

async fn decide(
    ctx: &IssuerCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<DeviceDecision, String> {
    let params = read_form(headers, body, ctx.shared.config.max_body_bytes)
        .await
        .map_err(|e| e.description)?;
    let user_code = params
        .get("user_code")
        .and_then(UserCode::parse)
        .ok_or("user_code must be eight letters as shown on the device")?;
    let decision = match params.get("action") {
        Some("approve") => DeviceDecision::Approve,
        Some("deny") => DeviceDecision::Deny,
        _ => return Err("action must be approve or deny".into()),
    };
    let now = ctx.shared.now();
    ctx.issuer()
        .lock()
        .devices
        .decide(&user_code, decision, now)?;
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DeviceRequest {
        DeviceRequest {
            client_id: "c".into(),
            subject: "s".into(),
            scope: "mcp:read".into(),
            resources: Vec::new(),
        }
    }

    fn config(approval: DeviceApproval) -> DeviceFlowConfig {
        DeviceFlowConfig {
            approval,
            ..DeviceFlowConfig::default()
        }
    }

    /// Polls `(client_id, at_ms, expected answer)` in turn; `"approved"` stands for tokens.
    fn expect_answers(
        grants: &mut DeviceGrants,
        device_code: &str,
        config: &DeviceFlowConfig,
        polls: &[(&str, i64, &str)],
    ) {
        for &(client_id, at_ms, expected) in polls {
            let answer = match grants.poll(device_code, client_id, at_ms, config) {
                Ok(_) => "approved",
                Err(e) => e.error,
            };
            assert_eq!(answer, expected, "{client_id} at {at_ms} ms");
        }
    }

    #[test]
    fn user_codes() {
        let code = UserCode::generate();
        let shown = code.to_string();
        assert_eq!(shown.len(), 9);
        assert_eq!(shown.as_bytes()[4], b'-');
        assert!(
            shown
                .bytes()
                .filter(|&b| b != b'-')
                .all(|b| USER_CODE_ALPHABET.contains(&b))
        );
        assert_eq!(UserCode::parse(&shown), Some(code.clone()));
        assert_eq!(
            UserCode::parse(&format!(" {} ", shown.to_lowercase())),
            Some(code)
        );
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1"] {
            assert_eq!(UserCode::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn approval_after_pending_polls_and_pacing() {
        let cfg = config(DeviceApproval::ApproveAfter { pending_polls: 2 });
        let mut grants = DeviceGrants::default();
        let (dc, _) = grants.start(request(), 100, &cfg);
        expect_answers(
            &mut grants,
            &dc,
            &cfg,
            &[
                ("c", 100_000, "authorization_pending"),
                ("c", 100_500, "slow_down"),
                // The interval is now 6 s, counted from the last poll, too fast ones included.
                ("c", 106_000, "slow_down"),
                ("c", 117_000, "authorization_pending"),
                ("other", 200_000, "invalid_grant"),
                ("c", 200_000, "approved"),
            ],
        );
        grants.redeem(&dc, 7, i64::MAX);
        assert_eq!(grants.redeemed_family(&dc), Some(7));
        expect_answers(&mut grants, &dc, &cfg, &[("c", 300_000, "invalid_grant")]);
        expect_answers(
            &mut grants,
            "nope",
            &cfg,
            &[("c", 300_000, "invalid_grant")],
        );
    }

    #[test]
    fn denial_expiry_and_manual_decisions() {
        let deny = config(DeviceApproval::DenyAfter { pending_polls: 0 });
        let mut grants = DeviceGrants::default();
        let (dc, _) = grants.start(request(), 100, &deny);
        expect_answers(
            &mut grants,
            &dc,
            &deny,
            &[
                ("c", 100_000, "access_denied"),
                ("c", 100_001, "access_denied"),
                ("c", 400_000, "expired_token"),
            ],
        );

        let manual = config(DeviceApproval::Manual);
        let (dc, user_code) = grants.start(request(), 100, &manual);
        let pending = "authorization_pending";
        let polls = [("c", 100_000, pending), ("c", 102_000, pending)];
        expect_answers(&mut grants, &dc, &manual, &polls);
        assert!(grants.pending(&user_code, 105).is_some());
        assert_eq!(
            grants.decide(&user_code, DeviceDecision::Approve, 105),
            Ok(())
        );
        assert!(
            grants
                .decide(&user_code, DeviceDecision::Deny, 105)
                .is_err()
        );
        // Decided grants are not paced: the answer is final.
        expect_answers(&mut grants, &dc, &manual, &[("c", 102_001, "approved")]);

        let (_, late) = grants.start(request(), 100, &manual);
        assert_eq!(
            grants.decide(&late, DeviceDecision::Approve, 400),
            Err("the code has expired")
        );
        assert_eq!(grants.len(), 3);
        grants.prune(i64::MAX);
        assert_eq!((grants.len(), grants.device_code_of.len()), (0, 0));
    }
}
