//! How long to wait before retrying an object whose reconcile failed: exponential per object,
//! from `first` doubling up to `max`, back to `first` after a success. A refusal that needs a
//! user (a ResourceQuota, say) then costs a few retries an hour instead of one every 5 s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Retry delays: `first` after one failure, doubling per failure up to `max` (5 s and 300 s by
/// default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub first: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(5),
            max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure in a row (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1 << doublings)
            .map_or(self.max, |d| d.min(self.max))
    }
}

/// Failures in a row per object key (`namespace/name`).
#[derive(Debug, Default)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// No failures recorded yet; delays follow `policy`.
    pub fn new(policy: RetryPolicy) -> Backoff {
        Backoff {
            policy,
            failures: Mutex::default(),
        }
    }

    /// Counts a failure of `key` and returns how long to wait before the retry.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key.to_string()).or_default();
        *n = n.saturating_add(1);
        self.policy.delay(*n)
    }

    /// A success (or the object's deletion) starts `key` over.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(p.delay(u32::MAX), p.max);
    }

    #[test]
    fn each_object_counts_alone_and_a_success_resets_it() {
        let b = Backoff::new(RetryPolicy {
            first: Duration::from_secs(1),
            max: Duration::from_secs(8),
        });
        assert_eq!(b.failed("ns/a"), Duration::from_secs(1));
        assert_eq!(b.failed("ns/a"), Duration::from_secs(2));
        assert_eq!(b.failed("ns/b"), Duration::from_secs(1));
        assert_eq!(b.failed("ns/a"), Duration::from_secs(4));
        b.succeeded("ns/a");
        assert_eq!(b.failed("ns/a"), Duration::from_secs(1));
        assert_eq!(b.failed("ns/b"), Duration::from_secs(2));
    }
}
