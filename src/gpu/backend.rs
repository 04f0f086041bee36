//! Records our ops into one command encoder per submission.
//!
//! Everything expensive is made once and reused: pipelines live in the context, bind groups in a
//! cache keyed by pipeline, parameter slot and buffers. Each dispatch's small parameter block goes
//! into the next 256-byte slot (the most any adapter may require between uniform offsets) of one
//! uniform "arena" that is uploaded once per submission, so a training step that records the
//! same dispatches in the same order hits the bind-group cache every time and allocates nothing.

use super::params::Params;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use crate::backend::Tensor;
use crate::error::{Error, Result};

use super::plan::{GemmKernel, KernelPlan};

/// A range of f32 elements in a GPU buffer. Cloning is cheap (the buffer is reference counted).
#[derive(Clone, Debug)]
pub struct GpuTensor {
    pub(crate) buf: wgpu::Buffer,
    /// Byte offset; a multiple of the adapter's storage-offset alignment when bound.
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

impl Tensor for GpuTensor {
    fn len(&self) -> usize {
        self.len
    }
    fn slice(&self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.len, "slice {start}+{len} out of {}", self.len);
        GpuTensor { buf: self.buf.clone(), offset: self.offset + 4 * start as u64, len }
    }
}

impl GpuTensor {
    fn bytes(&self) -> u64 {
        4 * self.len as u64
    }
}

const SLOT: usize = 256;
const SLOTS: usize = 4096;
const MAX_CACHED_BIND_GROUPS: usize = 8192;

type BindKey = (wgpu::ComputePipeline, usize, Vec<(u32, wgpu::Buffer, u64, u64)>);

pub struct GpuBackend {
    pub ctx: Arc<GpuContext>,
    /// The compute pass consecutive dispatches share (wgpu orders their accesses inside a pass),
    /// ended by anything else the encoder records: one pass per run of dispatches instead of
    /// one per dispatch. Declared before the encoder so that it is dropped first.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    /// Compute passes begun while the dispatch log is on.
    passes_logged: usize,
    arena: wgpu::Buffer,
    arena_host: Vec<u8>,
    slots_used: usize,
    bind_groups: HashMap<BindKey, wgpu::BindGroup>,
    /// Bound where an entry point declares a buffer the call does not use (e.g. a missing bias).
    pub(crate) dummy: GpuTensor,
    /// Per-size workspaces that ops need between two of their own kernels.
    scratch: HashMap<(&'static str, usize), GpuTensor>,
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    /// Which kernels this backend records, chosen once for its adapter.
    pub(crate) plan: KernelPlan,
    /// Most floats an op's workspace may hold (im2col splits the batch to fit).
    pub(crate) workspace_floats: usize,
    /// Set while `wgan-gpu bench` times dispatches.
    pub(crate) profiler: Option<super::profiler::Profiler>,
    /// Set while `wgan-gpu bench` lists an iteration's dispatches.
    dispatch_log: Option<Vec<DispatchRecord>>,
    /// The FLOPs of the next dispatch, where its op counts them (the products).
    next_flops: Option<u64>,
}

/// One dispatch as `bench --json` lists it: the kernel (`shader.entry`), its workgroups in all,
/// and its floating-point operations where the op counts them (the GEMMs: 2·m·n·k).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DispatchRecord {
    pub kernel: &'static str,
    pub workgroups: usize,
    pub flops: Option<u64>,
    /// Which compute pass (from 1) of the log it was recorded in.
    pub pass: usize,
}

type MapState = Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>;

/// A copy of a tensor on its way back to the host; see [`GpuBackend::read_async`].
pub struct PendingRead {
    staging: wgpu::Buffer,
    state: MapState,
}

/// How many workgroups to launch: one per `per_group` items, laid out in 2-D when a single
/// dimension would exceed the adapter's limit (the shaders linearise it with `flat_id`).
pub(crate) fn grid(items: usize, per_group: usize, max_dim: u32) -> (u32, u32) {
    let groups = items.div_ceil(per_group).max(1) as u64;
    let max_dim = max_dim as u64;
    if groups <= max_dim { (groups as u32, 1) } else { (max_dim as u32, groups.div_ceil(max_dim) as u32) }
}

/// `shader.entry` as a static string (a small fixed set, interned once each).
fn label_of(shader: &'static str, entry: &'static str) -> &'static str {
    static LABELS: Mutex<Vec<(&str, &str, &str)>> = Mutex::new(Vec::new());
    let mut labels = LABELS.lock().unwrap();
    if let Some((_, _, l)) = labels.iter().find(|(s, e, _)| *s == shader && *e == entry) {
        return l;
    }
    let l: &'static str = Box::leak(format!("{shader}.{entry}").into_boxed_str());
    labels.push((shader, entry, l));
    l
}

impl GpuBackend {
    pub fn new(ctx: Arc<GpuContext>) -> Result<Self> {
        // WebGPU caps this alignment at 256 (a power of two), so 256-byte slots suit every
        // conforming adapter; one that asked for more would fail every bind group later.
        let align = ctx.limits.min_uniform_buffer_offset_alignment as usize;
        if !SLOT.is_multiple_of(align) {
            return Err(Error::Device {
                adapter: ctx.adapter.name.clone(),
                msg: format!(
                    "its min_uniform_buffer_offset_alignment is {align} bytes, and parameter blocks \
                     are packed {SLOT} bytes apart; try another adapter (`wgan-gpu devices`)"
                ),
            });
        }
        let plan = KernelPlan::for_adapter(&ctx);
        let arena = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params arena"),
            size: (SLOT * SLOTS) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let dummy_buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        Ok(GpuBackend {
            ctx,
            encoder: None,
            pass: None,
            passes_logged: 0,
            arena,
            arena_host: vec![0; SLOT * SLOTS],
            slots_used: 0,
            bind_groups: HashMap::new(),
            dummy: GpuTensor { buf: dummy_buf, offset: 0, len: 4 },
            scratch: HashMap::new(),
            in_flight: VecDeque::new(),
            profiler: None,
            dispatch_log: None,
            next_flops: None,
            workspace_floats: 16 << 20,
            plan,
        })
    }

    pub(crate) fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        // The encoder is locked while a pass is open.
        self.pass = None;
        let device = &self.ctx.device;
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("step") })
        })
    }

    /// A zeroed device buffer of `len` f32.
    pub fn alloc_tensor(&mut self, len: usize) -> Result<GpuTensor> {
        let bytes = 4 * len.max(1) as u64;
        if bytes > self.ctx.limits.max_buffer_size {
            return Err(Error::TooLarge {
                op: "alloc".into(),
                bytes,
                limit: self.ctx.limits.max_buffer_size,
                limit_name: "max_buffer_size",
                hint: "the batch size or the layer widths".into(),
            });
        }
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(GpuTensor { buf, offset: 0, len })
    }

    /// Starts listing every dispatch recorded from now on; [`GpuBackend::take_dispatch_log`]
    /// hands the list back.
    pub fn start_dispatch_log(&mut self) {
        self.dispatch_log = Some(Vec::new());
        self.passes_logged = 0;
        // The first logged dispatch opens pass 1.
        self.pass = None;
    }

    pub fn take_dispatch_log(&mut self) -> Vec<DispatchRecord> {
        self.dispatch_log.take().unwrap_or_default()
    }

    /// The FLOPs the next dispatch performs, for the dispatch list.
    pub(crate) fn count_flops(&mut self, flops: u64) {
        self.next_flops = Some(flops);
    }

    /// Which GEMM kernels are recorded; `Subgroup` falls back to `Registers` where the device
    /// lacks 8-wide subgroups. Tests use it to cover every kernel on one adapter.
    pub fn set_gemm_kernel(&mut self, kernel: GemmKernel) {
        self.plan.gemm = KernelPlan::supported(&self.ctx, kernel);
    }

    pub fn gemm_kernel(&self) -> GemmKernel {
        self.plan.gemm
    }

    /// The kernels this backend records.
    pub fn plan(&self) -> KernelPlan {
        self.plan
    }

    /// Fixes the subgroup GEMM's tile height (16, 32 or 64 rows; `WGAN_TILE`), or with `None`
    /// (or any other value) lets each product take the tallest its rows fill. For tests and
    /// for comparing the tiles.
    pub fn set_gemm_rows(&mut self, rows: Option<usize>) {
        self.plan.gemm_rows = KernelPlan::rows(rows);
    }

    /// Caps op workspaces at `floats` (64 MiB by default); tests use it to force batch splitting.
    pub fn set_workspace_limit(&mut self, floats: usize) {
        self.workspace_floats = floats.max(1);
    }

    /// A workspace of `len` f32 for one purpose, shared by every op call that asks for it;
    /// dispatches are ordered, so two calls never overlap.
    pub(crate) fn scratch(&mut self, purpose: &'static str, len: usize) -> Result<GpuTensor> {
        if let Some(t) = self.scratch.get(&(purpose, len)) {
            return Ok(t.clone());
        }
        let t = self.alloc_tensor(len)?;
        self.scratch.insert((purpose, len), t.clone());
        Ok(t)
    }

    /// Records one dispatch of `shader.entry` with a parameter block and storage bindings.
    /// `groups` is the number of workgroups (laid out by [`grid`]).
    pub(crate) fn dispatch(
        &mut self,
        shader: &'static str,
        entry: &'static str,
        params: &impl Params,
        bindings: &[(u32, &GpuTensor)],
        groups: usize,
    ) -> Result<()> {
        self.dispatch_specialised(shader, entry, &[], params, bindings, groups)
    }

    /// [`GpuBackend::dispatch`] of a pipeline whose `override` constants are set to `constants`:
    /// for choices that would otherwise be runtime branches inside a kernel's loop, which CPU
    /// adapters run on both sides (their lanes are SIMD lanes under a mask).
    pub(crate) fn dispatch_specialised(
        &mut self,
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, u32)],
        params: &impl Params,
        bindings: &[(u32, &GpuTensor)],
        groups: usize,
    ) -> Result<()> {
        let pipeline = self.ctx.pipeline(shader, entry, constants)?;
        self.check_bindings(shader, entry, bindings)?;
        if self.slots_used == SLOTS {
            self.flush()?;
        }
        let slot = self.slots_used;
        self.slots_used += 1;
        let bytes: &[u8] = bytemuck::bytes_of(params);
        assert!(bytes.len() <= SLOT, "parameter block of {shader}.{entry} exceeds {SLOT} bytes");
        self.arena_host[slot * SLOT..slot * SLOT + bytes.len()].copy_from_slice(bytes);

        let bg = self.bind_group(&pipeline, slot, bindings, shader, entry)?;
        let (gx, gy) = grid(groups, 1, self.ctx.limits.max_compute_workgroups_per_dimension);
        // Timed dispatches each need a pass of their own (timestamps are written per pass).
        if self.profiler.is_some() || self.pass.is_none() {
            // Ends the open pass and makes the encoder where there is none yet.
            self.encoder();
            let encoder = self.encoder.as_mut().expect("made by encoder()");
            let timestamp_writes = self.profiler.as_mut().and_then(|p| p.next(label_of(shader, entry)));
            let pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("ops"), timestamp_writes });
            self.pass = Some(pass.forget_lifetime());
            self.passes_logged += 1;
        }
        let flops = self.next_flops.take();
        if let Some(log) = &mut self.dispatch_log {
            let pass = self.passes_logged;
            log.push(DispatchRecord { kernel: label_of(shader, entry), workgroups: groups, flops, pass });
        }
        let pass = self.pass.as_mut().expect("a compute pass was begun above");
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
        Ok(())
    }

    /// Every binding must start at the adapter's storage offset alignment and fit its binding
    /// size limit: wgpu would otherwise fail the whole submission, far from the op at fault.
    fn check_bindings(&self, shader: &str, entry: &str, bindings: &[(u32, &GpuTensor)]) -> Result<()> {
        let limit = self.ctx.limits.max_storage_buffer_binding_size;
        let align = self.ctx.limits.min_storage_buffer_offset_alignment as u64;
        for (_, t) in bindings {
            if t.offset % align != 0 {
                return Err(Error::Gpu {
                    context: format!("{shader}.{entry}"),
                    msg: format!("a tensor view starts at byte {}, not a multiple of the adapter's {align}", t.offset),
                });
            }
            if t.bytes() > limit {
                return Err(Error::TooLarge {
                    op: format!("{shader}.{entry}"),
                    bytes: t.bytes(),
                    limit,
                    limit_name: "max_storage_buffer_binding_size",
                    hint: "the batch size (or the data set / layer size bound to this op)".into(),
                });
            }
        }
        Ok(())
    }

    /// The bind group of (pipeline, parameter slot, bindings), made once and then cached.
    fn bind_group(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        slot: usize,
        bindings: &[(u32, &GpuTensor)],
        shader: &str,
        entry: &str,
    ) -> Result<wgpu::BindGroup> {
        let key: BindKey = (
            pipeline.clone(),
            slot,
            bindings.iter().map(|(b, t)| (*b, t.buf.clone(), t.offset, t.bytes().max(4))).collect(),
        );
        if !self.bind_groups.contains_key(&key) {
            if self.bind_groups.len() >= MAX_CACHED_BIND_GROUPS {
                self.bind_groups.clear();
            }
            let layout = pipeline.get_bind_group_layout(0);
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.arena,
                    offset: (slot * SLOT) as u64,
                    size: wgpu::BufferSize::new(SLOT as u64),
                }),
            }];
            for (b, buf, off, size) in &key.2 {
                entries.push(wgpu::BindGroupEntry {
                    binding: *b,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: buf,
                        offset: *off,
                        size: wgpu::BufferSize::new(*size),
                    }),
                });
            }
            let label = format!("{shader}.{entry}");
            let bg = self.ctx.checked(&label, || {
                self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&label),
                    layout: &layout,
                    entries: &entries,
                })
            })?;
            self.bind_groups.insert(key.clone(), bg);
        }
        Ok(self.bind_groups[&key].clone())
    }

    /// A 1-D dispatch of one invocation per item (workgroups of 256, as in the shaders).
    pub(crate) fn dispatch_items(
        &mut self,
        shader: &'static str,
        entry: &'static str,
        params: &impl Params,
        bindings: &[(u32, &GpuTensor)],
        items: usize,
    ) -> Result<()> {
        self.dispatch_items_specialised(shader, entry, &[], params, bindings, items)
    }

    /// [`GpuBackend::dispatch_items`] of a pipeline with its `override` constants set.
    pub(crate) fn dispatch_items_specialised(
        &mut self,
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, u32)],
        params: &impl Params,
        bindings: &[(u32, &GpuTensor)],
        items: usize,
    ) -> Result<()> {
        if items == 0 {
            self.next_flops = None;
            return Ok(());
        }
        self.dispatch_specialised(shader, entry, constants, params, bindings, items.div_ceil(256))
    }

    /// Submits everything recorded so far (with this submission's parameter blocks).
    pub fn flush(&mut self) -> Result<()> {
        self.pass = None;
        let Some(encoder) = self.encoder.take() else {
            return Ok(());
        };
        if self.slots_used > 0 {
            self.ctx.queue.write_buffer(&self.arena, 0, &self.arena_host[..self.slots_used * SLOT]);
        }
        self.slots_used = 0;
        let ctx = self.ctx.clone();
        let index = ctx.checked("submit", || ctx.queue.submit([encoder.finish()]))?;
        self.in_flight.push_back(index);
        ctx.take_uncaptured()
    }

    /// Blocks until at most `max` submissions are still executing, so the host stays only a
    /// little ahead of the device (and progress and ETA mean something).
    pub fn limit_in_flight(&mut self, max: usize) -> Result<()> {
        while self.in_flight.len() > max {
            let index = self.in_flight.pop_front().expect("non-empty");
            self.ctx
                .device
                .poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None })
                .map_err(|e| self.ctx.error("wait", e))?;
        }
        Ok(())
    }

    /// Starts copying `t` back without waiting: the copy is submitted now and mapped when the
    /// device gets there. Collect it with [`GpuBackend::try_collect`].
    pub fn read_async(&mut self, t: &GpuTensor) -> Result<PendingRead> {
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("async readback"),
            size: t.bytes().max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let (buf, off, size) = (t.buf.clone(), t.offset, t.bytes());
        self.encoder().copy_buffer_to_buffer(&buf, off, &staging, 0, size);
        self.flush()?;
        let state: MapState = Arc::new(Mutex::new(None));
        let sink = state.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            *sink.lock().unwrap() = Some(r);
        });
        Ok(PendingRead { staging, state })
    }

    /// The values of a [`PendingRead`] if the device has delivered them; never blocks.
    pub fn try_collect(&self, p: &PendingRead) -> Result<Option<Vec<f32>>> {
        let err = |msg: String| self.ctx.error("readback", msg);
        self.ctx.device.poll(wgpu::PollType::Poll).map_err(|e| err(e.to_string()))?;
        let done = p.state.lock().unwrap().take();
        match done {
            None => Ok(None),
            Some(Err(e)) => Err(err(e.to_string())),
            Some(Ok(())) => {
                let view = p.staging.get_mapped_range(..).map_err(|e| err(e.to_string()))?;
                let out = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
                drop(view);
                p.staging.unmap();
                Ok(Some(out))
            }
        }
    }

    pub fn write_tensor(&mut self, t: &GpuTensor, data: &[f32]) -> Result<()> {
        assert_eq!(t.len, data.len(), "write of {} values into a tensor of {}", data.len(), t.len);
        if data.is_empty() {
            return Ok(());
        }
        // Staged through the encoder (not queue.write_buffer) so the write lands after the
        // commands already recorded, in program order.
        let staging = self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("upload"),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
        let (buf, off, size) = (t.buf.clone(), t.offset, t.bytes());
        self.encoder().copy_buffer_to_buffer(&staging, 0, &buf, off, size);
        Ok(())
    }

    pub fn read_tensor(&mut self, t: &GpuTensor) -> Result<Vec<f32>> {
        if t.len == 0 {
            return Ok(Vec::new());
        }
        let pending = self.read_async(t)?;
        // Another thread polling the same device may have taken this buffer's map callback and
        // not run it yet when our wait returns, so wait until the callback itself has run.
        loop {
            if let Some(values) = self.try_collect(&pending)? {
                return Ok(values);
            }
            self.ctx.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| self.ctx.error("readback", e))?;
            std::thread::yield_now();
        }
    }

    pub fn zero_tensor(&mut self, t: &GpuTensor) {
        if t.len > 0 {
            let (buf, off, size) = (t.buf.clone(), t.offset, t.bytes());
            self.encoder().clear_buffer(&buf, off, Some(size));
        }
    }

    pub fn copy_tensor(&mut self, src: &GpuTensor, dst: &GpuTensor) {
        assert_eq!(src.len, dst.len, "copy between tensors of {} and {}", src.len, dst.len);
        if src.len > 0 {
            let (s, so, d, doff, size) = (src.buf.clone(), src.offset, dst.buf.clone(), dst.offset, src.bytes());
            self.encoder().copy_buffer_to_buffer(&s, so, &d, doff, size);
        }
    }
}

mod trait_impl {
    use super::{GpuBackend, GpuTensor, PendingRead};
    use crate::backend::Backend;
    use crate::error::Result;
    use crate::ops::Pass;

    type T = GpuTensor;

    impl Backend for GpuBackend {
        type T = GpuTensor;
        type Pending = PendingRead;

        fn describe(&self) -> String {
            let a = &self.ctx.adapter;
            format!("{} ({}, {})", a.name, a.backend, a.driver_info)
        }
        fn alloc(&mut self, len: usize) -> Result<T> {
            self.alloc_tensor(len)
        }
        fn write(&mut self, t: &T, data: &[f32]) -> Result<()> {
            self.write_tensor(t, data)
        }
        fn read(&mut self, t: &T) -> Result<Vec<f32>> {
            self.read_tensor(t)
        }
        fn zero(&mut self, t: &T) -> Result<()> {
            self.zero_tensor(t);
            Ok(())
        }
        fn copy(&mut self, src: &T, dst: &T) -> Result<()> {
            self.copy_tensor(src, dst);
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            GpuBackend::flush(self)
        }

        fn read_async(&mut self, t: &T) -> Result<PendingRead> {
            GpuBackend::read_async(self, t)
        }
        fn try_collect(&mut self, p: &PendingRead) -> Result<Option<Vec<f32>>> {
            GpuBackend::try_collect(self, p)
        }
        fn limit_in_flight(&mut self, max: usize) -> Result<()> {
            GpuBackend::limit_in_flight(self, max)
        }

        fn run<P: Pass + ?Sized>(&mut self, pass: &P, reads: &[Option<&T>], writes: &[Option<&T>]) -> Result<()> {
            let lens = |list: &[Option<&T>]| list.iter().map(|t| t.map(|t| t.len)).collect::<Vec<_>>();
            pass.check(&lens(reads), &lens(writes))?;
            pass.record(self, reads, writes)
        }
    }
}
