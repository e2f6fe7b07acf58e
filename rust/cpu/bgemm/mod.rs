//! bfloat16 GEMM: `C (+)= A @ B` with bf16 A and B and float32
//! accumulation and result, on one of three paths chosen at run time:
//!
//! - AMX-BF16 tiles (`amx.rs`, 32x32 micro-tiles) where `isa::use_amx()`;
//! - AVX512_BF16 `vdpbf16ps` (`dpbf16.rs`, 12x32 micro-tiles) where
//!   `isa::use_avx512_bf16()`;
//! - otherwise A and B widened to float32 and the f32 GEMM (`cpu::gemm`).
//!
//! The blocked paths follow `cpu::sgemm`'s layout (BLIS loops: NC columns
//! of B packed per depth slice, MC rows of A per block, one micro-tile per
//! kernel call) with panels packed as pairs along k (`pack.rs`), and split C
//! into one rectangular slab per thread: one fork/join per product.

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod dpbf16;
mod pack;

use crate::cpu::isa;
use crate::parallel;
use half::bf16;
use pack::Lines;
use std::cell::RefCell;

/// AVX512_BF16 micro-tile: rows of A, columns of B.
pub const MR: usize = 12;
pub const NR: usize = 32;
/// Depth of a packed slice (a multiple of 32 for the AMX steps). Deep
/// slices pay: each slice re-reads and re-writes C, whose tile rows alias
/// in L1 for power-of-two widths (2048: 0.76-0.86x PyTorch at 256, 0.97-1.04x at 1024
/// on the 2-core Zen 4 here; `RUSTDL_BGEMM` tries others).
const KC: usize = 1024;
/// Rows per packed A block (a multiple of both micro-tiles' rows).
const MC: usize = 192;

/// Blocking and split, overridable for tuning runs
/// (`RUSTDL_BGEMM=kc,mc,slabs_per_thread`, read once).
#[derive(Clone, Copy)]
struct Tuning {
    kc: usize,
    mc: usize,
    /// Slabs per thread for large products, claimed dynamically: a thread
    /// descheduled on a shared machine leaves its later slabs to the others.
    slabs_per_thread: usize,
}

fn tuning() -> Tuning {
    static T: std::sync::OnceLock<Tuning> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        let mut t = Tuning {
            kc: KC,
            mc: MC,
            slabs_per_thread: 1,
        };
        if let Ok(v) = std::env::var("RUSTDL_BGEMM") {
            let f: Vec<usize> = v.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            if let [kc, mc, spt] = f[..] {
                // kc a multiple of 32, mc of 96 (both micro-tiles' rows)
                t.kc = (kc.div_ceil(32) * 32).clamp(32, 4096);
                t.mc = (mc.div_ceil(96) * 96).clamp(96, 4096);
                t.slabs_per_thread = spt.clamp(1, 16);
            }
        }
        t
    })
}

/// Multiply-adds from which a product is cut into `slabs_per_thread` slabs
/// per thread.
const MANY_SLABS_MACS: usize = 1 << 30;
/// Columns per packed B block.
const NC: usize = 4096;

/// Which kernel a product runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    Amx,
    Avx512Bf16,
    /// Widened to float32, then the f32 GEMM.
    F32,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::Amx => "amx",
            Path::Avx512Bf16 => "avx512_bf16",
            Path::F32 => "f32",
        }
    }
}

/// The path products run now (`cpu::isa` level and CPU features).
pub fn path() -> Path {
    if cfg!(target_arch = "x86_64") && isa::use_amx() {
        Path::Amx
    } else if cfg!(target_arch = "x86_64") && isa::use_avx512_bf16() {
        Path::Avx512Bf16
    } else {
        Path::F32
    }
}

/// Where a micro-kernel writes: `rows` x `cols` of C at `ptr` with strides
/// `rs`, `cs`; `overwrite` stores instead of accumulating.
#[derive(Clone, Copy)]
pub struct Tile {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
    pub rows: usize,
    pub cols: usize,
    pub overwrite: bool,
    /// Where the finished tile goes rounded to bf16 (row-major, C's row
    /// stride) instead of into C, or null (the `bgemm_rounded` products'
    /// last depth slice; `dpbf16` only).
    pub out16: *mut u16,
}

/// Adds (or stores) the live part of a row-major scratch tile with row
/// length `ld` into C.
///
/// # Safety
/// Every element of `tile` is inside C's allocation.
unsafe fn write_tile(tmp: &[f32], ld: usize, tile: Tile) {
    for i in 0..tile.rows {
        for j in 0..tile.cols {
            let p = tile.ptr.offset(i as isize * tile.rs + j as isize * tile.cs);
            let v = tmp[i * ld + j];
            *p = if tile.overwrite { v } else { *p + v };
        }
    }
}

/// Strided operands of one product as raw addresses, so slabs can go to
/// other threads; only dereferenced inside `bgemm`'s call.
#[derive(Clone, Copy)]
struct Problem {
    k: usize,
    /// A as lines = rows; B as lines = columns.
    a: Lines,
    b: Lines,
    c: *mut f32,
    crs: isize,
    ccs: isize,
    accumulate: bool,
    path: Path,
    /// `bgemm_rounded`'s bf16 result (row-major, row stride `crs`), or
    /// null. With one depth slice C is not used at all (null too).
    c16: *mut u16,
}
// SAFETY: the slabs of C that threads write are disjoint; A and B are read only.
unsafe impl Send for Problem {}
unsafe impl Sync for Problem {}

/// `C = A @ B` (or `C += A @ B` when `accumulate`) for bf16 A (m x k) and
/// B (k x n) and float32 C (m x n), each given by a pointer and row/column
/// strides in elements, on up to `threads` threads.
///
/// # Safety
/// Every element of A, B and C is inside its allocation; C does not overlap
/// A or B; no two C elements share an address.
#[allow(clippy::too_many_arguments)]
pub unsafe fn bgemm(
    m: usize,
    n: usize,
    k: usize,
    a: (*const bf16, isize, isize),
    b: (*const bf16, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let path = path();
    if k == 0 || path == Path::F32 {
        return widened(m, n, k, a, b, c, accumulate, threads);
    }
    let p = Problem {
        k,
        a: Lines {
            ptr: a.0,
            ls: a.1,
            ds: a.2,
        },
        b: Lines {
            ptr: b.0,
            ls: b.2,
            ds: b.1,
        },
        c: c.0,
        crs: c.1,
        ccs: c.2,
        accumulate,
        path,
        c16: std::ptr::null_mut(),
    };
    run(&p, m, n, threads)
}

/// `bgemm` rounded once to bf16: `out` (row-major m x n, contiguous) =
/// bf16(A @ B), bit for bit as the float32 product narrowed by
/// `bf16_cast::narrow`. On the `vdpbf16ps` path the kernel rounds as it
/// stores the last depth slice (no float32 C at all when the depth fits one
/// slice); elsewhere the float32 product is narrowed after.
///
/// # Safety
/// As `bgemm`; `out` holds m x n elements and overlaps neither A nor B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn bgemm_rounded(
    m: usize,
    n: usize,
    k: usize,
    a: (*const bf16, isize, isize),
    b: (*const bf16, isize, isize),
    out: *mut bf16,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let path = path();
    let one_slice = k <= tuning().kc;
    if k == 0 || path != Path::Avx512Bf16 {
        let mut c = crate::tensor::pool::Scratch::<f32>::uninit(m * n);
        bgemm(
            m,
            n,
            k,
            a,
            b,
            (c.as_mut_ptr(), n as isize, 1),
            false,
            threads,
        );
        let dst = std::slice::from_raw_parts_mut(out, m * n);
        crate::cpu::bf16_cast::narrow(&c[..], dst);
        return;
    }
    // Deeper products sum their slices in a float32 C first.
    let mut partial =
        crate::tensor::pool::Scratch::<f32>::uninit(if one_slice { 0 } else { m * n });
    let p = Problem {
        k,
        a: Lines {
            ptr: a.0,
            ls: a.1,
            ds: a.2,
        },
        b: Lines {
            ptr: b.0,
            ls: b.2,
            ds: b.1,
        },
        c: if one_slice {
            std::ptr::null_mut()
        } else {
            partial.as_mut_ptr()
        },
        crs: n as isize,
        ccs: 1,
        accumulate: false,
        path,
        c16: out as *mut u16,
    };
    run(&p, m, n, threads)
}

/// Runs the product `p` (m x n) as slabs over up to `threads` threads.
///
/// # Safety
/// As `bgemm`, for `p`'s operands.
unsafe fn run(p: &Problem, m: usize, n: usize, threads: usize) {
    let (k, path) = (p.k, p.path);
    let (mr, nr) = micro_tile(path);
    let slabs = if m * n * k >= MANY_SLABS_MACS && threads > 1 {
        threads * tuning().slabs_per_thread
    } else {
        threads
    };
    let (tm, tn) = split(m, n, slabs, mr, nr);
    if tm * tn == 1 {
        return run_slab(p, 0..m, 0..n);
    }
    let rows = chunk(m, tm, mr);
    let cols = chunk(n, tn, nr);
    parallel::for_each_task(tm * tn, |t| {
        let (i0, j0) = ((t / tn) * rows, (t % tn) * cols);
        if i0 < m && j0 < n {
            // SAFETY: slabs are disjoint and inside C (the caller's contract).
            unsafe { run_slab(p, i0..(i0 + rows).min(m), j0..(j0 + cols).min(n)) }
        }
    });
}

fn micro_tile(path: Path) -> (usize, usize) {
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Amx => (amx::TILE, amx::TILE),
        _ => (MR, NR),
    }
}

use crate::cpu::sgemm::chunk;

/// Threads along rows and columns: sgemm's slab choice for a kernel doing 32
/// multiply-adds per cycle.
fn split(m: usize, n: usize, threads: usize, mr: usize, nr: usize) -> (usize, usize) {
    crate::cpu::sgemm::split_slabs(m, n, threads, mr, nr, 32)
}

/// The fallback: the f32 GEMM on the widened operands. With AVX2 our sgemm
/// widens them as it packs its panels (no copies: widening both operands
/// first was a third of an autocast MLP step's GEMM time); elsewhere (and
/// for k = 0, which `sgemm` leaves to its callers) contiguous float32
/// copies go to `cpu::gemm`.
#[allow(clippy::too_many_arguments)]
unsafe fn widened(
    m: usize,
    n: usize,
    k: usize,
    a: (*const bf16, isize, isize),
    b: (*const bf16, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) {
    if k > 0 && crate::cpu::sgemm::is_supported() {
        return crate::cpu::sgemm::sgemm_bf16(m, n, k, a, b, c, accumulate, threads);
    }
    use crate::cpu::gemm::{GemmElem, MatRef};
    let widen = |x: (*const bf16, isize, isize), rows: usize, cols: usize| -> Vec<f32> {
        let mut v = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                v.push((*x.0.offset(i as isize * x.1 + j as isize * x.2)).to_f32());
            }
        }
        v
    };
    let (wa, wb) = (widen(a, m, k), widen(b, k, n));
    // C's extent, so the f32 GEMM sees it as a slice.
    let (lo, hi) = extent(m, n, c.1, c.2);
    let cs = std::slice::from_raw_parts_mut(c.0.offset(lo), (hi - lo + 1) as usize);
    let view = |off: usize, rs: isize, cs: isize| MatRef { off, rs, cs };
    f32::gemm(
        m,
        n,
        k,
        &wa,
        view(0, k as isize, 1),
        &wb,
        view(0, n as isize, 1),
        cs,
        view((-lo) as usize, c.1, c.2),
        accumulate,
        threads,
    );
}

/// Lowest and highest element offsets of an m x n strided matrix.
fn extent(m: usize, n: usize, rs: isize, cs: isize) -> (isize, isize) {
    let (ri, ci) = ((m as isize - 1) * rs, (n as isize - 1) * cs);
    (ri.min(0) + ci.min(0), ri.max(0) + ci.max(0))
}

thread_local! {
    /// Per-thread packing buffers (words), kept between calls.
    static BUFFERS: RefCell<(Vec<u32>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A 64-byte-aligned run of `len` words inside `v` (grown as needed).
fn aligned(v: &mut Vec<u32>, len: usize) -> &mut [u32] {
    if v.len() < len + 16 {
        *v = vec![0; len + 16];
    }
    let skip = v.as_ptr().align_offset(64).min(16);
    &mut v[skip..skip + len]
}

/// The sequential algorithm on rows `ri` x columns `cj` of C.
unsafe fn run_slab(p: &Problem, ri: std::ops::Range<usize>, cj: std::ops::Range<usize>) {
    let (mr, nr) = micro_tile(p.path);
    // Depth slices: balanced, at most KC, rounded up to the kernel's step.
    let step = if p.path == Path::Amx { 32 } else { 2 };
    let Tuning {
        kc: kc_limit,
        mc: mc_limit,
        ..
    } = tuning();
    let slices = p.k.div_ceil(kc_limit);
    let kc_max = p.k.div_ceil(slices).div_ceil(step) * step;
    let pairs_max = kc_max / 2;
    let nc_max = NC.min(cj.len().div_ceil(nr) * nr);
    let mc_max = mc_limit.min(ri.len().div_ceil(mr) * mr);
    #[cfg(target_arch = "x86_64")]
    if p.path == Path::Amx {
        amx::configure();
    }
    BUFFERS.with(|bufs| {
        let (abuf, bbuf) = &mut *bufs.borrow_mut();
        let bpack = aligned(bbuf, pairs_max * nc_max);
        let apack = aligned(abuf, pairs_max * mc_max);
        for jc in cj.clone().step_by(NC) {
            let nc = NC.min(cj.end - jc);
            for pc in (0..p.k).step_by(kc_max) {
                let kc = kc_max.min(p.k - pc);
                // pairs padded to the kernel's step (AMX: 16 pairs)
                let pairs = kc.div_ceil(step) * step / 2;
                for (q, jr) in (0..nc).step_by(nr).enumerate() {
                    let panel = &mut bpack[q * pairs * nr..(q + 1) * pairs * nr];
                    pack::pack_panel(p.b.at(jc + jr, pc), nr.min(nc - jr), kc, nr, pairs, panel);
                }
                let overwrite = pc == 0 && !p.accumulate;
                let last = pc + kc >= p.k;
                for ic in ri.clone().step_by(mc_limit) {
                    let mc = mc_limit.min(ri.end - ic);
                    for (q, ir) in (0..mc).step_by(mr).enumerate() {
                        let panel = &mut apack[q * pairs * mr..(q + 1) * pairs * mr];
                        let src = p.a.at(ic + ir, pc);
                        let rows = mr.min(mc - ir);
                        if p.path == Path::Amx {
                            pack::pack_amx_a(src, rows, kc, pairs / 16, panel);
                        } else {
                            pack::pack_panel(src, rows, kc, mr, pairs, panel);
                        }
                    }
                    macro_kernel(
                        p,
                        (ic, mc),
                        (jc, nc),
                        pairs,
                        apack,
                        bpack,
                        (overwrite, last),
                    );
                }
            }
        }
    });
    #[cfg(target_arch = "x86_64")]
    if p.path == Path::Amx {
        amx::release();
    }
}

/// All micro-tiles of one packed A block times one packed B block; each B
/// panel stays in L1 while the kernel walks the A panels.
#[allow(unused_variables)]
unsafe fn macro_kernel(
    p: &Problem,
    (ic, mc): (usize, usize),
    (jc, nc): (usize, usize),
    pairs: usize,
    apack: &[u32],
    bpack: &[u32],
    (overwrite, last): (bool, bool),
) {
    let (mr, nr) = micro_tile(p.path);
    let rounded = last && !p.c16.is_null();
    for jr in (0..nc).step_by(nr) {
        let bpanel = bpack.as_ptr().add(jr * pairs);
        for ir in (0..mc).step_by(mr) {
            let at = (ic + ir) as isize * p.crs + (jc + jr) as isize * p.ccs;
            let tile = Tile {
                // (wrapping: C is null when a rounded product has no slice to sum)
                ptr: p.c.wrapping_offset(at),
                rs: p.crs,
                cs: p.ccs,
                rows: mr.min(mc - ir),
                cols: nr.min(nc - jr),
                overwrite,
                out16: if rounded {
                    p.c16.wrapping_offset(at)
                } else {
                    std::ptr::null_mut()
                },
            };
            let apanel = apack.as_ptr().add(ir * pairs);
            #[cfg(target_arch = "x86_64")]
            match p.path {
                Path::Amx => amx::kernel_32x32(pairs / 16, apanel, bpanel, tile),
                _ => dpbf16::kernel_12x32(pairs, apanel, bpanel, tile),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<bf16> {
        crate::cpu::test_values::values(n, seed)
            .into_iter()
            .map(bf16::from_f64)
            .collect()
    }

    /// One product against a f64 triple loop on the same bf16 values, with
    /// A and B row- or column-major and C row-major, column-major or
    /// accumulated, on every path this CPU has.
    #[allow(clippy::too_many_arguments)]
    fn check(
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
        let c0: Vec<f32> = values(m * n, 3).iter().map(|v| v.to_f32()).collect();
        let (ars, acs) = if at { (1, m as isize) } else { (k as isize, 1) };
        let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
        let (crs, ccs) = if ct { (1, m as isize) } else { (n as isize, 1) };
        let mut c = c0.clone();
        unsafe {
            bgemm(
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
                    s += a[(i as isize * ars + p as isize * acs) as usize].to_f64()
                        * b[(p as isize * brs + j as isize * bcs) as usize].to_f64();
                }
                let ci = (i as isize * crs + j as isize * ccs) as usize;
                if acc {
                    s += c0[ci] as f64;
                }
                let got = c[ci] as f64;
                assert!(
                    (got - s).abs() <= 1e-5 * (1.0 + s.abs()) * (k as f64).sqrt(),
                    "{:?} {m}x{n}x{k} at={at} bt={bt} ct={ct} acc={acc} t={threads}: C[{i},{j}] = {got}, want {s}",
                    path()
                );
            }
        }
    }

    #[test]
    fn matches_reference_on_every_path() {
        let best = isa::active();
        for level in isa::supported() {
            isa::set_active(level).unwrap();
            for &(m, n, k) in &[
                (1, 1, 1),
                (5, 15, 3),
                (12, 32, 256),
                (13, 33, 257),
                (33, 65, 300),
                (193, 40, 513),
                (150, 290, 70),
            ] {
                for &(at, bt, ct, acc) in &[
                    (false, false, false, false),
                    (true, false, false, true),
                    (false, true, false, false),
                    (true, true, true, true),
                ] {
                    for threads in [1, 2] {
                        check(m, n, k, at, bt, ct, acc, threads);
                    }
                }
            }
        }
        isa::set_active(best).unwrap();
    }

    /// `bgemm_rounded` against `bgemm` narrowed, bit for bit, on every
    /// path: one depth slice (no float32 C), several (the last one rounds),
    /// edge tiles, NaN and infinities in the products.
    #[test]
    fn rounded_matches_narrowed_product_on_every_path() {
        let best = isa::active();
        for level in isa::supported() {
            isa::set_active(level).unwrap();
            for &(m, n, k) in &[
                (1, 1, 1),
                (13, 33, 70),
                (30, 70, 1100),
                (40, 64, 2 * KC + 3),
            ] {
                let mut a = values(m * k, 4);
                let b = values(k * n, 5);
                a[0] = bf16::NAN;
                if m > 1 {
                    a[m * k - 1] = bf16::INFINITY;
                }
                for threads in [1, 2] {
                    let mut want = vec![0f32; m * n];
                    let mut got = vec![bf16::ZERO; m * n];
                    unsafe {
                        bgemm(
                            m,
                            n,
                            k,
                            (a.as_ptr(), k as isize, 1),
                            (b.as_ptr(), 1, k as isize),
                            (want.as_mut_ptr(), n as isize, 1),
                            false,
                            threads,
                        );
                        bgemm_rounded(
                            m,
                            n,
                            k,
                            (a.as_ptr(), k as isize, 1),
                            (b.as_ptr(), 1, k as isize),
                            got.as_mut_ptr(),
                            threads,
                        );
                    }
                    let mut narrowed = vec![bf16::ZERO; m * n];
                    crate::cpu::bf16_cast::narrow(&want, &mut narrowed);
                    for (i, (g, w)) in got.iter().zip(&narrowed).enumerate() {
                        assert_eq!(
                            g.to_bits(),
                            w.to_bits(),
                            "{:?} {m}x{n}x{k} t={threads}: element {i}",
                            path()
                        );
                    }
                    assert!(narrowed.iter().any(|v| v.is_nan()));
                }
            }
        }
        isa::set_active(best).unwrap();
    }

    #[test]
    fn split_prefers_balanced_slabs() {
        let (tm, tn) = split(2048, 2048, 2, MR, NR);
        assert_eq!(tm * tn, 2);
        assert_eq!(split(12, 32, 2, MR, NR), (1, 1));
    }
}
