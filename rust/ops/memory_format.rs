//! Memory formats (`torch.channels_last`, ...): the order in which a 4-D (or 5-D) tensor's
//! dimensions are laid out in memory. Values never depend on it; only strides do. A tensor is
//! converted by permuting to the physical order, copying densely and permuting back, so the
//! result is an ordinary strided view that every op already handles (and autograd records it as
//! the permutes and the copy it is made of).

use super::shape;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryFormat {
    Contiguous,
    /// N, H, W, C in memory for a 4-D N, C, H, W tensor.
    ChannelsLast,
    /// N, D, H, W, C in memory for a 5-D tensor.
    ChannelsLast3d,
    /// Keep the input's layout where the op allows it.
    Preserve,
}

impl MemoryFormat {
    /// Logical dims from outermost to innermost in memory, for a tensor of `rank` dims.
    fn physical_order(self, rank: usize) -> Result<Vec<usize>> {
        match self {
            MemoryFormat::ChannelsLast if rank != 4 => Err(Error::Runtime(format!(
                "required rank 4 tensor to use channels_last format, got a rank {rank} tensor"
            ))),
            MemoryFormat::ChannelsLast3d if rank != 5 => Err(Error::Runtime(format!(
                "required rank 5 tensor to use channels_last_3d format, got a rank {rank} tensor"
            ))),
            MemoryFormat::ChannelsLast | MemoryFormat::ChannelsLast3d => {
                let mut order = vec![0];
                order.extend(2..rank);
                order.push(1);
                Ok(order)
            }
            MemoryFormat::Contiguous | MemoryFormat::Preserve => Ok((0..rank).collect()),
        }
    }
}

/// Whether `x` is densely laid out in `format`'s order (dims of size 1 may have any stride, as in
/// PyTorch).
pub fn is_contiguous_as(x: &Tensor, format: MemoryFormat) -> bool {
    let order = match format {
        MemoryFormat::Contiguous | MemoryFormat::Preserve => return x.is_contiguous(),
        _ => match format.physical_order(x.ndim()) {
            Ok(order) => order,
            Err(_) => return false,
        },
    };
    let mut expected = 1usize;
    for &d in order.iter().rev() {
        let size = x.shape()[d];
        if size != 1 && x.strides()[d] as usize != expected {
            return false;
        }
        expected *= size;
    }
    true
}

/// PyTorch's guess that a 4-D tensor's strides are channels-last
/// (`is_channels_last_strides_2d`, behind `suggest_memory_format`): the C, W,
/// H, N strides non-decreasing, each at least the extent of the one before,
/// with ties (size-1 dims, N111 tensors) resolved to contiguous.
pub fn strides_like_channels_last(x: &Tensor) -> bool {
    if x.ndim() != 4 || x.strides()[1] == 0 {
        return false;
    }
    let (sizes, strides) = (x.shape(), x.strides());
    let mut min: isize = 0;
    for d in [1, 3, 2, 0] {
        if sizes[d] == 0 || strides[d] < min || (d == 0 && min == strides[1]) {
            return false;
        }
        min = strides[d];
        if sizes[d] > 1 {
            min *= sizes[d] as isize;
        }
    }
    true
}

/// The concrete format `Preserve` means for `x`: channels-last when `x` is laid out so (and not
/// also plainly contiguous), else contiguous.
fn resolve(x: &Tensor, format: MemoryFormat) -> MemoryFormat {
    match format {
        MemoryFormat::Preserve => [MemoryFormat::ChannelsLast, MemoryFormat::ChannelsLast3d]
            .into_iter()
            .find(|&f| {
                f.physical_order(x.ndim()).is_ok() && is_contiguous_as(x, f) && !x.is_contiguous()
            })
            .unwrap_or(MemoryFormat::Contiguous),
        other => other,
    }
}

/// `x` laid out in `format` (`x` itself when it already is).
pub fn to_memory_format(x: &Tensor, format: MemoryFormat) -> Result<Tensor> {
    let format = resolve(x, format);
    if is_contiguous_as(x, format) {
        return Ok(x.clone());
    }
    copy_as(x, format)
}

/// `x.clone(memory_format=...)`: always a copy, laid out in `format`.
pub fn clone_as(x: &Tensor, format: MemoryFormat) -> Result<Tensor> {
    copy_as(x, resolve(x, format))
}

fn copy_as(x: &Tensor, format: MemoryFormat) -> Result<Tensor> {
    if matches!(format, MemoryFormat::Contiguous | MemoryFormat::Preserve) {
        return shape::clone(x);
    }
    let order = format.physical_order(x.ndim())?;
    let to_physical: Vec<i64> = order.iter().map(|&d| d as i64).collect();
    let mut back = vec![0i64; order.len()];
    for (position, &d) in order.iter().enumerate() {
        back[d] = position as i64;
    }
    let dense = shape::clone(&shape::permute(x, &to_physical)?)?;
    shape::permute(&dense, &back)
}
