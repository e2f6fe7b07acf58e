//! Measuring the machine: peak f32 FMA throughput and memory bandwidth, so
//! benchmarks report "% of peak" from numbers taken on the machine itself.

use rayon::prelude::*;
use std::time::Instant;

/// FLOPs per second of independent FMA chains on one thread (f32).
fn fma_rate_one_thread(iters: u64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected at run time.
            return unsafe { fma_avx512(iters) };
        }
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx")
        {
            // SAFETY: as above.
            return unsafe { fma_avx2(iters) };
        }
    }
    fma_scalar(iters)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: u64) -> f64 {
    use std::arch::x86_64::*;
    // 12 independent accumulators hide the FMA latency.
    let mut acc = [_mm512_set1_ps(0.0); 12];
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let t = Instant::now();
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    let dt = t.elapsed().as_secs_f64();
    let mut s = 0.0f32;
    for r in acc {
        s += _mm512_reduce_add_ps(r);
    }
    std::hint::black_box(s);
    (iters as f64 * 12.0 * 16.0 * 2.0) / dt
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
unsafe fn fma_avx2(iters: u64) -> f64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let t = Instant::now();
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_ps(*r, a, b);
        }
    }
    let dt = t.elapsed().as_secs_f64();
    let mut tmp = [0.0f32; 8];
    let mut s = 0.0;
    for r in acc {
        _mm256_storeu_ps(tmp.as_mut_ptr(), r);
        s += tmp.iter().sum::<f32>();
    }
    std::hint::black_box(s);
    (iters as f64 * 12.0 * 8.0 * 2.0) / dt
}

fn fma_scalar(iters: u64) -> f64 {
    let mut acc = [0.0f32; 8];
    let t = Instant::now();
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = r.mul_add(0.999_999, 1e-7);
        }
    }
    let dt = t.elapsed().as_secs_f64();
    std::hint::black_box(acc);
    (iters as f64 * 8.0 * 2.0) / dt
}

/// Peak f32 GFLOP/s with `threads` threads (each running FMA chains).
pub fn peak_gflops(threads: usize) -> f64 {
    let iters = 20_000_000u64;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build();
    match pool {
        Ok(p) => p.install(|| {
            (0..threads.max(1))
                .into_par_iter()
                .map(|_| fma_rate_one_thread(iters))
                .sum::<f64>()
                / 1e9
        }),
        Err(_) => fma_rate_one_thread(iters) / 1e9,
    }
}

/// STREAM-like triad a = b + s*c over `n` f32 elements: GB/s with `threads` threads
/// (best of a few repetitions; 12 bytes moved per element).
pub fn triad_gbs(n: usize, threads: usize) -> f64 {
    let mut a = vec![0.0f32; n];
    let b = vec![1.0f32; n];
    let c = vec![2.0f32; n];
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(p) => p,
        Err(_) => return 0.0,
    };
    let chunk = n.div_ceil(threads.max(1));
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        pool.install(|| {
            a.par_chunks_mut(chunk)
                .zip(b.par_chunks(chunk))
                .zip(c.par_chunks(chunk))
                .for_each(|((a, b), c)| {
                    for i in 0..a.len() {
                        a[i] = b[i] + 3.0 * c[i];
                    }
                })
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&a);
    (n as f64 * 12.0) / best / 1e9
}
