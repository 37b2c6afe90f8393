//! The fault profiles checks name in `broken_by`: the reference server's (`rs.*` checks) and
//! the mock IdP's as an authorization server (`as.*` checks, names prefixed `as-`), with the
//! flag that switches each on in the embedded demo.

use mock_idp::server::AsFault;
use reference_server::Fault;

/// One named fault profile of either party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoFault {
    Server(Fault),
    AuthorizationServer(AsFault),
}

impl DemoFault {
    pub fn parse(name: &str) -> Option<Self> {
        name.parse::<AsFault>()
            .map(DemoFault::AuthorizationServer)
            .ok()
            .or_else(|| name.parse::<Fault>().map(DemoFault::Server).ok())
    }

    pub fn description(self) -> &'static str {
        match self {
            DemoFault::Server(f) => f.description(),
            DemoFault::AuthorizationServer(f) => f.description(),
        }
    }

    /// The `run` flag that switches it on in the embedded demo.
    pub fn flag(self) -> &'static str {
        match self {
            DemoFault::Server(_) => "--demo-fault",
            DemoFault::AuthorizationServer(_) => "--demo-as-fault",
        }
    }
}

/// `--demo-fault NAME` or `--demo-as-fault NAME` for a fault named in `broken_by`.
pub fn flag_for(name: &str) -> String {
    let flag = DemoFault::parse(name).map_or("--demo-fault", DemoFault::flag);
    format!("{flag} {name}")
}

/// What the party under test is in a check's fault table: the reference server or the mock IdP.
pub fn party_of(id: &str) -> &'static str {
    if id.starts_with("as.") {
        "mock IdP"
    } else {
        "reference server"
    }
}
