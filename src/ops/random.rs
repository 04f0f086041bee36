//! random: counter-based normal and uniform samplers on the GPU. Element i of a draw is a
//! function of (seed, offset + i) alone, so a seed and offset reproduce it anywhere.

use super::{GpuTensors, Pass, all, all_mut, run, split, u};
use crate::backend::Backend;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::gpu::params::params;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    Normal { mean: f32, std: f32 },
    Uniform { low: f32, high: f32 },
}

params! {
    pub struct RandomParams { n: u32, seed_lo: u32, seed_hi: u32, off_lo: u32, off_hi: u32, a: f32, b: f32 }
}

/// Fills `out` from the counter-based generator at (seed, offset).
pub fn fill<B: Backend>(b: &mut B, d: Distribution, seed: u64, offset: u64, out: &B::T) -> Result<()> {
    run(b, &Fill { d, seed, offset }, &[], &[out])
}

/// Writes out.
struct Fill {
    d: Distribution,
    seed: u64,
    offset: u64,
}

impl Pass for Fill {
    fn check(&self, _: &[Option<usize>], _: &[Option<usize>]) -> Result<()> {
        Ok(())
    }
    fn reference(&self, _: &[Option<&[f32]>], writes: &mut [Option<&mut [f32]>]) {
        let [out] = all_mut(writes);
        match self.d {
            Distribution::Normal { mean, std } => reference::normal(out, self.seed, self.offset, mean, std),
            Distribution::Uniform { low, high } => reference::uniform(out, self.seed, self.offset, low, high),
        }
    }
    fn record(&self, g: &mut GpuBackend, _: GpuTensors, writes: GpuTensors) -> Result<()> {
        let [out] = all(writes);
        let ([seed_lo, seed_hi], [off_lo, off_hi]) = (split(self.seed), split(self.offset));
        let (entry, a, b) = match self.d {
            Distribution::Normal { mean, std } => ("fill_normal", mean, std),
            Distribution::Uniform { low, high } => ("fill_uniform", low, high),
        };
        g.dispatch_items(
            "random",
            entry,
            &RandomParams { n: u(out.len), seed_lo, seed_hi, off_lo, off_hi, a, b },
            &[(1, out)],
            out.len,
        )
    }
}

/// The CPU reference: plain loops on slices, generic over the float (f64 for the gradient checks).
pub mod reference {
    // The counter-based generator the shaders use, bit for bit.
    /// Threefry-2x32 with 20 rounds (Salmon et al. 2011).
    pub fn threefry2x32(key: [u32; 2], ctr: [u32; 2]) -> [u32; 2] {
        const R: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
        let ks = [key[0], key[1], 0x1BD1_1BDA ^ key[0] ^ key[1]];
        let mut x0 = ctr[0].wrapping_add(ks[0]);
        let mut x1 = ctr[1].wrapping_add(ks[1]);
        for q in 0..5u32 {
            for r in R[(q & 1) as usize] {
                x0 = x0.wrapping_add(x1);
                x1 = x1.rotate_left(r) ^ x0;
            }
            let i = q + 1;
            x0 = x0.wrapping_add(ks[(i % 3) as usize]);
            x1 = x1.wrapping_add(ks[((i + 1) % 3) as usize]).wrapping_add(i);
        }
        [x0, x1]
    }

    /// The generator's two words for element `i` of the draw (seed, offset).
    pub fn bits(seed: u64, offset: u64, i: u64) -> [u32; 2] {
        let ctr = offset.wrapping_add(i);
        threefry2x32([seed as u32, (seed >> 32) as u32], [ctr as u32, (ctr >> 32) as u32])
    }

    pub fn unit_float(bits: u32) -> f32 {
        (bits >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A standard normal from one draw by Box–Muller, as common.wgsl's `standard_normal`.
    pub fn standard_normal([a, b]: [u32; 2]) -> f32 {
        let u1 = ((a >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
        (-2.0 * u1.ln()).max(0.0).sqrt() * (std::f32::consts::TAU * unit_float(b)).cos()
    }

    /// out[i] ~ Normal(mean, std), as random.wgsl's `fill_normal`.
    pub fn normal(out: &mut [f32], seed: u64, offset: u64, mean: f32, std: f32) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = mean + std * standard_normal(bits(seed, offset, i as u64));
        }
    }

    /// out[i] ~ Uniform[low, high), as random.wgsl's `fill_uniform`.
    pub fn uniform(out: &mut [f32], seed: u64, offset: u64, low: f32, high: f32) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = low + (high - low) * unit_float(bits(seed, offset, i as u64)[0]);
        }
    }
}
