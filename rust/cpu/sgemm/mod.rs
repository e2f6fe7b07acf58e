//! Our single-precision GEMM for x86-64 CPUs with AVX2+FMA or AVX-512, in
//! the BLIS layout: C is cut into column blocks of NC (B block in L3), the depth into
//! KC slices, rows into MC blocks (A block in L2), and each MR x NR tile is
//! one call of the register-blocked micro-kernel over packed panels (the B
//! panel stays in L1 while the kernel walks down the A block). The kernel
//! is written once over `cpu::simd::Simd`; `isa::active()` picks its
//! instance (`Micro`: AVX2 6 x 16 or AVX-512 14 x 32) with its blocking.
//!
//! Threads: C is split into one rectangular slab per thread, each running the
//! whole sequential algorithm with its own packing buffers — one fork/join
//! per product. Packing is repeated per slab, which costs k*(m+n) against
//! m*n*k multiply-adds. Where the threads split only C's rows (square
//! products), B is instead packed once, by all threads together, into one
//! buffer they share (`SharedB`), and the rows go in smaller blocks claimed
//! as threads come free: each thread packed all of B before (1024 x 1024
//! on two threads: 7% of each thread's time).
//!
//! Measured on the 2-core Zen here (benches/RESULTS.md) against the `gemm`
//! crate, which stays the fallback for f64 and for CPUs without AVX2.

pub(crate) mod kernel;
mod pack;
mod prepacked;

pub use prepacked::{sgemm_prepacked, PackedB};

use crate::parallel;
use crate::tensor::pool::Scratch;
use pack::{Block, Elem};
use std::cell::RefCell;

/// Tile of the AVX2 kernel (`kernel::kernel_6x16`, also used by the
/// implicit-GEMM convolutions): rows of A per panel, columns of B per panel.
pub const MR: usize = 6;
pub const NR: usize = 16;

/// One instance of the micro-kernel with its tile and cache blocking.
/// `kc`: depth of one packed slice (the B panel, kc x NR, stays in L1);
/// `mc`: rows per packed A block (mc x kc in L2; whole tiles); `nc`: columns per packed
/// B block (kc x nc in L3).
#[derive(Clone, Copy)]
pub(crate) struct Micro {
    pub mr: usize,
    pub nr: usize,
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    /// The kernel (`kernel::kernel_6x16`'s contract for this tile).
    pub kernel: unsafe fn(usize, *const f32, kernel::Panel, kernel::Tile),
}

/// AVX2 + FMA: 6 x 16 (A panel 6 KiB + B panel 16 KiB in L1, A block
/// 144 x 256 = 144 KiB in L2, B block 256 x 4080 = 4 MiB in L3).
#[cfg(target_arch = "x86_64")]
const AVX2: Micro = Micro {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 144,
    nc: 4080,
    kernel: kernel::kernel_6x16::<kernel::Panel>,
};

/// AVX2 with 5-row tiles (same B panels as `AVX2`; `micro_for_batch_rows`).
#[cfg(target_arch = "x86_64")]
const AVX2_5: Micro = Micro {
    mr: 5,
    mc: 140,
    kernel: kernel::kernel_avx2_rows::<5, kernel::Panel>,
    ..AVX2
};

/// AVX2 with 4-row tiles (`micro_for_batch_rows`).
#[cfg(target_arch = "x86_64")]
const AVX2_4: Micro = Micro {
    mr: 4,
    kernel: kernel::kernel_avx2_rows::<4, kernel::Panel>,
    ..AVX2
};

/// AVX-512: 14 x 32 (A block 336 x 384 = 504 KiB in the 1 MiB L2 of Zen 4,
/// B block 384 x 4096 = 6 MiB in L3). Against 12 x 32, 8 x 48, 6 x 64 and
/// kc 192-512, mc 168-504, this measured best, but all within a few % of
/// each other and of the AVX2 kernel: Zen 4 runs a 512-bit FMA as two
/// 256-bit halves, so the gain is fewer instructions, not more FLOPs.
#[cfg(target_arch = "x86_64")]
const AVX512: Micro = Micro {
    mr: kernel::AVX512_MR,
    nr: kernel::AVX512_NR,
    kc: 384,
    mc: 336,
    nc: 4096,
    kernel: kernel::kernel_avx512::<kernel::Panel>,
};

/// AVX-512 with 8-row tiles: the same B panels as `AVX512`, for products
/// whose row count 8 divides better than 14 (`prepacked::PackedB` picks
/// it for the recurrent layers' batch rows).
#[cfg(target_arch = "x86_64")]
const AVX512_SHORT: Micro = Micro {
    mr: kernel::AVX512_SHORT_MR,
    kernel: kernel::kernel_avx512_short::<kernel::Panel>,
    ..AVX512
};

/// AVX-512 with 10-row tiles (`micro_for_batch_rows`).
#[cfg(target_arch = "x86_64")]
const AVX512_MID: Micro = Micro {
    mr: kernel::AVX512_MID_MR,
    // whole tiles per A block (336 rows made the second block of a 340-row
    // product ask for 340 rows of a 336-row buffer)
    mc: 330,
    kernel: kernel::kernel_avx512_mid::<kernel::Panel>,
    ..AVX512
};

/// Whether a kernel may run (AVX2 and FMA at least; see `cpu::isa`).
pub fn is_supported() -> bool {
    crate::cpu::isa::use_avx2()
}

/// The kernel `isa::active()` picks, or None (no AVX2: the caller falls back).
pub(crate) fn micro() -> Option<Micro> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::cpu::isa::{active, Isa};
        match active() {
            Isa::Portable => None,
            Isa::Avx2 => Some(AVX2),
            Isa::Avx512 | Isa::Amx => Some(AVX512),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// `micro()`, with AVX-512's 8-row tile when it pads `m` rows less than
/// the 14-row one (64 rows: 64 against 70).
pub(crate) fn micro_for_rows(m: usize) -> Option<Micro> {
    let micro = micro()?;
    #[cfg(target_arch = "x86_64")]
    if micro.mr == AVX512.mr {
        let padded = |mr: usize| m.div_ceil(mr) * mr;
        if padded(AVX512_SHORT.mr) < padded(AVX512.mr) {
            return Some(AVX512_SHORT);
        }
    }
    Some(micro)
}

/// `micro()` for an `m` x `n` product on `threads` threads: on AVX-512, the
/// 14-, 10- or 8-row tile whose largest slab (`split`) pads its rows least,
/// the taller on ties. The products' depth order, so every value, is the
/// same with any tile; the 8-row tile ran as fast as the 14-row one (a
/// 1680 x 1024 x 1024 product: 36.5-37.0 ms of kernel time against
/// 37.3-38.0), and 1024 rows on two threads are 2 x 512 on it against
/// 2 x 518 on the 14-row tile (2 x 256 against 2 x 266 for 512 rows).
pub(crate) fn micro_for_product(m: usize, n: usize, threads: usize) -> Option<Micro> {
    let micro = micro()?;
    #[cfg(target_arch = "x86_64")]
    if micro.mr == AVX512.mr {
        let slab = |t: &Micro| {
            let (tm, tn) = split(m, n, threads, t.mr, t.nr);
            let rows = chunk(m, tm, t.mr).min(m.div_ceil(t.mr) * t.mr);
            let cols = chunk(n, tn, t.nr).min(n.div_ceil(t.nr) * t.nr);
            rows * cols
        };
        let mut best = AVX512;
        for t in [AVX512_MID, AVX512_SHORT] {
            if slab(&t) < slab(&best) {
                best = t;
            }
        }
        return Some(best);
    }
    Some(micro)
}

/// `micro()` for products of `m` rows repeated many times (a recurrent
/// layer's steps): on AVX-512 the 14-, 10- or 8-row tile that pads `m`
/// least, the taller on ties (20 rows: 20 on the 10-row tile against 24
/// and 28); on AVX2 the 6-, 5- or 4-row tile, a shorter one only where it
/// saves more padding than its fewer accumulators cost (10 and 8 of them:
/// counted as 3% and 8% more rows), so 64 rows stay on 6 (66 rows), 32 go
/// to 4 (36 rows on 6), 20 and 10 to 5.
pub(crate) fn micro_for_batch_rows(m: usize) -> Option<Micro> {
    let micro = micro()?;
    #[cfg(target_arch = "x86_64")]
    if micro.mr == AVX2.mr {
        let cost = |t: &Micro, weight: f64| (m.div_ceil(t.mr) * t.mr) as f64 * weight;
        let mut best = (AVX2, cost(&AVX2, 1.0));
        for (t, w) in [(AVX2_5, 1.03), (AVX2_4, 1.08)] {
            if cost(&t, w) < best.1 {
                best = (t, cost(&t, w));
            }
        }
        return Some(best.0);
    }
    #[cfg(target_arch = "x86_64")]
    if micro.mr == AVX512.mr {
        let padded = |t: &Micro| m.div_ceil(t.mr) * t.mr;
        let mut best = AVX512;
        for t in [AVX512_MID, AVX512_SHORT] {
            if padded(&t) < padded(&best) {
                best = t;
            }
        }
        return Some(best);
    }
    Some(micro)
}

/// Strided operands of one product, as raw addresses so slabs can be sent
/// to other threads; only dereferenced inside `sgemm`'s call. A and B are
/// f32, or bf16 widened as they are packed (`sgemm_bf16`).
struct Problem<E = f32> {
    micro: Micro,
    k: usize,
    a: Block<E>,
    b: Block<E>,
    c: *mut f32,
    crs: isize,
    ccs: isize,
    accumulate: bool,
    /// Applied on the last depth slice (its bias is column 0's).
    epilogue: kernel::Epilogue,
}
impl<E> Clone for Problem<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Problem<E> {}
// SAFETY: the slabs of C that threads write are disjoint, A and B are read only.
unsafe impl<E> Send for Problem<E> {}
unsafe impl<E> Sync for Problem<E> {}

/// `C = A @ B` (or `C += A @ B` when `accumulate`) for an m x k A and a k x n
/// B, every matrix given by a pointer and row/column strides (in elements),
/// on up to `threads` threads.
///
/// # Safety
/// `is_supported()`; every element of A (m x k), B (k x n) and C (m x n) is
/// inside its allocation; C does not overlap A or B; and no two C elements
/// share an address (non-zero strides on non-unit dims).
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    let Some(micro) = micro_for_product(m, n, threads) else {
        unreachable!("sgemm called without AVX2 (check is_supported())")
    };
    sgemm_with(micro, m, n, k, a, b, c, accumulate, threads)
}

/// `sgemm` with the kernel `micro` (tests run every instance the CPU has).
///
/// # Safety
/// As `sgemm`, and the CPU supports `micro`'s instruction set.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_with(
    micro: Micro,
    m: usize,
    n: usize,
    k: usize,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    sgemm_epilogue_with(
        micro,
        m,
        n,
        k,
        a,
        b,
        c,
        accumulate,
        kernel::Epilogue::NONE,
        threads,
    )
}

/// `C = A @ B + bias` (`bias`: n floats, one per column of C), then relu's
/// element function where `relu`, applied as the tiles are stored (no
/// further pass over C). Same values as the product followed by the bias
/// addition and relu as separate passes.
///
/// # Safety
/// As `sgemm`, and `bias` has `n` readable floats.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_bias(
    m: usize,
    n: usize,
    k: usize,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    c: (*mut f32, isize, isize),
    bias: *const f32,
    relu: bool,
    threads: usize,
) {
    let Some(micro) = micro_for_product(m, n, threads) else {
        unreachable!("sgemm_bias called without AVX2 (check is_supported())")
    };
    let epilogue = kernel::Epilogue { bias, relu };
    sgemm_epilogue_with(micro, m, n, k, a, b, c, false, epilogue, threads)
}

/// `sgemm` for bfloat16 A and B: each value widened to f32 (exactly) as
/// the panels are packed, so the product is the f32 GEMM of the widened
/// operands without widened copies of them (the bf16 GEMM's path on CPUs
/// without bf16 dot products, `cpu::bgemm`).
///
/// # Safety
/// As `sgemm`, with A and B of bf16.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_bf16(
    m: usize,
    n: usize,
    k: usize,
    a: (*const half::bf16, isize, isize),
    b: (*const half::bf16, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    let Some(micro) = micro_for_product(m, n, threads) else {
        unreachable!("sgemm_bf16 called without AVX2 (check is_supported())")
    };
    gemm_with(
        micro,
        m,
        n,
        k,
        a,
        b,
        c,
        accumulate,
        kernel::Epilogue::NONE,
        threads,
    )
}

/// `sgemm_with` with an epilogue on the stored values.
///
/// # Safety
/// As `sgemm_with`; a non-null `epilogue.bias` has `n` readable floats.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_epilogue_with(
    micro: Micro,
    m: usize,
    n: usize,
    k: usize,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    epilogue: kernel::Epilogue,
    threads: usize,
) {
    gemm_with(micro, m, n, k, a, b, c, accumulate, epilogue, threads)
}

/// The product for operands of element type `E` (f32 or bf16).
///
/// # Safety
/// As `sgemm_epilogue_with`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_with<E: Elem>(
    micro: Micro,
    m: usize,
    n: usize,
    k: usize,
    a: (*const E, isize, isize),
    b: (*const E, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    epilogue: kernel::Epilogue,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let (mr, nr) = (micro.mr, micro.nr);
    let p = Problem {
        micro,
        k,
        a: Block {
            ptr: a.0,
            rs: a.1,
            cs: a.2,
        },
        b: Block {
            ptr: b.0,
            rs: b.1,
            cs: b.2,
        },
        c: c.0,
        crs: c.1,
        ccs: c.2,
        accumulate,
        epilogue,
    };
    let (tm, tn) = split(m, n, threads, mr, nr);
    if tm * tn == 1 {
        run_slab(&p, 0..m, 0..n);
        return;
    }
    let rows = chunk(m, tm, mr);
    let cols = chunk(n, tn, nr);
    if tn == 1 && n <= micro.nc {
        if let Some(shared) = SharedB::new(k, n, slice_len(k, micro.kc), nr) {
            // With B packed once, row blocks cost no extra packing: four
            // per thread, claimed as threads come free, so a thread that
            // starts late or is preempted (a shared machine) takes fewer.
            let rows = chunk(m, tm * 4, mr);
            parallel::for_each_task(m.div_ceil(rows), |t| {
                let i0 = t * rows;
                // SAFETY: as below; the shared panels are written once
                // each, by the thread that claimed them.
                unsafe { run_slab_shared(&p, &shared, i0..(i0 + rows).min(m)) }
            });
            return;
        }
    }
    parallel::for_each_task(tm * tn, |t| {
        let (i0, j0) = ((t / tn) * rows, (t % tn) * cols);
        if i0 < m && j0 < n {
            // SAFETY: slabs are disjoint and inside C (the caller's contract).
            unsafe { run_slab(&p, i0..(i0 + rows).min(m), j0..(j0 + cols).min(n)) }
        }
    });
}

/// Length of each of `parts` chunks of `len`, rounded up to a multiple of `unit`.
pub(crate) fn chunk(len: usize, parts: usize, unit: usize) -> usize {
    len.div_ceil(parts).div_ceil(unit) * unit
}

/// Threads along rows and columns: the grid whose slowest slab costs least.
/// A slab of r x c costs r*c/16 (its multiply-adds, 16 per cycle) plus r + c
/// (packing its A rows and B columns, about one element per cycle), per unit
/// of depth; splitting rows repeats B's packing in every slab, splitting
/// columns repeats A's.
fn split(m: usize, n: usize, threads: usize, mr: usize, nr: usize) -> (usize, usize) {
    split_slabs(m, n, threads, mr, nr, 16)
}

/// `split` for a kernel doing `macs_per_cycle` multiply-adds per cycle (the
/// bf16 GEMM does 32).
pub(crate) fn split_slabs(
    m: usize,
    n: usize,
    threads: usize,
    mr: usize,
    nr: usize,
    macs_per_cycle: usize,
) -> (usize, usize) {
    let mut best = (1, 1);
    let mut best_cost = usize::MAX;
    for t in 1..=threads.max(1) {
        for tm in (1..=t).rev().filter(|tm| t % tm == 0) {
            let tn = t / tm;
            let r = chunk(m, tm, mr).min(m.div_ceil(mr) * mr);
            let c = chunk(n, tn, nr).min(n.div_ceil(nr) * nr);
            let cost = r * c / macs_per_cycle + r + c;
            if cost < best_cost {
                best_cost = cost;
                best = (tm, tn);
            }
        }
    }
    best
}

thread_local! {
    /// Per-thread packing buffers, kept between calls (no page faults after
    /// the first product of a given size).
    static BUFFERS: RefCell<(AlignedBuf, AlignedBuf)> =
        const { RefCell::new((AlignedBuf::new(), AlignedBuf::new())) };
}

/// A growable f32 buffer whose usable slice starts on a 64-byte boundary.
struct AlignedBuf(Vec<f32>);

impl AlignedBuf {
    const fn new() -> Self {
        AlignedBuf(Vec::new())
    }
    fn get(&mut self, len: usize) -> &mut [f32] {
        if self.0.len() < len + 16 {
            self.0 = vec![0.0; len + 16];
        }
        let skip = self.0.as_ptr().align_offset(64).min(16);
        &mut self.0[skip..skip + len]
    }
}

/// Length of the depth slices a product of depth `k` is cut into by the
/// 6 x 16 kernel (the convolutions'): balanced, at most its KC (300 becomes
/// 150 + 150, not 256 + 44).
pub fn depth_slice(k: usize) -> usize {
    slice_len(k, 256)
}

/// `k` cut into balanced slices of at most `kc`.
fn slice_len(k: usize, kc: usize) -> usize {
    k.div_ceil(k.div_ceil(kc).max(1)).max(1)
}

/// Columns of B per unit of shared packing work (4 panels of 32).
const SHARED_GROUP_PANELS: usize = 4;

/// All of B (k x n, one column block) packed once for every thread of a
/// product that splits only C's rows, instead of once per thread: the
/// threads claim groups of panels of each depth slice from a counter, pack
/// them, and mark them ready; a thread waits for a panel only while another
/// is packing it (so a slab run alone, or after the other, never waits).
/// Slice s starts at `s * kc_max * np`, as in `PackedB`.
struct SharedB {
    /// (from the tensor buffer pool: no page faults on every product)
    _buf: Scratch<f32>,
    /// The first 64-byte boundary in `_buf`.
    ptr: *mut f32,
    kc_max: usize,
    np: usize,
    n: usize,
    groups: usize,
    /// Next unclaimed group of each slice.
    claimed: Vec<std::sync::atomic::AtomicUsize>,
    /// Per slice and group: packed.
    ready: Vec<std::sync::atomic::AtomicBool>,
}
// SAFETY: each group is written by the one thread that claimed it, and read
// only after its `ready` flag is set (release / acquire).
unsafe impl Sync for SharedB {}

impl SharedB {
    /// None when B is too large to pack whole (then it is packed per slab).
    fn new(k: usize, n: usize, kc_max: usize, nr: usize) -> Option<SharedB> {
        // (32 MiB: 2048 x 2048 and smaller)
        const MAX_FLOATS: usize = 8 << 20;
        let np = n.div_ceil(nr) * nr;
        let slices = k.div_ceil(kc_max).max(1);
        let len = slices * kc_max * np;
        if len > MAX_FLOATS {
            return None;
        }
        let mut buf = Scratch::<f32>::uninit(len + 16);
        let skip = buf.as_ptr().align_offset(64).min(16);
        // SAFETY: `skip + len` floats are inside the buffer.
        let ptr = unsafe { buf.as_mut_ptr().add(skip) };
        let groups = np.div_ceil(nr * SHARED_GROUP_PANELS);
        Some(SharedB {
            _buf: buf,
            ptr,
            kc_max,
            np,
            n,
            groups,
            claimed: (0..slices).map(|_| Default::default()).collect(),
            ready: (0..slices * groups).map(|_| Default::default()).collect(),
        })
    }

    /// Claim and pack groups of slice `s` (depth `pc..pc + kc`) until none
    /// are left unclaimed.
    unsafe fn pack_slice<E: Elem>(&self, p: &Problem<E>, s: usize, pc: usize, kc: usize) {
        use std::sync::atomic::Ordering;
        let nr = p.micro.nr;
        let gcols = nr * SHARED_GROUP_PANELS;
        loop {
            let g = self.claimed[s].fetch_add(1, Ordering::Relaxed);
            if g >= self.groups {
                return;
            }
            let j0 = g * gcols;
            let cols = gcols.min(self.n - j0);
            let dst = std::slice::from_raw_parts_mut(
                self.ptr.add(s * self.kc_max * self.np + j0 * kc),
                kc * cols.div_ceil(nr) * nr,
            );
            pack::pack_b(kc, cols, p.b.at(pc, j0), nr, dst);
            self.ready[s * self.groups + g].store(true, Ordering::Release);
        }
    }

    /// Wait until the group holding column `j` of slice `s` is packed.
    fn wait(&self, s: usize, j: usize, nr: usize) {
        use std::sync::atomic::Ordering;
        let flag = &self.ready[s * self.groups + j / (nr * SHARED_GROUP_PANELS)];
        let mut spins = 0u32;
        while !flag.load(Ordering::Acquire) {
            spins += 1;
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// `run_slab` for all columns, on B packed once for all slabs (`SharedB`).
unsafe fn run_slab_shared<E: Elem>(p: &Problem<E>, sh: &SharedB, ri: std::ops::Range<usize>) {
    let Micro { mr, nr, mc, .. } = p.micro;
    let mc_max = mc.min(ri.len().div_ceil(mr) * mr);
    BUFFERS.with(|bufs| {
        let (abuf, _) = &mut *bufs.borrow_mut();
        let apack = abuf.get(sh.kc_max * mc_max);
        for (s, pc) in (0..p.k).step_by(sh.kc_max).enumerate() {
            let kc = sh.kc_max.min(p.k - pc);
            sh.pack_slice(p, s, pc, kc);
            let bp = std::slice::from_raw_parts(sh.ptr.add(s * sh.kc_max * sh.np), kc * sh.np);
            let overwrite = s == 0 && !p.accumulate;
            let last = pc + kc >= p.k;
            for (b, ic) in ri.clone().step_by(mc).enumerate() {
                let mc = mc.min(ri.end - ic);
                let ap = &mut apack[..kc * mc.div_ceil(mr) * mr];
                pack::pack_a(mc, kc, p.a.at(ic, pc), mr, ap);
                let wait = |jr: usize| {
                    if b == 0 {
                        sh.wait(s, jr, nr)
                    }
                };
                macro_kernel(p, (ic, mc), (0, sh.n), kc, ap, bp, overwrite, last, wait);
            }
        }
    });
}

/// The sequential algorithm on rows `ri` x columns `cj` of C.
unsafe fn run_slab<E: Elem>(
    p: &Problem<E>,
    ri: std::ops::Range<usize>,
    cj: std::ops::Range<usize>,
) {
    let Micro { mr, nr, mc, nc, .. } = p.micro;
    let kc_max = slice_len(p.k, p.micro.kc);
    let k_slices = p.k.div_ceil(kc_max).max(1);
    let nc_max = nc.min(cj.len().div_ceil(nr) * nr);
    let mc_max = mc.min(ri.len().div_ceil(mr) * mr);
    BUFFERS.with(|bufs| {
        let (abuf, bbuf) = &mut *bufs.borrow_mut();
        let bpack = bbuf.get(kc_max * nc_max);
        let apack = abuf.get(kc_max * mc_max);
        for jc in cj.clone().step_by(nc) {
            let nc = nc.min(cj.end - jc);
            for s in 0..k_slices {
                let pc = s * kc_max;
                if pc >= p.k {
                    break;
                }
                let kc = kc_max.min(p.k - pc);
                let bp = &mut bpack[..kc * nc.div_ceil(nr) * nr];
                pack::pack_b(kc, nc, p.b.at(pc, jc), nr, bp);
                let overwrite = s == 0 && !p.accumulate;
                let last = pc + kc >= p.k;
                for ic in ri.clone().step_by(mc) {
                    let mc = mc.min(ri.end - ic);
                    let ap = &mut apack[..kc * mc.div_ceil(mr) * mr];
                    pack::pack_a(mc, kc, p.a.at(ic, pc), mr, ap);
                    macro_kernel(p, (ic, mc), (jc, nc), kc, ap, bp, overwrite, last, |_| {});
                }
            }
        }
    });
}

/// All micro-tiles of one packed A block times one packed B block. The B
/// panel (outer loop) stays in L1 while the kernel walks the A panels.
/// `last`: the product's last depth slice (where the epilogue applies).
#[allow(clippy::too_many_arguments)]
unsafe fn macro_kernel<E>(
    p: &Problem<E>,
    (ic, mc): (usize, usize),
    (jc, nc): (usize, usize),
    kc: usize,
    apack: &[f32],
    bpack: &[f32],
    overwrite: bool,
    last: bool,
    wait_for_panel: impl Fn(usize),
) {
    let Micro { mr, nr, kernel, .. } = p.micro;
    for jr in (0..nc).step_by(nr) {
        wait_for_panel(jr);
        let bpanel = kernel::Panel {
            ptr: bpack.as_ptr().add(jr * kc),
            width: nr,
        };
        let epilogue = if last {
            p.epilogue.at_column(jc + jr)
        } else {
            kernel::Epilogue::NONE
        };
        for ir in (0..mc).step_by(mr) {
            let tile = kernel::Tile {
                ptr: p
                    .c
                    .offset((ic + ir) as isize * p.crs + (jc + jr) as isize * p.ccs),
                rs: p.crs,
                cs: p.ccs,
                rows: mr.min(mc - ir),
                cols: nr.min(nc - jr),
                overwrite,
                epilogue,
            };
            kernel(kc, apack.as_ptr().add(ir * kc), bpanel, tile);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        crate::cpu::test_values::values(n, seed)
            .into_iter()
            .map(|v| v as f32)
            .collect()
    }

    /// Checks one product against a f64 triple loop, with A and B stored
    /// row- or column-major and C row-major, column-major or accumulated.
    #[allow(clippy::too_many_arguments)]
    fn check(
        micro: Micro,
        m: usize,
        n: usize,
        k: usize,
        at: bool,
        bt: bool,
        ct: bool,
        acc: bool,
        threads: usize,
    ) {
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let c0 = values(m * n, 3);
        let (ars, acs) = if at { (1, m as isize) } else { (k as isize, 1) };
        let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
        let (crs, ccs) = if ct { (1, m as isize) } else { (n as isize, 1) };
        let mut c = c0.clone();
        unsafe {
            sgemm_with(
                micro,
                m,
                n,
                k,
                (a.as_ptr(), ars, acs),
                (b.as_ptr(), brs, bcs),
                (c.as_mut_ptr(), crs, ccs),
                acc,
                threads,
            )
        };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    s += a[(i as isize * ars + p as isize * acs) as usize] as f64
                        * b[(p as isize * brs + j as isize * bcs) as usize] as f64;
                }
                let ci = (i as isize * crs + j as isize * ccs) as usize;
                if acc {
                    s += c0[ci] as f64;
                }
                let got = c[ci] as f64;
                assert!(
                    (got - s).abs() <= 1e-4 * (1.0 + s.abs()) * (k as f64).sqrt(),
                    "{m}x{n}x{k} at={at} bt={bt} ct={ct} acc={acc} t={threads}: C[{i},{j}] = {got}, want {s}"
                );
            }
        }
    }

    /// The kernel instances this CPU can run, whatever `isa::active()` says.
    fn instances() -> Vec<(&'static str, Micro)> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            let f = crate::cpu::isa::features();
            if f.avx2_fma {
                v.push(("avx2", AVX2));
                v.push(("avx2-5", AVX2_5));
                v.push(("avx2-4", AVX2_4));
            }
            if f.avx512 {
                v.push(("avx512", AVX512));
                v.push(("avx512-short", AVX512_SHORT));
                v.push(("avx512-mid", AVX512_MID));
            }
        }
        v
    }

    /// The bias + relu epilogue gives, bit for bit, the plain product
    /// followed by `+ bias[j]` and relu's element function: every instance,
    /// edge tiles, several depth slices (the epilogue only on the last),
    /// row-major and column-strided C, 1-3 threads, NaN and -0.0 in the bias.
    #[test]
    fn epilogue_matches_separate_passes_bitwise() {
        for (name, micro) in instances() {
            for &(m, n, k) in &[
                (1, 1, 1),
                (13, 37, 5),
                (29, 65, 300),
                (70, 33, 800),
                (16, 64, 1025),
            ] {
                for &(at, ct) in &[(false, false), (true, false), (false, true)] {
                    for relu in [false, true] {
                        for threads in 1..=3 {
                            let a = values(m * k, 11);
                            let b = values(k * n, 12);
                            let mut bias = values(n, 13);
                            if n > 3 {
                                bias[1] = f32::NAN;
                                bias[2] = -0.0;
                            }
                            let (ars, acs) = if at { (1, m as isize) } else { (k as isize, 1) };
                            let (crs, ccs) = if ct { (1, m as isize) } else { (n as isize, 1) };
                            let mut want = vec![0f32; m * n];
                            let mut got = vec![7f32; m * n];
                            unsafe {
                                sgemm_with(
                                    micro,
                                    m,
                                    n,
                                    k,
                                    (a.as_ptr(), ars, acs),
                                    (b.as_ptr(), n as isize, 1),
                                    (want.as_mut_ptr(), crs, ccs),
                                    false,
                                    threads,
                                );
                                sgemm_epilogue_with(
                                    micro,
                                    m,
                                    n,
                                    k,
                                    (a.as_ptr(), ars, acs),
                                    (b.as_ptr(), n as isize, 1),
                                    (got.as_mut_ptr(), crs, ccs),
                                    false,
                                    kernel::Epilogue {
                                        bias: bias.as_ptr(),
                                        relu,
                                    },
                                    threads,
                                );
                            }
                            for i in 0..m {
                                for j in 0..n {
                                    let ci = (i as isize * crs + j as isize * ccs) as usize;
                                    let mut w = want[ci] + bias[j];
                                    if relu && w < 0.0 {
                                        w = 0.0;
                                    }
                                    assert_eq!(
                                        got[ci].to_bits(),
                                        w.to_bits(),
                                        "{name} {m}x{n}x{k} at={at} ct={ct} relu={relu} t={threads} [{i},{j}]"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// bf16 operands widened as they are packed give, bit for bit, the f32
    /// product of widened copies: every instance, A and B row- or
    /// column-major (the transposing and the copying packers), edge tiles,
    /// several depth slices, accumulate, 1-3 threads, inf and NaN inputs.
    #[test]
    fn bf16_operands_match_the_widened_f32_product_bitwise() {
        use half::bf16;
        for (name, micro) in instances() {
            for (case, &(m, n, k)) in [
                (1, 1, 1),
                (7, 17, 9),
                (13, 40, 300),
                (50, 33, 800),
                (16, 64, 16),
            ]
            .iter()
            .enumerate()
            {
                let mut a16: Vec<bf16> = values(m * k, 51 + case as u64)
                    .into_iter()
                    .map(bf16::from_f32)
                    .collect();
                let b16: Vec<bf16> = values(k * n, 61 + case as u64)
                    .into_iter()
                    .map(bf16::from_f32)
                    .collect();
                if m * k > 4 {
                    a16[1] = bf16::INFINITY;
                    a16[3] = bf16::NAN;
                }
                let a32: Vec<f32> = a16.iter().map(|v| v.to_f32()).collect();
                let b32: Vec<f32> = b16.iter().map(|v| v.to_f32()).collect();
                for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
                    for threads in 1..=3 {
                        let acc = threads == 2;
                        let (ars, acs) = if at { (1, m as isize) } else { (k as isize, 1) };
                        let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
                        let c0 = values(m * n, 71);
                        let (mut want, mut got) = (c0.clone(), c0.clone());
                        unsafe {
                            sgemm_with(
                                micro,
                                m,
                                n,
                                k,
                                (a32.as_ptr(), ars, acs),
                                (b32.as_ptr(), brs, bcs),
                                (want.as_mut_ptr(), n as isize, 1),
                                acc,
                                threads,
                            );
                            gemm_with(
                                micro,
                                m,
                                n,
                                k,
                                (a16.as_ptr(), ars, acs),
                                (b16.as_ptr(), brs, bcs),
                                (got.as_mut_ptr(), n as isize, 1),
                                acc,
                                kernel::Epilogue::NONE,
                                threads,
                            );
                        }
                        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                                "{name} {m}x{n}x{k} at={at} bt={bt} t={threads}: [{i}] {g} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Every instance's A blocks are whole tiles, and products of more rows
    /// than one block (two blocks of the 10-row tile: 330 + 15) match the
    /// reference: the 10-row tile's blocks were 336 rows, and the second
    /// block of a 340-row product asked for 340 rows of a 336-row buffer (a
    /// panic, e.g. a recurrent layer's steps with a batch of 340).
    #[test]
    fn row_blocks_are_whole_tiles() {
        for (name, micro) in instances() {
            assert_eq!(micro.mc % micro.mr, 0, "{name}");
            for threads in [1, 2] {
                check(micro, 345, 40, 20, false, false, false, false, threads);
                check(micro, 345, 40, 20, true, false, false, true, threads);
            }
        }
    }

    /// Products whose threads split C's rows share one packing of B
    /// (`SharedB`): the same values, bit for bit, as one thread, across
    /// panel groups, partial panels and depth slices, with B row-major
    /// (packed row by row) or column-major, C fresh or accumulated.
    #[test]
    fn shared_b_matches_one_thread_bitwise() {
        for (name, micro) in instances() {
            for &(m, n, k) in &[(300, 200, 800), (64, 33, 5), (29, 513, 385), (150, 290, 70)] {
                for &(bt, acc) in &[(false, false), (true, true), (false, true)] {
                    let a = values(m * k, 81);
                    let b = values(k * n, 82);
                    let c0 = values(m * n, 83);
                    let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
                    let run = |threads: usize| {
                        let mut c = c0.clone();
                        unsafe {
                            sgemm_with(
                                micro,
                                m,
                                n,
                                k,
                                (a.as_ptr(), k as isize, 1),
                                (b.as_ptr(), brs, bcs),
                                (c.as_mut_ptr(), n as isize, 1),
                                acc,
                                threads,
                            )
                        };
                        c
                    };
                    let one = run(1);
                    for threads in [2, 3] {
                        let got = run(threads);
                        for (i, (g, w)) in got.iter().zip(&one).enumerate() {
                            assert_eq!(
                                g.to_bits(),
                                w.to_bits(),
                                "{name} {m}x{n}x{k} bt={bt} acc={acc} t={threads} [{i}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn product_takes_the_tile_whose_slabs_pad_least() {
        let Some(micro) = micro() else { return };
        if micro.mr != AVX512.mr {
            assert_eq!(
                micro_for_product(1024, 1024, 2).map(|t| t.mr),
                Some(micro.mr)
            );
            return;
        }
        let mr = |m: usize, n: usize, t: usize| micro_for_product(m, n, t).map(|t| t.mr);
        // 2 x 512 rows: 2 x 512 on the 8-row tile, 2 x 518 on the 14-row one
        assert_eq!(mr(1024, 1024, 2), Some(AVX512_SHORT.mr));
        assert_eq!(mr(512, 512, 2), Some(AVX512_SHORT.mr));
        // ties go to the taller tile
        assert_eq!(mr(1008, 1024, 1), Some(AVX512.mr));
        assert_eq!(mr(70, 64, 1), Some(AVX512.mr));
        assert_eq!(mr(20, 64, 1), Some(AVX512_MID.mr));
        assert_eq!(mr(64, 64, 1), Some(AVX512_SHORT.mr));
    }

    #[test]
    fn batch_rows_take_the_tile_that_pads_least() {
        let Some(micro) = micro() else { return };
        let mr = |m: usize| micro_for_batch_rows(m).map(|t| t.mr);
        if micro.mr == AVX512.mr {
            assert_eq!(mr(20), Some(AVX512_MID.mr));
            assert_eq!(mr(10), Some(AVX512_MID.mr));
            assert_eq!(mr(64), Some(AVX512_SHORT.mr));
            assert_eq!(mr(28), Some(AVX512.mr));
        } else {
            assert_eq!(mr(64), Some(6));
            assert_eq!(mr(66), Some(6));
            assert_eq!(mr(32), Some(4));
            assert_eq!(mr(20), Some(5));
            assert_eq!(mr(10), Some(5));
            assert_eq!(mr(12), Some(6));
        }
    }

    #[test]
    fn matches_reference_on_edges_strides_and_slices() {
        for (_, micro) in instances() {
            edges_strides_and_slices(micro);
        }
    }

    /// Odd sizes in 1..70 (every partial tile of each kernel), C inside a
    /// wider buffer (row stride > n) or column-strided, fresh or accumulated,
    /// against a f64 reference, for every instance.
    #[test]
    fn every_instance_matches_reference_on_odd_sizes() {
        for (name, micro) in instances() {
            let mut seed = 7u64;
            let mut next = |hi: usize| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                1 + (seed >> 33) as usize % hi
            };
            for case in 0..40 {
                let (m, n, k) = (next(69), next(69), next(69));
                let a = values(m * k, 11 + case);
                let b = values(k * n, 12 + case);
                // C: element (i, j) at i * crs + j * ccs in a padded buffer
                let (crs, ccs) = if case % 3 == 2 {
                    (1, m as isize + 2)
                } else {
                    (n as isize + 5, 1)
                };
                let len = (m + 2) * (n + 5) + 8;
                let c0 = values(len, 13 + case);
                let acc = case % 2 == 1;
                let mut c = c0.clone();
                unsafe {
                    sgemm_with(
                        micro,
                        m,
                        n,
                        k,
                        (a.as_ptr(), k as isize, 1),
                        (b.as_ptr(), n as isize, 1),
                        (c.as_mut_ptr(), crs, ccs),
                        acc,
                        1 + case as usize % 2,
                    )
                };
                let mut written = vec![false; len];
                for i in 0..m {
                    for j in 0..n {
                        let ci = (i as isize * crs + j as isize * ccs) as usize;
                        written[ci] = true;
                        let mut s: f64 = (0..k)
                            .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                            .sum();
                        if acc {
                            s += c0[ci] as f64;
                        }
                        assert!(
                            (c[ci] as f64 - s).abs() <= 1e-5 * (1.0 + s.abs()) * (k as f64).sqrt(),
                            "{name} {m}x{n}x{k} acc={acc}: C[{i},{j}] = {}, want {s}",
                            c[ci]
                        );
                    }
                }
                for (ci, w) in written.iter().enumerate() {
                    assert!(
                        *w || c[ci] == c0[ci],
                        "{name} {m}x{n}x{k}: wrote outside C at {ci}"
                    );
                }
            }
        }
    }

    /// B packed once, used by several products (different A, C fresh or
    /// accumulated, strided, 1-3 threads) at every instance, against f64;
    /// sizes cross the tile, panel and depth-slice edges (k 385..800: two
    /// or three slices), B row- or column-major as W_hh and W_hh^T.
    #[test]
    fn prepacked_b_matches_reference_at_every_instance() {
        for (name, micro) in instances() {
            for (case, &(m, n, k)) in [
                (1, 1, 1),
                (64, 512, 128),
                (64, 128, 512),
                (7, 33, 385),
                (20, 800, 200),
                (15, 17, 800),
                (345, 40, 30),
                (3, 40, 0),
            ]
            .iter()
            .enumerate()
            {
                let bt = case % 2 == 1;
                let b = values(k * n, 21 + case as u64);
                let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
                let packed = unsafe { PackedB::with(micro, k, n, (b.as_ptr(), brs, bcs)) };
                assert_eq!((packed.k(), packed.n()), (k, n));
                for (use_, threads) in [1usize, 2, 3].into_iter().enumerate() {
                    let a = values(m * k + 3, 31 + (case * 3 + use_) as u64);
                    let (ars, acs) = if use_ == 2 {
                        (1, m as isize)
                    } else {
                        (k as isize, 1)
                    };
                    let (crs, ccs) = if use_ == 1 {
                        (1, m as isize + 1)
                    } else {
                        (n as isize + 3, 1)
                    };
                    let len = (m + 1) * (n + 3) + 4;
                    let c0 = values(len, 41 + case as u64);
                    let acc = use_ != 0;
                    let mut c = c0.clone();
                    unsafe {
                        sgemm_prepacked(
                            m,
                            (a.as_ptr(), ars, acs),
                            &packed,
                            (c.as_mut_ptr(), crs, ccs),
                            acc,
                            threads,
                        )
                    };
                    let mut written = vec![false; len];
                    for i in 0..m {
                        for j in 0..n {
                            let ci = (i as isize * crs + j as isize * ccs) as usize;
                            written[ci] = true;
                            let mut s: f64 = (0..k)
                                .map(|p| {
                                    a[(i as isize * ars + p as isize * acs) as usize] as f64
                                        * b[(p as isize * brs + j as isize * bcs) as usize] as f64
                                })
                                .sum();
                            if acc {
                                s += c0[ci] as f64;
                            }
                            assert!(
                                (c[ci] as f64 - s).abs()
                                    <= 1e-5 * (1.0 + s.abs()) * (k.max(1) as f64).sqrt(),
                                "{name} {m}x{n}x{k} bt={bt} t={threads}: C[{i},{j}] = {}, want {s}",
                                c[ci]
                            );
                        }
                    }
                    for (ci, w) in written.iter().enumerate() {
                        assert!(*w || c[ci] == c0[ci], "{name} {m}x{n}x{k}: wrote outside C");
                    }
                }
            }
        }
    }

    fn edges_strides_and_slices(micro: Micro) {
        // sizes around the tile and block edges: MR=6/14, NR=16/32, KC=256/384, MC=144/336
        for &(m, n, k) in &[
            (1, 1, 1),
            (5, 15, 3),
            (6, 16, 256),
            (7, 17, 257),
            (13, 33, 300),
            (145, 40, 513),
            (150, 290, 70),
        ] {
            for &(at, bt, ct, acc) in &[
                (false, false, false, false),
                (true, false, false, true),
                (false, true, false, false),
                (true, true, true, true),
            ] {
                for threads in [1, 2, 3] {
                    check(micro, m, n, k, at, bt, ct, acc, threads);
                }
            }
        }
    }

    fn split6(m: usize, n: usize, t: usize) -> (usize, usize) {
        split(m, n, t, MR, NR)
    }

    #[test]
    fn split_prefers_balanced_slabs() {
        assert_eq!(split6(1024, 1024, 1), (1, 1));
        let (tm, tn) = split6(1024, 1024, 2);
        assert_eq!(tm * tn, 2);
        assert_eq!(split6(6, 1024, 2), (1, 2));
        assert_eq!(split6(1024, 16, 2), (2, 1));
        // a batch of 128 rows times a wide layer: split the columns
        assert_eq!(split6(128, 512, 2), (1, 2));
        // too small to pay for a second slab's packing
        assert_eq!(split6(6, 16, 2), (1, 1));
        assert_eq!(split6(1024, 1024, 4).0 * split6(1024, 1024, 4).1, 4);
    }
}
