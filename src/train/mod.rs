//! `wgan-gpu train`, `sample` and `export`: a run's configuration, the epoch loop on the GPU,
//! and everything a run writes (config.json, samples/, metrics.jsonl, losses.png, checkpoints).

pub mod checkpoint;
pub mod data;
mod export;
mod interpolate;
pub mod outputs;
pub mod plots;
mod preset;
mod run;
mod sample;
mod trainer;

pub use export::{ExportArgs, ExportFormat, export, onnx_model};
pub use interpolate::{InterpolateArgs, interpolate};
pub use preset::Preset;
pub(crate) use run::epoch_order;
pub use run::{TrainArgs, resolve, train};
pub use sample::{Generator, SampleArgs, SampleFormat, sample};
pub use trainer::{Run, train_on};
