//! `cargo bench`: `wgan-gpu bench` at batch 64 for both reference models (every op checked against
//! the CPU reference, then timed, and the whole iteration), to catch regressions. It reuses the
//! subcommand rather than criterion because the op timings come from GPU timestamps, which a
//! host-side harness cannot see.

use std::process::ExitCode;

use wgan_gpu::bench::{BenchArgs, BenchModel, bench};
use wgan_gpu::gpu::BackendChoice;

fn main() -> ExitCode {
    let args = BenchArgs {
        backend: BackendChoice::Auto,
        model: BenchModel::All,
        batch: vec![64],
        json: false,
        iters: 5,
        warmup: 2,
        no_ops: false,
        no_check: false,
        loss: wgan_gpu::gan::LossKind::Bce,
        image_size: 28,
        channels: 1,
    };
    match bench(args, &wgan_gpu::gpu::DeviceSettings::from_env()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
