//! The GAN: the two model families, the losses, the optimizers and one training iteration
//! (D step(s), then G step), written once over [`crate::Backend`].

pub mod config;
pub mod models;
pub mod progan;
pub mod resnet;
pub mod step;

pub use config::{GanConfig, LossKind, ModelKind, OptConfig, OptKind, Penalty, UnrollGrad};
pub use step::{Gan, IterStats, Optimizer};
