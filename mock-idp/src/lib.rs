//! mock-idp: the JOSE/DPoP core of mcp-authspec and its embedded mock identity provider.
//!
//! Layers, bottom up: `b64`, `json` and `der` (encodings); `alg`, `ecdsa`, `keys` and `jwk`
//! (keys and signatures); `jws` (compact parse, sign, verify); `token` (access-token minting),
//! `forge` (attack stimuli), `dpop` (proofs and their validation); `server` (the HTTP IdP).

pub mod alg;
pub mod b64;
pub(crate) mod der;
pub mod ecdsa;
pub mod json;
pub mod jwk;
pub mod keys;
