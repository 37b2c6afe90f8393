//! A key ring per issuer: one signing key per algorithm, generated or persisted in a folder.
//!
//! Persisting matters for deployed targets: a server configured once with the mock IdP's
//! issuer and JWKS (or with its keys pinned at start-up) keeps trusting the same keys across
//! runs. Each key is stored as `<kid>.pem` (PKCS#8), `<kid>.jwk.json` (public JWK) and
//! `<kid>.private.jwk.json`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::alg::Algorithm;
use crate::jwk::JwkSet;
use crate::keys::{KeyError, SigningKey};

/// Algorithms every key ring carries, the first being the default.
pub const RING_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
];

/// Why a key folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error(transparent)]
    Generate(#[from] KeyError),
}

/// One signing key per algorithm in `RING_ALGORITHMS`, with kids `<prefix>-<alg>`.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

/// The kid a ring gives the key of `alg`: `trusted-es256`, `rogue-ps256`, …
pub fn kid_for(prefix: &str, alg: Algorithm) -> String {
    format!("{prefix}-{}", alg.name().to_ascii_lowercase())
}

impl KeyRing {
    /// Fresh random keys.
    pub fn generate(prefix: &str) -> Result<Self, KeyError> {
        let keys = RING_ALGORITHMS
            .iter()
            .map(|&alg| Ok(SigningKey::generate(alg)?.with_kid(kid_for(prefix, alg))))
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(Self { keys })
    }

    /// Loads the ring from `dir`, generating and saving any key that is missing.
    pub fn load_or_generate(dir: &Path, prefix: &str) -> Result<Self, KeyStoreError> {
        fs::create_dir_all(dir).map_err(|source| KeyStoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut keys = Vec::new();
        for alg in RING_ALGORITHMS {
            let kid = kid_for(prefix, alg);
            let pem_path = dir.join(format!("{kid}.pem"));
            let key = if pem_path.exists() {
                let text = fs::read_to_string(&pem_path).map_err(|source| KeyStoreError::Io {
                    path: pem_path.clone(),
                    source,
                })?;
                SigningKey::from_pem(alg, &text)
                    .map_err(|source| KeyStoreError::Key {
                        path: pem_path.clone(),
                        source,
                    })?
                    .with_kid(kid)
            } else {
                let key = SigningKey::generate(alg)?.with_kid(kid);
                save_key(dir, &key)?;
                key
            };
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Writes every key of the ring into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), KeyStoreError> {
        fs::create_dir_all(dir).map_err(|source| KeyStoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        self.keys.iter().try_for_each(|k| save_key(dir, k))
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    pub fn get(&self, alg: Algorithm) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.alg() == alg)
    }

    /// The ES256 key: what tokens are signed with unless a check asks otherwise.
    pub fn default_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The public JWK Set of the ring.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(SigningKey::public_jwk).collect(),
            rejected: Vec::new(),
        }
    }
}

/// The PEM files of the embedded demo's published rings (`fixtures/keys/demo`), in the order
/// of `RING_ALGORITHMS`.
macro_rules! demo_pems {
    ($($prefix:literal),* $(,)?) => {
        [$(($prefix, [
            include_str!(concat!("../../fixtures/keys/demo/", $prefix, "-es256.pem")),
            include_str!(concat!("../../fixtures/keys/demo/", $prefix, "-es384.pem")),
            include_str!(concat!("../../fixtures/keys/demo/", $prefix, "-rs256.pem")),
            include_str!(concat!("../../fixtures/keys/demo/", $prefix, "-ps256.pem")),
            include_str!(concat!("../../fixtures/keys/demo/", $prefix, "-eddsa.pem")),
        ])),*]
    };
}

const DEMO_PEMS: [(&str, [&str; 5]); 5] =
    demo_pems!("trusted", "rogue", "second", "dpop-client", "dpop-client-2");

/// The published ring with kid prefix `prefix` of the loopback demo (`fixtures/keys/demo`:
/// `trusted`, `rogue`, `second`, `dpop-client`, `dpop-client-2`), parsed once per process;
/// `None` for any other prefix. Generating the rings (RSA) was most of a demo run's CPU.
/// Everyone can sign with these keys: nothing but the embedded demo may trust them.
pub fn demo_ring(prefix: &str) -> Option<KeyRing> {
    static RINGS: OnceLock<Vec<(&str, KeyRing)>> = OnceLock::new();
    let rings = RINGS.get_or_init(|| {
        DEMO_PEMS
            .iter()
            .map(|(prefix, pems)| {
                let keys = RING_ALGORITHMS
                    .iter()
                    .zip(pems)
                    .map(|(&alg, pem)| {
                        SigningKey::from_pem(alg, pem)
                            .expect("the embedded demo keys parse (fixtures/keys/demo)")
                            .with_kid(kid_for(prefix, alg))
                    })
                    .collect();
                (*prefix, KeyRing { keys })
            })
            .collect()
    });
    rings
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, ring)| ring.clone())
}

fn save_key(dir: &Path, key: &SigningKey) -> Result<(), KeyStoreError> {
    let kid = key.kid().unwrap_or("key");
    let write = |name: String, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|source| KeyStoreError::Io { path, source })
    };
    if let Some(pem) = key.to_pkcs8_pem() {
        write(format!("{kid}.pem"), pem)?;
    }
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("json") + "\n";
    write(
        format!("{kid}.jwk.json"),
        pretty(&key.public_jwk().to_json()),
    )?;
    write(
        format!("{kid}.private.jwk.json"),
        pretty(&key.private_jwk()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_ring_loads_back_identical() {
        let dir = std::env::temp_dir().join(format!("keyring-{}", crate::random_b64url(6)));
        let first = KeyRing::load_or_generate(&dir, "trusted").unwrap();
        let second = KeyRing::load_or_generate(&dir, "trusted").unwrap();
        assert_eq!(first.jwks().to_json(), second.jwks().to_json());
        assert_eq!(first.default_key().kid(), Some("trusted-es256"));
        assert!(dir.join("trusted-rs256.private.jwk.json").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn demo_rings_are_distinct_and_complete() {
        let prefixes = DEMO_PEMS.map(|(prefix, _)| prefix);
        let rings = prefixes.map(|p| demo_ring(p).unwrap());
        for (prefix, ring) in prefixes.iter().zip(&rings) {
            for alg in RING_ALGORITHMS {
                assert_eq!(
                    ring.get(alg).unwrap().kid(),
                    Some(kid_for(prefix, alg).as_str())
                );
            }
        }
        let mut thumbprints: Vec<String> = rings
            .iter()
            .flat_map(|r| {
                r.jwks()
                    .keys
                    .iter()
                    .map(|k| k.thumbprint())
                    .collect::<Vec<_>>()
            })
            .collect();
        thumbprints.sort();
        thumbprints.dedup();
        assert_eq!(thumbprints.len(), 25);
        assert!(demo_ring("fixture").is_none());
    }

    #[test]
    fn ring_has_one_key_per_algorithm() {
        let ring = KeyRing::generate("rogue").unwrap();
        for alg in RING_ALGORITHMS {
            assert_eq!(ring.get(alg).unwrap().alg(), alg);
        }
        assert!(ring.jwks().keys.iter().all(|k| !k.has_private_material()));
    }
}
