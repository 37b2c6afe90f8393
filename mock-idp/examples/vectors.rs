//! Regenerates `fixtures/vectors/jwt-attacks.json`: the JWT attack catalogue of
//! `mock_idp::forge`, forged against the fixture keys with fixed claims.
//!
//! `cargo run -p mock-idp --example vectors` writes the file; `-- --stdout` prints it instead.
//! ECDSA, PSS and random stimuli change on every run; `mock-idp/tests/vectors.rs` replays the
//! stored file either way.

use std::path::PathBuf;

use mock_idp::forge::vectors::{VectorKeys, build};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let keys = VectorKeys::from_dir(&root.join("fixtures/keys"))?;
    let text = serde_json::to_string_pretty(&build(&keys))? + "\n";
    if std::env::args().any(|a| a == "--stdout") {
        print!("{text}");
        return Ok(());
    }
    let folder = root.join("fixtures/vectors");
    std::fs::create_dir_all(&folder)?;
    let path = folder.join("jwt-attacks.json");
    std::fs::write(&path, &text)?;
    eprintln!("wrote {} ({} bytes)", path.display(), text.len());
    Ok(())
}
