//! What the environment says about the device, read in one place: the program's entry (and the
//! tests' harness) calls [`DeviceSettings::from_env`] once and hands the result down; nothing
//! below reads the environment or changes it.

use super::plan::GemmKernel;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSettings {
    /// `WGPU_ADAPTER_NAME`: the adapter whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// `WGAN_SUBNORMALS=keep`: leave CPU drivers' subnormal handling as it is (see `denormals`).
    pub keep_subnormals: bool,
    /// `WGAN_GEMM=subgroup|registers|shared`: the GEMM family instead of the adapter's own.
    pub gemm: Option<GemmKernel>,
    /// `WGAN_KERNELS=simple`: one output per invocation, the untiled baseline.
    pub simple_kernels: bool,
    /// `WGAN_TILE=16|32|64`: a fixed subgroup tile height.
    pub tile: Option<usize>,
    /// `LP_NUM_THREADS` as lavapipe sees it, for the bench header.
    pub lavapipe_threads: Option<String>,
}

impl DeviceSettings {
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        DeviceSettings {
            adapter_name: var("WGPU_ADAPTER_NAME"),
            keep_subnormals: var("WGAN_SUBNORMALS").is_some_and(|v| v == "keep"),
            gemm: var("WGAN_GEMM").and_then(|v| match v.as_str() {
                "subgroup" => Some(GemmKernel::Subgroup),
                "registers" => Some(GemmKernel::Registers),
                "shared" => Some(GemmKernel::Shared),
                _ => None,
            }),
            simple_kernels: var("WGAN_KERNELS").is_some_and(|v| v == "simple"),
            tile: var("WGAN_TILE").and_then(|v| v.parse().ok()),
            lavapipe_threads: var("LP_NUM_THREADS"),
        }
    }
}
