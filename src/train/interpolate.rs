//! `wgan-gpu interpolate`: what G does along paths of its latent space, as one PNG: a plane over
//! two latent axes (the rest fixed), or straight/spherical paths between pairs of seeds.

use std::path::PathBuf;

use super::checkpoint::Checkpoint;
use super::outputs;
use super::sample::Generator;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gan::step::derive_seed;
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext};
use crate::ops::random::reference::normal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Path {
    /// A steps × steps grid: latent axes --axes swept over [−span, span], the rest fixed.
    Plane,
    /// Each row goes in a straight line between two random latent vectors.
    Linear,
    /// Each row follows the great circle between two random latent vectors (White 2016), which
    /// keeps the norm typical of N(0, I) samples all the way.
    Slerp,
}

#[derive(clap::Args, Clone, Debug)]
pub struct InterpolateArgs {
    /// A checkpoint.safetensors, or the run folder holding one.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = Path::Slerp)]
    pub path: Path,
    /// Images per row (and rows of a plane).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Rows of a linear or spherical interpolation, each between its own pair of seeds.
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// The two latent dimensions a plane sweeps.
    #[arg(long, default_value = "0,1")]
    pub axes: String,
    /// A plane sweeps each axis over [−span, span].
    #[arg(long, default_value_t = 2.5)]
    pub span: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Conditional models: the class to draw (default: row r shows class r).
    #[arg(long)]
    pub label: Option<String>,
    /// InfoGAN models: the categorical code to draw (default: row r shows code r).
    #[arg(long)]
    pub code: Option<usize>,
    /// InfoGAN's figure: one row per value of the categorical code, the columns sweeping one
    /// continuous code (--code-axis) over [−2, 2] with the rest of z fixed.
    #[arg(long)]
    pub code_grid: bool,
    /// Which continuous code --code-grid sweeps (0: the first).
    #[arg(long, default_value_t = 0)]
    pub code_axis: usize,
    /// Draw from the live generator's weights, not their moving average (--g-ema).
    #[arg(long)]
    pub raw: bool,
    #[arg(long, default_value = "auto")]
    pub backend: String,
}

fn random_z(z_dim: usize, seed: u64, k: u64) -> Vec<f32> {
    let mut z = vec![0.0; z_dim];
    normal(&mut z, derive_seed(seed, k, 5), 0, 0.0, 1.0);
    z
}

/// Spherical interpolation; falls back to a straight line for (nearly) parallel ends.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cos = a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (norm(a) * norm(b)).max(1e-12);
    let omega = cos.clamp(-1.0, 1.0).acos();
    if omega.sin().abs() < 1e-6 {
        return lerp(a, b, t);
    }
    let (wa, wb) = (((1.0 - t) * omega).sin() / omega.sin(), (t * omega).sin() / omega.sin());
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
}

pub fn interpolate(args: InterpolateArgs, device: &DeviceSettings) -> Result<()> {
    if args.steps < 2 || args.rows == 0 {
        return Err(Error::Config("--steps must be at least 2 and --rows positive".into()));
    }
    let backend: BackendChoice = args.backend.parse().map_err(Error::Config)?;
    let mut b = GpuBackend::new(GpuContext::new(backend, device)?)?;
    let path = Generator::checkpoint_path(&args.checkpoint);
    let ckpt = Checkpoint::load(&path)?;
    // The code grid's rows are the code's values.
    let rows = match args.path {
        _ if args.code_grid => Generator::codes_of(&ckpt, &path)?.1.max(1),
        Path::Plane => args.steps,
        _ => args.rows,
    };
    let n = rows * args.steps;
    let chunk = n.min(256);
    let mut g = Generator::from_checkpoint(&mut b, &ckpt, &path, chunk, args.raw)?;
    if g.info.is_table() {
        return Err(Error::Config("interpolate draws images; this model generates table rows".into()));
    }
    let z_dim = g.z_dim();
    let fixed = g.fixed_code(args.label.as_deref(), args.code)?;
    let classes = g.codes.max(1);

    let mut zs = Vec::with_capacity(n * z_dim);
    match args.path {
        _ if args.code_grid => {
            if !g.info_codes() || args.code_axis >= g.continuous {
                return Err(Error::Config(format!(
                    "--code-grid needs a model trained with --info-cat and --info-cont (this one: {} code \
                     values, {} continuous codes; --code-axis {})",
                    if g.info_codes() { g.codes } else { 0 },
                    g.continuous,
                    args.code_axis
                )));
            }
            let axis = z_dim - g.continuous + args.code_axis;
            let mut base = random_z(z_dim, args.seed, 0);
            g.draw_codes_host(args.seed, &mut base);
            for _ in 0..rows {
                for c in 0..args.steps {
                    let mut z = base.clone();
                    // The codes were drawn from U(−1, 1): ±2 goes beyond them, as Chen et al.'s
                    // figures do, to show how far the code's meaning carries.
                    z[axis] = 2.0 * (2.0 * c as f32 / (args.steps - 1) as f32 - 1.0);
                    zs.extend(z);
                }
            }
        }
        Path::Plane => {
            let axes = super::config::parse_list("axes", &args.axes)?;
            let [a0, a1] = axes[..] else {
                return Err(Error::Config("--axes takes two latent dimensions, e.g. 0,1".into()));
            };
            if a0.max(a1) >= z_dim || a0 == a1 {
                return Err(Error::Config(format!("--axes {a0},{a1}: two different dimensions below {z_dim}")));
            }
            let base = random_z(z_dim, args.seed, 0);
            let at = |i: usize| args.span * (2.0 * i as f32 / (args.steps - 1) as f32 - 1.0);
            for r in 0..args.steps {
                for c in 0..args.steps {
                    let mut z = base.clone();
                    (z[a0], z[a1]) = (at(c), at(r));
                    zs.extend(z);
                }
            }
        }
        Path::Linear | Path::Slerp => {
            for r in 0..args.rows as u64 {
                let (a, bz) = (random_z(z_dim, args.seed, 2 * r + 1), random_z(z_dim, args.seed, 2 * r + 2));
                for c in 0..args.steps {
                    let t = c as f32 / (args.steps - 1) as f32;
                    zs.extend(if args.path == Path::Slerp { slerp(&a, &bz, t) } else { lerp(&a, &bz, t) });
                }
            }
        }
    }
    let shape = g.output_shape()?;
    let z_t = b.alloc(chunk * z_dim)?;
    let mut images = Vec::with_capacity(n * shape.size());
    for start in (0..n).step_by(chunk) {
        let take = (n - start).min(chunk);
        let mut z = zs[start * z_dim..(start + take) * z_dim].to_vec();
        z.resize(chunk * z_dim, 0.0);
        b.write(&z_t, &z)?;
        let labels: Vec<f32> = (0..chunk).map(|i| fixed.unwrap_or((start + i) / args.steps % classes) as f32).collect();
        images.extend_from_slice(&g.run_all(&mut b, &z_t, &labels)?[..take * shape.size()]);
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.into(), source })?;
    }
    outputs::save_png(&outputs::grid(&images, n, shape, args.steps), &args.out)?;
    eprintln!("wrote {rows}x{} images to {}", args.steps, args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_keeps_the_ends_and_the_norm_of_orthogonal_unit_vectors() {
        let (a, b) = ([1.0, 0.0], [0.0, 1.0]);
        assert_eq!(slerp(&a, &b, 0.0), a);
        let end = slerp(&a, &b, 1.0);
        assert!((end[0] - 0.0).abs() < 1e-6 && (end[1] - 1.0).abs() < 1e-6);
        let mid = slerp(&a, &b, 0.5);
        assert!((mid[0].hypot(mid[1]) - 1.0).abs() < 1e-6, "{mid:?}");
        assert_eq!(lerp(&a, &b, 0.5), [0.5, 0.5]);
    }
}
