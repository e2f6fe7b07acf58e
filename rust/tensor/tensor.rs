use super::dtype::DType;
use super::layout::{Layout, Shape};
use super::storage::{Buffer, BufferElem, Storage};
use crate::autograd::node::Node;
use crate::error::Result;
use parking_lot::Mutex;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// The wgpu device (one per process for now; see `crate::gpu`).
    Wgpu,
    /// `device="meta"`: shape and dtype only, no memory (`Storage::meta`).
    Meta,
}

impl Device {
    pub fn name(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Wgpu => "wgpu:0",
            Device::Meta => "meta",
        }
    }
}

/// A hook on a tensor's gradient: may return a replacement gradient.
pub type GradHook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// A hook run after a leaf's `.grad` has been updated; it gets the leaf.
pub type PostAccumulateHook = Arc<dyn Fn(&Tensor) -> Result<()> + Send + Sync>;

#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: bool,
    pub grad: Option<Tensor>,
    /// The node that produced this tensor (None for leaves).
    pub grad_fn: Option<Arc<Node>>,
    /// Which output of `grad_fn` this tensor is.
    pub output_nr: usize,
    pub retains_grad: bool,
    /// Hooks of a leaf tensor (non-leaf hooks live on the grad_fn).
    pub hooks: Vec<GradHook>,
    /// `register_post_accumulate_grad_hook` hooks of a leaf.
    pub post_accumulate_hooks: Vec<PostAccumulateHook>,
    /// For a view: the (contiguous, offset-0) tensor owning the viewed
    /// storage, so in-place writes through the view can rebase its graph.
    pub view_base: Option<Tensor>,
}

pub struct TensorImpl {
    pub storage: Arc<Storage>,
    pub layout: Layout,
    pub dtype: DType,
    pub device: Device,
    pub autograd: Mutex<AutogradMeta>,
}

/// A cheap, clonable handle to a tensor.
#[derive(Clone)]
pub struct Tensor(pub Arc<TensorImpl>);

impl Tensor {
    pub fn from_parts(storage: Arc<Storage>, mut layout: Layout) -> Tensor {
        // A view with no elements reads nothing, but its offset (past the end
        // of an empty storage: `zeros(3, 0)[1:]`) would make every kernel's
        // `offset..offset + 0` slice out of bounds. PyTorch keeps the offset;
        // here it is 0, the only observable difference being `storage_offset()`.
        if layout.offset != 0 && layout.numel() == 0 {
            layout.offset = 0;
        }
        let dtype = storage.dtype();
        let device = storage.device();
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            dtype,
            device,
            autograd: Mutex::new(AutogradMeta::default()),
        }))
    }
    pub fn from_buffer(buf: Buffer, shape: &[usize]) -> Tensor {
        Tensor::from_parts(Arc::new(Storage::new(buf)), Layout::contiguous(shape))
    }
    pub fn from_vec<T: BufferElem>(v: Vec<T>, shape: &[usize]) -> Tensor {
        debug_assert_eq!(v.len(), shape.iter().product::<usize>());
        Tensor::from_buffer(T::wrap(v), shape)
    }
    pub fn scalar<T: BufferElem>(v: T) -> Tensor {
        Tensor::from_vec(vec![v], &[])
    }
    /// A `meta` tensor: `shape` and `dtype` without memory.
    pub fn meta(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::from_parts(
            Arc::new(Storage::meta(dtype, shape.iter().product())),
            Layout::contiguous(shape),
        )
    }
    /// A meta result of `shape` and `dtype` when any of `inputs` is meta:
    /// the one check an op makes where it would compute values.
    pub fn meta_result(inputs: &[&Tensor], shape: &[usize], dtype: DType) -> Option<Tensor> {
        inputs
            .iter()
            .any(|t| t.is_meta())
            .then(|| Tensor::meta(shape, dtype))
    }
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::from_buffer(Buffer::zeros(dtype, shape.iter().product()), shape)
    }
    /// A new view of the same storage with another layout (no autograd).
    pub fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout)
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn shape_vec(&self) -> Shape {
        self.0.layout.shape.clone()
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.layout.strides
    }
    pub fn offset(&self) -> usize {
        self.0.layout.offset
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.device
    }
    pub fn is_gpu(&self) -> bool {
        self.0.device == Device::Wgpu
    }
    pub fn is_meta(&self) -> bool {
        self.0.device == Device::Meta
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn same_tensor(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The contiguous elements as a slice, if the layout is contiguous.
    pub fn as_slice<T: BufferElem>(&self) -> Option<&[T]> {
        if !self.is_contiguous() {
            return None;
        }
        let s = T::slice(self.0.storage.buffer())?;
        let off = self.offset();
        s.get(off..off + self.numel())
    }

    // ---- autograd metadata ----
    pub fn requires_grad(&self) -> bool {
        self.0.autograd.lock().requires_grad
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.0.autograd.lock().grad_fn.clone()
    }
    pub fn is_leaf(&self) -> bool {
        self.0.autograd.lock().grad_fn.is_none()
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.0.autograd.lock().grad.clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) {
        self.0.autograd.lock().grad = g;
    }
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={})",
            self.shape(),
            self.dtype().name()
        )
    }
}
