//! Which kernels every op records, chosen once per adapter: the one place the kernel choice is
//! made (the `WGAN_KERNELS`, `WGAN_GEMM`, `WGAN_TILE` overrides applied, as
//! [`super::DeviceSettings`] read them), printed in the bench header and saved in a run's
//! config.json.

use super::context::GpuContext;

/// The GEMM kernel family (`shaders/gemm*.wgsl`), chosen per adapter kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GemmKernel {
    /// The 8 lanes of a subgroup share 16 to 64 rows of A through broadcasts
    /// (`gemm_subgroup.wgsl`): for CPU adapters whose loads run lane by lane (lavapipe).
    Subgroup,
    /// An 8×8 vec4 tile per invocation (4×4 scalar when operands are not vec4-aligned).
    Registers,
    /// 64×64 tiles per workgroup staged in workgroup memory (`gemm_shared.wgsl`), with split-K
    /// for products of few tiles: for GPUs.
    Shared,
}

impl GemmKernel {
    pub fn name(self) -> &'static str {
        match self {
            GemmKernel::Subgroup => "subgroup",
            GemmKernel::Registers => "registers",
            GemmKernel::Shared => "shared",
        }
    }
}

/// The kernel choices of one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelPlan {
    /// GEMM-based convolutions and register-tiled products (default), or the simple
    /// one-output-per-invocation kernels (`WGAN_KERNELS=simple`), kept as a baseline.
    pub tiled: bool,
    pub gemm: GemmKernel,
    /// Rows of C per subgroup in the subgroup GEMM (16, 32 or 64), when not chosen per product
    /// (`WGAN_TILE`).
    pub gemm_rows: Option<usize>,
}

impl KernelPlan {
    /// The plan for `ctx`'s adapter: subgroup broadcasts on CPU adapters with 8-wide subgroups
    /// (lavapipe), register tiles on other CPU adapters, workgroup-memory tiles on GPUs; the
    /// environment's overrides win (`WGAN_GEMM=subgroup|registers|shared`).
    pub fn for_adapter(ctx: &GpuContext) -> Self {
        let s = &ctx.settings;
        let gemm = match s.gemm {
            Some(g) => g,
            None if !ctx.adapter.is_cpu() => GemmKernel::Shared,
            None => GemmKernel::Subgroup,
        };
        KernelPlan { tiled: !s.simple_kernels, gemm: Self::supported(ctx, gemm), gemm_rows: Self::rows(s.tile) }
    }

    /// `gemm`, or the register tiles where it is the subgroup kernel and the device lacks 8-wide
    /// subgroups.
    pub(crate) fn supported(ctx: &GpuContext, gemm: GemmKernel) -> GemmKernel {
        let eight_wide =
            ctx.device.features().contains(wgpu::Features::SUBGROUP) && ctx.adapter.subgroup_size == (8, 8);
        match gemm {
            GemmKernel::Subgroup if !eight_wide => GemmKernel::Registers,
            k => k,
        }
    }

    /// A fixed subgroup tile height, where it is one the kernel has.
    pub(crate) fn rows(rows: Option<usize>) -> Option<usize> {
        rows.filter(|r| matches!(r, 16 | 32 | 64))
    }

    /// "tiled, GEMM subgroup" or "simple", as the bench header says it.
    pub fn describe(&self) -> String {
        if self.tiled { format!("tiled, GEMM {}", self.gemm.name()) } else { "simple".into() }
    }
}
