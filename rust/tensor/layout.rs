//! Layout: shape, strides (in elements) and offset of a view into storage.

use crate::error::{Error, Result};
use smallvec::SmallVec;

pub type Shape = SmallVec<[usize; 6]>;
pub type Strides = SmallVec<[isize; 6]>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Shape,
    pub strides: Strides,
    pub offset: usize,
}

pub fn contiguous_strides(shape: &[usize]) -> Strides {
    let mut strides: Strides = SmallVec::from_elem(0, shape.len());
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1) as isize;
    }
    strides
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
    /// Row-major contiguous (size-1 dims may have any stride).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true; // no elements: any strides are contiguous (as in PyTorch)
        }
        let mut expected = 1isize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 {
                if self.strides[i] != expected {
                    return false;
                }
                expected *= self.shape[i] as isize;
            }
        }
        true
    }
}

/// Wrap a possibly negative dim into `0..ndim` (PyTorch's IndexError otherwise).
pub fn wrap_dim(dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::Index(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        )));
    }
    Ok(d as usize)
}

/// `wrap_dim` for ops that need a real dim: a 0-d tensor has none
/// (PyTorch's "Dimension specified as 0 but tensor has no dimensions").
pub fn wrap_dim_strict(dim: i64, ndim: usize) -> Result<usize> {
    if ndim == 0 {
        return Err(Error::Index(format!(
            "Dimension specified as {dim} but tensor has no dimensions"
        )));
    }
    wrap_dim(dim, ndim)
}

/// Broadcast two shapes (NumPy rules).
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return Err(Error::Runtime(format!(
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                da, db, i
            )));
        };
    }
    Ok(out)
}

/// Strides of `layout` seen with shape `target` (broadcast dims get stride 0).
pub fn broadcast_strides(layout: &Layout, target: &[usize]) -> Result<Strides> {
    let n = target.len();
    let k = layout.shape.len();
    if k > n {
        return Err(Error::Runtime(format!(
            "cannot broadcast shape {:?} to {:?}",
            layout.shape.as_slice(),
            target
        )));
    }
    let mut out: Strides = SmallVec::from_elem(0, n);
    for i in 0..k {
        let ti = n - k + i;
        if layout.shape[i] == target[ti] {
            out[ti] = if target[ti] == 1 {
                0
            } else {
                layout.strides[i]
            };
        } else if layout.shape[i] == 1 {
            out[ti] = 0;
        } else {
            return Err(Error::Runtime(format!(
                "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {:?}.  Tensor sizes: {:?}",
                target[ti], layout.shape[i], ti, target, layout.shape.as_slice()
            )));
        }
    }
    Ok(out)
}

/// Strides for viewing a tensor of (shape, strides) as `new_shape` without a
/// copy, or None when the memory layout does not allow it (PyTorch's
/// `computeStride`).
pub fn view_strides(shape: &[usize], strides: &[isize], new_shape: &[usize]) -> Option<Strides> {
    let numel: usize = shape.iter().product();
    if numel == 0 || shape.is_empty() {
        return Some(contiguous_strides(new_shape));
    }
    let mut new_strides: Strides = SmallVec::from_elem(0, new_shape.len());
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *strides.last()?;
    let mut tensor_numel = 1usize;
    let mut view_numel = 1usize;
    let mut tensor_d = shape.len() as isize - 1;
    while tensor_d >= 0 {
        let td = tensor_d as usize;
        tensor_numel *= shape[td];
        if td == 0
            || (shape[td - 1] != 1
                && strides[td - 1] != (tensor_numel as isize) * chunk_base_stride)
        {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = (view_numel as isize) * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if td > 0 {
                chunk_base_stride = strides[td - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
        tensor_d -= 1;
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

/// Iterate a strided N-d index space in runs along the innermost dimension.
///
/// For linear output positions `start..end`, calls `f(offsets, run_len)` where
/// `offsets[k]` is the element offset of operand k at the start of the run;
/// within a run operand k advances by `inner_strides[k]`.
pub struct StridedRuns<'a> {
    pub shape: &'a [usize],
    pub strides: &'a [&'a [isize]],
    pub offsets: &'a [isize],
}

impl StridedRuns<'_> {
    // Always inlined: maps call it inside code compiled for AVX2+FMA
    // (`with_fma`), which their element closures must stay in.
    #[inline(always)]
    pub fn for_each_run(&self, start: usize, end: usize, mut f: impl FnMut(&[isize], usize)) {
        let nd = self.shape.len();
        let nops = self.strides.len();
        if nd == 0 {
            if start < end {
                f(self.offsets, 1);
            }
            return;
        }
        let inner = self.shape[nd - 1];
        if self.shape.contains(&0) {
            return;
        }
        // multi-index of `start`
        let mut idx: SmallVec<[usize; 8]> = SmallVec::from_elem(0, nd);
        let mut rem = start;
        for d in (0..nd).rev() {
            idx[d] = rem % self.shape[d];
            rem /= self.shape[d];
        }
        let mut offs: SmallVec<[isize; 4]> = SmallVec::from_slice(self.offsets);
        for k in 0..nops {
            for d in 0..nd {
                offs[k] += idx[d] as isize * self.strides[k][d];
            }
        }
        let mut pos = start;
        while pos < end {
            let run = (inner - idx[nd - 1]).min(end - pos);
            f(&offs, run);
            pos += run;
            if pos >= end {
                break;
            }
            // advance by `run` along the innermost dim, carrying outward
            for k in 0..nops {
                offs[k] += run as isize * self.strides[k][nd - 1];
            }
            idx[nd - 1] += run;
            let mut d = nd - 1;
            while idx[d] == self.shape[d] && d > 0 {
                for k in 0..nops {
                    offs[k] -= self.shape[d] as isize * self.strides[k][d];
                    offs[k] += self.strides[k][d - 1];
                }
                idx[d] = 0;
                idx[d - 1] += 1;
                d -= 1;
            }
        }
    }
}

/// Merge adjacent dims that are contiguous with each other in every operand,
/// so the innermost run is as long as possible.
pub fn coalesce(shape: &[usize], strides: &[Strides]) -> (Shape, Vec<Strides>) {
    let mut out_shape: Shape = SmallVec::new();
    let mut out_strides: Vec<Strides> = vec![SmallVec::new(); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if !out_shape.is_empty() {
            let can_merge = strides
                .iter()
                .zip(out_strides.iter())
                .all(|(s, os)| *os.last().unwrap_or(&0) == s[d] * shape[d] as isize);
            if can_merge {
                let n = out_shape.len() - 1;
                out_shape[n] *= shape[d];
                for (k, s) in strides.iter().enumerate() {
                    out_strides[k][n] = s[d];
                }
                continue;
            }
        }
        out_shape.push(shape[d]);
        for (k, s) in strides.iter().enumerate() {
            out_strides[k].push(s[d]);
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for os in out_strides.iter_mut() {
            os.push(0);
        }
    }
    (out_shape, out_strides)
}
