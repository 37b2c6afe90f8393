//! `jti` replay cache (RFC 9449 §11.1): bounded, expiring, and atomic.
//!
//! * **Key.** SHA-256 over the normalised `htu` (length-prefixed) and the `jti`: RFC 9449 §11.1
//!   stores `jti` "in the context of the target URI". Entries are 32 bytes whatever the `jti`.
//! * **Expiry.** An entry lives while its proof could still pass the `iat` check: until
//!   `valid_until = iat + iat_past_secs`. Entries with `valid_until < now` are purged on every
//!   call (time is injected: `now` is a parameter).
//! * **Bound and policy when full: evict the oldest, raise a floor.** At most `capacity`
//!   entries. When full, the entry with the smallest `valid_until` is evicted (or the newcomer
//!   is refused if it is older than all of them), and the cache remembers a *floor*: the largest
//!   `valid_until` it has ever dropped, by eviction or by expiry. A proof whose `valid_until`
//!   is at or below the floor is refused ([`ReplayRefusal::Horizon`]), because the cache can no
//!   longer prove it was not seen. So a replay is never accepted, however full the cache gets;
//!   under a flood the effective `iat` window shrinks instead (fail closed). Under a monotonic
//!   clock expiry alone never refuses a fresh proof: it only drops entries the `iat` window
//!   already refuses. A clock that steps back cannot revive a purged entry either.
//! * **Atomicity.** Purge, lookup, eviction and insertion happen under one `Mutex`, so two
//!   threads presenting the same proof cannot both see it as new.
//! * `capacity == 0` disables replay detection (SEP-1932 allows stateless servers).

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::digest;

type Key = [u8; 32];

/// Why the cache refused a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayRefusal {
    /// The same (`htu`, `jti`) is in the cache.
    Replayed,
    /// The proof is older than what the cache still remembers (see the module doc).
    Horizon { floor: i64 },
}

#[derive(Default)]
struct Inner {
    members: HashSet<Key>,
    by_expiry: BTreeSet<(i64, Key)>,
    /// Largest `valid_until` ever dropped; `i64::MIN` while nothing was.
    floor: i64,
}

impl Inner {
    fn remove_first(&mut self) -> Option<i64> {
        let (valid_until, key) = self.by_expiry.pop_first()?;
        self.members.remove(&key);
        self.floor = self.floor.max(valid_until);
        Some(valid_until)
    }
}

/// A bounded, expiring, thread-safe set of seen (`htu`, `jti`) pairs.
pub struct ReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

fn key(htu: &str, jti: &str) -> Key {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&(htu.len() as u64).to_be_bytes());
    ctx.update(htu.as_bytes());
    ctx.update(jti.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                floor: i64::MIN,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the sets consistent (no partial updates
        // happen across a panic point), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries currently held (expired ones may linger until the next call).
    pub fn len(&self) -> usize {
        self.lock().members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest `valid_until` the cache has forgotten (`i64::MIN` if none).
    pub fn floor(&self) -> i64 {
        self.lock().floor
    }

    /// Records (`htu`, `jti`) as used until `valid_until`, unless it was already used or the
    /// cache cannot vouch for it. One critical section: atomic check-and-insert.
    pub fn check_and_insert(
        &self,
        htu: &str,
        jti: &str,
        valid_until: i64,
        now: i64,
    ) -> Result<(), ReplayRefusal> {
        if self.capacity == 0 {
            return Ok(());
        }
        let k = key(htu, jti);
        let mut inner = self.lock();
        while inner.by_expiry.first().is_some_and(|(t, _)| *t < now) {
            inner.remove_first();
        }
        if inner.members.contains(&k) {
            return Err(ReplayRefusal::Replayed);
        }
        if valid_until <= inner.floor {
            return Err(ReplayRefusal::Horizon { floor: inner.floor });
        }
        if inner.members.len() >= self.capacity {
            let oldest = inner.by_expiry.first().map(|(t, _)| *t);
            if oldest.is_some_and(|t| valid_until <= t) {
                // Evicting would drop a proof fresher than the newcomer: refuse the newcomer.
                return Err(ReplayRefusal::Horizon {
                    floor: oldest.unwrap_or(inner.floor),
                });
            }
            inner.remove_first();
        }
        inner.members.insert(k);
        inner.by_expiry.insert((valid_until, k));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    const U: &str = "https://mcp.test/mcp";

    #[test]
    fn second_use_is_a_replay_but_another_htu_is_not() {
        let c = ReplayCache::new(8);
        assert_eq!(c.check_and_insert(U, "a", 100, 0), Ok(()));
        assert_eq!(
            c.check_and_insert(U, "a", 100, 0),
            Err(ReplayRefusal::Replayed)
        );
        assert_eq!(
            c.check_and_insert("https://mcp.test/x", "a", 100, 0),
            Ok(())
        );
        // Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
        assert_eq!(c.check_and_insert("ab", "c", 100, 0), Ok(()));
        assert_eq!(c.check_and_insert("a", "bc", 100, 0), Ok(()));
    }

    #[test]
    fn entries_expire_and_expiry_raises_the_floor() {
        let c = ReplayCache::new(8);
        c.check_and_insert(U, "a", 100, 0).unwrap();
        // Still remembered at its last valid second.
        assert_eq!(
            c.check_and_insert(U, "a", 100, 100),
            Err(ReplayRefusal::Replayed)
        );
        c.check_and_insert(U, "b", 200, 101).unwrap();
        assert_eq!(c.len(), 1, "a expired");
        assert_eq!(c.floor(), 100);
        // A clock stepping back does not revive "a".
        assert_eq!(
            c.check_and_insert(U, "a", 100, 50),
            Err(ReplayRefusal::Horizon { floor: 100 })
        );
    }

    #[test]
    fn full_cache_evicts_the_oldest_and_never_accepts_a_replay() {
        let c = ReplayCache::new(3);
        for (jti, t) in [("a", 10), ("b", 20), ("c", 30)] {
            c.check_and_insert(U, jti, t, 0).unwrap();
        }
        // N+1: "a" (oldest) is evicted, the floor becomes 10.
        assert_eq!(c.check_and_insert(U, "d", 40, 0), Ok(()));
        assert_eq!(c.len(), 3);
        assert_eq!(c.floor(), 10);
        assert_eq!(
            c.check_and_insert(U, "a", 10, 0),
            Err(ReplayRefusal::Horizon { floor: 10 })
        );
        for jti in ["b", "c", "d"] {
            assert_eq!(
                c.check_and_insert(U, jti, 50, 0),
                Err(ReplayRefusal::Replayed)
            );
        }
        // A newcomer older than everything held is refused rather than evicting a fresher one.
        assert_eq!(
            c.check_and_insert(U, "e", 15, 0),
            Err(ReplayRefusal::Horizon { floor: 20 })
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn zero_capacity_disables_tracking() {
        let c = ReplayCache::new(0);
        assert_eq!(c.check_and_insert(U, "a", 1, 0), Ok(()));
        assert_eq!(c.check_and_insert(U, "a", 1, 0), Ok(()));
        assert!(c.is_empty());
    }

    #[test]
    fn concurrent_inserts_of_one_key_admit_exactly_one() {
        for round in 0..50 {
            let c = Arc::new(ReplayCache::new(16));
            let barrier = Arc::new(Barrier::new(32));
            let jti = format!("j{round}");
            let handles: Vec<_> = (0..32)
                .map(|_| {
                    let (c, b, jti) = (c.clone(), barrier.clone(), jti.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        c.check_and_insert(U, &jti, 100, 0).is_ok()
                    })
                })
                .collect();
            let ok = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|&ok| ok)
                .count();
            assert_eq!(ok, 1, "round {round}");
        }
    }

    #[test]
    fn concurrent_distinct_inserts_respect_the_bound() {
        let c = Arc::new(ReplayCache::new(100));
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let _ = c.check_and_insert(U, &format!("{t}-{i}"), 1000 + i, 0);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(c.len() <= 100);
    }
}
