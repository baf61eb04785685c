//! Spin 4's instance reuse for WASI p3 components: how many requests one instance serves, how
//! many at once, and how long it may sit idle. Each is a number or a range (`A..B`, sampled once
//! per instance, so instances do not all expire together), with Spin's flag syntax and defaults.

use std::time::Duration;

/// A value or a half-open range `low..high` to pick one from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span<T> {
    /// Inclusive lower end.
    pub low: T,
    /// Exclusive; equal to `low` for a single value.
    pub high: T,
}

impl<T: Copy> Span<T> {
    /// A span holding just `v`.
    pub fn exactly(v: T) -> Span<T> {
        Span { low: v, high: v }
    }
}

impl Span<usize> {
    /// The value for one instance, from a random `r`.
    pub fn pick(&self, r: u64) -> usize {
        match self.high.saturating_sub(self.low) {
            0 => self.low,
            width => self.low + (r % width as u64) as usize,
        }
    }
}

impl Span<Duration> {
    /// The value for one instance, from a random `r`.
    pub fn pick(&self, r: u64) -> Duration {
        let width = self.high.saturating_sub(self.low).as_nanos() as u64;
        match width {
            0 => self.low,
            w => self.low + Duration::from_nanos(r % w),
        }
    }
}

/// How long and how much a p3 guest instance is reused; Spin's defaults are 128 requests, 16
/// concurrent, 1 s idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceReuse {
    /// `--max-instance-reuse-count`
    pub max_requests: Span<usize>,
    /// `--max-instance-concurrent-reuse-count`
    pub max_concurrent: Span<usize>,
    /// `--idle-instance-timeout`
    pub idle_timeout: Span<Duration>,
}

impl Default for InstanceReuse {
    /// Spin's defaults for p3 components.
    fn default() -> Self {
        InstanceReuse {
            max_requests: Span::exactly(128),
            max_concurrent: Span::exactly(16),
            idle_timeout: Span::exactly(Duration::from_secs(1)),
        }
    }
}

/// `N` or `A..B` (A < B), each at least 1.
pub fn parse_count(s: &str) -> Result<Span<usize>, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{t}` is not a whole number of at least 1 (write N or A..B)"))
    };
    span(s, number)
}

/// `N` or `A..B`, each a duration: a number with `s` (or none), `ms`, `us`/`μs` or `ns`.
pub fn parse_duration_span(s: &str) -> Result<Span<Duration>, String> {
    span(s, parse_duration)
}

fn span<T: PartialOrd + Copy>(
    s: &str,
    one: impl Fn(&str) -> Result<T, String>,
) -> Result<Span<T>, String> {
    match s.split_once("..") {
        None => one(s).map(Span::exactly),
        Some((a, b)) => {
            let (low, high) = (one(a)?, one(b)?);
            if low >= high {
                return Err(format!("in `{s}` the start must be below the end"));
            }
            Ok(Span { low, high })
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 1s, 500ms, 250us, 10ns)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "us" | "μs" => Ok(Duration::from_micros(n)),
        "ns" => Ok(Duration::from_nanos(n)),
        _ => Err(format!("`{s}` has an unknown unit (use s, ms, us or ns)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_in_spins_syntax() {
        assert_eq!(parse_count("128"), Ok(Span::exactly(128)));
        assert_eq!(parse_count("10..20"), Ok(Span { low: 10, high: 20 }));
        assert!(parse_count("0").unwrap_err().contains("at least 1"));
        assert!(parse_count("5..5").unwrap_err().contains("below the end"));
        assert!(parse_count("x").is_err());
        assert_eq!(
            parse_duration_span("1s"),
            Ok(Span::exactly(Duration::from_secs(1)))
        );
        assert_eq!(
            parse_duration_span("2"),
            Ok(Span::exactly(Duration::from_secs(2)))
        );
        assert_eq!(
            parse_duration_span("500ms..2s"),
            Ok(Span {
                low: Duration::from_millis(500),
                high: Duration::from_secs(2)
            })
        );
        assert_eq!(
            parse_duration_span("250μs"),
            Ok(Span::exactly(Duration::from_micros(250)))
        );
        assert!(parse_duration_span("3m")
            .unwrap_err()
            .contains("unknown unit"));
    }

    #[test]
    fn a_range_picks_inside_it() {
        let s = Span { low: 10, high: 20 };
        for r in [0, 1, 9, 10, 12345, u64::MAX] {
            let v = s.pick(r);
            assert!((10..20).contains(&v), "{v}");
        }
        assert_eq!(Span::exactly(7).pick(99), 7);
        let d = Span {
            low: Duration::from_millis(1),
            high: Duration::from_millis(2),
        };
        assert!(d.pick(999_999) < Duration::from_millis(2));
    }
}
