//! Per-instance memory limit that remembers it was hit, so the error a user
//! sees says "memory limit" instead of a bare trap.

use wasmtime::ResourceLimiter;

/// Per-instance memory limit; a grow past it fails (guest malloc gets NULL, as in Spin) and is
/// remembered.
#[derive(Debug, Default)]
pub struct MemoryLimiter {
    max_memory: Option<usize>,
    exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter for at most `max_memory` bytes of linear memory (`None` = unlimited).
    pub fn new(max_memory: Option<usize>) -> Self {
        Self {
            max_memory,
            exceeded: false,
        }
    }

    /// True once a guest tried to grow a memory past the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The limit in bytes, if any.
    pub fn max_memory(&self) -> Option<usize> {
        self.max_memory
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.max_memory.is_some_and(|max| desired > max) {
            // Like Spin: the grow fails (guest malloc returns NULL) rather than trapping.
            self.exceeded = true;
            return Ok(false);
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }
}

/// Store data that carries a [`MemoryLimiter`].
pub trait HasLimiter {
    /// The store's memory limiter.
    fn limiter(&mut self) -> &mut MemoryLimiter;
}
