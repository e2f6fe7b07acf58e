//! A caching allocator for tensor buffers.
//!
//! Freshly allocated large buffers cost a page fault per 4 KiB page the first
//! time they are written (the kernel zeroes each page), which made memory-bound
//! ops 3-5x slower than the memory allows. Training loops allocate the same
//! sizes every step, so freed buffers are kept by (dtype, length) and handed
//! out again. Small buffers go straight to malloc, which is fast for them.
//! `RUSTDL_CACHING_ALLOCATOR=0` turns the cache off.

use super::dtype::DType;
use super::storage::{Buffer, BufferElem};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::LazyLock;

/// Buffers smaller than this many elements are not cached.
const MIN_ELEMS: usize = 1 << 12;
/// Upper bound on the bytes kept in the cache.
const MAX_BYTES: usize = 1 << 30;

struct Cache {
    free: HashMap<(DType, usize), Vec<Buffer>>,
    bytes: usize,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| {
    Mutex::new(Cache {
        free: HashMap::new(),
        bytes: 0,
    })
});

/// 0 = unknown, 1 = on, 2 = off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let on = std::env::var("RUSTDL_CACHING_ALLOCATOR")
                .map(|v| v != "0")
                .unwrap_or(true);
            ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
            on
        }
    }
}

/// Turn the cache on or off (turning it off frees what it holds).
pub fn set_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
    if !on {
        empty_cache();
    }
}

/// Free every cached buffer.
pub fn empty_cache() {
    let mut c = CACHE.lock();
    c.free.clear();
    c.bytes = 0;
}

/// Bytes currently held by the cache.
pub fn cached_bytes() -> usize {
    CACHE.lock().bytes
}

/// Return a buffer to the cache (called when a storage is dropped).
pub fn give(buf: Buffer) {
    let n = buf.len();
    if n < MIN_ELEMS || !enabled() || buf.is_device() {
        return;
    }
    let dtype = buf.dtype();
    let size = n * dtype.size();
    let Some(mut c) = CACHE.try_lock() else {
        return; // see `take`
    };
    if c.bytes + size > MAX_BYTES {
        // Full: drop everything of other sizes first, then keep this one if it fits.
        c.free.clear();
        c.bytes = 0;
        if size > MAX_BYTES {
            return;
        }
    }
    c.bytes += size;
    c.free.entry((dtype, n)).or_default().push(buf);
}

fn take<T: BufferElem>(n: usize) -> Option<Vec<T>> {
    if n < MIN_ELEMS || !enabled() {
        return None;
    }
    // Never waits: the cache only saves an allocation, and the lock may be
    // held for good in a forked child (by a parent thread that was giving
    // or taking a buffer at the fork; a child hung here in tests). Another
    // thread holding it for a moment just means a fresh allocation.
    let mut c = CACHE.try_lock()?;
    let buf = c.free.get_mut(&(T::DTYPE, n))?.pop()?;
    c.bytes -= n * T::DTYPE.size();
    T::unwrap_buffer(buf).ok()
}

/// A buffer of `n` elements with arbitrary (but initialised) contents: the
/// caller must overwrite every element.
pub fn uninit_vec<T: BufferElem>(n: usize) -> Vec<T> {
    take::<T>(n).unwrap_or_else(|| alloc_zeroed_vec(n))
}

/// A buffer of `n` zeros (default values).
pub fn zeroed_vec<T: BufferElem>(n: usize) -> Vec<T> {
    match take::<T>(n) {
        Some(mut v) => {
            v.fill(T::default());
            v
        }
        None => alloc_zeroed_vec(n),
    }
}

/// A fresh buffer of `n` zeros from the allocator (zeroed pages, like
/// `vec![0; n]`). An allocation that cannot be satisfied unwinds with
/// [`AllocFailure`] instead of aborting the process, so the Python binding
/// raises PyTorch's "can't allocate memory" RuntimeError.
pub fn alloc_zeroed_vec<T: BufferElem>(n: usize) -> Vec<T> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return vec![T::default(); n];
    }
    let Ok(layout) = std::alloc::Layout::array::<T>(n) else {
        std::panic::panic_any(AllocFailure {
            bytes: n.saturating_mul(std::mem::size_of::<T>()),
        })
    };
    // SAFETY: the layout has a non-zero size; every buffer element type
    // (floats, integers, bool) is valid as all-zero bits; the Vec frees the
    // block with `Layout::array::<T>(n)`, the layout it was made with.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            std::panic::panic_any(AllocFailure {
                bytes: layout.size(),
            });
        }
        Vec::from_raw_parts(ptr, n, n)
    }
}

/// The payload of the unwind started by a failed tensor allocation.
#[derive(Debug, Clone, Copy)]
pub struct AllocFailure {
    pub bytes: usize,
}

/// A kernel's temporary buffer taken from the cache and given back when
/// dropped, so per-call scratch space (im2col columns) costs no page faults.
/// Its contents start arbitrary: the kernel must write before reading.
pub struct Scratch<T: BufferElem>(Option<Vec<T>>);

impl<T: BufferElem> Scratch<T> {
    pub fn uninit(n: usize) -> Self {
        Scratch(Some(uninit_vec(n)))
    }

    /// A scratch buffer of `n` zeros.
    pub fn zeroed(n: usize) -> Self {
        Scratch(Some(zeroed_vec(n)))
    }
}

impl<T: BufferElem> std::ops::Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T: BufferElem> std::ops::DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.0.as_deref_mut().unwrap_or(&mut [])
    }
}

impl<T: BufferElem> Drop for Scratch<T> {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            give(T::wrap(v));
        }
    }
}
