//! Calibration (design rule 1): a negative check is judged only between two accepted positive
//! controls (the same request with `V`) and after a refused negative control (no credential).
//! If a control fails the verdict is `Error`, never `Pass` — so a server that refuses everything
//! passes no negative check.

use crate::check::Outcome;
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::expect::{self, Grade};
use crate::http::{Exchange, RecordedResponse};
use crate::model::Level;

/// Why the controls did not hold.
fn control_failure(what: &str, exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(r) => match &r.body_incomplete {
            Some(why) => format!("{what}: HTTP {}, then {why}", r.status),
            None => format!("{what}: HTTP {}", r.status),
        },
        Err(e) => format!("{what}: {e}"),
    }
}

/// The positive control: `initialize` with `V` is accepted.
pub async fn positive_control(ctx: &Context) -> Result<Exchange, Outcome> {
    if let Err(why) = ctx.refresh_tokens().await {
        return Err(Outcome::error(
            format!("positive control: {why}"),
            Vec::new(),
        ));
    }
    let Some(token) = ctx.valid_token() else {
        return Err(Outcome::error(
            "no valid token can be minted in this run",
            Vec::new(),
        ));
    };
    let exchange = ctx.initialize(&Credential::Bearer(token)).await;
    let accepted = exchange.response.as_ref().is_ok_and(expect::is_accepted);
    if accepted {
        Ok(exchange)
    } else {
        Err(Outcome::error(
            format!(
                "{} — the valid token was not accepted, so no refusal can be judged",
                control_failure("positive control", &exchange)
            ),
            vec![exchange],
        ))
    }
}

/// The negative control: `initialize` without credentials is refused.
pub async fn negative_control(ctx: &Context) -> Result<Exchange, Outcome> {
    let exchange = ctx.initialize(&Credential::None).await;
    let refused = exchange
        .response
        .as_ref()
        .is_ok_and(|r| !expect::is_accepted(r));
    if refused {
        Ok(exchange)
    } else {
        Err(Outcome::error(
            format!(
                "{} — a request without credentials was not refused",
                control_failure("negative control", &exchange)
            ),
            vec![exchange],
        ))
    }
}

/// Opens a session with a valid token; returns the session id, or the failed control.
pub async fn open_session(ctx: &Context, credential: &Credential) -> Result<String, Outcome> {
    let init = ctx.initialize(credential).await;
    let session = init
        .response
        .as_ref()
        .ok()
        .filter(|r| expect::is_accepted(r))
        .and_then(|r| r.header("mcp-session-id").map(str::to_owned));
    session.ok_or_else(|| {
        Outcome::error(
            "positive control: initialize with a valid token gave no session",
            vec![init],
        )
    })
}

/// Runs `credential` as a calibrated negative stimulus and grades the response with `grade`.
pub async fn refusal(
    ctx: &Context,
    level: Level,
    credential: Credential,
    grade: impl Fn(&RecordedResponse) -> Grade,
) -> Outcome {
    if let Err(outcome) = negative_control(ctx).await {
        return outcome;
    }
    if let Err(outcome) = positive_control(ctx).await {
        return outcome;
    }
    let stimulus = ctx.initialize(&credential).await;
    if let Err(outcome) = positive_control(ctx).await {
        return outcome;
    }
    judge(level, stimulus, grade)
}

/// Grades one exchange (a transport failure is `Error`, with the exchange as evidence).
pub fn judge(
    level: Level,
    exchange: Exchange,
    grade: impl Fn(&RecordedResponse) -> Grade,
) -> Outcome {
    judge_stimulus(level, None, exchange, grade)
}

/// Grades one exchange whose stimulus the check can name ("a token without exp"), so the
/// message says what the server did to it.
pub fn judge_stimulus(
    level: Level,
    stimulus: Option<&str>,
    exchange: Exchange,
    grade: impl Fn(&RecordedResponse) -> Grade,
) -> Outcome {
    let outcome = match &exchange.response {
        Ok(response) => {
            Outcome::from_response(level, &grade(response), stimulus, response, Vec::new())
        }
        Err(e) => {
            let what = stimulus.map_or_else(String::new, |s| format!(" to {s}"));
            Outcome::error(format!("no usable response{what}: {e}"), Vec::new())
        }
    };
    Outcome {
        evidence: vec![exchange],
        ..outcome
    }
}
