//! no_std runtime shared by the plugin components.
//!
//! Built with the standard library, a `wasm32-wasip2` component imports WASI interfaces
//! (stderr for panic messages, environment, exit). The plugins must import nothing, so they
//! are `no_std` on wasm32 and link this crate instead, which provides:
//!
//! - a global allocator (power-of-two size classes with free lists, fresh blocks carved from
//!   the end of linear memory with `memory.grow`); when the host refuses to grow memory the
//!   allocation fails and the component traps;
//! - `cabi_realloc`, the allocation export the component model requires;
//! - `memcmp`/`bcmp`, which libc would otherwise provide;
//! - a panic handler that traps (`unreachable`), so a panic ends the call with a trap.
//!
//! On other targets this crate is empty: the plugin crates then build with `std` (for
//! `cargo check`/`clippy` on the host machine).
#![no_std]

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::ptr;

    const PAGE: usize = 65536;
    /// Smallest block: 16 bytes (class 4).
    const MIN_CLASS: u32 = 4;
    /// Classes 2^4 .. 2^31.
    const CLASSES: usize = 32;

    struct State {
        /// Head of the free list of each size class (a free block stores the next pointer).
        free: [*mut u8; CLASSES],
        /// Next unused byte and end of linear memory; 0 until the first allocation.
        next: usize,
        end: usize,
    }

    pub struct Heap(UnsafeCell<State>);

    // wasm32 without the threads proposal: one thread only.
    unsafe impl Sync for Heap {}

    #[global_allocator]
    static HEAP: Heap = Heap(UnsafeCell::new(State { free: [ptr::null_mut(); CLASSES], next: 0, end: 0 }));

    fn class_of(layout: Layout) -> Option<u32> {
        let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
        let rounded = size.checked_next_power_of_two()?;
        let class = rounded.trailing_zeros();
        if (class as usize) < CLASSES {
            Some(class)
        } else {
            None
        }
    }

    impl State {
        /// Carves a fresh block of `2^class` bytes, aligned to min(block size, one page).
        unsafe fn carve(&mut self, class: u32) -> *mut u8 {
            let size = 1usize << class;
            if self.next == 0 {
                let bytes = core::arch::wasm32::memory_size(0) * PAGE;
                self.next = bytes;
                self.end = bytes;
            }
            let align = size.min(PAGE);
            let start = match self.next.checked_add(align - 1) {
                Some(v) => v & !(align - 1),
                None => return ptr::null_mut(),
            };
            let stop = match start.checked_add(size) {
                Some(v) => v,
                None => return ptr::null_mut(),
            };
            if stop > self.end {
                let pages = (stop - self.end).div_ceil(PAGE);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return ptr::null_mut();
                }
                self.end += pages * PAGE;
            }
            self.next = stop;
            start as *mut u8
        }
    }

    unsafe impl GlobalAlloc for Heap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() > PAGE {
                return ptr::null_mut();
            }
            let Some(class) = class_of(layout) else { return ptr::null_mut() };
            let st = &mut *self.0.get();
            let head = st.free[class as usize];
            if !head.is_null() {
                st.free[class as usize] = *(head as *mut *mut u8);
                return head;
            }
            st.carve(class)
        }

        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            if let Some(class) = class_of(layout) {
                let st = &mut *self.0.get();
                *(p as *mut *mut u8) = st.free[class as usize];
                st.free[class as usize] = p;
            }
        }

        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let new_layout = match Layout::from_size_align(new_size, layout.align()) {
                Ok(l) => l,
                Err(_) => return ptr::null_mut(),
            };
            if class_of(layout).is_some() && class_of(layout) == class_of(new_layout) {
                return p;
            }
            let q = self.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }

    /// The canonical-ABI allocation entry point the host calls to pass arguments in. With the
    /// standard library, wasi-libc provides it; here it is ours. Traps when memory runs out.
    #[no_mangle]
    pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
        use alloc_api::*;
        let Ok(layout) = Layout::from_size_align(new_len, align) else { core::arch::wasm32::unreachable() };
        if new_len == 0 {
            return align as *mut u8;
        }
        let p = if old_len == 0 {
            HEAP.alloc(layout)
        } else {
            HEAP.realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
        };
        if p.is_null() {
            core::arch::wasm32::unreachable()
        }
        p
    }

    mod alloc_api {
        pub use core::alloc::GlobalAlloc;
    }

    /// Without libc nothing provides `memcmp` (slice and string comparisons lower to it), so it
    /// is here too. `memcpy`/`memset` are lowered to bulk-memory instructions by the compiler.
    #[no_mangle]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        let mut i = 0;
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return x as i32 - y as i32;
            }
            i += 1;
        }
        0
    }

    #[no_mangle]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        memcmp(a, b, n)
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
