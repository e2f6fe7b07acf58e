//! Run-time selection of AVX2+FMA code paths (`cpu::isa` decides).

/// Defines `$name` calling the generic `#[inline(always)]` `$imp`, compiled a
/// second time with AVX2+FMA and picked at run time when the CPU has them
/// (the crate itself targets baseline x86-64).
#[macro_export]
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($a:ident: $t:ty),*) $(-> $r:ty)? => $imp:ident) => {
        $(#[$m])*
        // (the wrappers take the kernel's arguments, however many)
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: $crate::tensor::dtype::Float>($($a: $t),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
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
