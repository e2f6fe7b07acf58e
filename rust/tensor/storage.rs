//! Storage: one flat, typed buffer shared by every view of it.
//!
//! Views alias the same storage, and in-place ops write through any of them, so
//! the buffer is interior-mutable. As in PyTorch, there is no lock: writers
//! go through `data_mut`, whose callers make sure no slice of the same buffer
//! is being read at the same time (ops that write in place compute into a
//! fresh buffer first when the source and destination may overlap).
//!
//! A storage may also be *deferred*: its elements are a computation over
//! other storages (a fused elementwise chain, `ops::fusion`) that runs the
//! first time anything reads or writes them. Reads and writes all pass
//! through `buffer`/`buffer_mut`, which run it. The storages such a
//! computation reads list it as a reader; writing into one of those first
//! runs its pending readers, so none sees the new values.
//!
//! A storage may hold *external* memory: elements that live in memory owned
//! by someone else (a numpy array for `from_numpy`, a shared-memory segment
//! after `share_memory_`), kept alive by an owner object the storage holds.
//! The typed `Vec` over that memory is built with `Vec::from_raw_parts` and
//! is never given to the allocator: see `from_external` for why that is sound.

use super::dtype::{DType, Elem};
use parking_lot::Mutex;
use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

#[derive(Debug)]
pub enum Buffer {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<half::f16>),
    BF16(Vec<half::bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Memory on the wgpu device (see `crate::gpu`).
    Device(crate::gpu::DeviceBuffer),
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::U8(_) => DType::U8,
            Buffer::I8(_) => DType::I8,
            Buffer::I16(_) => DType::I16,
            Buffer::F16(_) => DType::F16,
            Buffer::BF16(_) => DType::BF16,
            Buffer::I32(_) => DType::I32,
            Buffer::I64(_) => DType::I64,
            Buffer::F32(_) => DType::F32,
            Buffer::F64(_) => DType::F64,
            Buffer::Device(d) => d.dtype(),
        }
    }
    pub fn is_device(&self) -> bool {
        matches!(self, Buffer::Device(_))
    }
    pub fn len(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.len(),
            Buffer::U8(v) => v.len(),
            Buffer::I8(v) => v.len(),
            Buffer::I16(v) => v.len(),
            Buffer::F16(v) => v.len(),
            Buffer::BF16(v) => v.len(),
            Buffer::I32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
            Buffer::Device(d) => d.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        match dtype {
            DType::Bool => Buffer::Bool(vec![false; n]),
            DType::U8 => Buffer::U8(vec![0; n]),
            DType::I8 => Buffer::I8(vec![0; n]),
            DType::I16 => Buffer::I16(vec![0; n]),
            DType::F16 => Buffer::F16(vec![half::f16::ZERO; n]),
            DType::BF16 => Buffer::BF16(vec![half::bf16::ZERO; n]),
            DType::I32 => Buffer::I32(vec![0; n]),
            DType::I64 => Buffer::I64(vec![0; n]),
            DType::F32 => Buffer::F32(vec![0.0; n]),
            DType::F64 => Buffer::F64(vec![0.0; n]),
        }
    }
}

/// Conversion between a typed `Vec` and a `Buffer`.
/// A type a tensor buffer holds. All-zero bits must be a valid value of it
/// (`pool::alloc_zeroed_vec` relies on that).
pub trait BufferElem: Elem {
    fn wrap(v: Vec<Self>) -> Buffer;
    fn slice(b: &Buffer) -> Option<&[Self]>;
    fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]>;
    /// Take the typed vector out of a buffer (the buffer back on mismatch).
    fn unwrap_buffer(b: Buffer) -> Result<Vec<Self>, Buffer>;
}

macro_rules! impl_buffer_elem {
    ($t:ty, $v:ident) => {
        impl BufferElem for $t {
            #[inline]
            fn wrap(v: Vec<Self>) -> Buffer {
                Buffer::$v(v)
            }
            #[inline]
            fn slice(b: &Buffer) -> Option<&[Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn slice_mut(b: &mut Buffer) -> Option<&mut [Self]> {
                match b {
                    Buffer::$v(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn unwrap_buffer(b: Buffer) -> Result<Vec<Self>, Buffer> {
                match b {
                    Buffer::$v(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    };
}
impl_buffer_elem!(bool, Bool);
impl_buffer_elem!(u8, U8);
impl_buffer_elem!(i8, I8);
impl_buffer_elem!(i16, I16);
impl_buffer_elem!(half::f16, F16);
impl_buffer_elem!(half::bf16, BF16);
impl_buffer_elem!(i32, I32);
impl_buffer_elem!(i64, I64);
impl_buffer_elem!(f32, F32);
impl_buffer_elem!(f64, F64);

/// Keeps external memory alive (a numpy array, a shared-memory mapping);
/// dropped after the storage's last use of it.
pub type Owner = Box<dyn Any + Send + Sync>;

/// A buffer whose memory a storage no longer uses but someone else may
/// still reach (a numpy array lent out before `replace_memory`): kept until
/// the storage drops.
struct Retired {
    buf: std::mem::ManuallyDrop<Buffer>,
    owner: Option<Owner>,
}

impl Drop for Retired {
    fn drop(&mut self) {
        if self.owner.is_none() {
            // SAFETY: dropped once, here; an allocator-owned Vec.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.buf) };
        }
        // External memory: the Vec is forgotten, the owner frees the memory.
    }
}

/// The elements of a deferred storage, computed on first access.
pub trait Deferred: Send + Sync {
    fn run(&self) -> Buffer;
    fn as_any(&self) -> &dyn Any;
    /// Compute the float32 elements straight into `out` (memory of
    /// `writes`), if the plan can and does not read `writes`; false if not.
    fn run_into_f32(&self, _out: &mut [f32], _writes: &Storage) -> bool {
        false
    }
}

pub struct Storage {
    buf: UnsafeCell<Buffer>,
    /// Bumped by every in-place write; autograd checks it on saved tensors.
    version: AtomicU64,
    dtype: DType,
    /// Where the elements are (read by every `Tensor::from_parts`).
    device: super::Device,
    /// Set while `plan` holds the computation of the elements (`buf` is an
    /// empty placeholder until it has run).
    deferred: AtomicBool,
    plan: Mutex<Option<Box<dyn Deferred>>>,
    /// How many deferred computations that read this storage are alive
    /// (checked on every write), and those computations' storages (run
    /// before a write).
    readers: AtomicUsize,
    reader_list: Mutex<Vec<Weak<Storage>>>,
    /// Live numpy arrays over this storage (`Tensor.numpy()` is zero-copy
    /// and writable): while there are any, writes may come from outside, so
    /// no deferred computation may read it.
    leases: AtomicUsize,
    /// The owner of external memory (`None`: `buf` is an allocator-owned
    /// Vec). While set, `buf`'s Vec must never be dropped, grown or shrunk.
    owner: Mutex<Option<Owner>>,
    external: AtomicBool,
    /// Memory replaced by `replace_memory` while lent out.
    retired: Mutex<Vec<Retired>>,
    /// A `meta` storage (`device="meta"`): it has a length but no memory.
    /// Every access to its elements unwinds with [`MetaAccess`], which the
    /// bindings turn into PyTorch's "Could not run ... 'Meta' backend" error.
    meta_len: Option<usize>,
}

/// The panic payload of an access to the elements of a meta storage: an op
/// without a meta branch reached a kernel (see `python::panic_guard`).
pub struct MetaAccess;

#[cold]
#[inline(never)]
fn meta_access() -> ! {
    std::panic::panic_any(MetaAccess)
}

// SAFETY: see the module comment; concurrent access follows PyTorch's rules
// (the caller never reads and writes overlapping elements concurrently).
unsafe impl Sync for Storage {}
unsafe impl Send for Storage {}

impl Drop for Storage {
    fn drop(&mut self) {
        let buf = std::mem::replace(self.buf.get_mut(), Buffer::Bool(Vec::new()));
        if *self.external.get_mut() {
            // Not ours to free (nor to recycle): the owner, dropped with the
            // other fields after this, releases the memory.
            std::mem::forget(buf);
        } else {
            // Hand large buffers to the caching allocator for reuse.
            super::pool::give(buf);
        }
    }
}

impl Storage {
    pub fn new(buf: Buffer) -> Storage {
        Storage {
            dtype: buf.dtype(),
            device: match buf.is_device() {
                true => super::Device::Wgpu,
                false => super::Device::Cpu,
            },
            buf: UnsafeCell::new(buf),
            version: AtomicU64::new(0),
            deferred: AtomicBool::new(false),
            plan: Mutex::new(None),
            readers: AtomicUsize::new(0),
            reader_list: Mutex::new(Vec::new()),
            leases: AtomicUsize::new(0),
            owner: Mutex::new(None),
            external: AtomicBool::new(false),
            retired: Mutex::new(Vec::new()),
            meta_len: None,
        }
    }
    /// A storage over `len` elements at `ptr`, memory that `owner` keeps
    /// alive (and frees when dropped, after the storage's last use).
    ///
    /// Why a `Vec` over foreign memory is sound here: `Vec::from_raw_parts`
    /// asks for memory from the global allocator only because a Vec may
    /// free or reallocate it. This Vec never does: buffers are only used as
    /// slices (`BufferElem::slice`/`slice_mut`); the only code that moves a
    /// Vec out of a storage is `Drop` (which forgets it while `external`
    /// is set, so it reaches neither the allocator nor the buffer pool) and
    /// `run_deferred`/`replace_memory` (a deferred storage is never external;
    /// `replace_memory` retires or forgets it the same way).
    ///
    /// The storage counts as lent out for its whole life (`is_exported`):
    /// the owner's side may write at any time, so no deferred computation
    /// may read it.
    ///
    /// # Safety
    /// `ptr` is non-null, aligned for `T`, valid for reads and writes of
    /// `len` elements holding valid values of `T` until `owner` is dropped.
    pub unsafe fn from_external<T: BufferElem>(ptr: *mut T, len: usize, owner: Owner) -> Storage {
        let v = if len == 0 {
            Vec::new()
        } else {
            Vec::from_raw_parts(ptr, len, len)
        };
        let s = Storage::new(T::wrap(v));
        s.external.store(len != 0, Ordering::SeqCst);
        s.leases.store(1, Ordering::SeqCst);
        *s.owner.lock() = Some(owner);
        s
    }
    /// Move the elements into other memory, in place (every view sees it):
    /// `new` holds the same values, in external memory owned by `owner`.
    /// The old memory is freed, or kept until the storage drops when numpy
    /// arrays over it are alive.
    ///
    /// # Safety
    /// `new` as in `from_external` (same dtype and length); no reference
    /// into the current elements may be in use (on any thread).
    pub unsafe fn replace_memory(&self, new: Buffer, owner: Owner) -> crate::error::Result<()> {
        if new.dtype() != self.dtype || new.len() != self.len() || self.device != super::Device::Cpu
        {
            // Not ours to free: the owner releases the memory.
            std::mem::forget(new);
            return Err(crate::error::Error::Runtime(
                "internal: replace_memory with a buffer of another dtype or length".into(),
            ));
        }
        // Pending computations reading the old values run first.
        let slot = self.buffer_mut();
        let old = std::mem::replace(slot, new);
        let was_external = self.external.swap(true, Ordering::SeqCst);
        let old_owner = self.owner.lock().replace(owner);
        if self.is_exported() || was_external {
            // A numpy array may still point into the old memory (or the old
            // owner's memory is reachable from elsewhere): keep it.
            self.retired.lock().push(Retired {
                buf: std::mem::ManuallyDrop::new(old),
                owner: if was_external { old_owner } else { None },
            });
        } else {
            super::pool::give(old);
        }
        self.leases.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    /// `f` of the owner of the external memory (None for own memory).
    pub fn with_owner<R>(&self, f: impl FnOnce(Option<&(dyn Any + Send + Sync)>) -> R) -> R {
        f(self.owner.lock().as_deref())
    }
    /// A storage of `len` elements of `dtype` with no memory behind them.
    pub fn meta(dtype: DType, len: usize) -> Storage {
        let mut s = Storage::new(Buffer::zeros(dtype, 0));
        s.meta_len = Some(len);
        s.device = super::Device::Meta;
        s
    }
    pub fn is_meta(&self) -> bool {
        self.meta_len.is_some()
    }
    /// A host storage of `dtype` whose elements `plan` computes when first
    /// accessed, reading `reads` (each of which must already count `plan`
    /// as a reader).
    pub fn deferred(dtype: DType, plan: Box<dyn Deferred>, reads: &[&Storage]) -> Arc<Storage> {
        let s = Storage::new(Buffer::zeros(dtype, 0));
        s.deferred.store(true, Ordering::SeqCst);
        *s.plan.lock() = Some(plan);
        let s = Arc::new(s);
        for r in reads {
            let mut list = r.reader_list.lock();
            if list.len() >= 16 && list.len().is_power_of_two() {
                list.retain(|w| w.upgrade().is_some_and(|s| s.is_deferred()));
            }
            list.push(Arc::downgrade(&s));
        }
        // Lent to numpy meanwhile (another thread): run while the values
        // are the ones seen so far.
        if reads.iter().any(|r| r.is_exported()) {
            s.run_deferred();
        }
        s
    }
    /// Compute this deferred storage's float32 elements into `out` (memory
    /// of `writes`, whose readers have run) instead of a buffer of its own;
    /// false (nothing written) if it is not pending or cannot. The storage
    /// stays pending: this is for a result about to be dropped
    /// (`torch.add(x, y, out=z)` writes `x + y` into `z` in one pass).
    pub fn run_into_f32(&self, out: &mut [f32], writes: &Storage) -> bool {
        if !self.is_deferred() || std::ptr::eq(self, writes) {
            return false;
        }
        let plan = self.plan.lock();
        plan.as_ref().is_some_and(|p| p.run_into_f32(out, writes))
    }
    pub fn is_deferred(&self) -> bool {
        self.deferred.load(Ordering::Acquire)
    }
    /// `f` of the deferred computation, if it has not run yet.
    pub fn with_plan<R>(&self, f: impl FnOnce(Option<&dyn Deferred>) -> R) -> R {
        f(self.plan.lock().as_deref())
    }
    /// Run the deferred computation, if it has not run. The plan's lock is
    /// held while it runs, so a second caller waits for the result.
    #[cold]
    fn run_deferred(&self) {
        let mut plan = self.plan.lock();
        if let Some(p) = plan.as_ref() {
            let buf = p.run();
            debug_assert_eq!(buf.dtype(), self.dtype);
            // SAFETY: nobody holds a reference into the buffer yet: every
            // access waits for `deferred` to clear, after this write.
            unsafe { *self.buf.get() = buf };
            self.deferred.store(false, Ordering::Release);
            // Dropped after the flag: its reads stop counting once it has run.
            *plan = None;
        }
    }
    /// Run the pending computations that read this storage (before it
    /// changes); one another thread is running is waited for.
    fn run_readers(&self) {
        if self.readers.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Listed until they have run: a second writer meanwhile must find
        // (and wait for) the ones this call is running.
        let readers: Vec<Arc<Storage>> = self
            .reader_list
            .lock()
            .iter()
            .filter_map(|w| w.upgrade())
            .collect();
        for r in &readers {
            r.run_deferred();
        }
        self.reader_list
            .lock()
            .retain(|w| w.upgrade().is_some_and(|s| s.is_deferred()));
    }
    pub fn buffer(&self) -> &Buffer {
        if self.meta_len.is_some() {
            meta_access();
        }
        if self.deferred.load(Ordering::Acquire) {
            self.run_deferred();
        }
        // SAFETY: shared read; see module comment.
        unsafe { &*self.buf.get() }
    }
    /// Mutable access for in-place writes.
    ///
    /// # Safety
    /// No other reference into overlapping elements may be used while the
    /// returned one lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer_mut(&self) -> &mut Buffer {
        if self.meta_len.is_some() {
            meta_access();
        }
        if self.deferred.load(Ordering::Acquire) {
            self.run_deferred();
        }
        self.run_readers();
        &mut *self.buf.get()
    }
    /// Count a deferred computation that reads this storage (or, with
    /// `false`, one that has run or been dropped).
    pub fn count_reader(&self, reading: bool) {
        if reading {
            self.readers.fetch_add(1, Ordering::SeqCst);
        } else {
            self.readers.fetch_sub(1, Ordering::SeqCst);
        }
    }
    /// A numpy array over the storage is made: pending computations that
    /// read it run now, and none will read it until `end_export`.
    pub fn export(&self) {
        self.leases.fetch_add(1, Ordering::SeqCst);
        self.run_readers();
    }
    /// A numpy array made by `export` is gone.
    pub fn end_export(&self) {
        self.leases.fetch_sub(1, Ordering::SeqCst);
    }
    pub fn is_exported(&self) -> bool {
        self.leases.load(Ordering::SeqCst) > 0
    }
    /// Whether the elements live in memory owned by someone else.
    pub fn is_external(&self) -> bool {
        self.external.load(Ordering::SeqCst)
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn is_device(&self) -> bool {
        self.device == super::Device::Wgpu
    }
    pub fn device(&self) -> super::Device {
        self.device
    }
    pub fn len(&self) -> usize {
        if let Some(n) = self.meta_len {
            return n;
        }
        self.buffer().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
    /// Address of the first element (identity of the memory, for aliasing checks).
    pub fn ptr(&self) -> usize {
        if self.is_meta() {
            // No memory: the storage itself is the identity.
            return self as *const Storage as usize;
        }
        match self.buffer() {
            Buffer::Bool(v) => v.as_ptr() as usize,
            Buffer::U8(v) => v.as_ptr() as usize,
            Buffer::I8(v) => v.as_ptr() as usize,
            Buffer::I16(v) => v.as_ptr() as usize,
            Buffer::F16(v) => v.as_ptr() as usize,
            Buffer::BF16(v) => v.as_ptr() as usize,
            Buffer::I32(v) => v.as_ptr() as usize,
            Buffer::I64(v) => v.as_ptr() as usize,
            Buffer::F32(v) => v.as_ptr() as usize,
            Buffer::F64(v) => v.as_ptr() as usize,
            Buffer::Device(d) => d as *const _ as usize,
        }
    }
}
