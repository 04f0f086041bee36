//! The wgpu side: adapter choice and device ([`context`]), the embedded shaders and their
//! pipelines ([`shaders`]), the kernels chosen for the adapter ([`plan`]), and the backend that
//! records our ops into command encoders ([`backend`]).

pub mod backend;
pub mod context;
mod denormals;
pub mod params;
pub mod plan;
mod profiler;
pub mod settings;
pub mod shaders;

pub use backend::{DispatchRecord, GpuBackend, GpuTensor, PendingRead};
pub use context::{BackendChoice, GpuContext};
pub use plan::{GemmKernel, KernelPlan};
pub use settings::DeviceSettings;
