//! Report sinks of mcp-authspec: one event stream ([`event::Event`]) feeds every output —
//! terminal, JUnit, JSON, Markdown, HTML, SARIF — so they never disagree. The stable contract
//! of a run ([`model`]) lives here too, beside the code that writes it out.

pub mod baseline;
pub mod event;
pub mod glob;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod record;
pub mod sarif;
pub mod terminal;
pub mod utc;
