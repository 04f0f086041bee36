//! wgan-gpu: a GAN trainer whose every forward and backward pass is a WGSL compute shader
//! dispatched through wgpu, with a plain CPU reference of every op to prove the GPU right.
//!
//! Layout: `shaders/<op>.wgsl` (the kernels), [`ops`] (one module per op: shape, entry points,
//! GPU recording, CPU reference), [`backend`] (the trait both backends implement),
//! [`gpu`] (adapter, device, pipelines, dispatch), [`cpu`] (the reference as a backend).

pub mod backend;
pub mod bench;
pub mod cpu;
pub mod data;
pub mod error;
pub mod eval;
pub mod gan;
pub mod gpu;
pub mod nn;
pub mod ops;
pub mod reference;
pub mod train;

pub use backend::{Backend, Grads, Tensor};
pub use error::{Error, Result};
