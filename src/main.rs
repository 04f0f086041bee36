use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use wgan_gpu::gpu::BackendChoice;
use wgan_gpu::gpu::context::list_adapters;
use wgan_gpu::train::{SampleArgs, TrainArgs};

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
    match cli.command {
        Command::Train(mut args) => {
            if let Some(sub) = matches.subcommand_matches("train") {
                let given = |id: &str| sub.value_source(id) == Some(ValueSource::CommandLine);
                args.apply_preset(&given);
                // A resumed run keeps its own length unless --epochs says otherwise.
                if args.resume.is_some() && !given("epochs") {
                    args.epochs = 0;
                }
            }
            wgan_gpu::train::train(*args)
        }
        Command::Sample(args) => wgan_gpu::train::sample(args),
        Command::Export(args) => wgan_gpu::train::export(args),
        Command::Interpolate(args) => wgan_gpu::train::interpolate(args),
        Command::Eval(args) => wgan_gpu::eval::eval(args),
        Command::TrainClassifier(args) => wgan_gpu::eval::classifier::train_classifier(args),
        Command::Bench(args) => wgan_gpu::bench::bench(args),
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
            if std::env::var_os("LP_NUM_THREADS").is_some() {
                eprintln!("LP_NUM_THREADS={}", std::env::var("LP_NUM_THREADS").unwrap_or_default());
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

fn main() -> ExitCode {
    #[cfg(unix)]
    default_sigpipe();
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
