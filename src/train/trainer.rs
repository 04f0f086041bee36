//! The epoch loop of `wgan-gpu train`, generic over the [`Backend`] (the CLI runs it on the GPU,
//! the tests also on the CPU reference): batches gathered on the device, one training iteration
//! per step, losses read back without waiting, `--eval-every` scores, and what each epoch writes
//! (the sample grid or table rows, progress.gif, the checkpoint, losses.png).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::config::{RunConfig, write_config};
use super::data::{DataInfo, TrainData};
use super::outputs;
use super::plots::{self, Panel, Series};
use crate::backend::Backend;
use crate::data::epoch_order;
use crate::data::table::report::TableReport;
use crate::data::table::transform::{CALIBRATION_ROWS, Calibration};
use crate::error::{Error, Result};
use crate::eval::classifier::Classifier;
use crate::eval::two_sample::{self, ImageBatch, TwoSampleReport};
use crate::eval::{Reference, Scores};
use crate::gan::progan::{self, Phase, PhaseNets};
use crate::gan::step::derive_seed;
use crate::gan::{Gan, GanConfig, IterStats, ModelKind};
use crate::nn::{Net, NetSpec, Shape};
use crate::ops::gather::{Gather, GatherKind, pack_bytes, pack_indices};
use crate::ops::random::reference::bits;

/// A run as `train` resolved it before any backend exists: the settings (a resumed run's own),
/// the GAN's configuration, the data, the output folder and the checkpoint to resume from.
pub struct Run {
    pub config: RunConfig,
    pub cfg: GanConfig,
    pub data: TrainData,
    pub out: PathBuf,
    pub resume: Option<(Checkpoint, PathBuf)>,
    pub iters_per_epoch: usize,
}

/// Trains `run` on `b` to its last epoch.
pub fn train_on<B: Backend>(b: &mut B, run: Run) -> Result<()> {
    super::resolve::create_run_folder(&run.out)?;
    if !run.out.join("config.json").exists() {
        write_config(&run.out, &run.config, None)?;
    }
    let mut t = Trainer::new(b, run)?;
    let started = Instant::now();
    let mut stopped = false;
    for epoch in t.start_epoch..t.run.config.epochs {
        t.bar.set_prefix(format!("epoch {}/{}", epoch + 1, t.run.config.epochs));
        // Out of budget at an epoch's start (it ended at the last one's end) or in its middle.
        stopped = t.out_of_budget() || !t.epoch(b, epoch)?;
        if stopped {
            break;
        }
        t.finish_epoch(b, epoch)?;
    }
    t.bar.finish();
    if stopped {
        eprintln!("stopped at step {} (--max-steps, --max-minutes): --resume goes on", t.gan.step);
    }
    eprintln!(
        "done in {:.1} s: samples in {}, checkpoint {}",
        started.elapsed().as_secs_f64(),
        t.samples_dir.display(),
        t.run.out.join(CHECKPOINT).display()
    );
    Ok(())
}

/// Real batches streamed from host memory: each iteration's samples are copied, in the epoch's
/// order, into one of two small windows on the device (alternating, so filling the next one
/// never waits on the one the device is still reading), recorded into the iteration's own
/// submission, and gathered into the batch tensors there. A data set is bounded by host memory
/// (or a mapped decode cache), not by the largest buffer the device can bind.
struct Batches<B: Backend> {
    kind: GatherKind,
    /// This epoch's order of the samples.
    order: Vec<u32>,
    windows: [B::T; 2],
    label_windows: Option<[B::T; 2]>,
    /// 0, 1, ...: a window is in batch order already.
    positions: B::T,
    reals: Vec<B::T>,
    real_labels: Vec<B::T>,
    /// `--mirror`: each image flips left to right with probability 1/2, drawn from the run's
    /// seed, the epoch and its position, so a resumed run flips the same images.
    mirror: bool,
    flips: Vec<bool>,
    seed: u64,
}

impl<B: Backend> Batches<B> {
    fn new(b: &mut B, run: &Run, unit_pixels: bool) -> Result<Self> {
        let (cfg, data) = (&run.cfg, &run.data);
        let per_iter = cfg.samples_per_iteration();
        let dim = data.shape().size();
        let kind = data.gather_kind(unit_pixels);
        let words = if kind == GatherKind::Floats { per_iter * dim } else { (per_iter * dim).div_ceil(4) };
        let windows = [b.alloc(words)?, b.alloc(words)?];
        let labelled = data.labels().is_some() && cfg.classes > 0;
        let label_windows =
            if labelled { Some([b.alloc(per_iter.div_ceil(4))?, b.alloc(per_iter.div_ceil(4))?]) } else { None };
        let positions = b.upload(&pack_indices(&(0..per_iter as u32).collect::<Vec<_>>()))?;
        let reals = (0..cfg.real_batches()).map(|_| b.alloc(cfg.batch * dim)).collect::<Result<_>>()?;
        let real_labels = match label_windows {
            Some(_) => (0..cfg.real_batches()).map(|_| b.alloc(cfg.batch)).collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let (mirror, seed) = (run.config.mirror, cfg.seed);
        let order = Vec::new();
        Ok(Batches {
            kind,
            order,
            windows,
            label_windows,
            positions,
            reals,
            real_labels,
            mirror,
            flips: Vec::new(),
            seed,
        })
    }

    fn start_epoch(&mut self, data: &TrainData, epoch: usize) {
        self.order = epoch_order(data.count(), self.seed, epoch);
        if self.mirror {
            let s = derive_seed(self.seed, epoch as u64, MIRROR_PURPOSE);
            self.flips = (0..self.order.len()).map(|i| bits(s, 0, i as u64)[0] & 1 == 1).collect();
        }
    }

    /// Iteration `it`'s real batches (one per D step) from this epoch's order.
    fn gather(&self, b: &mut B, cfg: &GanConfig, data: &TrainData, it: usize) -> Result<()> {
        let per_iter = cfg.samples_per_iteration();
        let first = it * per_iter;
        let items = &self.order[first..first + per_iter];
        let window = &self.windows[it % 2];
        b.write(window, &data.window(items, |k| self.flips.get(first + k).copied().unwrap_or(false)))?;
        let labels = match (&self.label_windows, data.labels()) {
            (Some(w), Some(l)) => {
                let bytes: Vec<u8> = items.iter().map(|&i| l[i as usize]).collect();
                b.write(&w[it % 2], &pack_bytes(&bytes))?;
                Some(&w[it % 2])
            }
            _ => None,
        };
        let dim = data.shape().size();
        for (k, real) in self.reals.iter().enumerate() {
            let start = k * cfg.batch;
            let s = Gather { batch: cfg.batch, dim, start, kind: self.kind, shift: None };
            crate::ops::gather::gather(b, &s, window, &self.positions, real)?;
            if let Some(l) = labels {
                let s = Gather { batch: cfg.batch, dim: 1, start, kind: GatherKind::Bytes, shift: None };
                crate::ops::gather::gather(b, &s, l, &self.positions, &self.real_labels[k])?;
            }
        }
        Ok(())
    }
}

/// [`derive_seed`]'s purpose for `--mirror`'s flips (7 is the epoch order's).
const MIRROR_PURPOSE: u64 = 11;

/// Progressive growing's state: the networks of the phase the GAN is built for.
struct Growth {
    nets: PhaseNets,
    /// The doublings from the base to the image.
    levels: usize,
}

impl Growth {
    /// The side G draws at in `phase`, for images of `shape`.
    fn side(&self, phase: Phase, shape: Shape) -> usize {
        phase.side(shape.1 >> self.levels)
    }
}

/// Everything the loop holds between iterations.
struct Trainer<B: Backend> {
    /// Progressive growing (`--model progan`).
    growth: Option<Growth>,
    run: Run,
    info: DataInfo,
    samples_dir: PathBuf,
    gan: Gan<B>,
    batches: Batches<B>,
    /// Samples on the epoch picture, and the grid's columns.
    shown: usize,
    showcase: Showcase<B>,
    /// Noise for the rows G's marginals are fitted on (tables with `--table-calibrate`).
    calibration: Option<Showcase<B>>,
    evaluator: Option<Evaluator<B>>,
    /// The real half of the epoch picture (images only).
    real_grid: Option<image::DynamicImage>,
    log: Logger<B>,
    bar: indicatif::ProgressBar,
    /// Where training starts: the epoch, and the iterations of it a resumed checkpoint had done.
    start_epoch: usize,
    start_iteration: usize,
    last_checkpoint: Instant,
    /// When this invocation's training started (`--max-minutes`).
    started: Instant,
    /// The lowest `--eval-every` FD (or two-sample accuracy) so far, whose checkpoint is
    /// best.safetensors.
    best_eval: f64,
}

impl<B: Backend> Trainer<B> {
    fn new(b: &mut B, run: Run) -> Result<Self> {
        let (args, cfg, data) = (&run.config, &run.cfg, &run.data);
        let (shape, classes) = (data.shape(), cfg.classes);
        let growth = match args.model {
            ModelKind::Progan => {
                let levels = progan::levels(shape).ok_or_else(|| {
                    Error::Config(format!(
                        "--model progan grows square images whose side halves down to 4..7 pixels (28, 32, 64, \
                         128), the data has {}x{}x{}; use --image-size for a folder",
                        shape.0, shape.1, shape.2
                    ))
                })?;
                // The networks of the last iteration done: the next one may grow them.
                let done = match &run.resume {
                    Some((ckpt, path)) => step_of(ckpt, path)?.saturating_sub(1),
                    None => 0,
                };
                let phase = Phase::at(done * cfg.batch as u64, args.phase_images, levels);
                Some(Growth { nets: args.progan_nets(shape, classes, phase)?, levels })
            }
            _ => None,
        };
        let (g_spec, d_spec) = match &growth {
            Some(g) => (g.nets.g.spec.clone(), g.nets.d.spec.clone()),
            None => args.specs(shape, classes, data.is_table())?,
        };
        let mut gan = Gan::new(b, cfg.clone(), &g_spec, &d_spec)?;
        let (mut start_epoch, mut start_iteration) = (0, 0);
        if let Some((ckpt, path)) = &run.resume {
            (start_epoch, start_iteration) = restore(ckpt, path, &mut gan, b)?;
        } else if let Some(d) = &args.init_d {
            load_discriminator(d, &mut gan, b)?;
        }
        gan.train_d = !args.freeze_d;
        eprintln!(
            "wgan-gpu: {:?} {:?}{} on {} | {} samples of {}x{}x{}, {} iterations/epoch, epochs {}..{} -> {}",
            args.model,
            args.loss,
            if classes > 0 { format!(", {classes} classes") } else { String::new() },
            b.describe(),
            data.count(),
            shape.0,
            shape.1,
            shape.2,
            run.iters_per_epoch,
            start_epoch + 1,
            args.epochs,
            run.out.display()
        );
        let batches = Batches::new(b, &run, args.model.unit_pixels())?;
        let table = matches!(data, TrainData::Table { .. });
        // Grids show one row per class, or per value of InfoGAN's categorical code.
        let (shown, cols) = match (table, cfg.g_classes()) {
            (true, _) => (data.count().min(1000), 1),
            (false, 0) => (64.min(data.count()), (64.min(data.count()) as f64).sqrt().ceil() as usize),
            (false, k) => (k.min(20) * 10, 10),
        };
        let showcase = Showcase::new(b, cfg, (shown, cols), cfg.g_classes(), 3)?;
        let evaluator = match args.eval_every {
            0 => None,
            _ if table => {
                return Err(Error::Config(
                    "--eval-every scores images; a table run writes its report every epoch".into(),
                ));
            }
            _ if shape == Shape(1, 28, 28) => Some(Evaluator::Digits(Box::new(DigitEvaluator::new(b, cfg)?))),
            _ if data.count() < two_sample::MIN_PER_SIDE => {
                return Err(Error::Config(format!(
                    "--eval-every compares samples with the data, and {} images are fewer than the {} it needs",
                    data.count(),
                    two_sample::MIN_PER_SIDE
                )));
            }
            _ => Some(Evaluator::Folder(FolderEvaluator::new(b, cfg, data, args.mirror)?)),
        };
        let real_grid = (!table).then(|| match classes {
            0 => outputs::grid(&data.spread(shown), shown, shape, cols),
            _ => outputs::grid(&data.by_class(shown / cols, cols), shown, shape, cols),
        });
        clean_interrupted_writes(&run.out)?;
        let log = Logger::resume(run.out.join("metrics.jsonl"), gan.step)?;
        let total =
            ((args.epochs - start_epoch.min(args.epochs)) * run.iters_per_epoch).saturating_sub(start_iteration) as u64;
        let mut info = data.info(args.conditional);
        if let Some((ckpt, path)) = &run.resume {
            info.calibration = super::sample::Generator::codes_of(ckpt, path)?.0.calibration;
        }
        let calibration = (table && args.table_calibrate)
            .then(|| Showcase::new(b, cfg, (CALIBRATION_ROWS, 1), cfg.g_classes(), 9))
            .transpose()?;
        let samples_dir = run.out.join("samples");
        let bar = progress_bar(total);
        // A fresh run into an old folder does not compete with that folder's best.
        let best_eval = if run.resume.is_some() { best_so_far(&run.out.join(BEST)) } else { f64::INFINITY };
        Ok(Trainer {
            growth,
            run,
            info,
            samples_dir,
            gan,
            batches,
            shown,
            showcase,
            calibration,
            evaluator,
            real_grid,
            log,
            bar,
            start_epoch,
            start_iteration,
            last_checkpoint: Instant::now(),
            started: Instant::now(),
            best_eval,
        })
    }

    /// One epoch of iterations; false where `--max-steps` stopped it (with a checkpoint).
    fn epoch(&mut self, b: &mut B, epoch: usize) -> Result<bool> {
        let (args, cfg) = (self.run.config.clone(), self.run.cfg.clone());
        let data = &self.run.data;
        self.batches.start_epoch(data, epoch);
        let first = if epoch == self.start_epoch { self.start_iteration } else { 0 };
        for it in first..self.run.iters_per_epoch {
            self.batches.gather(b, &cfg, &self.run.data, it)?;
            self.grow(b)?;
            if let (Some(threshold), Some(last)) = (args.d_skip_below, self.log.last) {
                self.gan.train_d = !args.freeze_d && last.d_loss >= threshold;
            }
            self.gan.iteration(b, &self.batches.reals, &self.batches.real_labels)?;
            if self.evaluator.is_some() && self.gan.step.is_multiple_of(args.eval_every) {
                self.evaluate(b, epoch, it + 1)?;
            }
            if self.gan.step.is_multiple_of(args.log_every) || it + 1 == self.run.iters_per_epoch {
                let p = b.read_async(&self.gan.stats)?;
                self.log.pending.push_back((self.gan.step, epoch + 1, p));
            } else {
                b.flush()?;
            }
            b.limit_in_flight(2)?;
            self.log.collect(b, &self.gan, false)?;
            if let Some(s) = self.log.last {
                self.bar.set_message(format!(
                    "D {:.3} G {:.3} D(x) {:.2} D(G(z)) {:.2} {:.0} img/s",
                    s.d_loss, s.g_loss, s.d_real, s.d_fake, self.log.images_per_s
                ));
            }
            self.bar.inc(1);
            let stop = self.out_of_budget();
            if it + 1 < self.run.iters_per_epoch && (stop || self.checkpoint_due(&args)) {
                self.checkpoint(b, epoch, it + 1)?;
            }
            if stop && it + 1 < self.run.iters_per_epoch {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Progressive growing: the phase this iteration trains in. Where it needs other networks
    /// than the GAN has, the finished phase's grid is drawn and a GAN of the new phase's
    /// networks takes over the old one's training state; every blend gets the phase's α.
    fn grow(&mut self, b: &mut B) -> Result<()> {
        let Some(growth) = &self.growth else { return Ok(()) };
        let images = self.gan.step * self.run.cfg.batch as u64;
        let phase = Phase::at(images, self.run.config.phase_images, growth.levels);
        if !phase.same_networks(&growth.nets.phase) {
            let finished = growth.nets.phase;
            self.phase_grid(b, finished)?;
            let nets = self.run.config.progan_nets(self.run.data.shape(), self.run.cfg.classes, phase)?;
            let mut gan = Gan::new(b, self.run.cfg.clone(), &nets.g.spec, &nets.d.spec)?;
            let growth = self.growth.as_mut().expect("checked above");
            progan::carry_over(b, (&self.gan, &growth.nets), (&mut gan, &nets))?;
            gan.train_d = self.gan.train_d;
            self.gan = gan;
            growth.nets = nets;
            let side = growth.side(phase, self.run.data.shape());
            let what = if phase.fading { "fading in" } else { "training at" };
            self.bar.suspend(|| eprintln!("step {}: {what} {side}x{side}", self.gan.step));
        }
        self.growth.as_mut().expect("checked above").nets.phase = phase;
        self.gan.set_blend(phase.alpha);
        Ok(())
    }

    /// The grid at the end of a phase of progressive growing: `samples/grow_<side>px.png` after
    /// a resolution's stable phase, `grow_<side>px_fade.png` after its fade-in.
    fn phase_grid(&mut self, b: &mut B, phase: Phase) -> Result<()> {
        let Some(growth) = &self.growth else { return Ok(()) };
        let shape = self.run.data.shape();
        let side = growth.side(phase, shape);
        let name = format!("grow_{side:03}px{}.png", if phase.fading { "_fade" } else { "" });
        self.gan.refresh_ema_statistics(b)?;
        let args = &self.run.config;
        let generated = self.showcase.generate(b, &mut self.gan, args.model.unit_pixels(), args.raw)?;
        let grid = outputs::grid(&generated, self.shown, shape, self.showcase.cols);
        outputs::save_png(&grid, &self.samples_dir.join(name))
    }

    /// Whether `--max-steps` or `--max-minutes` says to stop.
    fn out_of_budget(&self) -> bool {
        let c = &self.run.config;
        c.max_steps.is_some_and(|m| self.gan.step >= m)
            || c.max_minutes.is_some_and(|m| self.started.elapsed().as_secs_f32() >= 60.0 * m)
    }

    /// `--checkpoint-every` iterations or `--checkpoint-minutes` since the last checkpoint.
    fn checkpoint_due(&self, args: &RunConfig) -> bool {
        let every = args.checkpoint_every;
        let minutes = self.last_checkpoint.elapsed().as_secs_f32() / 60.0;
        (every > 0 && self.gan.step.is_multiple_of(every))
            || (args.checkpoint_minutes > 0.0 && minutes >= args.checkpoint_minutes)
    }

    /// Writes the checkpoint after `iteration` iterations of `epoch` (all of them at its end),
    /// once every loss so far is logged (a diverged run stops before overwriting the last good
    /// one) and the EMA generator's statistics are fresh (`sample` and `eval` draw from them).
    fn checkpoint(&mut self, b: &mut B, epoch: usize, iteration: usize) -> Result<()> {
        self.log.collect(b, &self.gan, true)?;
        self.gan.refresh_ema_statistics(b)?;
        let (at, path) = ((epoch, iteration), self.run.out.join(CHECKPOINT));
        write_checkpoint(&path, (&self.run.config, &self.info), &self.gan, b, at, &[])?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// `--eval-every`: scores G's samples, logs them, redraws eval.png and keeps the best
    /// checkpoint (the lowest FD for digits, the lowest two-sample accuracy for a folder).
    fn evaluate(&mut self, b: &mut B, epoch: usize, iteration: usize) -> Result<()> {
        let (args, gan) = (&self.run.config, &mut self.gan);
        let (unit, raw) = (args.model.unit_pixels(), args.raw);
        if !raw {
            gan.refresh_ema_statistics(b)?;
        }
        let (line, lower_is_better, message) = match self.evaluator.as_mut().expect("called with an evaluator") {
            Evaluator::Digits(e) => {
                let (scores, warning) = e.run(b, gan, unit, raw)?;
                let mut message = format!(
                    "step {}: FD {} KIDx1000 {:.2} score {:.2} classes {}/10",
                    gan.step,
                    scores.fd.map_or("n/a".into(), |d| format!("{d:.2}")),
                    scores.kid_x1000,
                    scores.score,
                    scores.classes.covered
                );
                if let Some(w) = warning {
                    message += &format!("\nwarning: {w}");
                }
                e.plot(&self.run.out.join("eval.png"))?;
                (serde_json::to_value(&scores).expect("serialisable"), scores.fd.map(|fd| ("eval_fd", fd)), message)
            }
            Evaluator::Folder(e) => {
                let report = e.run(b, gan, unit, raw)?;
                let message = format!(
                    "step {}: two-sample accuracy {:.3} ± {:.3}, memorised {:.1}%",
                    gan.step,
                    report.two_sample_accuracy,
                    report.two_sample_accuracy_std,
                    100.0 * report.memorised
                );
                e.plot(&self.run.out.join("eval.png"))?;
                let best = ("eval_two_sample_accuracy", report.two_sample_accuracy);
                (serde_json::to_value(&report).expect("serialisable"), Some(best), message)
            }
        };
        let line = serde_json::json!({ "step": gan.step, "epoch": epoch + 1, "eval": line });
        outputs::append_jsonl(&self.log.metrics, &line)?;
        self.bar.suspend(|| eprintln!("{message}"));
        match lower_is_better {
            Some((key, value)) if value < self.best_eval => {
                self.best_eval = value;
                let at = (epoch, iteration);
                let extra = [(key, value.to_string())];
                let path = self.run.out.join(BEST);
                write_checkpoint(&path, (&self.run.config, &self.info), &self.gan, b, at, &extra)
            }
            _ => Ok(()),
        }
    }

    /// What an epoch leaves: its picture (or table rows and report), progress.gif, the
    /// checkpoint and losses.png.
    fn finish_epoch(&mut self, b: &mut B, epoch: usize) -> Result<()> {
        // A diverged run stops here, before its checkpoint is overwritten.
        self.log.collect(b, &self.gan, true)?;
        // For the grid and for the checkpoint.
        self.gan.refresh_ema_statistics(b)?;
        let args = &self.run.config;
        let generated = self.showcase.generate(b, &mut self.gan, args.model.unit_pixels(), args.raw)?;
        if let Some(rows) = &self.calibration {
            let drawn = rows.generate(b, &mut self.gan, false, args.raw)?;
            let cols = self.info.columns.len();
            let net = if self.gan.g_ema.is_some() && !args.raw { "g_ema" } else { "g" };
            self.info.calibration = Some(Calibration::fit(net, &drawn[..CALIBRATION_ROWS * cols], cols));
        }
        let picture = self.samples_dir.join(format!("epoch_{:03}.png", epoch + 1));
        match (&self.run.data, &self.real_grid) {
            (TrainData::Table { .. }, _) => self.write_rows(&generated, epoch, &picture)?,
            (TrainData::Images(_), Some(real_grid)) => {
                let shape = self.run.data.shape();
                let fake_grid = outputs::grid(&generated, self.shown, shape, self.showcase.cols);
                outputs::save_png(&outputs::side_by_side(&fake_grid, real_grid), &picture)?;
            }
            (TrainData::Images(_), None) => unreachable!("image runs have a real grid"),
        }
        outputs::progress_gif(&self.samples_dir, &self.run.out.join("progress.gif"))?;
        let path = self.run.out.join(CHECKPOINT);
        write_checkpoint(&path, (args, &self.info), &self.gan, b, (epoch + 1, 0), &[])?;
        keep_epoch(&self.run.out, epoch + 1, args.keep)?;
        self.last_checkpoint = Instant::now();
        self.log.plot(&self.run.out.join("losses.png"))
    }

    /// A table's epoch: generated rows as CSV, report.txt and report.json, a one-line summary,
    /// and the scatter plot of the most correlated pair of columns beside each column's histogram.
    fn write_rows(&self, generated: &[f32], epoch: usize, picture: &Path) -> Result<()> {
        let TrainData::Table { table, .. } = &self.run.data else { unreachable!("a table run") };
        let (dim, shown) = (table.columns.len(), self.shown);
        let rows = self.info.decode(&generated[..shown * dim]);
        let csv = self.samples_dir.join(format!("epoch_{:03}.csv", epoch + 1));
        crate::data::table::write_csv(&csv, &table.columns, &table.kinds, &rows)?;
        let report = TableReport::new(&table.columns, &table.kinds, &table.values, &rows);
        write_report(&self.run.out, &report)?;
        if epoch + 1 == self.run.config.epochs {
            self.bar.suspend(|| eprintln!("{}", report.text()));
        } else {
            let summary = report.summary();
            self.bar.suspend(|| eprintln!("epoch {}: {summary} (report.txt has the rest)", epoch + 1));
        }
        let real = self.run.data.spread_table_rows(shown);
        let plot = plots::table_figure(picture, table, &real, &rows)?;
        outputs::save_png(&plot, picture)
    }
}

/// The best `--eval-every` checkpoint's file.
pub(crate) const BEST: &str = "best.safetensors";

/// The FD of a run's best.safetensors, infinite where there is none yet.
fn best_so_far(path: &Path) -> f64 {
    let best = |c: Checkpoint| {
        let value = c.meta.get("eval_fd").or_else(|| c.meta.get("eval_two_sample_accuracy"))?;
        value.parse().ok()
    };
    Checkpoint::load(path).ok().and_then(best).unwrap_or(f64::INFINITY)
}

/// `--keep K`: a copy of the epoch's checkpoint as checkpoints/epoch_NNN.safetensors, and only
/// the newest K of those.
fn keep_epoch(out: &Path, epoch: usize, keep: usize) -> Result<()> {
    if keep == 0 {
        return Ok(());
    }
    let dir = out.join("checkpoints");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let latest = out.join(CHECKPOINT);
    let bytes = std::fs::read(&latest).map_err(io(&latest))?;
    outputs::write_atomic(&dir.join(format!("epoch_{epoch:03}.safetensors")), &bytes)?;
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("epoch_"))
                && p.extension().is_some_and(|e| e == "safetensors")
        })
        .collect();
    kept.sort();
    for old in &kept[..kept.len().saturating_sub(keep)] {
        std::fs::remove_file(old).map_err(io(old))?;
    }
    Ok(())
}

/// Removes the temporary files (`*.tmp`) of writes a crash interrupted: outputs are written to
/// one and renamed, so what a `.tmp` held never replaced anything.
fn clean_interrupted_writes(out: &Path) -> Result<()> {
    for dir in [out.to_path_buf(), out.join("samples"), out.join("checkpoints")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|e| e == "tmp") && path.is_file() {
                std::fs::remove_file(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            }
        }
    }
    Ok(())
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

pub(crate) const CHECKPOINT: &str = "checkpoint.safetensors";

/// The networks a checkpoint holds, by prefix: G, D and G's moving average.
fn nets<B: Backend>(gan: &Gan<B>) -> Vec<(&'static str, &Net<B>)> {
    let mut nets = vec![("g", &gan.g), ("d", &gan.d)];
    if let Some(ema) = &gan.g_ema {
        nets.push(("g_ema", ema));
    }
    if let Some(q) = &gan.q {
        nets.push(("q", &q.net));
    }
    nets
}

/// The flat tensors a checkpoint holds besides the networks': both optimizer states, the
/// spectral-norm vectors and ADA's p.
fn state_tensors<B: Backend>(gan: &Gan<B>) -> Vec<(&'static str, B::T)> {
    let mut tensors = vec![
        ("opt_g.m", gan.opt_g.m.clone()),
        ("opt_g.v", gan.opt_g.v.clone()),
        ("opt_d.m", gan.opt_d.m.clone()),
        ("opt_d.v", gan.opt_d.v.clone()),
    ];
    if gan.d.spec.spectral_norm {
        tensors.push(("d.spectral", gan.d.spectral_state.clone()));
    }
    if let Some(q) = &gan.q {
        tensors.extend([("opt_q.m", q.opt.m.clone()), ("opt_q.v", q.opt.v.clone())]);
    }
    if let (Some(a), Some(_)) = (&gan.augmented, gan.cfg.ada_target()) {
        tensors.push(("augment.p", a.p.clone()));
    }
    tensors
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialisable")
}

/// Writes the run's state to `path` after `iteration` iterations of epoch `epoch` (0: at the end
/// of epoch `epoch` − 1's), with `extra` metadata.
fn write_checkpoint<B: Backend>(
    path: &Path,
    (args, info): (&RunConfig, &DataInfo),
    gan: &Gan<B>,
    b: &mut B,
    (epoch, iteration): (usize, usize),
    extra: &[(&str, String)],
) -> Result<()> {
    let meta = [
        ("config", json(args)),
        ("data", json(info)),
        ("g_spec", json(&gan.g.spec)),
        ("d_spec", json(&gan.d.spec)),
        ("step", gan.step.to_string()),
        ("blend_alpha", gan.blend.to_string()),
        ("ema_since", gan.ema_since.to_string()),
        ("epoch", epoch.to_string()),
        ("epoch_iteration", iteration.to_string()),
        ("opt_g.t", gan.opt_g.t.to_string()),
        ("opt_d.t", gan.opt_d.t.to_string()),
    ]
    .into_iter()
    .chain(gan.q.as_ref().map(|q| ("opt_q.t", q.opt.t.to_string())))
    .chain(extra.iter().map(|(k, v)| (*k, v.clone())))
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut ckpt = Checkpoint { meta, ..Checkpoint::default() };
    for (prefix, net) in nets(gan) {
        ckpt.add_net(b, prefix, net)?;
    }
    for (name, t) in state_tensors(gan) {
        ckpt.tensors.push((name.to_string(), b.read(&t)?));
    }
    ckpt.save(path)
}

/// The iterations a checkpoint had done.
fn step_of(ckpt: &Checkpoint, path: &Path) -> Result<u64> {
    ckpt.meta("step", path)?
        .parse()
        .map_err(|_| Error::Data { path: path.into(), msg: "bad 'step' in metadata".into() })
}

/// Loads a checkpoint into `gan`; returns the epochs it had completed and the iterations of the
/// next one it had done (0 for a checkpoint written at an epoch's end, or before there were
/// mid-epoch checkpoints).
fn restore<B: Backend>(ckpt: &Checkpoint, path: &Path, gan: &mut Gan<B>, b: &mut B) -> Result<(usize, usize)> {
    for (prefix, net) in nets(gan) {
        ckpt.load_net(b, prefix, net, path)?;
    }
    for (name, t) in state_tensors(gan) {
        ckpt.load_into(b, name, &t, path)?;
    }
    let num = |k: &str| -> Result<u64> {
        ckpt.meta(k, path)?
            .parse()
            .map_err(|_| Error::Data { path: path.into(), msg: format!("bad '{k}' in metadata") })
    };
    gan.step = num("step")?;
    gan.opt_g.t = num("opt_g.t")?;
    gan.opt_d.t = num("opt_d.t")?;
    // Checkpoints from before progressive growing: the warm-up counted from the first step.
    gan.ema_since = if ckpt.meta.contains_key("ema_since") { num("ema_since")? } else { 0 };
    if let Some(q) = &mut gan.q {
        q.opt.t = num("opt_q.t")?;
    }
    let iteration = if ckpt.meta.contains_key("epoch_iteration") { num("epoch_iteration")? } else { 0 };
    Ok((num("epoch")? as usize, iteration as usize))
}

struct Logger<B: Backend> {
    metrics: PathBuf,
    pending: VecDeque<(u64, usize, B::Pending)>,
    history: Vec<(u64, IterStats)>,
    last: Option<IterStats>,
    last_time: Instant,
    last_step: u64,
    images_per_s: f64,
}

impl<B: Backend> Logger<B> {
    /// The logger of a run at `step`: metrics.jsonl cut back to the lines up to `step` (a
    /// resumed run repeats none and its steps never go backwards), their losses kept for
    /// losses.png.
    fn resume(metrics: PathBuf, step: u64) -> Result<Self> {
        let mut history = Vec::new();
        if metrics.exists() {
            let text =
                std::fs::read_to_string(&metrics).map_err(|source| Error::Io { path: metrics.clone(), source })?;
            let mut kept = String::new();
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                let Some(at) = v["step"].as_u64().filter(|&s| s <= step) else { continue };
                kept.push_str(line);
                kept.push('\n');
                if let Some(s) = IterStats::from_json(&v) {
                    history.push((at, s));
                }
            }
            outputs::write_atomic(&metrics, kept.as_bytes())?;
        }
        let last = history.last().map(|(_, s)| *s);
        Ok(Logger {
            metrics,
            pending: VecDeque::new(),
            history,
            last,
            last_time: Instant::now(),
            last_step: step,
            images_per_s: 0.0,
        })
    }

    /// Records every read-back that has arrived; `wait` blocks for all of them.
    fn collect(&mut self, b: &mut B, gan: &Gan<B>, wait: bool) -> Result<()> {
        while let Some((step, epoch, p)) = self.pending.front() {
            let values = match b.try_collect(p)? {
                Some(v) => v,
                None if wait => {
                    b.limit_in_flight(0)?;
                    continue;
                }
                None => break,
            };
            let (step, epoch) = (*step, *epoch);
            self.pending.pop_front();
            let s = gan.summarise(&values);
            if !(s.d_loss.is_finite() && s.g_loss.is_finite()) {
                return Err(Error::Diverged { step, d_loss: s.d_loss, g_loss: s.g_loss });
            }
            let now = Instant::now();
            let dt = now.duration_since(self.last_time).as_secs_f64();
            if step > self.last_step && dt > 0.0 {
                self.images_per_s = (step - self.last_step) as f64 * gan.cfg.batch as f64 / dt;
            }
            (self.last_time, self.last_step) = (now, step);
            let mut line = serde_json::json!({
                "step": step, "epoch": epoch, "d_loss": s.d_loss, "g_loss": s.g_loss,
                "d_real": s.d_real, "d_fake": s.d_fake, "acc_real": s.acc_real, "acc_fake": s.acc_fake,
                "images_per_s": (self.images_per_s * 10.0).round() / 10.0,
            });
            if gan.cfg.penalty().is_some() {
                line["penalty"] = s.penalty.into();
            }
            if gan.cfg.info() {
                line["info"] = s.info.into();
            }
            if gan.cfg.aux() {
                // The auxiliary classifier's cross-entropy on G's fakes, before its weight.
                line["aux"] = s.info.into();
            }
            if let Some(p) = s.augment_p {
                line["augment_p"] = p.into();
            }
            outputs::append_jsonl(&self.metrics, &line)?;
            self.history.push((step, s));
            self.last = Some(s);
        }
        Ok(())
    }

    /// Both losses (top) and D's accuracy on real and on fake batches, with ADA's p (bottom).
    fn plot(&self, path: &Path) -> Result<()> {
        let series = |name, colour, f: fn(&IterStats) -> f32| Series {
            name,
            colour,
            points: self.history.iter().map(|(st, s)| (*st as f32, f(s))).collect(),
        };
        let mut losses =
            vec![series("D loss", [200, 30, 30], |s| s.d_loss), series("G loss", [30, 60, 200], |s| s.g_loss)];
        if self.history.iter().any(|(_, s)| s.penalty != 0.0) {
            losses.push(series("D's gradient penalty", [120, 60, 160], |s| s.penalty));
        }
        if self.history.iter().any(|(_, s)| s.info != 0.0) {
            losses.push(series("Q's loss (InfoGAN's code, or the auxiliary classifier's)", [20, 150, 150], |s| s.info));
        }
        let mut accuracy = vec![
            series("D accuracy on real", [30, 150, 30], |s| s.acc_real),
            series("D accuracy on fake", [230, 140, 0], |s| s.acc_fake),
        ];
        if self.history.iter().any(|(_, s)| s.augment_p.is_some()) {
            accuracy.push(series("augmentation p (ADA)", [120, 60, 160], |s| s.augment_p.unwrap_or(0.0)));
        }
        plots::plot(
            path,
            &[
                Panel { y_label: "loss", series: losses, range: None },
                Panel { y_label: "accuracy", series: accuracy, range: Some((0.0, 1.0)) },
            ],
        )
    }
}

/// The 64 (or one row per class) samples the epoch grids show, from fixed noise.
struct Showcase<B: Backend> {
    cols: usize,
    z: Vec<B::T>,
    labels: Vec<Option<B::T>>,
}

impl<B: Backend> Showcase<B> {
    /// `purpose` separates the noise of the grids (3) from the evaluation's (8).
    fn new(b: &mut B, cfg: &GanConfig, (shown, cols): (usize, usize), classes: usize, purpose: u64) -> Result<Self> {
        let chunks = shown.div_ceil(cfg.batch);
        let mut z = Vec::with_capacity(chunks);
        let mut labels = Vec::with_capacity(chunks);
        for c in 0..chunks {
            let mut noise = vec![0.0; cfg.batch * cfg.z_dim];
            let seed = derive_seed(cfg.seed, u64::MAX - c as u64, purpose);
            crate::ops::random::reference::normal(&mut noise, seed, 0, 0.0, 1.0);
            if cfg.info_cont > 0 {
                let (s, codes_seed) = (cfg.info_loss(cfg.batch), crate::ops::info_loss::codes_seed(seed));
                crate::ops::info_loss::reference::info_loss_draw_codes(&s, codes_seed, &mut noise);
            }
            z.push(b.upload(&noise)?);
            // Row r of the grid shows class r.
            let label = |i: usize| ((c * cfg.batch + i) / cols % classes.max(1)) as f32;
            labels.push(if classes > 0 {
                Some(b.upload(&(0..cfg.batch).map(label).collect::<Vec<_>>())?)
            } else {
                None
            });
        }
        Ok(Showcase { cols, z, labels })
    }

    /// G's samples for the showcase noise, in [−1, 1] (images) or standardised units (rows):
    /// the EMA generator's unless `raw` (the caller refreshes its statistics first).
    fn generate(&self, b: &mut B, gan: &mut Gan<B>, unit_pixels: bool, raw: bool) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        for (z, l) in self.z.iter().zip(&self.labels) {
            out.extend(gan.generate(b, z, l.as_ref(), raw)?);
        }
        if unit_pixels {
            out.iter_mut().for_each(|v| *v = 2.0 * *v - 1.0);
        }
        Ok(out)
    }
}

/// report.txt and report.json of a table run, each written whole or not at all.
pub(crate) fn write_report(dir: &Path, report: &TableReport) -> Result<()> {
    outputs::write_atomic(&dir.join("report.txt"), report.text().as_bytes())?;
    let json = serde_json::to_string_pretty(report).expect("a report serialises");
    outputs::write_atomic(&dir.join("report.json"), json.as_bytes())
}

/// `--eval-every`: MNIST's classifier scores for digits, the two-sample measures for a folder.
enum Evaluator<B: Backend> {
    Digits(Box<DigitEvaluator<B>>),
    Folder(FolderEvaluator<B>),
}

/// The classifier scores of G's digits during training.
struct DigitEvaluator<B: Backend> {
    samples: Showcase<B>,
    classifier: Classifier<B>,
    reference: Reference,
    history: Vec<(u64, Scores)>,
}

/// Samples compared with the folder during training: [`two_sample::compare`] on
/// [`FOLDER_EVAL_SAMPLES`] of each.
struct FolderEvaluator<B: Backend> {
    samples: Showcase<B>,
    real: ImageBatch,
    history: Vec<(u64, TwoSampleReport)>,
}

/// Samples and real images per `--eval-every` on a folder (half of each trains the classifier).
const FOLDER_EVAL_SAMPLES: usize = 1000;

impl<B: Backend> FolderEvaluator<B> {
    /// `mirror`: G learns from mirrored images too, so every other real image is mirrored.
    fn new(b: &mut B, cfg: &GanConfig, data: &TrainData, mirror: bool) -> Result<Self> {
        let n = FOLDER_EVAL_SAMPLES.min(data.count());
        let samples = Showcase::new(b, cfg, (n, 1), cfg.g_classes(), 8)?;
        let shape = data.shape();
        let mut values = data.spread(n);
        if mirror {
            let (d, w) = (shape.size(), shape.2);
            for image in values.chunks_exact_mut(d).skip(1).step_by(2) {
                image.chunks_exact_mut(w).for_each(<[f32]>::reverse);
            }
        }
        Ok(FolderEvaluator { samples, real: ImageBatch { values, shape }, history: Vec::new() })
    }

    /// The measures of G's samples (the caller refreshes the EMA statistics first).
    fn run(&mut self, b: &mut B, gan: &mut Gan<B>, unit_pixels: bool, raw: bool) -> Result<TwoSampleReport> {
        let values = self.samples.generate(b, gan, unit_pixels, raw)?;
        let samples = ImageBatch { values, shape: self.real.shape };
        let report = two_sample::compare(b, &self.real, &samples, gan.step)?;
        self.history.push((gan.step, report.clone()));
        Ok(report)
    }

    /// The two-sample accuracy with its spread (top); the memorised share (bottom).
    fn plot(&self, path: &Path) -> Result<()> {
        let series = |name, colour, f: &dyn Fn(&TwoSampleReport) -> f64| Series {
            name,
            colour,
            points: self.history.iter().map(|(s, r)| (*s as f32, f(r) as f32)).collect(),
        };
        let accuracy = vec![
            series("two-sample accuracy", [200, 30, 30], &|r| r.two_sample_accuracy),
            series("chance", [150, 150, 150], &|_| 0.5),
        ];
        let memorised = vec![series("memorised share", [30, 60, 200], &|r| r.memorised)];
        plots::plot(
            path,
            &[
                Panel { y_label: "real vs samples", series: accuracy, range: Some((0.4, 1.0)) },
                Panel { y_label: "share", series: memorised, range: Some((0.0, 1.0)) },
            ],
        )
    }
}

impl<B: Backend> DigitEvaluator<B> {
    fn new(b: &mut B, cfg: &GanConfig) -> Result<Self> {
        let mut classifier = Classifier::bundled(b, 500)?;
        let reference = Reference::new(b, &mut classifier)?;
        let samples = Showcase::new(b, cfg, (EVAL_SAMPLES, 1), cfg.g_classes(), 8)?;
        Ok(DigitEvaluator { samples, classifier, reference, history: Vec::new() })
    }

    fn run(&mut self, b: &mut B, gan: &mut Gan<B>, unit_pixels: bool, raw: bool) -> Result<(Scores, Option<String>)> {
        let images = self.samples.generate(b, gan, unit_pixels, raw)?;
        let scored = self.classifier.score(b, &images[..EVAL_SAMPLES * 784])?;
        let classes = gan.cfg.classes;
        let labels: Option<Vec<usize>> = (classes > 0).then(|| (0..EVAL_SAMPLES).map(|i| i % classes).collect());
        let scores = self.reference.score("samples", &scored, labels.as_deref(), gan.step)?;
        let warning = scores.collapse_warning(self.history.last().map(|(_, s)| s));
        self.history.push((gan.step, scores.clone()));
        Ok((scores, warning))
    }

    /// FD and KID×1000 (top); the share of classes covered, precision and recall (bottom).
    fn plot(&self, path: &Path) -> Result<()> {
        let series = |name, colour, f: &dyn Fn(&Scores) -> f32| Series {
            name,
            colour,
            points: self.history.iter().map(|(s, v)| (*s as f32, f(v))).collect(),
        };
        let distances = vec![
            series("FD", [200, 30, 30], &|s| s.fd.unwrap_or(f64::NAN) as f32),
            series("KID x1000", [30, 60, 200], &|s| s.kid_x1000 as f32),
        ];
        let shares = vec![
            series("classes covered / 10", [30, 150, 30], &|s| s.classes.covered as f32 / 10.0),
            series("precision", [230, 140, 0], &|s| s.precision as f32),
            series("recall", [120, 30, 160], &|s| s.recall as f32),
        ];
        plots::plot(
            path,
            &[
                Panel { y_label: "distance to MNIST test", series: distances, range: None },
                Panel { y_label: "share", series: shares, range: Some((0.0, 1.0)) },
            ],
        )
    }
}

/// Samples per `--eval-every` evaluation: enough for a stable FD trend, a few seconds to score.
const EVAL_SAMPLES: usize = 2000;

/// Loads D's weights (and batch-norm statistics) from another run's checkpoint.
fn load_discriminator<B: Backend>(path: &Path, gan: &mut Gan<B>, b: &mut B) -> Result<()> {
    let file = if path.is_dir() { path.join(CHECKPOINT) } else { path.to_path_buf() };
    let ckpt = Checkpoint::load(&file)?;
    let spec: NetSpec = serde_json::from_str(ckpt.meta("d_spec", &file)?)
        .map_err(|e| Error::Data { path: file.clone(), msg: format!("bad d_spec: {e}") })?;
    if spec != gan.d.spec {
        return Err(Error::Data {
            path: file,
            msg: "its discriminator has another architecture than this run's (same --model, sizes and \
                  data shape are needed)"
                .into(),
        });
    }
    ckpt.load_net(b, "d", &gan.d, &file)
}
