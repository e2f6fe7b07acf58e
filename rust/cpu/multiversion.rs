//! Run-time selection of AVX2+FMA (and, where measured to help, AVX-512)
//! code paths (`cpu::isa` decides).

/// Defines `$name` calling the generic `#[inline(always)]` `$imp`, compiled a
/// second time with AVX2+FMA and picked at run time when the CPU has them
/// (the crate itself targets baseline x86-64). Ending with `+ avx512` adds
/// a third copy compiled with AVX-512, picked when `isa::use_avx512()`:
/// only for kernels where it measured faster (on Zen 4 a 512-bit operation
/// takes two 256-bit pipe slots, so memory-bound loops gain nothing).
/// `+ avx512 lanes`: `$imp` takes its block width as a second generic
/// parameter (`<T, const L: usize>`, blocks of `[T; L]`, see `cpu::lanes`):
/// `LANES` (8, one AVX2 vector of f32) in the baseline and AVX2 copies,
/// `WIDE_LANES` (16, one AVX-512 vector) in the AVX-512 copy.
#[macro_export]
macro_rules! multiversion {
    (@def_body ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident [$($wide:tt)*] $call:ident) => {
        #[cfg(target_arch = "x86_64")]
        {
            $crate::multiversion! { @wide [$($wide)*] ($($a: $t),*) ($($r)?) $imp }
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
                $call($($a),*)
            }
            if $crate::cpu::isa::use_avx2() {
                // SAFETY: the CPU supports the enabled features.
                return unsafe { avx2($($a),*) };
            }
        }
        $call($($a),*)
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $r:ty)? => $imp:ident) => {
        $crate::multiversion! { @def [$(#[$m])*] $vis $name ($($a: $t),*) ($($r)?) $imp [] }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $r:ty)? => $imp:ident + avx512) => {
        $crate::multiversion! { @def [$(#[$m])*] $vis $name ($($a: $t),*) ($($r)?) $imp [avx512] }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $r:ty)? => $imp:ident + avx512 lanes) => {
        $crate::multiversion! { @def [$(#[$m])*] $vis $name ($($a: $t),*) ($($r)?) $imp [avx512 lanes] }
    };
    (@wide [] ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident) => {};
    (@wide [avx512] ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx512<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
            $imp($($a),*)
        }
        if $crate::cpu::isa::use_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { avx512($($a),*) };
        }
    };
    (@wide [avx512 lanes] ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx512<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
            $imp::<T, { $crate::cpu::lanes::WIDE_LANES }>($($a),*)
        }
        if $crate::cpu::isa::use_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { avx512($($a),*) };
        }
    };
    (@def [$(#[$m:meta])*] $vis:vis $name:ident ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident [avx512 lanes]) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn narrow<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
                $imp::<T, { $crate::cpu::lanes::LANES }>($($a),*)
            }
            $crate::multiversion! { @def_body ($($a: $t),*) ($($r)?) $imp [avx512 lanes] narrow }
        }
    };
    (@def [$(#[$m:meta])*] $vis:vis $name:ident ($($a:ident: $t:ty),*) ($($r:ty)?) $imp:ident [$($wide:ident)?]) => {
        $(#[$m])*
        // (the wrappers take the kernel's arguments, however many)
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
                $crate::multiversion! { @wide [$($wide)?] ($($a: $t),*) ($($r)?) $imp }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
                    $imp($($a),*)
                }
                if $crate::cpu::isa::use_avx2() {
                    // SAFETY: the CPU supports the enabled features.
                    return unsafe { avx2($($a),*) };
                }
            }
            $imp($($a),*)
        }
    };
}

/// Run `f` compiled for AVX2+FMA when the CPU has them: the closure is
/// inlined into a copy of this function built with those features. For
/// loops whose element function is a closure (the elementwise maps, strided
/// softmax): the vector math there (`vmath`) uses `mul_add`, which becomes a
/// fused multiply-add in such code but a libm call in baseline code.
#[inline(always)]
pub fn with_fma<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU has AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fma<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if crate::cpu::isa::use_avx2() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { fma(f) };
        }
    }
    f()
}

/// `with_fma`, plus a copy compiled for AVX-512 run when `isa::use_avx512()`
/// (for compute-bound closures, where it measured faster).
#[inline(always)]
pub fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU has AVX-512 F/BW/VL/DQ.
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if crate::cpu::isa::use_avx512() {
            // SAFETY: the CPU supports the enabled features.
            return unsafe { wide(f) };
        }
    }
    with_fma(f)
}
