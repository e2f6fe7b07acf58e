//! Storages in memory shared between processes (`Tensor.share_memory_`,
//! `torch.multiprocessing`).
//!
//! A segment is an anonymous shared-memory file (`memfd_create` on Linux,
//! an immediately unlinked `shm_open` elsewhere) mapped `MAP_SHARED`. Another
//! process maps the same pages from a duplicate of its descriptor (sent over
//! a Unix socket or inherited: Python's `multiprocessing.reduction.DupFd`),
//! and a forked child inherits the mapping itself. The file has no name, so
//! nothing is left behind however the processes end: the pages go when the
//! last mapping and descriptor are gone.
//!
//! The storage uses the mapping as external memory (`Storage::from_external`,
//! `Storage::replace_memory`); the segment is the owner, unmapped and closed
//! when the storage drops.

use super::dtype::DType;
use super::storage::{Buffer, BufferElem, Storage};
use crate::error::{Error, Result};
use std::sync::Arc;

/// One mapped shared-memory file.
pub struct SharedSegment {
    fd: libc::c_int,
    ptr: *mut u8,
    /// Bytes mapped (at least one page's worth, even for no elements).
    mapped: usize,
}

// SAFETY: the mapping and descriptor are process-wide resources; the segment
// only hands out its address, and accesses follow the storage's rules.
unsafe impl Send for SharedSegment {}
unsafe impl Sync for SharedSegment {}

fn os_error(what: &str) -> Error {
    Error::Runtime(format!(
        "unable to {what} for a shared memory segment: {}",
        std::io::Error::last_os_error()
    ))
}

impl SharedSegment {
    /// A new zero-filled segment of `bytes` bytes.
    pub fn create(bytes: usize) -> Result<SharedSegment> {
        let fd = anonymous_file()?;
        let mapped = bytes.max(1);
        // SAFETY: plain system calls on a descriptor we own.
        if unsafe { libc::ftruncate(fd, mapped as libc::off_t) } != 0 {
            let e = os_error("set the size");
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Self::map(fd, mapped)
    }

    /// Map the segment that `fd` (someone else's descriptor, duplicated
    /// here) refers to; it must hold at least `bytes` bytes.
    pub fn open(fd: i32, bytes: usize) -> Result<SharedSegment> {
        // SAFETY: fcntl/fstat on a caller-given descriptor only read it.
        let own = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if own < 0 {
            return Err(os_error("duplicate the descriptor"));
        }
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(own, &mut st) } != 0 {
            let e = os_error("inspect the descriptor");
            unsafe { libc::close(own) };
            return Err(e);
        }
        let size = st.st_size.max(0) as usize;
        if size < bytes.max(1) {
            unsafe { libc::close(own) };
            return Err(Error::Runtime(format!(
                "shared memory segment holds {size} bytes, {bytes} expected"
            )));
        }
        Self::map(own, bytes.max(1))
    }

    fn map(fd: libc::c_int, mapped: usize) -> Result<SharedSegment> {
        // SAFETY: a fresh shared mapping of a file at least `mapped` bytes long.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            let e = os_error("map memory");
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Ok(SharedSegment {
            fd,
            ptr: ptr as *mut u8,
            mapped,
        })
    }

    /// The descriptor (owned by the segment: duplicate it to keep it).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for SharedSegment {
    fn drop(&mut self) {
        // SAFETY: the mapping and descriptor are ours; no storage uses them
        // any more (the segment is dropped after its storage's last access).
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.mapped);
            libc::close(self.fd);
        }
    }
}

#[cfg(target_os = "linux")]
fn anonymous_file() -> Result<libc::c_int> {
    // SAFETY: the name is a NUL-terminated literal.
    let fd = unsafe { libc::memfd_create(c"rustdl_shared".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(os_error("create a file"));
    }
    Ok(fd)
}

#[cfg(not(target_os = "linux"))]
fn anonymous_file() -> Result<libc::c_int> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = format!(
            "/rustdl_{}_{}\0",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // SAFETY: NUL-terminated name; unlinked at once, so only the
        // descriptor reaches the file.
        let fd = unsafe {
            libc::shm_open(
                name.as_ptr() as *const libc::c_char,
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
                0o600,
            )
        };
        if fd >= 0 {
            unsafe { libc::shm_unlink(name.as_ptr() as *const libc::c_char) };
            return Ok(fd);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return Err(os_error("create a file"));
        }
    }
}

/// The segment holding the storage's elements, if it was moved to shared
/// memory (or built from one).
pub fn segment_fd(storage: &Storage) -> Option<i32> {
    storage.with_owner(|o| {
        o.and_then(|o| o.downcast_ref::<SharedSegment>())
            .map(|s| s.fd())
    })
}

pub fn is_shared(storage: &Storage) -> bool {
    segment_fd(storage).is_some()
}

/// Move the storage's elements into a new shared-memory segment, in place
/// (every view sees the move); nothing happens if they are there already.
pub fn share_storage(storage: &Storage) -> Result<()> {
    if storage.is_device() {
        return Err(Error::Runtime(
            "share_memory_: only CPU tensors can be moved to shared memory".into(),
        ));
    }
    if is_shared(storage) {
        return Ok(());
    }
    let dtype = storage.dtype();
    let len = storage.len();
    let seg = SharedSegment::create(len * dtype.size())?;
    let buf = crate::dispatch_all!(dtype, T => copy_into::<T>(storage, &seg, len));
    // SAFETY: the segment is at least len * size bytes, page-aligned, holds
    // the same values and lives as long as the storage keeps it; callers
    // (the Python binding, holding the GIL) do not share_memory_ a tensor
    // that another thread is computing with, as in PyTorch.
    unsafe { storage.replace_memory(buf, Box::new(seg)) }
}

fn copy_into<T: BufferElem>(storage: &Storage, seg: &SharedSegment, len: usize) -> Buffer {
    let src: &[T] = T::slice(storage.buffer()).unwrap_or(&[]);
    let ptr = seg.as_ptr() as *mut T;
    if len == 0 {
        return T::wrap(Vec::new());
    }
    // SAFETY: the mapping holds len elements' bytes and is page-aligned;
    // src and the fresh mapping do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), ptr, len);
        T::wrap(Vec::from_raw_parts(ptr, len, len))
    }
}

/// A storage of `len` elements of `dtype` over the segment `fd` refers to
/// (another process's `share_memory_`).
pub fn storage_from_fd(fd: i32, dtype: DType, len: usize) -> Result<Arc<Storage>> {
    let seg = SharedSegment::open(fd, len * dtype.size())?;
    let ptr = seg.as_ptr();
    // SAFETY: the mapping is page-aligned, holds len elements (checked by
    // `open`) written by the other process as values of `dtype`, and lives
    // as long as the storage owns the segment.
    Ok(Arc::new(crate::dispatch_all!(dtype, T => unsafe {
        Storage::from_external::<T>(ptr as *mut T, len, Box::new(seg))
    })))
}
