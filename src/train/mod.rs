//! `wgan-gpu train`, `sample` and `export`: a run's configuration, the epoch loop on the GPU,
//! and everything a run writes (config.json, samples/, metrics.jsonl, losses.png, checkpoints).

pub mod checkpoint;
mod config;
pub mod data;
mod export;
mod interpolate;
pub mod outputs;
pub mod plots;
mod preset;
pub mod resolve;
mod sample;
mod trainer;

pub use config::RunConfig;
pub use export::{ExportArgs, ExportFormat, export, onnx_model};
pub use interpolate::{InterpolateArgs, interpolate};
pub use preset::Preset;
pub use resolve::{default_settings, resolve, resolve_flags, train};
pub use sample::{Generator, SampleArgs, SampleFormat, sample};
pub use trainer::{Run, train_on};
