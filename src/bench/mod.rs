//! `wgan-gpu bench`: every op of the two reference models at their real layer shapes (checked
//! against the CPU reference, then timed) and the whole training iteration, with FLOPs counted as
//! `pytorch_gan_bench.py` counts them so the two tools' rows compare directly.

pub mod cases;

use std::time::Instant;

use serde_json::json;

use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::error::{Error, Result};
use crate::gan::config::{GanConfig, LossKind, ModelKind};
use crate::gan::models::reference_bench_models;
use crate::gan::step::Gan;
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext, GpuTensor};
use crate::nn::{NetSpec, Shape};
use crate::ops::gemm::{BIG_PRODUCT, MIN_WORKGROUPS};
use cases::{Case, Fill};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchModel {
    Dcgan,
    Mlp,
    /// The Keras DCGAN of `--preset dcgan-keras` (not in the PyTorch reference).
    Keras,
    /// dcgan and mlp, the two models of the PyTorch reference.
    All,
    /// What plain `wgan-gpu train` trains: the DCGAN of width 32 with batch norm in G, hinge
    /// loss, spectral norm in D and G's moving average (not in the PyTorch reference).
    Default,
}

/// The generator, discriminator and iteration settings of plain `wgan-gpu train` on images of
/// `img` (MNIST's 1×28×28, or a folder's at `--image-size` and `--channels`).
fn default_recipe(img: Shape) -> Result<(NetSpec, NetSpec, GanConfig)> {
    let args = crate::train::default_settings();
    let (gs, ds) = args.specs(img, 0, false)?;
    Ok((gs, ds, args.gan_config()))
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// vulkan, metal, dx12, gl or auto
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
    #[arg(long, value_enum, default_value = "all")]
    pub model: BenchModel,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    pub batch: Vec<usize>,
    /// One JSON object per row on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Timed training iterations per model and batch (after warm-up).
    #[arg(long, default_value_t = 20)]
    pub iters: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Only the whole training iteration, not the per-op table.
    #[arg(long)]
    pub no_ops: bool,
    /// Skip the CPU-reference check of each op (it is slow at batch 256).
    #[arg(long)]
    pub no_check: bool,
    /// The iteration's loss: bce (as pytorch_gan_bench.py) or wgan-gp (one critic step with
    /// the gradient penalty's three extra passes through D; its FLOPs are not counted).
    #[arg(long, value_enum, default_value_t = LossKind::Bce)]
    pub loss: LossKind,
    /// The side of the images `--model default` trains on (28: MNIST; 32, 64, 128: a folder's
    /// `--image-size`). The PyTorch reference's models are MNIST's.
    #[arg(long, default_value_t = 28)]
    pub image_size: usize,
    /// Channels of those images (1 grey, 3 colour).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
}

/// Median, and the 10th and 90th percentiles as the spread.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.1), at(0.9))
}

/// FLOPs of one iteration, counted as `pytorch_gan_bench.py`'s docstring defines them.
pub fn flops_per_iteration(g: &NetSpec, d: &NetSpec, batch: usize) -> Result<(u64, u64)> {
    let (gm, dm) = (g.forward_macs()?, d.forward_macs()?);
    let sum = |m: &[u64]| m.iter().sum::<u64>();
    let (g_fwd, d_fwd) = (sum(&gm), sum(&dm));
    let (g_first, d_first) = (gm.first().copied().unwrap_or(0), dm.first().copied().unwrap_or(0));
    let g_exact = g_fwd + g_fwd + (g_fwd - g_first);
    let d_exact = 3 * d_fwd + 2 * d_fwd + 2 * (d_fwd - d_first) + d_fwd + d_fwd;
    let b = batch as u64;
    Ok((2 * b * (g_exact + d_exact), 2 * b * (3 * g_fwd + 9 * d_fwd)))
}

struct Out {
    json: bool,
}

impl Out {
    fn line(&self, s: &str) {
        if self.json { eprintln!("{s}") } else { println!("{s}") }
    }
    fn row(&self, v: serde_json::Value) {
        if self.json {
            println!("{v}");
        }
    }
}

pub fn bench(args: BenchArgs, device: &DeviceSettings) -> Result<()> {
    let img = Shape(args.channels, args.image_size, args.image_size);
    if args.model != BenchModel::Default && img != Shape(1, 28, 28) {
        return Err(Error::Config(
            "--image-size and --channels apply to --model default (the reference models are MNIST's)".into(),
        ));
    }
    let ctx = GpuContext::new(args.backend, device)?;
    if let Some(hint) = ctx.adapter.slow_path_hint() {
        eprintln!("{hint}");
    }
    let mut g = GpuBackend::new(ctx.clone())?;
    let out = Out { json: args.json };
    let threads = device.lavapipe_threads.clone();
    let timestamps = ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let a = &ctx.adapter;
    let kernels = g.plan().describe();
    out.line(&format!(
        "adapter: {} ({}, {}), driver: {} {}; kernels: {}; LP_NUM_THREADS: {}; timing: {}",
        a.name,
        a.backend,
        a.device_type,
        a.driver,
        a.driver_info,
        kernels,
        threads.as_deref().unwrap_or("unset"),
        if timestamps { "GPU timestamps (ops), wall clock (iterations)" } else { "wall clock" },
    ));
    out.row(json!({
        "bench": "header", "adapter": a.name, "backend": a.backend, "device_type": a.device_type,
        "driver": a.driver, "driver_info": a.driver_info, "kernels": kernels,
        "lp_num_threads": threads, "timestamps": timestamps,
    }));
    let models: &[Option<ModelKind>] = match args.model {
        BenchModel::Dcgan => &[Some(ModelKind::Dcgan)],
        BenchModel::Mlp => &[Some(ModelKind::Mlp)],
        BenchModel::Keras => &[Some(ModelKind::Keras)],
        BenchModel::All => &[Some(ModelKind::Dcgan), Some(ModelKind::Mlp)],
        BenchModel::Default => &[None],
    };
    for &model in models {
        let (gs, ds, recipe) = match model {
            Some(m) => {
                let (gs, ds) = reference_bench_models(m, 100);
                (gs, ds, GanConfig { loss: args.loss, ..GanConfig::default() })
            }
            None => default_recipe(img)?,
        };
        let name = model.map_or("default".to_string(), |m| format!("{m:?}").to_lowercase());
        for &batch in &args.batch {
            if batch == 0 {
                return Err(Error::Config("--batch sizes must be positive".into()));
            }
            if !args.no_ops {
                out.line(&format!(
                    "\n{name} batch {batch}: ops\n{:<3} {:<6} {:<17} {:<15} {:<30} {:>10} {:>19} {:>9} {:>9}",
                    "net", "layer", "op", "pass", "shape", "median ms", "p10..p90 ms", "GFLOP/s", "check"
                ));
                let mut fill = Fill::new(batch as u64);
                let mut all = cases::cases("G", &gs, batch, false, &mut fill)?;
                all.extend(cases::cases("D", &ds, batch, true, &mut fill)?);
                for case in &all {
                    op_row(&mut g, case, &name, batch, !args.no_check, timestamps, &out)?;
                }
            }
            let cfg = GanConfig { batch, ..recipe.clone() };
            iteration_row(&mut g, cfg, &gs, &ds, &name, &args, &out)?;
        }
    }
    Ok(())
}

fn op_row(
    g: &mut GpuBackend,
    case: &Case,
    model: &str,
    batch: usize,
    check: bool,
    timestamps: bool,
    out: &Out,
) -> Result<()> {
    let upload = |g: &mut GpuBackend| -> Result<Vec<_>> { case.tensors.iter().map(|t| g.upload(t)).collect() };
    let t = upload(g)?;
    let max_err = if check {
        let mut cpu = CpuBackend;
        let tc: Vec<_> = case.tensors.iter().map(|v| cpu.upload(v)).collect::<Result<_>>()?;
        case.run(&mut cpu, &tc)?;
        case.run(g, &t)?;
        let mut worst = 0.0f32;
        for &i in &case.outputs {
            let (want, got) = (cpu.read(&tc[i])?, g.read(&t[i])?);
            for (w, x) in want.iter().zip(&got) {
                // Relative to max(1, |want|): weight gradients sum thousands of products.
                worst = worst.max((w - x).abs() / w.abs().max(1.0));
            }
        }
        Some(worst)
    } else {
        case.run(g, &t)?;
        g.flush()?;
        g.limit_in_flight(0)?;
        None
    };
    // Repetitions: at least 5, and up to ~0.5 s or 50.
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 5 || (times.len() < 50 && started.elapsed().as_secs_f64() < 0.5) {
        let wall = Instant::now();
        if timestamps {
            g.start_profiling();
        }
        case.run(g, &t)?;
        let gpu: f64 = g.finish_profiling()?.iter().map(|(_, s)| s).sum();
        g.flush()?;
        g.limit_in_flight(0)?;
        times.push(if timestamps { gpu } else { wall.elapsed().as_secs_f64() });
    }
    let (med, p10, p90) = stats(times);
    let rate = match case.flops {
        Some(f) => format!("{:.2}", f as f64 / med / 1e9),
        None => format!("{:.2} GB/s", case.bytes as f64 / med / 1e9),
    };
    let ok = max_err.map_or("-".to_string(), |e| if e <= 1e-3 { "ok".into() } else { format!("ERR {e:.1e}") });
    out.line(&format!(
        "{:<3} {:<6} {:<17} {:<15} {:<30} {:>10.3} {:>19} {:>9} {:>9}",
        case.net,
        case.layer,
        case.op_name(),
        case.pass.name(),
        case.shape(),
        med * 1e3,
        format!("{:.3}..{:.3}", p10 * 1e3, p90 * 1e3),
        rate,
        ok
    ));
    out.row(json!({
        "bench": "op", "model": model, "batch": batch, "net": case.net, "layer": case.layer,
        "op": case.op_name(), "pass": case.pass.name(), "shape": case.shape(),
        "ms_median": med * 1e3, "ms_p10": p10 * 1e3, "ms_p90": p90 * 1e3,
        "gflops": case.flops.map(|f| f as f64 / med / 1e9),
        "gbytes_per_s": case.flops.is_none().then(|| case.bytes as f64 / med / 1e9),
        "max_rel_err": max_err,
    }));
    if let Some(e) = max_err
        && e > 1e-3
    {
        return Err(Error::Config(format!(
            "{} {} {}: the GPU differs from the CPU reference by {e:.2e}",
            case.op_name(),
            case.pass.name(),
            case.shape()
        )));
    }
    Ok(())
}

/// Where the time of one iteration goes, by kernel (GPU timestamps; empty where the adapter has
/// none): (label, seconds, dispatches), the slowest first.
fn kernel_profile(
    g: &mut GpuBackend,
    gan: &mut Gan<GpuBackend>,
    reals: &[GpuTensor],
) -> Result<Vec<(&'static str, f64, usize)>> {
    let mut by_kernel: Vec<(&str, f64, usize)> = Vec::new();
    if g.start_profiling() {
        gan.iteration(g, reals, &[])?;
        for (label, s) in g.finish_profiling()? {
            match by_kernel.iter_mut().find(|(l, ..)| *l == label) {
                Some(e) => {
                    e.1 += s;
                    e.2 += 1;
                }
                None => by_kernel.push((label, s, 1)),
            }
        }
        by_kernel.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
    Ok(by_kernel)
}

/// The iteration's dispatch count, and the large products that run on few workgroups.
fn print_dispatches(out: &Out, dispatches: &[crate::gpu::DispatchRecord], passes: usize) {
    let thin: Vec<_> = dispatches
        .iter()
        .filter(|d| d.flops.is_some_and(|f| f > BIG_PRODUCT) && d.workgroups < MIN_WORKGROUPS)
        .collect();
    out.line(&format!(
        "  {} dispatches in {} compute passes; {} products over 1 MFLOP run on fewer than {MIN_WORKGROUPS} workgroups{}",
        dispatches.len(),
        passes,
        thin.len(),
        if thin.is_empty() { String::new() } else { ":".into() }
    ));
    for d in thin {
        let mflop = d.flops.unwrap_or(0) as f64 / 1e6;
        out.line(&format!("    {:<36} {:>5} workgroups  {mflop:>8.1} MFLOP", d.kernel, d.workgroups));
    }
}

fn print_profile(out: &Out, by_kernel: &[(&str, f64, usize)]) {
    let gpu_total: f64 = by_kernel.iter().map(|k| k.1).sum();
    if gpu_total > 0.0 {
        out.line(&format!(
            "  GPU time by kernel (one iteration, {:.2} ms in {} dispatches):",
            gpu_total * 1e3,
            by_kernel.iter().map(|k| k.2).sum::<usize>()
        ));
        for (label, s, count) in by_kernel {
            out.line(&format!(
                "    {label:<36} {:>9.3} ms {:>5.1}%  ({count} dispatches)",
                s * 1e3,
                100.0 * s / gpu_total
            ));
        }
    }
}

fn iteration_row(
    g: &mut GpuBackend,
    cfg: GanConfig,
    gs: &NetSpec,
    ds: &NetSpec,
    model: &str,
    args: &BenchArgs,
    out: &Out,
) -> Result<()> {
    let (batch, loss) = (cfg.batch, cfg.loss);
    let mut gan = Gan::new(g, cfg, gs, ds)?;
    // As the PyTorch reference: 0.5·N(0, 1) clamped to [−1, 1], one fixed batch.
    let reals: Vec<f32> =
        Fill::new(7).vec(batch * ds.input.size()).iter().map(|v| (0.5 * v * 1.7).clamp(-1.0, 1.0)).collect();
    let reals = [g.upload(&reals)?];
    let (mut times, mut recording) = (Vec::new(), Vec::new());
    for i in 0..args.warmup + args.iters {
        let t = Instant::now();
        gan.iteration(g, &reals, &[])?;
        let recorded = t.elapsed().as_secs_f64();
        g.flush()?;
        g.limit_in_flight(0)?;
        if i >= args.warmup {
            times.push(t.elapsed().as_secs_f64());
            recording.push(recorded);
        }
    }
    // The host's share: on a fast GPU the iteration cannot take less than its recording.
    let (record_med, _, _) = stats(recording);
    let by_kernel = kernel_profile(g, &mut gan, &reals)?;
    g.start_dispatch_log();
    gan.iteration(g, &reals, &[])?;
    g.flush()?;
    let dispatches = g.take_dispatch_log();
    let passes = dispatches.last().map_or(0, |d| d.pass);
    print_dispatches(out, &dispatches, passes);
    out.line(&format!(
        "  recording on the host: {:.3} ms/iter median ({:.1} µs per dispatch)",
        record_med * 1e3,
        record_med * 1e6 / dispatches.len().max(1) as f64
    ));
    let stats_now = g.read(&gan.stats)?;
    let s = gan.summarise(&stats_now);
    let finite = s.d_loss.is_finite() && s.g_loss.is_finite();
    let (exact, nominal) = flops_per_iteration(gs, ds, batch)?;
    let n = times.len();
    let total: f64 = times.iter().sum();
    let (med, p10, p90) = stats(times);
    out.line(&format!(
        "\n{model} batch {batch}: {:?} training iteration (D step on a real and a fake batch, G step, two Adam updates)\n  \
         {:.2} ms/iter median (p10 {:.2}, p90 {:.2}; {n} timed after {} warm-up), {:.1} images/s, \
         {:.2} GFLOP/s ({:.1} MFLOP/iter, counted as pytorch_gan_bench.py), losses finite: {finite}",
        loss,
        med * 1e3,
        p10 * 1e3,
        p90 * 1e3,
        args.warmup,
        batch as f64 / med,
        exact as f64 / med / 1e9,
        exact as f64 / 1e6,
    ));
    print_profile(out, &by_kernel);
    out.row(json!({
        "bench": "gan_train_iter", "tool": "wgan-gpu", "model": model, "batch": batch,
        "loss": if loss == LossKind::Bce { "BCEWithLogits".to_string() } else { format!("{loss:?}") },
        "device": g.describe(), "warmup_iters": args.warmup, "timed_iters": n, "timed_total_s": total,
        "ms_per_iter_median": med * 1e3, "ms_per_iter_p10": p10 * 1e3, "ms_per_iter_p90": p90 * 1e3,
        "images_per_s": batch as f64 / med,
        "flop_per_iter_exact": exact, "flop_per_iter_nominal": nominal,
        "gflops_exact": exact as f64 / med / 1e9, "gflops_nominal": nominal as f64 / med / 1e9,
        "g_params": gan.g.param_infos.iter().map(|p| p.len).sum::<usize>(),
        "d_params": gan.d.param_infos.iter().map(|p| p.len).sum::<usize>(),
        "final_loss_d": s.d_loss, "final_loss_g": s.g_loss, "finite": finite,
        "record_ms_median": record_med * 1e3,
        "dispatch_count": dispatches.len(), "compute_passes": passes, "dispatches": dispatches,
        "gpu_ms_by_kernel": by_kernel.iter().map(|(l, s, c)| json!({"kernel": l, "ms": s * 1e3, "dispatches": c})).collect::<Vec<_>>(),
    }));
    Ok(())
}
