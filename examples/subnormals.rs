//! Times one 512³ product on the adapter with normal inputs and with subnormal ones (values below
//! 1.2e-38), to show what flushing them to zero is for: on CPU adapters every arithmetic
//! instruction that meets a subnormal takes a microcode assist unless flushing is on, which
//! `GpuContext` turns on in the driver's threads (`WGAN_SUBNORMALS=keep` turns that off).
//! Usage: cargo run --release --example subnormals [-- BACKEND]
//!        WGAN_SUBNORMALS=keep cargo run --release --example subnormals

use std::time::Instant;

use wgan_gpu::Backend;
use wgan_gpu::gpu::{BackendChoice, GpuBackend, GpuContext};
use wgan_gpu::ops::gemm::Gemm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let choice: BackendChoice = std::env::args().nth(1).unwrap_or("auto".into()).parse()?;
    let mut g = GpuBackend::new(GpuContext::new(choice, &wgan_gpu::gpu::DeviceSettings::from_env())?)?;
    let n = 512;
    let mm = Gemm::plain((n, n, n), (n, 1), (n, 1), (n, 1), false);
    let ones = |scale: f32| (0..n * n).map(|i| scale * (1.0 + (i % 7) as f32)).collect::<Vec<_>>();
    println!(
        "{} ({}), WGAN_SUBNORMALS={}",
        g.ctx.adapter.name,
        g.ctx.adapter.backend,
        std::env::var("WGAN_SUBNORMALS").unwrap_or_default()
    );
    for (what, scale) in [("normal", 1e-3f32), ("subnormal", 1e-39)] {
        let (a, b, c) = (g.upload(&ones(scale))?, g.upload(&ones(1.0))?, g.alloc(n * n)?);
        let mut times = Vec::new();
        for _ in 0..4 {
            let t = Instant::now();
            wgan_gpu::ops::gemm::gemm(&mut g, &mm, &a, &b, None, &c)?;
            g.read(&c)?;
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let gflops = 2.0 * (n * n * n) as f64 / times[1] / 1e9;
        println!("{what:>9} inputs: {:8.2} ms per product ({gflops:.2} GFLOP/s)", times[1] * 1e3);
    }
    Ok(())
}
