//! Per-dispatch GPU timestamps, for `wgan-gpu bench`: where the adapter has timestamp queries,
//! every compute pass recorded while profiling writes one at its start and one at its end.

use std::sync::{Arc, Mutex};

use super::backend::GpuBackend;
use crate::error::Result;

/// wgpu's limit on queries per set; two per dispatch.
const MAX_QUERIES: u32 = 4096;

pub(crate) struct Profiler {
    pub(crate) set: wgpu::QuerySet,
    pub(crate) labels: Vec<&'static str>,
}

impl Profiler {
    /// The timestamp writes for the next pass, or None when the set is full.
    pub(crate) fn next(&mut self, label: &'static str) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let i = self.labels.len() as u32;
        if 2 * i + 2 > MAX_QUERIES {
            return None;
        }
        self.labels.push(label);
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        })
    }
}

impl GpuBackend {
    /// Starts timing every dispatch; false when the adapter has no timestamp queries.
    pub fn start_profiling(&mut self) -> bool {
        if !self.ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return false;
        }
        let set = self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profiler"),
            ty: wgpu::QueryType::Timestamp,
            count: MAX_QUERIES,
        });
        self.profiler = Some(Profiler { set, labels: Vec::new() });
        true
    }

    /// Waits for the profiled work and returns each dispatch's `shader.entry` and GPU seconds, in
    /// recording order (at most 2048 dispatches are timed).
    pub fn finish_profiling(&mut self) -> Result<Vec<(&'static str, f64)>> {
        let Some(p) = self.profiler.take() else {
            return Ok(Vec::new());
        };
        let n = p.labels.len() as u64;
        if n == 0 {
            return Ok(Vec::new());
        }
        let device = self.ctx.device.clone();
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: 16 * n,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps readback"),
            size: 16 * n,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let encoder = self.encoder();
        encoder.resolve_query_set(&p.set, 0..2 * n as u32, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, 16 * n);
        self.flush()?;
        let done = Arc::new(Mutex::new(None));
        let sink = done.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| *sink.lock().unwrap() = Some(r));
        let err = |msg: String| self.ctx.error("timestamps", msg);
        device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| err(e.to_string()))?;
        match done.lock().unwrap().take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(err(e.to_string())),
            None => return Err(err("the map callback did not run".into())),
        }
        let period = self.ctx.queue.get_timestamp_period() as f64 * 1e-9;
        let ticks: Vec<u64> =
            bytemuck::cast_slice(&staging.get_mapped_range(..).map_err(|e| err(e.to_string()))?).to_vec();
        staging.unmap();
        Ok(p.labels
            .iter()
            .enumerate()
            .map(|(i, l)| (*l, ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period))
            .collect())
    }
}
