use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wgan_gpu::gpu::context::list_adapters;
use wgan_gpu::gpu::{BackendChoice, DeviceSettings};
use wgan_gpu::train::SampleArgs;
use wgan_gpu::train::resolve::{TrainArgs, given_ids};

#[derive(Parser)]
#[command(name = "wgan-gpu", version, about = "GAN trainer on WGSL compute shaders (wgpu)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a GAN on the bundled MNIST (see --help for models, losses and optimizers).
    Train(Box<TrainArgs>),
    /// Generate images from a checkpoint: a grid, single PNGs, .npy or IDX.
    Sample(SampleArgs),
    /// Write a checkpoint's generator for other tools: an ONNX graph (z in, images in [−1, 1] out).
    Export(wgan_gpu::train::ExportArgs),
    /// Walk G's latent space: a plane over two axes, or linear/spherical paths between seeds.
    Interpolate(wgan_gpu::train::InterpolateArgs),
    /// Score samples (a checkpoint's or any image files) with the bundled digit classifier:
    /// Fréchet distance, KID, classifier score, precision/recall, class coverage.
    Eval(wgan_gpu::eval::EvalArgs),
    /// Train the digit classifier `eval` scores samples with (softmax cross-entropy, our ops).
    TrainClassifier(wgan_gpu::eval::classifier::TrainClassifierArgs),
    /// Time every op of the reference models and a whole training iteration on the adapter.
    Bench(wgan_gpu::bench::BenchArgs),
    /// List the adapters wgpu sees: name, backend, type and the limits that matter here.
    Devices {
        /// vulkan, metal, dx12, gl or auto
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
        /// Print one JSON object per adapter.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> wgan_gpu::Result<()> {
    let device = DeviceSettings::from_env();
    match cli.command {
        Command::Train(mut args) => {
            args.given = matches.subcommand_matches("train").map(given_ids).unwrap_or_default();
            wgan_gpu::train::train(*args, &device)
        }
        Command::Sample(args) => wgan_gpu::train::sample(args, &device),
        Command::Export(args) => wgan_gpu::train::export(args),
        Command::Interpolate(args) => wgan_gpu::train::interpolate(args, &device),
        Command::Eval(args) => wgan_gpu::eval::eval(args, &device),
        Command::TrainClassifier(args) => wgan_gpu::eval::classifier::train_classifier(args, &device),
        Command::Bench(args) => wgan_gpu::bench::bench(args, &device),
        Command::Devices { backend, json } => {
            let adapters = list_adapters(backend);
            if adapters.is_empty() {
                return Err(wgan_gpu::Error::NoAdapter { backend: backend.name().into() });
            }
            for a in adapters {
                if json {
                    println!("{}", serde_json::to_string(&a).expect("serialisable"));
                } else {
                    println!(
                        "{} [{} {}] driver: {} {}\n  max_storage_buffer_binding_size {} MiB, max_uniform_buffer_binding_size {} KiB, \
                         max_buffer_size {} MiB, \
                         workgroup x <= {}, invocations <= {}, shared memory {} KiB, timestamps: {}, \
                         subgroups: {} (size {}..{})",
                        a.name,
                        a.backend,
                        a.device_type,
                        a.driver,
                        a.driver_info,
                        a.max_storage_buffer_binding_size >> 20,
                        a.max_uniform_buffer_binding_size >> 10,
                        a.max_buffer_size >> 20,
                        a.max_compute_workgroup_size_x,
                        a.max_compute_invocations_per_workgroup,
                        a.max_compute_workgroup_storage_size >> 10,
                        if a.timestamp_queries { "yes" } else { "no" },
                        if a.subgroups { "yes" } else { "no" },
                        a.subgroup_size.0,
                        a.subgroup_size.1,
                    );
                }
            }
            if let Some(threads) = &device.lavapipe_threads {
                eprintln!("LP_NUM_THREADS={threads}");
            }
            Ok(())
        }
    }
}

/// A closed stdout (`wgan-gpu eval --json | head`) ends the program quietly, as it ends `cat`:
/// Rust starts with SIGPIPE ignored, so `println!` would panic on the broken pipe instead.
#[cfg(unix)]
fn default_sigpipe() {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13; // the same number on Linux, macOS and the BSDs
    const SIG_DFL: usize = 0;
    // SAFETY: called first thing in main, before any thread exists, with the default action.
    unsafe { signal(SIGPIPE, SIG_DFL) };
}

/// lavapipe runs compute on one thread unless LP_NUM_THREADS is set, and reads it when the
/// Vulkan driver loads: the program sets it here, before any thread or device exists, to the
/// cores available (a user's own value wins). Tests get it from `.cargo/config.toml`.
fn default_lavapipe_threads() {
    if std::env::var_os("LP_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("LP_NUM_THREADS", n.to_string()) };
    }
}

/// On a headless Linux machine the Vulkan loader's Wayland probe makes libwayland print
/// "XDG_RUNTIME_DIR is invalid or not set" to stderr; pointing it at the temp directory (where no
/// compositor socket exists) keeps the probe silent. Only when no display is configured.
fn quiet_headless_probe() {
    if cfg!(target_os = "linux")
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        // SAFETY: as in default_lavapipe_threads, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}

fn main() -> ExitCode {
    #[cfg(unix)]
    default_sigpipe();
    default_lavapipe_threads();
    quiet_headless_probe();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
