//! Shared by the test binaries: the GPU device (one per binary), the seeded RNG, and the
//! tolerance check that prints the worst elements.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use wgan_gpu::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext};

/// The GPU backend for a test, or None (skip) when no adapter exists on a developer's machine.
/// Under CI=true (or WGAN_REQUIRE_GPU=1) a missing adapter fails the test instead: CI installs
/// lavapipe, so no adapter there means the GPU tests would silently prove nothing.
pub fn gpu() -> Option<GpuBackend> {
    static CTX: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| match GpuContext::new(test_backend(), &DeviceSettings::from_env()) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
                || std::env::var_os("WGAN_REQUIRE_GPU").is_some();
            if required {
                panic!("GPU tests need an adapter under CI / WGAN_REQUIRE_GPU: {e}");
            }
            eprintln!("SKIPPING GPU test: {e}");
            None
        }
    });
    ctx.clone().map(|c| GpuBackend::new(c).expect("backend"))
}

/// A backend on a device of its own, for a test that breaks its device; None where `gpu` skips.
pub fn own_gpu() -> Option<GpuBackend> {
    gpu()?;
    Some(
        GpuBackend::new(GpuContext::new(test_backend(), &DeviceSettings::from_env()).expect("a second device"))
            .expect("backend"),
    )
}

/// `WGAN_TEST_BACKEND=vulkan|metal|dx12|gl` runs the GPU tests on that backend (default: auto).
fn test_backend() -> BackendChoice {
    std::env::var("WGAN_TEST_BACKEND").map_or(BackendChoice::Auto, |v| v.parse().expect("WGAN_TEST_BACKEND"))
}

pub use wgan_gpu::reference::gradcheck::Rng;

/// |got − want| <= atol + rtol·|want| element-wise; on failure prints the worst elements.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut bad: Vec<(usize, f32)> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter_map(|(i, (&g, &w))| {
            let excess = (g - w).abs() - (atol + rtol * w.abs());
            (excess > 0.0 || g.is_nan() != w.is_nan())
                .then_some((i, if excess.is_nan() { f32::INFINITY } else { excess }))
        })
        .collect();
    if bad.is_empty() {
        return;
    }
    bad.sort_by(|a, b| b.1.total_cmp(&a.1));
    let worst: Vec<String> = bad
        .iter()
        .take(8)
        .map(|&(i, _)| format!("  [{i}] got {:.7e} want {:.7e} diff {:.3e}", got[i], want[i], (got[i] - want[i]).abs()))
        .collect();
    panic!(
        "{what}: {} of {} elements outside atol {atol:e} + rtol {rtol:e}; worst:\n{}",
        bad.len(),
        got.len(),
        worst.join("\n")
    );
}

/// One iteration's inputs for a GAN of `cfg` with images of `img` values: a random real batch
/// per discriminator step in [−1, 1), and a random label batch per step when conditional.
#[allow(dead_code)] // not every test file trains
pub fn iteration_inputs<B: wgan_gpu::Backend>(
    b: &mut B,
    rng: &mut Rng,
    cfg: &wgan_gpu::gan::GanConfig,
    img: usize,
) -> (Vec<B::T>, Vec<B::T>) {
    let n = cfg.real_batches();
    let reals = (0..n).map(|_| b.upload(&rng.vec(cfg.batch * img, -1.0, 1.0)).unwrap()).collect();
    let labels = (0..if cfg.classes > 0 { n } else { 0 })
        .map(|_| b.upload(&rng.vec(cfg.batch, 0.0, cfg.classes as f32)).unwrap())
        .collect();
    (reals, labels)
}
