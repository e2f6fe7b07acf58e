//! Splitting per-plane (or per-row) work over the thread pool.
//!
//! Pooling and normalization kernels write whole planes (rows) of their
//! outputs independently; these helpers hand each call a plane's chunk and
//! keep small jobs on the calling thread (see `parallel::GRAIN`).

use crate::parallel;

/// Run `f(plane, chunk_a, chunk_b)` over planes, splitting two outputs with
/// `na` and `nb` elements per plane; parallel when `work` (elements touched) is large.
pub fn for_planes2<A: Send, B: Send>(
    a: &mut [A],
    na: usize,
    b: &mut [B],
    nb: usize,
    work: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let planes = a.len().checked_div(na).unwrap_or(0);
    if planes == 0 {
        return;
    }
    let threads = parallel::num_threads();
    let per = if work < parallel::GRAIN || threads == 1 {
        planes
    } else {
        planes.div_ceil(threads * 4).max(1)
    };
    let run = |(i, (ca, cb)): (usize, (&mut [A], &mut [B]))| {
        for (p, (pa, pb)) in ca.chunks_mut(na).zip(cb.chunks_mut(nb.max(1))).enumerate() {
            f(i * per + p, pa, pb);
        }
    };
    if per >= planes {
        run((0, (a, b)));
    } else {
        let (pa, pb) = (
            parallel::SendPtr(a.as_mut_ptr()),
            parallel::SendPtr(b.as_mut_ptr()),
        );
        let (la, lb) = (a.len(), b.len());
        parallel::for_each_task(planes.div_ceil(per), |i| {
            let (sa, sb) = (i * per * na, (i * per * nb).min(lb));
            // SAFETY: task i takes planes i*per.. of both buffers, disjoint
            // from every other task's and inside them.
            let (ca, cb) = unsafe {
                (
                    std::slice::from_raw_parts_mut({ pa }.0.add(sa), (per * na).min(la - sa)),
                    std::slice::from_raw_parts_mut({ pb }.0.add(sb), (per * nb).min(lb - sb)),
                )
            };
            run((i, (ca, cb)))
        });
    }
}

/// Like `for_planes2` with one output.
pub fn for_planes<A: Send>(
    a: &mut [A],
    na: usize,
    work: usize,
    f: impl Fn(usize, &mut [A]) + Sync + Send,
) {
    let planes = a.len().checked_div(na).unwrap_or(0);
    let mut dummy = vec![(); planes];
    for_planes2(a, na, &mut dummy, 1, work, |p, ca, _| f(p, ca));
}
