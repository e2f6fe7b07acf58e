//! Which instruction set the kernels run, chosen once at run time.
//!
//! The crate is compiled for baseline x86-64; every hot kernel also has
//! copies compiled for wider instruction sets, and asks `active()` which to
//! run. `active()` is the best level the CPU has, lowered by the
//! `RUSTDL_CPU_ISA=portable|avx2|avx512|amx` environment variable (read at
//! the first call) or by `set_active` (tests run every level the CPU has in
//! one process). A level the CPU lacks can never be chosen.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Instruction-set levels, each including the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Baseline x86-64 (SSE2) or a non-x86 CPU: plain Rust loops.
    Portable = 0,
    /// AVX2 + FMA (Haswell, Zen 1 and later).
    Avx2 = 1,
    /// AVX-512 F/BW/VL/DQ on top of AVX2 (Skylake-SP, Zen 4 and later).
    Avx512 = 2,
    /// AMX tiles with bfloat16 (Sapphire Rapids and later), on top of AVX-512.
    Amx = 3,
}

impl Isa {
    pub const ALL: [Isa; 4] = [Isa::Portable, Isa::Avx2, Isa::Avx512, Isa::Amx];

    /// The name `RUSTDL_CPU_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Amx => "amx",
        }
    }

    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(s.trim()))
    }

    /// What `torch.backends.cpu.get_cpu_capability()` says for this level
    /// (PyTorch has no separate AMX capability: its AMX kernels run under
    /// "AVX512").
    pub fn capability_name(self) -> &'static str {
        match self {
            Isa::Portable => "DEFAULT",
            Isa::Avx2 => "AVX2",
            Isa::Avx512 | Isa::Amx => "AVX512",
        }
    }

    fn from_u8(v: u8) -> Isa {
        Isa::ALL[(v as usize).min(3)]
    }
}

/// CPU features beyond the levels, detected once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub avx2_fma: bool,
    pub avx512: bool,
    /// `vdpbf16ps` and the bf16 conversions (AVX512_BF16).
    pub avx512_bf16: bool,
    /// AMX-TILE + AMX-BF16, with the kernel's permission to use tile state.
    pub amx_bf16: bool,
}

/// What this CPU (and kernel) supports.
pub fn features() -> Features {
    static F: OnceLock<Features> = OnceLock::new();
    *F.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Features {
    use std::arch::is_x86_feature_detected as has;
    let avx2_fma = has!("avx2") && has!("fma");
    let avx512 =
        avx2_fma && has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq");
    let avx512_bf16 = avx512 && has!("avx512bf16");
    let amx_bf16 = avx512 && cpuid_amx_bf16() && request_amx_permission();
    Features {
        avx2_fma,
        avx512,
        avx512_bf16,
        amx_bf16,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Features {
    Features::default()
}

/// CPUID.(EAX=7,ECX=0):EDX bit 24 = AMX-TILE, bit 22 = AMX-BF16; and the OS
/// must save tile state (XCR0 bits 17 and 18; checked by the permission
/// request below, which fails where the kernel does not support it).
#[cfg(target_arch = "x86_64")]
fn cpuid_amx_bf16() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86-64 CPU.
    let max_leaf = __cpuid(0).eax;
    if max_leaf < 7 {
        return false;
    }
    // SAFETY: leaf 7 is supported (checked above).
    let edx = __cpuid_count(7, 0).edx;
    edx & (1 << 24) != 0 && edx & (1 << 22) != 0
}

/// Linux hands a process AMX tile state only after
/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; without it the
/// first tile instruction kills the process with SIGILL.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_amx_permission() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes this process's
    // permission bitmap; failure is reported through the return value.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(all(target_arch = "x86_64", not(target_os = "linux")))]
fn request_amx_permission() -> bool {
    false
}

/// The best level this CPU supports.
pub fn detected() -> Isa {
    let f = features();
    if f.amx_bf16 {
        Isa::Amx
    } else if f.avx512 {
        Isa::Avx512
    } else if f.avx2_fma {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

const UNSET: u8 = u8::MAX;
static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

/// The level the kernels run: `detected()`, lowered by `RUSTDL_CPU_ISA`
/// or `set_active`.
#[inline]
pub fn active() -> Isa {
    #[cfg(test)]
    if let Some(level) = TEST_THREAD_LEVEL.with(|l| l.get()) {
        return level;
    }
    let v = ACTIVE.load(Ordering::Relaxed);
    if v != UNSET {
        return Isa::from_u8(v);
    }
    init_active()
}

#[cold]
fn init_active() -> Isa {
    let best = detected();
    let chosen = match std::env::var("RUSTDL_CPU_ISA") {
        Ok(s) if !s.trim().is_empty() => match Isa::parse(&s) {
            Some(asked) => asked.min(best),
            None => {
                eprintln!(
                    "rustdl: RUSTDL_CPU_ISA={s:?} is not one of portable, avx2, avx512, amx; using {}",
                    best.name()
                );
                best
            }
        },
        _ => best,
    };
    ACTIVE.store(chosen as u8, Ordering::Relaxed);
    chosen
}

// Unit tests run in parallel threads of one process: a test that walks the
// levels must not change the level the others' kernels see, so there the
// choice belongs to the calling thread (kernels pick their path on it).
#[cfg(test)]
thread_local! {
    static TEST_THREAD_LEVEL: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) };
}

/// Run the kernels at `isa` from now on (for tests and benchmarks); refused
/// when the CPU lacks it. In the crate's unit tests it applies to the
/// calling thread only.
pub fn set_active(isa: Isa) -> Result<(), String> {
    if isa > detected() {
        return Err(format!(
            "this CPU does not support the '{}' kernels (best: '{}')",
            isa.name(),
            detected().name()
        ));
    }
    #[cfg(test)]
    TEST_THREAD_LEVEL.with(|l| l.set(Some(isa)));
    #[cfg(not(test))]
    ACTIVE.store(isa as u8, Ordering::Relaxed);
    Ok(())
}

/// The levels this CPU can run, lowest first.
pub fn supported() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|&i| i <= detected()).collect()
}

/// AVX2+FMA kernels may run.
#[inline]
pub fn use_avx2() -> bool {
    active() >= Isa::Avx2
}

/// AVX-512 kernels may run.
#[inline]
pub fn use_avx512() -> bool {
    active() >= Isa::Avx512
}

/// AVX512_BF16 (`vdpbf16ps`) kernels may run.
#[inline]
pub fn use_avx512_bf16() -> bool {
    use_avx512() && features().avx512_bf16
}

/// AMX-BF16 tile kernels may run.
#[inline]
pub fn use_amx() -> bool {
    active() >= Isa::Amx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for i in Isa::ALL {
            assert_eq!(Isa::parse(i.name()), Some(i));
        }
        assert_eq!(Isa::parse("AVX512"), Some(Isa::Avx512));
        assert_eq!(Isa::parse("sse9"), None);
    }

    #[test]
    fn cannot_choose_above_the_cpu() {
        let best = detected();
        if best < Isa::Amx {
            assert!(set_active(Isa::Amx).is_err());
        }
        for i in supported() {
            set_active(i).unwrap();
            assert_eq!(active(), i);
        }
        set_active(best).unwrap();
    }
}
