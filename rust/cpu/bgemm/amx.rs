//! The AMX-BF16 micro-kernel: C[32x32] (+)= A-panel @ B-panel on four
//! 16x16 float32 tile accumulators (tmm0-3), two A tiles (tmm4-5, 16 rows x
//! 32 bf16) and two B tiles (tmm6-7, 16 pairs x 16 columns) per step of 32
//! depths. Written with `asm!` because the AMX intrinsics are unstable.
//!
//! UNTESTED on hardware: the machine this was written on has no AMX. It is
//! only reached when `isa::use_amx()` (CPUID AMX-TILE + AMX-BF16 and the
//! Linux permission granted), and `RUSTDL_CPU_ISA=avx512` turns it off.

use super::Tile;

/// Rows (and columns) of C per AMX micro-tile.
pub const TILE: usize = 32;

/// The 64-byte tile configuration: palette 1, tiles 0-7 all 16 rows of 64
/// bytes (16 floats; 32 bf16; 16 pairs).
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

fn config() -> TileConfig {
    let mut c = [0u8; 64];
    c[0] = 1; // palette
    for t in 0..8 {
        // colsb (u16, little-endian) at 16 + 2t; rows (u8) at 48 + t
        c[16 + 2 * t] = 64;
        c[48 + t] = 16;
    }
    TileConfig(c)
}

/// Loads the tile configuration on this thread; pair with `release`.
///
/// # Safety
/// The CPU has AMX-TILE and Linux granted the tile state (`isa::use_amx`).
#[cfg(target_arch = "x86_64")]
pub unsafe fn configure() {
    let cfg = config();
    std::arch::asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly));
}

/// Releases the tile state (the thread's XSAVE area shrinks back).
///
/// # Safety
/// As for `configure`.
#[cfg(target_arch = "x86_64")]
pub unsafe fn release() {
    std::arch::asm!("tilerelease", options(nostack, nomem));
}

/// `steps` steps of 32 depths: `a` is an A panel from `pack_amx_a`
/// (2048 bytes a step: rows 0-15 then 16-31, 64 bytes each), `b` a B panel
/// from `pack_panel` with width 32 (2048 bytes a step: 16 pair-rows of 128
/// bytes, columns 16-31 at +64). The 32x32 result goes to C through a
/// float32 scratch tile.
///
/// # Safety
/// `configure()` ran on this thread; `steps >= 1`; the panels hold
/// `steps` steps; every element of `tile` is inside C's allocation.
#[cfg(target_arch = "x86_64")]
pub unsafe fn kernel_32x32(steps: usize, a: *const u32, b: *const u32, tile: Tile) {
    debug_assert!(steps >= 1);
    let mut scratch = [0f32; TILE * TILE];
    std::arch::asm!(
        "tilezero tmm0",
        "tilezero tmm1",
        "tilezero tmm2",
        "tilezero tmm3",
        "2:",
        "tileloadd tmm4, [{a} + {s64}*1]",
        "lea {t}, [{a} + 1024]",
        "tileloadd tmm5, [{t} + {s64}*1]",
        "tileloadd tmm6, [{b} + {s128}*1]",
        "lea {t}, [{b} + 64]",
        "tileloadd tmm7, [{t} + {s128}*1]",
        "tdpbf16ps tmm0, tmm4, tmm6",
        "tdpbf16ps tmm1, tmm4, tmm7",
        "tdpbf16ps tmm2, tmm5, tmm6",
        "tdpbf16ps tmm3, tmm5, tmm7",
        "add {a}, 2048",
        "add {b}, 2048",
        "dec {n}",
        "jnz 2b",
        "tilestored [{c} + {s128}*1], tmm0",
        "lea {t}, [{c} + 64]",
        "tilestored [{t} + {s128}*1], tmm1",
        "lea {t}, [{c} + 2048]",
        "tilestored [{t} + {s128}*1], tmm2",
        "lea {t}, [{c} + 2112]",
        "tilestored [{t} + {s128}*1], tmm3",
        a = inout(reg) a => _,
        b = inout(reg) b => _,
        n = inout(reg) steps => _,
        t = out(reg) _,
        c = in(reg) scratch.as_mut_ptr(),
        s64 = in(reg) 64usize,
        s128 = in(reg) 128usize,
        options(nostack),
    );
    super::write_tile(&scratch, TILE, tile);
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_layout() {
        let c = super::config().0;
        assert_eq!(c[0], 1);
        assert_eq!(&c[16..18], &[64, 0]);
        assert_eq!(c[48], 16);
        assert_eq!(c[56], 0); // tile 8 unused
    }
}
