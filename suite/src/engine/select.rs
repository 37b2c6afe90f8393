//! Choosing checks by id glob (`--check`, `--skip`); the glob itself lives in `reports`, where
//! baselines match ids with it too.

pub use reports::glob::Glob;

/// Which checks a run includes: all by default, or those matching any `include` pattern,
/// minus those matching any `skip` pattern.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Vec<Glob>,
    pub skip: Vec<Glob>,
}

impl Selection {
    pub fn selects(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(id)))
            && !self.skip.iter().any(|g| g.matches(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_includes_then_skips() {
        let sel = Selection {
            include: vec![Glob::new("rs.token.*")],
            skip: vec![Glob::new("*.expired")],
        };
        assert!(sel.selects("rs.token.aud-wrong"));
        assert!(!sel.selects("rs.token.expired"));
        assert!(!sel.selects("rs.challenge.no-token"));
        assert!(Selection::default().selects("anything"));
    }
}
