//! The wgpu side: adapter choice and device ([`context`]), the embedded shaders and their
//! pipelines ([`shaders`]), and the backend that records our ops into command encoders
//! ([`backend`]).

pub mod backend;
pub mod context;
mod denormals;
pub mod params;
mod profiler;
pub mod shaders;

pub use backend::{DispatchRecord, GemmKernel, GpuBackend, GpuTensor, PendingRead};
pub use context::{BackendChoice, GpuContext};
