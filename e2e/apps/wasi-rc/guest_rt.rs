// What a `no_std` guest needs from the runtime side of Rust: an allocator and a
// panic handler. Being `no_std` keeps WASI preview 1 imports (and so the adapter)
// out of the module: the component then imports only the rc interfaces it uses.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = 65536;

/// Bump allocator: each request runs in a fresh instance, so nothing is freed.
struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
}

// Wasm guests are single-threaded.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let start = (self.next.get() + layout.align() - 1) & !(layout.align() - 1);
        let end = start + layout.size();
        if end > self.end.get() {
            let pages = (end - self.end.get()).div_ceil(PAGE);
            let prev = core::arch::wasm32::memory_grow(0, pages);
            if prev == usize::MAX {
                return core::ptr::null_mut();
            }
            if self.end.get() == 0 {
                // First allocation: start at the fresh pages.
                self.next.set(prev * PAGE);
                self.end.set((prev + pages) * PAGE);
                return self.alloc(layout);
            }
            self.end.set((prev + pages) * PAGE);
        }
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump {
    next: Cell::new(0),
    end: Cell::new(0),
};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
