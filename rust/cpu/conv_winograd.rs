//! Winograd F(2x2, 3x3) for 3x3, stride-1, undilated 2-d convolutions
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks").
//!
//! Each 2x2 block of outputs ("tile") is computed from the 4x4 input patch
//! under it with 16 multiplies per channel pair instead of 36:
//!
//!   y = A^T [ (G w G^T) ⊙ (B^T d B) ] A
//!
//! Summed over input channels, the 16 element-wise products become 16 GEMMs
//! (one per Winograd point xi): M[xi] (c_out x tiles) = U[xi] (c_out x c_in)
//! @ V[xi] (c_in x tiles), with U the transformed weights and V the
//! transformed input patches. That is 2.25x fewer multiply-adds than
//! im2col + GEMM, for a few additions in the transforms.
//!
//! All three directions of training use it:
//! - forward: as above;
//! - input gradient: a stride-1 correlation of gy with the flipped,
//!   transposed kernel and padding 2 - p, i.e. another forward;
//! - weight gradient: dU[xi] = (A gy A^T)[xi] @ V[xi]^T summed over tiles,
//!   then dw = G^T dU G.
//!
//! Tiles are processed a few samples at a time so that V and M (16 x
//! channels x tiles each) stay in L2 between the transforms and the GEMMs.

use super::conv::{for_batch_ranges, matmul, rows, sum_over_batch_ranges, ConvGeom};
#[cfg(target_arch = "x86_64")]
use super::conv_winograd_narrow as narrow;
#[cfg(target_arch = "x86_64")]
use super::conv_winograd_rows as in_rows;
use super::gemm::MatRef;
use super::lanes::{copy_few, deinterleave, load, map2, store, store_interleaved, Block, LANES};
use super::sgemm::kernel::{Panel, Tile};
use super::sgemm::Micro;
use crate::parallel;
use crate::tensor::dtype::Float;
use crate::tensor::pool::Scratch;

/// Winograd points per tile (4x4).
const POINTS: usize = 16;

/// Fewer channels than this make the 16 GEMMs too thin (k = c_in, or c_out
/// for the input gradient) to gain over im2col: measured fwd+bwd, batch 128,
/// 1 thread: 8->16 at 28x28 28-36 ms vs 21-27 ms with im2col; 16->32 at
/// 14x14 15-21 ms vs 19-21 ms.
const MIN_CHANNELS: usize = 16;

/// Bytes of V + M per chunk of samples (the L2 holds 512 KiB), and the
/// fewest tiles per chunk. Measured on 8x8 to 32x32 planes: chunk size moved
/// the 16x16 and 32x32 layers by < 3%; 8x8 ones ran 10% faster with >= 96
/// tiles than with one sample (16 tiles) per chunk.
const CHUNK_BYTES: usize = 1 << 19;
const MIN_TILES: usize = 96;

/// Whether the Winograd kernels handle this geometry.
pub fn applies(g: &ConvGeom) -> bool {
    g.groups == 1
        && g.kernel == [1, 3, 3]
        && g.stride == [1; 3]
        && g.dilation == [1; 3]
        && g.input[0] == 1
        && g.output[0] == 1
        && g.pad[0] == 0
        && g.pad[1] <= 2
        && g.pad[2] <= 2
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
}

/// Sizes of one Winograd convolution (input channels `ci`, output `co`).
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) ci: usize,
    pub(super) co: usize,
    pub(super) ih: usize,
    pub(super) iw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) ph: usize,
    pub(super) pw: usize,
    /// Tile rows and columns: ceil(oh / 2), ceil(ow / 2).
    pub(super) th: usize,
    pub(super) tw: usize,
}

impl Plan {
    fn new(g: &ConvGeom) -> Self {
        let [_, oh, ow] = g.output;
        Plan {
            ci: g.c_in,
            co: g.c_out,
            ih: g.input[1],
            iw: g.input[2],
            oh,
            ow,
            ph: g.pad[1],
            pw: g.pad[2],
            th: oh.div_ceil(2),
            tw: ow.div_ceil(2),
        }
    }
    fn tiles(&self) -> usize {
        self.th * self.tw
    }
    /// Samples per chunk within half and one and a half times `base` whose
    /// chunks pad the fewest columns up to whole tiles of `nr` (the one
    /// nearest `base` among equals).
    fn fewest_padded_columns(&self, samples: usize, base: usize, nr: usize) -> usize {
        let padded = |s: usize| {
            let (full, rest) = (samples / s, samples % s);
            let cols = |k: usize| (k * self.tiles()).div_ceil(nr) * nr;
            full * cols(s) + if rest > 0 { cols(rest) } else { 0 }
        };
        let lo = base.div_ceil(2).max(1);
        let hi = (base + base / 2).clamp(lo, samples.max(1));
        (lo..=hi)
            .min_by_key(|&s| (padded(s), s.abs_diff(base)))
            .unwrap_or(base)
    }
    /// How `samples` samples are cut into chunks: V and M within
    /// `CHUNK_BYTES`, but at least `MIN_TILES` tiles (the GEMMs' n; 8x8 planes
    /// have only 16 tiles). Small planes go several samples per chunk, large
    /// ones (a 224x224 plane's V and M are tens of MiB) a band of tile rows.
    ///
    /// `nr`: the GEMMs' column tile (1: any). Whole samples per chunk are
    /// then chosen near that size so the chunks' tiles fill whole column
    /// tiles: 8x8 planes have 9 or 16 tiles a sample, and 11 samples (99
    /// tiles) made 4 columns of 32, a quarter of them padding.
    fn chunks<T>(&self, samples: usize, nr: usize) -> Vec<Chunk> {
        let row_bytes = POINTS * (self.ci + self.co) * self.tw * std::mem::size_of::<T>();
        let per_sample = (row_bytes * self.th).max(1);
        if per_sample <= CHUNK_BYTES {
            let by_tiles = MIN_TILES.div_ceil(self.tiles().max(1));
            let base = (CHUNK_BYTES / per_sample)
                .max(by_tiles)
                .clamp(1, samples.max(1));
            let per_chunk = self.fewest_padded_columns(samples, base, nr);
            return (0..samples)
                .step_by(per_chunk)
                .map(|first| Chunk {
                    first,
                    samples: per_chunk.min(samples - first),
                    rows: 0..self.th,
                })
                .collect();
        }
        let band = (CHUNK_BYTES / row_bytes.max(1))
            .max(MIN_TILES.div_ceil(self.tw.max(1)))
            .clamp(1, self.th);
        (0..samples)
            .flat_map(|first| {
                (0..self.th).step_by(band).map(move |lo| Chunk {
                    first,
                    samples: 1,
                    rows: lo..(lo + band).min(self.th),
                })
            })
            .collect()
    }
}

/// A piece of work: tile rows `rows` of samples `first..first + samples`.
struct Chunk {
    first: usize,
    samples: usize,
    rows: std::ops::Range<usize>,
}

impl Chunk {
    /// Tiles per sample in this chunk.
    fn tiles(&self, tw: usize) -> usize {
        self.rows.len() * tw
    }
}

/// Where the values of one sample's tiles go in a V, M or Gy buffer: value
/// (xi, channel c, tile t) at `xi * point + c * row + first + t`.
#[derive(Clone, Copy)]
pub(super) struct Points {
    /// Distance between Winograd points: channels * row plus a skew.
    pub(super) point: usize,
    /// Tiles of the chunk (the GEMM's n or k).
    pub(super) row: usize,
    /// This sample's first tile in the chunk.
    pub(super) first: usize,
}

/// Extra values between the 16 point blocks. Without it the blocks sit a
/// power of two apart (e.g. 64 channels x 64 tiles x 4 bytes = 16 KiB) and the
/// transforms' 16 streams all map to the same L1 sets, evicting each other.
/// It is also the slack that lets the in-place GEMM (`PackedU`) read whole
/// column tiles (up to 32 values) past the last tile of a point's rows.
const SKEW: usize = 32;

impl Points {
    fn new(channels: usize, row: usize) -> Self {
        Points {
            point: channels * row + SKEW,
            row,
            first: 0,
        }
    }
    fn len(&self) -> usize {
        POINTS * self.point
    }
    fn sample(self, s: usize, tiles: usize) -> Self {
        Points {
            first: s * tiles,
            ..self
        }
    }
    /// Point `xi`'s (channels x row) matrix.
    fn matrix(&self, xi: usize) -> MatRef {
        rows(xi * self.point, self.row)
    }
}

/// G w G^T for each 3x3 kernel: U[xi][r][c] for `nr` x `nc` kernels, where
/// `kernel(r, c)` gives the 9 weights of kernel (r, c) row-major.
fn transform_weights<T: Float>(
    nr: usize,
    nc: usize,
    kernel: impl Fn(usize, usize) -> [T; 9] + Sync,
) -> Scratch<T> {
    let h = T::c(0.5);
    // G (4x3) applied to a 3-vector.
    let g3 = |a: T, b: T, c: T| [a, h * (a + b + c), h * (a - b + c), c];
    // Every element is written below. (Scratch, not a fresh zeroed Vec: at
    // 128 x 64 channels U is 512 KiB, a page fault per 4 KiB each call.)
    let mut u = Scratch::<T>::uninit(POINTS * nr * nc);
    let plane = nr * nc;
    let out = parallel::SendPtr(u.as_mut_ptr());
    let row = |r: usize| {
        // Row r of the 16 planes is built in a small buffer first: stored
        // straight into U, the 16 values of a kernel went to addresses a
        // power of two apart (one plane), which cost ~10 cycles per store.
        let mut local = vec![T::zero(); POINTS * nc];
        for c in 0..nc {
            let k = kernel(r, c);
            // Columns first: t[i][b] = (G k)[i][b]; then rows: (t G^T)[i][j].
            let [c0, c1, c2]: [[T; 4]; 3] = std::array::from_fn(|b| g3(k[b], k[3 + b], k[6 + b]));
            for (i, ((&a, &b), &d)) in c0.iter().zip(&c1).zip(&c2).enumerate() {
                for (j, &v) in g3(a, b, d).iter().enumerate() {
                    local[(i * 4 + j) * nc + c] = v;
                }
            }
        }
        for (xi, values) in local.chunks_exact(nc.max(1)).enumerate() {
            // SAFETY: inside U (POINTS planes of nr x nc); row r writes only
            // its own elements of each plane.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    values.as_ptr(),
                    { out }.0.add(xi * plane + r * nc),
                    nc,
                )
            };
        }
    };
    // At 64 x 128 channels this is ~0.2 ms, worth splitting over threads.
    if POINTS * plane >= parallel::GRAIN && parallel::num_threads() > 1 {
        parallel::for_each_task(nr, row);
    } else {
        (0..nr).for_each(row);
    }
    u
}

/// Tiles handled together: the transforms work on blocks of 8 adjacent
/// tiles as fixed-size arrays (`lanes::Block`), which compile to whole SIMD
/// vectors. (Tile rows are short, 4-16 tiles; loops over them ran scalar.)
/// B^T applied to (d0, d1, d2, d3): (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
#[inline(always)]
fn input_1d<T: Float>(d: [Block<T>; 4]) -> [Block<T>; 4] {
    [
        map2(d[0], d[2], |a, b| a - b),
        map2(d[1], d[2], |a, b| a + b),
        map2(d[2], d[1], |a, b| a - b),
        map2(d[1], d[3], |a, b| a - b),
    ]
}

/// A applied to (g0, g1): (g0, g0 + g1, g0 - g1, -g1).
#[inline(always)]
fn grad_1d<T: Float>(g0: Block<T>, g1: Block<T>) -> [Block<T>; 4] {
    [
        g0,
        map2(g0, g1, |a, b| a + b),
        map2(g0, g1, |a, b| a - b),
        map2(g1, g1, |a, _| -a),
    ]
}

/// A^T applied to (m0, m1, m2, m3): (m0 + m1 + m2, m1 - m2 - m3).
#[inline(always)]
fn output_1d<T: Float>(m: [Block<T>; 4]) -> [Block<T>; 2] {
    [
        map2(map2(m[0], m[1], |a, b| a + b), m[2], |a, b| a + b),
        map2(map2(m[1], m[2], |a, b| a - b), m[3], |a, b| a - b),
    ]
}

/// Row transforms of a plane, laid out [k][row parity][row / 2][tile] so
/// that the rows the column transform pairs up (2t + r for t = 0, 1, ...) form
/// one run per (k, r), offset t * tw: that step then goes over all tiles in
/// whole blocks, also when a tile row is shorter than a block (8x8 planes).
/// Each (k, parity) region has a block of slack: a row's last block may spill
/// up to 7 values into the next row of the region, which is written later,
/// or into the slack.
struct RowTransforms {
    region: usize,
    tw: usize,
}

impl RowTransforms {
    fn new(rows: usize, tw: usize) -> Self {
        RowTransforms {
            region: rows.div_ceil(2) * tw + LANES,
            tw,
        }
    }
    fn len(&self) -> usize {
        8 * self.region
    }
    /// Start of row `q`'s transform component `k`.
    fn row(&self, k: usize, q: usize) -> usize {
        (k * 2 + q % 2) * self.region + q / 2 * self.tw
    }
}

/// `count` arrays with one value per tile of a chunk (all its samples'
/// tiles in a row), each followed by a block of slack: whole blocks can be
/// loaded at any tile, and a run of a tile row's values can be stored as
/// whole blocks, the spill past its end overwritten by the next run (runs
/// are written in tile order) or landing in the slack.
///
/// Lining the tiles of all samples up this way is what keeps small planes
/// efficient: an 8x8 plane has 9 or 16 tiles, less than two blocks, but a
/// chunk of samples has about a hundred.
struct TileArrays<T> {
    values: Vec<T>,
    stride: usize,
}

impl<T: Float> TileArrays<T> {
    fn new(count: usize, tiles: usize) -> Self {
        let stride = padded_tiles(tiles) + LANES;
        TileArrays {
            values: vec![T::zero(); count * stride],
            stride,
        }
    }
    fn at(&self, a: usize) -> &[T] {
        &self.values[a * self.stride..][..self.stride]
    }
    fn at_mut(&mut self, a: usize) -> &mut [T] {
        &mut self.values[a * self.stride..][..self.stride]
    }
}

/// Four disjoint `len`-value slices of `v` starting at `first + i * gap`.
#[inline(always)]
fn four_mut<T>(v: &mut [T], first: usize, gap: usize, len: usize) -> [&mut [T]; 4] {
    assert!(len <= gap, "four_mut: slices overlap");
    let (_, rest) = v.split_at_mut(first);
    let (a, rest) = rest.split_at_mut(gap);
    let (b, rest) = rest.split_at_mut(gap);
    let (c, d) = rest.split_at_mut(gap);
    [&mut a[..len], &mut b[..len], &mut c[..len], &mut d[..len]]
}

/// Tile columns rounded up to whole blocks.
fn padded_tiles(tw: usize) -> usize {
    tw.div_ceil(LANES) * LANES
}

crate::multiversion! {
    /// V[xi][c][tile] (placed by `at`) = (B^T d B)[xi] for every input channel
    /// `c` of one sample `x` (ci x ih x iw) and every tile of tile rows `rows`.
    fn input_transform(p: &Plan, x: &[T], v: &mut [T], at: Points, rows: std::ops::Range<usize>) => input_transform_impl
}

#[inline(always)]
fn input_transform_impl<T: Float>(
    p: &Plan,
    x: &[T],
    v: &mut [T],
    at: Points,
    tile_rows: std::ops::Range<usize>,
) {
    // Padded row q of this band is padded row 2 lo + q of the plane.
    let (lo, nt) = (tile_rows.start, tile_rows.len());
    let (tw, tw8, rows_read) = (p.tw, padded_tiles(p.tw), 2 * nt + 2);
    // The zero-padded rows the tiles read (tile j reads values 2j..2j+3 of
    // rows 2t..2t+3). Rows and columns outside the input stay zero from the
    // allocation: every channel copies the same span.
    let width = 2 * tw8 + 2 * LANES;
    let mut padded = vec![T::zero(); rows_read * width];
    let first_row = p.ph.saturating_sub(2 * lo).min(rows_read);
    let last_row = (p.ih + p.ph).saturating_sub(2 * lo).min(rows_read);
    let n = p.iw.min(2 * tw + 2 - p.pw);
    let layout = RowTransforms::new(rows_read, tw);
    let mut rows = vec![T::zero(); layout.len()];
    let tiles = nt * tw;
    for c in 0..p.ci {
        let plane = &x[c * p.ih * p.iw..][..p.ih * p.iw];
        if c + 1 < p.ci {
            let next = (c + 1) * p.ih * p.iw;
            let rows =
                (2 * lo + first_row).saturating_sub(p.ph)..(2 * lo + last_row).saturating_sub(p.ph);
            prefetch_span(&x[next + rows.start * p.iw..next + rows.end * p.iw]);
        }
        // All rows are copied before any is read back: reading a row right
        // after its unaligned copy stalled on store forwarding.
        for q in first_row..last_row {
            let (dst, src) = (
                &mut padded[q * width + p.pw..][..n],
                &plane[(2 * lo + q - p.ph) * p.iw..][..n],
            );
            // SAFETY: both slices hold n values.
            unsafe { copy_few(dst.as_mut_ptr(), src.as_ptr(), n) };
        }
        // B^T along each row.
        for q in 0..rows_read {
            let row = &padded[q * width..][..width];
            for j in (0..tw).step_by(LANES) {
                let (e0, o0) = deinterleave(row, j);
                let (e1, o1) = deinterleave(row, j + 1);
                for (k, b) in input_1d([e0, o0, e1, o1]).iter().enumerate() {
                    store(&mut rows, layout.row(k, q) + j, b, LANES);
                }
            }
        }
        // B^T down the columns: (d0 - d2, d1 + d2, d2 - d1, d1 - d3) of rows
        // 2t..2t+3, over all tiles at once, into the 4 points (i, k) of one
        // column k at a time (all 16 streams at once spilled registers).
        for k in 0..4 {
            let first = k * at.point + c * at.row + at.first;
            let mut out = four_mut(v, first, 4 * at.point, tiles);
            let src = |r: usize| &rows[layout.row(k, r)..][..padded_tiles(tiles)];
            let d = [src(0), src(1), src(2), src(3)];
            for f in (0..tiles).step_by(LANES) {
                let blocks = input_1d([load(d[0], f), load(d[1], f), load(d[2], f), load(d[3], f)]);
                for (o, b) in out.iter_mut().zip(&blocks) {
                    store(o, f, b, LANES.min(tiles - f));
                }
            }
        }
    }
}

/// Fetch the next channel's rows while this one is transformed: the
/// transforms read a sample's planes once, from L3 or memory, and waiting for
/// each line in turn was a quarter of the input transform's time. Spans of
/// more than `PREFETCH_MAX` bytes (large planes, cut into bands) are left to
/// the hardware prefetcher.
#[inline(always)]
pub(super) fn prefetch_span<T>(span: &[T]) {
    if std::mem::size_of_val(span) > PREFETCH_MAX {
        return;
    }
    let line = 64 / std::mem::size_of::<T>().max(1);
    for i in (0..span.len()).step_by(line.max(1)) {
        crate::cpu::simd::prefetch(span[i..].as_ptr() as *const f32);
    }
}

/// Bytes `prefetch_span` fetches at most (a quarter of the L1).
const PREFETCH_MAX: usize = 8 << 10;

/// A^T down column k of M's 4x4 points for channel c, tiles f.. f + LANES.
/// (A function, not a closure: the closure was compiled outside the AVX2
/// copy of `output_transform`, 5% of a 16x16 layer's time in baseline code.)
#[inline(always)]
fn output_column<T: Float>(
    m: &[T],
    at: Points,
    c: usize,
    total: usize,
    f: usize,
    k: usize,
) -> [Block<T>; 2] {
    // M's point blocks are SKEW values apart, so reading up to a whole
    // block past a channel's tiles stays inside `m`.
    let src = |xi: usize| &m[xi * at.point + c * at.row..][..padded_tiles(total)];
    output_1d([
        load(src(k), f),
        load(src(4 + k), f),
        load(src(8 + k), f),
        load(src(12 + k), f),
    ])
}

crate::multiversion! {
    /// y[c] = A^T M[xi][c][tile] A (+ bias[c]), M placed by `at`, on the output
    /// rows of the chunk `ch`, for every output channel of its samples `y`.
    fn output_transform(p: &Plan, m: &[T], at: Points, y: &mut [T], bias: Option<&[T]>, ch: &Chunk) => output_transform_impl
}

#[inline(always)]
fn output_transform_impl<T: Float>(
    p: &Plan,
    m: &[T],
    at: Points,
    y: &mut [T],
    bias: Option<&[T]>,
    ch: &Chunk,
) {
    let (lo, nt) = (ch.rows.start, ch.rows.len());
    let (tw, tw8, tiles, plane_len) = (p.tw, padded_tiles(p.tw), nt * p.tw, p.oh * p.ow);
    let total = ch.samples * tiles;
    // O[r * 2 + e]: output (2t + r, 2j + e) of tile (t, j).
    let mut o = TileArrays::new(4, total);
    // One output line, interleaved from the tiles' even and odd columns.
    let mut line = vec![T::zero(); 2 * tw8];
    for c in 0..p.co {
        let b = bias.map_or(T::zero(), |b| b[c]);
        for f in (0..total).step_by(LANES) {
            // A^T down the columns k, then along the two rows r.
            let [c0, c1, c2, c3] = [
                output_column(m, at, c, total, f, 0),
                output_column(m, at, c, total, f, 1),
                output_column(m, at, c, total, f, 2),
                output_column(m, at, c, total, f, 3),
            ];
            let cols = [[c0[0], c1[0], c2[0], c3[0]], [c0[1], c1[1], c2[1], c3[1]]];
            for (r, row) in cols.iter().enumerate() {
                for (e, v) in output_1d(*row).iter().enumerate() {
                    store(o.at_mut(r * 2 + e), f, &v.map(|v| v + b), LANES);
                }
            }
        }
        for s in 0..ch.samples {
            let plane = &mut y[(s * p.co + c) * plane_len..][..plane_len];
            for t in 0..nt {
                let first = s * tiles + t * tw;
                for r in 0..2.min(p.oh - 2 * (lo + t)) {
                    for j in (0..tw).step_by(LANES) {
                        let (even, odd) = (
                            load(o.at(r * 2), first + j),
                            load(o.at(r * 2 + 1), first + j),
                        );
                        store_interleaved(&mut line, 2 * j, &even, &odd);
                    }
                    let dst = &mut plane[(2 * (lo + t) + r) * p.ow..][..p.ow];
                    // SAFETY: both spans hold ow <= 2 tw8 values.
                    unsafe { copy_few(dst.as_mut_ptr(), line.as_ptr(), p.ow) };
                }
            }
        }
    }
}

crate::multiversion! {
    /// Gy[xi][c][tile] (placed by `at`, tile rows `rows`) = (A gy A^T)[xi] for
    /// every output channel of one sample's output gradient `gy` (co x oh x
    /// ow); positions past the output edge (odd sizes) count as zero.
    fn grad_transform(p: &Plan, gy: &[T], out: &mut [T], at: Points, rows: std::ops::Range<usize>) => grad_transform_impl
}

#[inline(always)]
fn grad_transform_impl<T: Float>(
    p: &Plan,
    gy: &[T],
    out: &mut [T],
    at: Points,
    tile_rows: std::ops::Range<usize>,
) {
    let (lo, nt) = (tile_rows.start, tile_rows.len());
    let (tw, tw8, tiles) = (p.tw, padded_tiles(p.tw), nt * p.tw);
    // One gradient row, zero past the output edge (stays so from the
    // allocation; only a missing last row of an odd height is zero-filled).
    let mut line = vec![T::zero(); 2 * tw8 + 2 * LANES];
    let layout = RowTransforms::new(2 * nt, tw);
    let mut rows = vec![T::zero(); layout.len()];
    for c in 0..p.co {
        let plane = &gy[c * p.oh * p.ow..][..p.oh * p.ow];
        if c + 1 < p.co {
            let next = (c + 1) * p.oh * p.ow;
            let rows = (2 * lo).min(p.oh)..(2 * (lo + nt)).min(p.oh);
            prefetch_span(&gy[next + rows.start * p.ow..next + rows.end * p.ow]);
        }
        // A along each row: (g0, g0 + g1, g0 - g1, -g1).
        for yr in 0..2 * nt {
            if 2 * lo + yr < p.oh {
                let src = &plane[(2 * lo + yr) * p.ow..][..p.ow];
                // SAFETY: both spans hold ow <= 2 tw8 values.
                unsafe { copy_few(line[..p.ow].as_mut_ptr(), src.as_ptr(), p.ow) };
            } else {
                line.fill(T::zero());
            }
            for j in (0..tw).step_by(LANES) {
                let (e, o) = deinterleave(&line, j);
                for (k, b) in grad_1d(e, o).iter().enumerate() {
                    store(&mut rows, layout.row(k, yr) + j, b, LANES);
                }
            }
        }
        // A down the two rows of every tile, one column k at a time.
        for k in 0..4 {
            let first = k * at.point + c * at.row + at.first;
            let mut dst = four_mut(out, first, 4 * at.point, tiles);
            let src = |r: usize| &rows[layout.row(k, r)..][..padded_tiles(tiles)];
            let (g0, g1) = (src(0), src(1));
            for f in (0..tiles).step_by(LANES) {
                let blocks = grad_1d(load(g0, f), load(g1, f));
                for (o, b) in dst.iter_mut().zip(&blocks) {
                    store(o, f, b, LANES.min(tiles - f));
                }
            }
        }
    }
}

/// `input_transform`, through the AVX-512 narrow-plane kernel where it
/// applies (f32, AVX-512 active, 2 tw + 2 <= 16), or at the AVX2 level the
/// register kernels of `conv_winograd_rows`: the same bits, several times
/// faster on small planes.
fn transform_input<T: Float>(
    p: &Plan,
    x: &[T],
    v: &mut [T],
    at: Points,
    rows: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xf), Some(vf)) = (T::as_f32(x), T::as_f32_mut(v)) {
        if narrow::input_transform(p, xf, vf, at, rows.clone())
            || in_rows::input_transform(p, xf, vf, at, rows.clone())
        {
            return;
        }
    }
    input_transform(p, x, v, at, rows)
}

/// `grad_transform`, through the narrow-plane kernel where it applies.
fn transform_grad<T: Float>(
    p: &Plan,
    gy: &[T],
    out: &mut [T],
    at: Points,
    rows: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(gf), Some(of)) = (T::as_f32(gy), T::as_f32_mut(out)) {
        if narrow::grad_transform(p, gf, of, at, rows.clone())
            || in_rows::grad_transform(p, gf, of, at, rows.clone())
        {
            return;
        }
    }
    grad_transform(p, gy, out, at, rows)
}

/// `output_transform`, through the narrow-plane kernel where it applies.
fn transform_output<T: Float>(
    p: &Plan,
    m: &[T],
    at: Points,
    y: &mut [T],
    bias: Option<&[T]>,
    ch: &Chunk,
) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(mf), Some(yf)) = (T::as_f32(m), T::as_f32_mut(y)) {
        let bf = bias.and_then(T::as_f32);
        if bias.is_none() == bf.is_none()
            && (narrow::output_transform(p, mf, at, yf, bf, (ch.samples, ch.rows.clone()))
                || in_rows::output_transform(p, mf, at, yf, bf, (ch.samples, ch.rows.clone())))
        {
            return;
        }
    }
    output_transform(p, m, at, y, bias, ch)
}

/// y = conv(x, U) for transformed weights `u`, as `forward` and the input
/// gradient share it. `g` gives the batch split; `p` the sizes.
fn convolve<T: Float>(g: &ConvGeom, p: &Plan, u: &[T], x: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (in_sample, out_sample) = (p.ci * p.ih * p.iw, p.co * p.oh * p.ow);
    // Every element is written by the output transform.
    let mut y = crate::tensor::pool::uninit_vec::<T>(g.batch * out_sample);
    let packed = PackedU::new(p.co, p.ci, u);
    for_batch_ranges(g, &mut y, out_sample, |n0, ys, threads| {
        let nr = packed.as_ref().map_or(1, |pu| pu.micro.nr);
        let chunks = p.chunks::<T>(ys.len() / out_sample, nr);
        let (mut v, mut m) = chunk_buffers(p, &chunks);
        for ch in &chunks {
            let tiles = ch.tiles(p.tw);
            let n = ch.samples * tiles;
            let (vat, mat) = (Points::new(p.ci, n), Points::new(p.co, n));
            for s in 0..ch.samples {
                let xn = &x[(n0 + ch.first + s) * in_sample..][..in_sample];
                transform_input(p, xn, &mut v, vat.sample(s, tiles), ch.rows.clone());
            }
            match (&packed, T::as_f32(&v[..]), T::as_f32_mut(&mut m[..])) {
                (Some(pu), Some(vf), Some(mf)) => pu.multiply((vf, vat), (mf, mat), threads),
                _ => {
                    for xi in 0..POINTS {
                        matmul(
                            p.co,
                            n,
                            p.ci,
                            u,
                            rows(xi * p.co * p.ci, p.ci),
                            &v,
                            vat.matrix(xi),
                            &mut m,
                            mat.matrix(xi),
                            false,
                            threads,
                        );
                    }
                }
            }
            let yc = &mut ys[ch.first * out_sample..][..ch.samples * out_sample];
            transform_output(p, &m, mat, yc, bias, ch);
        }
    });
    y
}

/// U's 16 (rows x depth) matrices packed once per call into the A panels
/// of `sgemm`'s micro-kernel (f32 with AVX2 or AVX-512), so that each
/// chunk's 16 products M[xi] = U[xi] @ V[xi] run the kernel directly: V's
/// rows are its B rows, read in place (`kernel::Panel` with V's row length),
/// and M is its C. Through `sgemm` every chunk packed U[xi] (a transpose)
/// and copied V[xi] into panels again (packing was 13% of a 16x16 layer's
/// fwd+bwd; this removed about 6 points, the rest is the weight gradient's).
struct PackedU {
    micro: Micro,
    rows: usize,
    depth: usize,
    /// Depth of every slice but possibly the last.
    kc: usize,
    slices: usize,
    panels: usize,
    data: Scratch<f32>,
}

impl PackedU {
    /// None for other element types or without a micro-kernel (no AVX2).
    fn new<T: Float>(rows: usize, depth: usize, u: &[T]) -> Option<PackedU> {
        let u = T::as_f32(u)?;
        let micro = super::sgemm::micro_for_rows(rows)?;
        let mr = micro.mr;
        let kc = depth.div_ceil(depth.div_ceil(micro.kc).max(1)).max(1);
        let (slices, panels) = (depth.div_ceil(kc), rows.div_ceil(mr));
        // From the buffer cache (a fresh 512 KiB vector at 128 x 64 channels
        // page-faulted on every call), zeroed only where panels have padding
        // rows or the last slice is shorter; the points are packed in
        // parallel (the rest of the convolution is).
        let per_point = slices * panels * mr * kc;
        let mut data = Scratch::<f32>::uninit(POINTS * per_point);
        let pack = |xi: usize, dst: &mut [f32]| {
            if !rows.is_multiple_of(mr) || !depth.is_multiple_of(kc) {
                dst.fill(0.0);
            }
            let ux = &u[xi * rows * depth..][..rows * depth];
            for s in 0..slices {
                let k0 = s * kc;
                for panel in 0..panels {
                    let dst = &mut dst[(s * panels + panel) * mr * kc..][..mr * kc];
                    for i in 0..mr.min(rows - panel * mr) {
                        let src = &ux[(panel * mr + i) * depth + k0..][..kc.min(depth - k0)];
                        for (k, &w) in src.iter().enumerate() {
                            dst[k * mr + i] = w;
                        }
                    }
                }
            }
        };
        if POINTS * rows * depth >= parallel::GRAIN && parallel::num_threads() > 1 {
            parallel::for_each_chunk_mut(&mut data, per_point, pack);
        } else {
            data.chunks_mut(per_point.max(1))
                .enumerate()
                .for_each(|(xi, d)| pack(xi, d));
        }
        Some(PackedU {
            micro,
            rows,
            depth,
            kc,
            slices,
            panels,
            data,
        })
    }

    /// M[xi] (rows x n) = U[xi] @ V[xi] (depth x n) for the 16 points, V and M
    /// placed by their `Points` (n = their row length), on `threads` threads
    /// (the points split among them).
    fn multiply(&self, (v, vat): (&[f32], Points), (m, mat): (&mut [f32], Points), threads: usize) {
        let n = vat.row;
        assert!(
            mat.row == n
                && v.len() >= POINTS * vat.point
                && vat.point >= self.depth * n + self.micro.nr - 1
                && m.len() >= POINTS * mat.point
                && mat.point >= self.rows * n,
            "winograd: V or M too short for the in-place GEMM"
        );
        let mp = parallel::SendPtr(m.as_mut_ptr());
        let point = |xi: usize| {
            // SAFETY: the assert above: every B row the kernel reads (NR
            // values from each tile's first column, up to nr - 1 past the
            // point's last row, inside the skew) is inside V, every tile of
            // M inside M; the points' M matrices are disjoint; the micro
            // kernel is the active ISA's.
            unsafe {
                self.point(
                    xi,
                    v.as_ptr().add(xi * vat.point),
                    { mp }.0.add(xi * mat.point),
                    n,
                )
            }
        };
        if threads > 1 {
            parallel::for_each_task(POINTS, point);
        } else {
            (0..POINTS).for_each(point);
        }
    }

    /// M[xi] = U[xi] @ V[xi], V's and M's rows `n` apart.
    ///
    /// # Safety
    /// As in `multiply`.
    unsafe fn point(&self, xi: usize, v: *const f32, m: *mut f32, n: usize) {
        let Micro { mr, nr, .. } = self.micro;
        for j0 in (0..n).step_by(nr) {
            for s in 0..self.slices {
                let k0 = s * self.kc;
                let b = Panel {
                    ptr: v.add(k0 * n + j0),
                    width: n,
                };
                for panel in 0..self.panels {
                    let a = self
                        .data
                        .as_ptr()
                        .add(((xi * self.slices + s) * self.panels + panel) * mr * self.kc);
                    let tile = Tile {
                        ptr: m.add(panel * mr * n + j0),
                        rs: n as isize,
                        cs: 1,
                        rows: mr.min(self.rows - panel * mr),
                        cols: nr.min(n - j0),
                        overwrite: s == 0,
                        epilogue: crate::cpu::sgemm::kernel::Epilogue::NONE,
                    };
                    (self.micro.kernel)(self.kc.min(self.depth - k0), a, b, tile);
                }
            }
        }
    }
}

/// Scratch for the largest chunk: (input side: ci channels, output side: co).
fn chunk_buffers<T: Float>(p: &Plan, chunks: &[Chunk]) -> (Scratch<T>, Scratch<T>) {
    let most = chunks
        .iter()
        .map(|c| c.samples * c.tiles(p.tw))
        .max()
        .unwrap_or(0);
    (
        Scratch::uninit(Points::new(p.ci, most).len()),
        Scratch::uninit(Points::new(p.co, most).len()),
    )
}

/// Forward: y (batch, c_out, oh, ow) = conv(x, w) + bias; w (c_out, c_in, 3, 3).
pub fn forward<T: Float>(g: &ConvGeom, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let u = transform_weights(g.c_out, g.c_in, |o, i| {
        std::array::from_fn(|k| w[(o * g.c_in + i) * 9 + k])
    });
    convolve(g, &Plan::new(g), &u, x, bias)
}

/// Input gradient: the correlation of gy with the kernel flipped in space and
/// transposed in channels, padded by 2 - p, whose output is the input plane.
pub fn backward_input<T: Float>(g: &ConvGeom, gy: &[T], w: &[T]) -> Vec<T> {
    let flipped = ConvGeom {
        c_in: g.c_out,
        c_out: g.c_in,
        input: g.output,
        output: g.input,
        pad: [0, 2 - g.pad[1], 2 - g.pad[2]],
        ..g.clone()
    };
    let u = transform_weights(g.c_in, g.c_out, |i, o| {
        std::array::from_fn(|k| w[(o * g.c_in + i) * 9 + 8 - k])
    });
    convolve(&flipped, &Plan::new(&flipped), &u, gy, None)
}

/// Weight gradient: dU[xi] = sum over tiles of Gy[xi] V[xi]^T, then
/// gw = G^T dU G. Each batch range sums into its own dU.
pub fn backward_weight<T: Float>(g: &ConvGeom, x: &[T], gy: &[T]) -> Vec<T> {
    let p = Plan::new(g);
    let (in_sample, out_sample) = (p.ci * p.ih * p.iw, p.co * p.oh * p.ow);
    // dU's 16 (co x ci) matrices, skewed like V and M: the inverse transform
    // below reads all 16 at once.
    let du_point = p.co * p.ci + SKEW;
    let partial = |range: std::ops::Range<usize>, threads: usize| {
        let mut du = Scratch::<T>::uninit(POINTS * du_point);
        du.fill(T::zero());
        let chunks = p.chunks::<T>(range.len(), 1);
        let (mut v, mut gt) = chunk_buffers(&p, &chunks);
        for ch in &chunks {
            let tiles = ch.tiles(p.tw);
            let n = ch.samples * tiles;
            let (vat, gat) = (Points::new(p.ci, n), Points::new(p.co, n));
            for s in 0..ch.samples {
                let i = range.start + ch.first + s;
                let (xn, gyn) = (
                    &x[i * in_sample..][..in_sample],
                    &gy[i * out_sample..][..out_sample],
                );
                transform_input(&p, xn, &mut v, vat.sample(s, tiles), ch.rows.clone());
                transform_grad(&p, gyn, &mut gt, gat.sample(s, tiles), ch.rows.clone());
            }
            for xi in 0..POINTS {
                // V[xi]^T: (tiles x ci).
                let vt = MatRef {
                    off: xi * vat.point,
                    rs: 1,
                    cs: vat.row as isize,
                };
                matmul(
                    p.co,
                    p.ci,
                    n,
                    &gt,
                    gat.matrix(xi),
                    &v,
                    vt,
                    &mut du,
                    rows(xi * du_point, p.ci),
                    true,
                    threads,
                );
            }
        }
        du
    };
    let du = sum_over_batch_ranges(g, partial);
    // gw[o][i] = G^T dU[o][i] G, with G^T (3x4) = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
    let h = T::c(0.5);
    let gt4 = |a: T, b: T, c: T, d: T| [a + h * (b + c), h * (b - c), h * (b + c) + d];
    let mut gw = crate::tensor::pool::uninit_vec::<T>(p.co * p.ci * 9);
    let transform = |(o, gw_o): (usize, &mut [T])| {
        for i in 0..p.ci {
            let d = |xi: usize| du[xi * du_point + o * p.ci + i];
            // Down the columns: t[a][j] for each of the 4 columns j.
            let cols: [[T; 3]; 4] =
                std::array::from_fn(|j| gt4(d(j), d(4 + j), d(8 + j), d(12 + j)));
            for a in 0..3 {
                let row = gt4(cols[0][a], cols[1][a], cols[2][a], cols[3][a]);
                gw_o[i * 9 + a * 3..][..3].copy_from_slice(&row);
            }
        }
    };
    if du.len() >= parallel::GRAIN && parallel::num_threads() > 1 {
        parallel::for_each_chunk_mut(&mut gw, p.ci * 9, |i, c| transform((i, c)));
    } else {
        gw.chunks_mut(p.ci * 9).enumerate().for_each(transform);
    }
    gw
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with signed zeros, infinities and NaN among normal ones.
    fn awkward_values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 23 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f32::INFINITY,
                    3 => f32::NEG_INFINITY,
                    4 => f32::NAN,
                    _ => ((state >> 20) % 2001) as f32 / 1000.0 - 1.0,
                }
            })
            .collect()
    }

    /// Equal bits, NaN for NaN (which NaN an add passes on depends on its
    /// operand order, which the compiler may swap).
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// The AVX-512 narrow-plane transforms write the generic transforms'
    /// bits (NaN where they write NaN), and nothing else, for every plane they accept: padding 0-2,
    /// odd and even sizes, whole planes and bands of tile rows.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn narrow_transforms_equal_the_generic_ones() {
        if crate::cpu::isa::set_active(crate::cpu::isa::Isa::Avx512).is_err() {
            return; // (no AVX-512 here: the generic transforms run)
        }
        let mut checked = 0;
        for (h, w, pad) in [
            (8, 8, 0),
            (8, 8, 1),
            (6, 6, 2),
            (7, 5, 1),
            (3, 3, 0),
            (1, 1, 1),
            (14, 14, 1),
            (13, 14, 0),
            (9, 16, 0),
            (5, 12, 2),
            (11, 15, 1),
            (16, 16, 1),
            (20, 3, 2),
        ] {
            let g = ConvGeom {
                batch: 2,
                c_in: 3,
                c_out: 5,
                groups: 1,
                input: [1, h, w],
                output: [1, h + 2 * pad - 2, w + 2 * pad - 2],
                kernel: [1, 3, 3],
                stride: [1; 3],
                pad: [0, pad, pad],
                dilation: [1; 3],
            };
            let p = Plan::new(&g);
            let bands = [0..p.th, 1.min(p.th)..p.th, 0..p.th.div_ceil(2)];
            for (b, rows) in bands.into_iter().enumerate() {
                let (samples, tiles) = (2, rows.len() * p.tw);
                let seed = (h * 100 + w * 10 + pad + b * 1000) as u64;
                if narrow::input_fits(&p) {
                    let x = awkward_values(p.ci * h * w * samples, seed);
                    let at = Points::new(p.ci, samples * tiles);
                    let (mut fast, mut slow) = (vec![7.5f32; at.len()], vec![7.5f32; at.len()]);
                    for s in 0..samples {
                        let xs = &x[s * p.ci * h * w..][..p.ci * h * w];
                        let at = at.sample(s, tiles);
                        assert!(narrow::input_transform(&p, xs, &mut fast, at, rows.clone()));
                        input_transform(&p, xs, &mut slow, at, rows.clone());
                    }
                    assert!(
                        same_bits(&fast, &slow),
                        "input {h}x{w} pad {pad} rows {rows:?}"
                    );
                    checked += 1;
                }
                if narrow::output_fits(&p) {
                    let gy = awkward_values(p.co * p.oh * p.ow * samples, seed + 1);
                    let at = Points::new(p.co, samples * tiles);
                    let (mut fast, mut slow) = (vec![7.5f32; at.len()], vec![7.5f32; at.len()]);
                    for s in 0..samples {
                        let gs = &gy[s * p.co * p.oh * p.ow..][..p.co * p.oh * p.ow];
                        let at = at.sample(s, tiles);
                        assert!(narrow::grad_transform(&p, gs, &mut fast, at, rows.clone()));
                        grad_transform(&p, gs, &mut slow, at, rows.clone());
                    }
                    assert!(
                        same_bits(&fast, &slow),
                        "grad {h}x{w} pad {pad} rows {rows:?}"
                    );
                    let m = awkward_values(at.len(), seed + 2);
                    let bias = awkward_values(p.co, seed + 3);
                    for bias in [None, Some(&bias[..])] {
                        let len = samples * p.co * p.oh * p.ow;
                        let (mut fast, mut slow) = (vec![7.5f32; len], vec![7.5f32; len]);
                        let ch = Chunk {
                            first: 0,
                            samples,
                            rows: rows.clone(),
                        };
                        assert!(narrow::output_transform(
                            &p,
                            &m,
                            at,
                            &mut fast,
                            bias,
                            (samples, rows.clone())
                        ));
                        output_transform(&p, &m, at, &mut slow, bias, &ch);
                        assert!(
                            same_bits(&fast, &slow),
                            "output {h}x{w} pad {pad} rows {rows:?}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "{checked}");
    }

    /// The AVX2 register transforms (`conv_winograd_rows`) write the generic
    /// transforms' bits (NaN where they write NaN) and nothing else: narrow
    /// and wide planes (one, two and a partial block of tiles a row),
    /// padding 0-2, odd sizes, whole planes and bands of tile rows, a wide
    /// plane cut short by a band (spills kept inside it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn register_transforms_equal_the_generic_ones() {
        if !crate::cpu::isa::features().avx2_fma {
            return;
        }
        let mut checked = 0;
        for (h, w, pad) in [
            (8, 8, 0),
            (8, 8, 1),
            (6, 6, 2),
            (7, 5, 1),
            (3, 3, 0),
            (1, 1, 1),
            (2, 9, 2),
            (14, 14, 1),
            (13, 14, 0),
            (9, 16, 0),
            (5, 12, 2),
            (11, 15, 1),
            (16, 16, 1),
            (18, 18, 0),
            (17, 33, 1),
            (32, 32, 1),
            (6, 40, 2),
            (20, 3, 2),
        ] {
            let g = ConvGeom {
                batch: 3,
                c_in: 3,
                c_out: 5,
                groups: 1,
                input: [1, h, w],
                output: [1, h + 2 * pad - 2, w + 2 * pad - 2],
                kernel: [1, 3, 3],
                stride: [1; 3],
                pad: [0, pad, pad],
                dilation: [1; 3],
            };
            let p = Plan::new(&g);
            let bands = [
                0..p.th,
                1.min(p.th)..p.th,
                0..p.th.div_ceil(2),
                0..1.min(p.th),
            ];
            for (b, rows) in bands.into_iter().enumerate() {
                let (samples, tiles) = (3, rows.len() * p.tw);
                let seed = (h * 100 + w * 10 + pad + b * 1000) as u64;
                let x = awkward_values(p.ci * h * w * samples, seed);
                let at = Points::new(p.ci, samples * tiles);
                let (mut fast, mut slow) = (vec![7.5f32; at.len()], vec![7.5f32; at.len()]);
                for s in 0..samples {
                    let xs = &x[s * p.ci * h * w..][..p.ci * h * w];
                    let at = at.sample(s, tiles);
                    // SAFETY: the CPU has AVX2 and FMA.
                    unsafe { in_rows::input_avx2(&p, xs, &mut fast, at, rows.clone()) };
                    input_transform(&p, xs, &mut slow, at, rows.clone());
                }
                assert!(
                    same_bits(&fast, &slow),
                    "input {h}x{w} pad {pad} rows {rows:?}"
                );
                let gy = awkward_values(p.co * p.oh * p.ow * samples, seed + 1);
                let at = Points::new(p.co, samples * tiles);
                let (mut fast, mut slow) = (vec![7.5f32; at.len()], vec![7.5f32; at.len()]);
                for s in 0..samples {
                    let gs = &gy[s * p.co * p.oh * p.ow..][..p.co * p.oh * p.ow];
                    let at = at.sample(s, tiles);
                    // SAFETY: as above.
                    unsafe { in_rows::grad_avx2(&p, gs, &mut fast, at, rows.clone()) };
                    grad_transform(&p, gs, &mut slow, at, rows.clone());
                }
                assert!(
                    same_bits(&fast, &slow),
                    "grad {h}x{w} pad {pad} rows {rows:?}"
                );
                let m = awkward_values(at.len(), seed + 2);
                let bias = awkward_values(p.co, seed + 3);
                for bias in [None, Some(&bias[..])] {
                    let len = samples * p.co * p.oh * p.ow;
                    let (mut fast, mut slow) = (vec![7.5f32; len], vec![7.5f32; len]);
                    let ch = Chunk {
                        first: 0,
                        samples,
                        rows: rows.clone(),
                    };
                    // SAFETY: as above.
                    unsafe {
                        in_rows::output_avx2(&p, &m, at, &mut fast, bias, (samples, rows.clone()))
                    };
                    output_transform(&p, &m, at, &mut slow, bias, &ch);
                    assert!(
                        same_bits(&fast, &slow),
                        "output {h}x{w} pad {pad} rows {rows:?}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 70, "{checked}");
    }

    #[test]
    fn large_planes_are_cut_into_bands_of_tile_rows() {
        let g = ConvGeom {
            batch: 2,
            c_in: 16,
            c_out: 16,
            groups: 1,
            input: [1, 39, 41],
            output: [1, 39, 41],
            kernel: [1, 3, 3],
            stride: [1; 3],
            pad: [0, 1, 1],
            dilation: [1; 3],
        };
        let p = Plan::new(&g);
        let chunks = p.chunks::<f64>(2, 1);
        assert!(chunks.len() > 2);
        for s in 0..2 {
            let rows: Vec<_> = chunks
                .iter()
                .filter(|c| c.first == s)
                .map(|c| c.rows.clone())
                .collect();
            assert_eq!(rows.first().map(|r| r.start), Some(0));
            assert_eq!(rows.last().map(|r| r.end), Some(p.th));
            assert!(rows.windows(2).all(|w| w[0].end == w[1].start));
        }
        // Small planes: whole samples, several per chunk.
        let small = Plan::new(&ConvGeom {
            input: [1, 8, 8],
            output: [1, 8, 8],
            ..g
        });
        let chunks = small.chunks::<f32>(20, 32);
        assert!(chunks.iter().all(|c| c.rows == (0..small.th)));
        assert_eq!(chunks.iter().map(|c| c.samples).sum::<usize>(), 20);
    }
}
