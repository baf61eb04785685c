//! Memory of the server process, and bodies made on demand, for the tests that check a
//! streamed body is not held in memory.

use std::io::Read;

pub const MIB: u64 = 1024 * 1024;

/// VmRSS and VmHWM (peak RSS) of a process, in bytes.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
            * 1024
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// Resets the process's peak RSS to its current RSS (Linux `clear_refs` 5).
pub fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// The body pattern of `/stream` and `/upload`: byte `i` is `i % 251`.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// Makes the `/upload` pattern on demand: the test never holds the body either.
pub struct PatternReader {
    pub at: u64,
    pub total: u64,
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.total - self.at) as usize);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern_byte(self.at + k as u64);
        }
        self.at += n as u64;
        Ok(n)
    }
}
