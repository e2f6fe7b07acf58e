//! bfloat16 <-> float32 in bulk, as plain integer loops that vectorize
//! (the `half` crate's slice conversions run element by element for bf16:
//! a 2M-element widen or narrow cost ~4 ms, most of the bf16 batch norm and
//! ReLU steps of an autocast training step). Bit for bit as `half`'s
//! `bf16::from_f32` / `to_f32`: round to nearest even, NaN kept quiet with
//! its sign and high payload.

use half::bf16;

/// `f32` bits rounded to the nearest even `bf16` bits.
#[inline(always)]
fn round_bits(x: u32) -> u16 {
    let nan = x & 0x7fff_ffff > 0x7f80_0000;
    let rounded = x.wrapping_add(0x7fff + ((x >> 16) & 1)) >> 16;
    if nan {
        ((x >> 16) | 0x0040) as u16
    } else {
        rounded as u16
    }
}

#[inline(always)]
fn narrow_impl(src: &[f32], dst: &mut [bf16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = bf16::from_bits(round_bits(s.to_bits()));
    }
}

#[inline(always)]
fn widen_impl(src: &[bf16], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = f32::from_bits((s.to_bits() as u32) << 16);
    }
}

/// `dst[i] = bf16(src[i])` (equal lengths).
pub fn narrow(src: &[f32], dst: &mut [bf16]) {
    debug_assert_eq!(src.len(), dst.len());
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[f32], dst: &mut [bf16]) {
            narrow_impl(src, dst)
        }
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2(src, dst) };
    }
    narrow_impl(src, dst)
}

/// `dst[i] = f32(src[i])` (equal lengths).
pub fn widen(src: &[bf16], dst: &mut [f32]) {
    debug_assert_eq!(src.len(), dst.len());
    #[cfg(target_arch = "x86_64")]
    if super::isa::use_avx2() {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(src: &[bf16], dst: &mut [f32]) {
            widen_impl(src, dst)
        }
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2(src, dst) };
    }
    widen_impl(src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_half_bit_for_bit() {
        let mut bits: Vec<u32> = (0..1u64 << 32).step_by(65_521).map(|b| b as u32).collect();
        bits.extend([
            0,
            0x8000_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7f7f_ffff,
            0x7f7f_8000,
            0x0000_8000,
            0x0001_8000,
            0x3f80_8000,
            0x3f81_8000,
            0x7fc0_0001,
            0xffff_ffff,
            0x7f80_0001,
        ]);
        let src: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let mut got = vec![bf16::ZERO; src.len()];
        narrow(&src, &mut got);
        for (s, g) in src.iter().zip(&got) {
            assert_eq!(
                g.to_bits(),
                bf16::from_f32(*s).to_bits(),
                "{:#x}",
                s.to_bits()
            );
        }
        let mut back = vec![0f32; got.len()];
        widen(&got, &mut back);
        for (b, g) in back.iter().zip(&got) {
            assert_eq!(b.to_bits(), g.to_f32().to_bits());
        }
    }
}
