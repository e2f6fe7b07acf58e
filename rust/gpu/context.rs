//! The process-wide wgpu device: created on first use, shared by every tensor.
//!
//! Kernels are recorded into one pending command encoder and submitted in
//! batches; the CPU waits for the GPU only when a value is read back.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use wgpu::util::DeviceExt;

/// Submit the pending encoder after this many recorded kernels, so the GPU
/// starts working while Python keeps queueing.
const PASSES_PER_SUBMIT: usize = 64;
/// Freed buffers kept for reuse, in bytes.
const POOL_MAX_BYTES: u64 = 1 << 30;
pub const WORKGROUP: u32 = 256;

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    pending: Mutex<Pending>,
    pool: Mutex<Pool>,
    /// The first error wgpu reported outside an error scope.
    uncaptured: Arc<Mutex<Option<String>>>,
}

#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    passes: usize,
}

#[derive(Default)]
struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    bytes: u64,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc)
}

/// Every adapter the primary backends (Vulkan, Metal, DX12) report.
pub fn adapters() -> Vec<wgpu::AdapterInfo> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::PRIMARY))
        .iter()
        .map(|a| a.get_info())
        .collect()
}

fn create() -> std::result::Result<Gpu, String> {
    let instance = instance();
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| format!("no wgpu adapter found (Vulkan, Metal or DX12): {e}"))?;
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("rustdl"),
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| format!("could not open the wgpu device: {e}"))?;
    let uncaptured: Arc<Mutex<Option<String>>> = Arc::default();
    let sink = uncaptured.clone();
    // wgpu's default handler panics; keep the message and raise it from the
    // next call instead.
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        sink.lock().get_or_insert_with(|| e.to_string());
    }));
    Ok(Gpu {
        device,
        queue,
        info: adapter.get_info(),
        limits,
        pipelines: Mutex::default(),
        pending: Mutex::default(),
        pool: Mutex::default(),
        uncaptured,
    })
}

/// The device, created on first call.
pub fn gpu() -> Result<&'static Gpu> {
    GPU.get_or_init(create)
        .as_ref()
        .map_err(|e| Error::Runtime(format!("wgpu device unavailable: {e}")))
}

/// Bind `inputs` as read-only storage after `meta` and `out` (read-write).
pub struct Dispatch<'a> {
    pub key: &'a str,
    pub meta: &'a [u32],
    pub buffers: &'a [&'a wgpu::Buffer],
    pub groups: [u32; 3],
}

impl Gpu {
    pub fn check(&self) -> Result<()> {
        if let Some(e) = self.uncaptured.lock().take() {
            return Err(Error::Runtime(format!("wgpu error: {e}")));
        }
        Ok(())
    }

    /// The compute pipeline for `key`, compiling `source()` the first time.
    pub fn pipeline(
        &self,
        key: &str,
        source: impl FnOnce() -> String,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        if let Some(p) = self.pipelines.lock().get(key) {
            return Ok(p.clone());
        }
        let src = source();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(key),
                source: wgpu::ShaderSource::Wgsl(src.as_str().into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(key),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Runtime(format!(
                "internal: wgpu kernel '{key}' failed to compile: {e}"
            )));
        }
        let p = Arc::new(pipeline);
        self.pipelines.lock().insert(key.to_string(), p.clone());
        Ok(p)
    }

    /// Record one kernel launch into the pending encoder.
    pub fn dispatch(&self, pipeline: &wgpu::ComputePipeline, d: Dispatch<'_>) -> Result<()> {
        let meta = if d.meta.is_empty() {
            &[0u32][..]
        } else {
            d.meta
        };
        let meta_buf = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("meta"),
                contents: bytemuck::cast_slice(meta),
                usage: wgpu::BufferUsages::STORAGE,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: meta_buf.as_entire_binding(),
        }];
        for (i, b) in d.buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(d.key),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pending = self.pending.lock();
        let enc = self.encoder(&mut pending);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(d.key),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
        pending.passes += 1;
        if pending.passes >= PASSES_PER_SUBMIT {
            self.submit_locked(&mut pending);
        }
        Ok(())
    }

    /// The pending encoder, started if there is none.
    fn encoder<'p>(&self, pending: &'p mut Pending) -> &'p mut wgpu::CommandEncoder {
        pending.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
        })
    }

    /// An error when `size` bytes exceed the largest buffer a kernel can bind.
    fn check_size(&self, size: u64) -> Result<()> {
        let max = self
            .limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size);
        if size > max {
            return Err(Error::Runtime(format!(
                "wgpu: cannot allocate a buffer of {size} bytes: the device allows at most {max} bytes per buffer"
            )));
        }
        Ok(())
    }

    fn submit_locked(&self, pending: &mut Pending) {
        if let Some(enc) = pending.encoder.take() {
            self.queue.submit([enc.finish()]);
        }
        pending.passes = 0;
    }

    /// Submit everything recorded so far.
    pub fn flush(&self) {
        let mut pending = self.pending.lock();
        self.submit_locked(&mut pending);
    }

    /// A storage buffer of at least `bytes` bytes (reused when one is free).
    pub fn alloc(&self, bytes: u64) -> Result<wgpu::Buffer> {
        let size = bytes.max(4).div_ceil(4) * 4;
        if let Some(b) = {
            let mut pool = self.pool.lock();
            let b = pool.free.get_mut(&size).and_then(|v| v.pop());
            if b.is_some() {
                pool.bytes -= size;
            }
            b
        } {
            return Ok(b);
        }
        self.check_size(size)?;
        let create = || {
            let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            pollster::block_on(scope.pop()).map_or(Ok(buf), Err)
        };
        // Freed buffers kept for reuse may be what holds the memory: drop
        // them and try once more before reporting out-of-memory.
        let buf = create()
            .or_else(|_| {
                self.release_pool();
                create()
            })
            .map_err(|e| {
                Error::Runtime(format!("wgpu: out of memory allocating {size} bytes: {e}"))
            })?;
        Ok(buf)
    }

    /// A new buffer holding `bytes` (ordered before any later kernel: the data
    /// is in place when the buffer is created).
    pub fn upload(&self, bytes: &[u8]) -> Result<wgpu::Buffer> {
        self.check_size(bytes.len() as u64)?;
        let padded;
        let contents = if bytes.len() < 4 {
            padded = [0u8; 4];
            &padded[..]
        } else {
            bytes
        };
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            }))
    }

    pub fn release(&self, buf: wgpu::Buffer) {
        let size = buf.size();
        let mut pool = self.pool.lock();
        if pool.bytes + size > POOL_MAX_BYTES {
            return;
        }
        pool.bytes += size;
        pool.free.entry(size).or_default().push(buf);
    }

    fn release_pool(&self) {
        let mut pool = self.pool.lock();
        pool.free.clear();
        pool.bytes = 0;
    }

    /// Read `bytes` bytes at `offset` of `buf` back to the host, waiting for
    /// every kernel queued before.
    pub fn download(&self, buf: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let size = bytes.max(4).div_ceil(4) * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut pending = self.pending.lock();
            let enc = self.encoder(&mut pending);
            let avail = buf.size().saturating_sub(offset).min(size);
            enc.copy_buffer_to_buffer(buf, offset, &staging, 0, avail);
            self.submit_locked(&mut pending);
        }
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Runtime(format!("wgpu: waiting for the device failed: {e}")))?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Runtime(format!("wgpu: readback failed: {e}"))),
            Err(_) => return Err(Error::Runtime("wgpu: readback was dropped".into())),
        }
        self.check()?;
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Runtime(format!("wgpu: readback failed: {e:?}")))?;
        let out = view[..bytes as usize].to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Wait until every queued kernel has run.
    pub fn synchronize(&self) -> Result<()> {
        self.flush();
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Runtime(format!("wgpu: waiting for the device failed: {e}")))?;
        self.check()
    }
}
