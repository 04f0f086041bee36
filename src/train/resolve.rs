//! `wgan-gpu train` from the command line to a run: [`TrainArgs`] as typed, resolved once, in
//! [`resolve`], from the flags given, the preset or the model's recipe, the checkpoint being
//! resumed and the data into one [`RunConfig`] that the trainer only reads.

use std::path::{Path, PathBuf};

use super::checkpoint::Checkpoint;
use super::config::{RunConfig, write_config};
use super::data::{self, TrainData};
use super::trainer::{CHECKPOINT, Run, train_on};
use crate::error::{Error, Result};
use crate::gan::ModelKind;
use crate::gpu::{BackendChoice, DeviceSettings, GpuBackend, GpuContext};

/// `wgan-gpu train` as typed.
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub config: RunConfig,
    /// Continue the run in this folder from its checkpoint (other settings come from it,
    /// except --epochs, which may extend the run, and --max-steps and --max-minutes, which
    /// limit this invocation).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The settings given on the command line (their field names); the caller of the parser
    /// fills it in. The preset and the recipes fill in only the others.
    #[arg(skip)]
    pub given: Vec<String>,
}

impl TrainArgs {
    /// `wgan-gpu train FLAGS`, parsed as the command line is (for the tests and the bench).
    pub fn parse_flags(flags: &[&str]) -> Result<Self> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: TrainArgs,
        }
        let matches = <Cli as clap::CommandFactory>::command()
            .try_get_matches_from(std::iter::once("train").chain(flags.iter().copied()))
            .map_err(|e| Error::Config(e.to_string()))?;
        let mut args =
            <Cli as clap::FromArgMatches>::from_arg_matches(&matches).map_err(|e| Error::Config(e.to_string()))?.args;
        args.given = given_ids(&matches);
        Ok(args)
    }

    /// The settings these flags make before the data is read: the preset or the model's recipe
    /// where a flag is not given.
    pub fn settings(&self) -> RunConfig {
        let mut config = self.config.clone();
        config.apply_preset(&|id| self.given.iter().any(|g| g == id));
        config
    }
}

/// The ids of the arguments `matches` took from the command line.
pub fn given_ids(matches: &clap::ArgMatches) -> Vec<String> {
    matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// What plain `wgan-gpu train` runs with (the bench's default model).
pub fn default_settings() -> RunConfig {
    TrainArgs::parse_flags(&[]).expect("no flags parse").settings()
}

/// `wgan-gpu train`: resolves the run, opens the adapter, and only then makes the run folder and
/// trains. A run that fails before it has logged a step leaves no folder behind.
pub fn train(args: TrainArgs, device: &DeviceSettings) -> Result<()> {
    let backend: BackendChoice = args.config.backend.parse().map_err(Error::Config)?;
    let run = resolve(args)?;
    let mut b = GpuBackend::new(GpuContext::new(backend, device)?)?;
    if let Some(hint) = b.ctx.adapter.slow_path_hint() {
        eprintln!("{hint}");
    }
    let out = run.out.clone();
    // Made here, not found: only a folder this run made is ever removed (two runs started in
    // the same second share a default name, and the second must not delete the first's).
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.into(), source })?;
    }
    let fresh = match std::fs::create_dir(&out) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(source) => return Err(Error::Io { path: out, source }),
    };
    write_config(&out, &run.config, Some(&b))?;
    let result = train_on(&mut b, run);
    if result.is_err() && fresh && !trained_a_step(&out) {
        let _ = std::fs::remove_dir_all(&out);
    }
    result
}

/// The run folder and its samples folder.
pub(crate) fn create_run_folder(out: &Path) -> Result<()> {
    let samples = out.join("samples");
    std::fs::create_dir_all(&samples).map_err(|source| Error::Io { path: samples, source })
}

/// Whether a run folder holds anything a person would want back: a checkpoint or a logged step.
fn trained_a_step(out: &Path) -> bool {
    let logged = std::fs::metadata(out.join("metrics.jsonl")).is_ok_and(|m| m.len() > 0);
    logged || out.join(CHECKPOINT).exists()
}

/// The run `args` describe, resolved before any backend exists and without writing anything: a
/// resumed run's own settings, the data (a bad file fails here), the output folder's path and
/// the GAN's configuration.
pub fn resolve(args: TrainArgs) -> Result<Run> {
    let mut config = args.settings();
    let (resume, out) = match &args.resume {
        Some(dir) => {
            let path = dir.join(CHECKPOINT);
            let ckpt = Checkpoint::load(&path)?;
            let mut saved: RunConfig = serde_json::from_str(ckpt.meta("config", &path)?)
                .map_err(|e| Error::Data { path: path.clone(), msg: format!("bad config: {e}") })?;
            // The run's own length unless --epochs says otherwise, and then at least its own.
            if args.given.iter().any(|g| g == "epochs") {
                saved.epochs = config.epochs.max(saved.epochs);
            }
            // Step and time limits belong to one invocation, not to the run.
            (saved.max_steps, saved.max_minutes) = (config.max_steps, config.max_minutes);
            config = saved;
            (Some((ckpt, path)), dir.clone())
        }
        None => (None, config.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(timestamp()))),
    };
    config.validate()?;
    if config.cache_dir.is_none() && !config.no_cache {
        config.cache_dir = default_cache_dir();
    }
    let data = data::load(&config)?;
    if matches!(data, TrainData::Table { .. }) && config.model != ModelKind::Mlp {
        eprintln!("wgan-gpu: a table trains with --model mlp");
        config.model = ModelKind::Mlp;
    }

    let mut cfg = config.gan_config();
    cfg.classes = data.info(config.conditional).classes.len();
    let per_iter = cfg.samples_per_iteration();
    let iters_per_epoch = data.count() / per_iter;
    if iters_per_epoch == 0 {
        return Err(Error::Config(format!(
            "{} samples are fewer than one iteration's {per_iter} (batch size x d-steps); lower --batch-size",
            data.count()
        )));
    }
    cfg.noise_anneal_steps = (config.epochs * iters_per_epoch) as u64;
    cfg.lr_decay_every = iters_per_epoch as u64;
    Ok(Run { config, cfg, data, out, resume, iters_per_epoch })
}

/// The run `wgan-gpu train FLAGS` makes (for the tests).
pub fn resolve_flags(flags: &[&str]) -> Result<Run> {
    resolve(TrainArgs::parse_flags(flags)?)
}

/// $XDG_CACHE_HOME/wgan-gpu, else ~/.cache/wgan-gpu; read here, once, while the run resolves.
fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = || std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache"));
    xdg.or_else(home).map(|d| d.join("wgan-gpu"))
}

/// "YYYYMMDD-HHMMSS" in UTC, for default run folders.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}
