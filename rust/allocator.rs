//! The global allocator: mimalloc for small blocks, the system allocator for
//! the rest.
//!
//! An op called from Python allocates a handful of small objects (tensor,
//! storage, graph node, closures, a small tensor's data), and glibc's
//! malloc/free were ~20% of a 100-op autograd chain; mimalloc halves that
//! cost. Large blocks (tensor buffers, which `tensor::pool` caches anyway)
//! stay with the system allocator, which returns them to the OS: with
//! mimalloc for everything, the resident memory a training step grows by
//! rose 2-4x (its segments keep freed pages a while).

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks up to this size go to mimalloc.
const SMALL: usize = 4096;

pub struct SmallFast;

fn small(layout: &Layout) -> bool {
    layout.size() <= SMALL && layout.align() <= 64
}

// SAFETY: every block is freed (or grown) by the allocator that made it: the
// choice depends only on the layout, which the caller passes back unchanged
// (realloc crossing the threshold moves the block between the two).
unsafe impl GlobalAlloc for SmallFast {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if small(&layout) {
            mimalloc::MiMalloc.alloc(layout)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if small(&layout) {
            mimalloc::MiMalloc.alloc_zeroed(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if small(&layout) {
            mimalloc::MiMalloc.dealloc(ptr, layout)
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (small(&layout), small(&new)) {
            (true, true) => mimalloc::MiMalloc.realloc(ptr, layout, new_size),
            (false, false) => System.realloc(ptr, layout, new_size),
            _ => {
                let out = self.alloc(new);
                if !out.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocks_grow_and_shrink_across_the_threshold() {
        let mut v: Vec<u8> = (0..100).collect();
        v.reserve(10_000); // small -> large
        assert_eq!(v[..100], (0..100).collect::<Vec<u8>>()[..]);
        v.truncate(50);
        v.shrink_to_fit(); // large -> small
        assert_eq!(v, (0..50).collect::<Vec<u8>>());
        let big = vec![7u64; 100_000];
        assert!(big.iter().all(|&x| x == 7));
    }
}
