//! `wgan-gpu train` and `wgan-gpu sample`: a run's configuration, the epoch loop on the GPU,
//! and everything a run writes (config.json, samples/, metrics.jsonl, losses.png, checkpoints).

pub mod checkpoint;
pub mod outputs;
mod run;
mod sample;

pub use run::{TrainArgs, train};
pub use sample::{SampleArgs, SampleFormat, sample};
