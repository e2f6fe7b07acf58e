//! ReLU and its gradient on bfloat16 bits, without widening (the result is
//! one of the inputs or zero, so no arithmetic is needed): one pass instead
//! of widen, map and narrow (three passes and two fresh buffers), split over
//! the threads like the other elementwise maps.

use half::bf16;

use crate::parallel;

/// Values per task.
const CHUNK: usize = 64 * 1024;

/// All ones where bits `b` are a value below zero (sign set, not -0, not
/// NaN: past 0xff80), else 0. Comparisons and masks only, no branches, so
/// the loops vectorize (branches on random signs mispredict half the time).
#[inline(always)]
fn negative_mask(b: u16) -> u16 {
    0u16.wrapping_sub((b.wrapping_sub(0x8001) < 0x7f80) as u16)
}

/// All ones where bits `b` are a value above zero or NaN, else 0.
#[inline(always)]
fn positive_or_nan_mask(b: u16) -> u16 {
    0u16.wrapping_sub(((b.wrapping_sub(1) < 0x7fff) | (b > 0xff80)) as u16)
}

#[inline(always)]
fn relu_impl(src: &[u16], dst: &mut [u16]) {
    for (d, &b) in dst.iter_mut().zip(src) {
        // NaN stays NaN (quieted, as a float32 round trip leaves it) and -0
        // stays -0, as PyTorch's clamp_min(0).
        let nan = 0u16.wrapping_sub(((b & 0x7fff) > 0x7f80) as u16);
        *d = (b | (nan & 0x0040)) & !negative_mask(b);
    }
}

#[inline(always)]
fn threshold_backward_impl(g: &[u16], y: &[u16], dst: &mut [u16]) {
    for ((d, &gv), &yv) in dst.iter_mut().zip(g).zip(y) {
        *d = gv & positive_or_nan_mask(yv);
    }
}

fn bits(v: &[bf16]) -> &[u16] {
    // SAFETY: bf16 is a transparent wrapper of its u16 bits.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

fn bits_mut(v: &mut [bf16]) -> &mut [u16] {
    // SAFETY: as for `bits`.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// `dst = max(src, 0)` elementwise (equal lengths).
pub fn relu(src: &[bf16], dst: &mut [bf16]) {
    assert_eq!(src.len(), dst.len(), "bf16 relu: lengths differ");
    parallel::for_each_chunk_mut(dst, chunk(src.len()), |i, d| {
        let (s, d) = (bits(&src[i * CHUNK..][..d.len()]), bits_mut(d));
        #[cfg(target_arch = "x86_64")]
        if super::isa::use_avx2() {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(src: &[u16], dst: &mut [u16]) {
                relu_impl(src, dst)
            }
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(s, d) };
        }
        relu_impl(s, d)
    });
}

/// `dst = g where y > 0 else 0` (PyTorch's threshold_backward of ReLU's
/// output `y`; a NaN `y` passes the gradient), equal lengths.
pub fn threshold_backward(g: &[bf16], y: &[bf16], dst: &mut [bf16]) {
    assert!(
        g.len() == dst.len() && y.len() == dst.len(),
        "bf16 threshold_backward: lengths differ"
    );
    parallel::for_each_chunk_mut(dst, chunk(g.len()), |i, d| {
        let (gs, ys) = (
            bits(&g[i * CHUNK..][..d.len()]),
            bits(&y[i * CHUNK..][..d.len()]),
        );
        let d = bits_mut(d);
        #[cfg(target_arch = "x86_64")]
        if super::isa::use_avx2() {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(g: &[u16], y: &[u16], dst: &mut [u16]) {
                threshold_backward_impl(g, y, dst)
            }
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(gs, ys, d) };
        }
        threshold_backward_impl(gs, ys, d)
    });
}

/// One task for small inputs (below the elementwise grain), else `CHUNK`s.
fn chunk(len: usize) -> usize {
    if len < parallel::ELEMENTWISE_GRAIN {
        len.max(1)
    } else {
        CHUNK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_float_comparisons_on_every_bit_pattern() {
        let all: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        let g: Vec<bf16> = (0..=u16::MAX)
            .map(|i| bf16::from_f32(1.0 + (i % 7) as f32))
            .collect();
        let (mut r, mut t) = (vec![bf16::ZERO; all.len()], vec![bf16::ZERO; all.len()]);
        relu(&all, &mut r);
        threshold_backward(&g, &all, &mut t);
        for (i, x) in all.iter().enumerate() {
            let v = x.to_f32();
            let want = if v < 0.0 { 0.0 } else { v };
            assert_eq!(
                r[i].to_bits(),
                bf16::from_f32(want).to_bits(),
                "relu of {:#06x}",
                i
            );
            // (`!(v <= 0)` is true for NaN: the gradient passes)
            let want = if v <= 0.0 { 0.0 } else { g[i].to_f32() };
            assert_eq!(
                t[i].to_f32().to_bits(),
                want.to_bits(),
                "grad at {:#06x}",
                i
            );
        }
    }
}
