//! Adapter selection, device creation with the adapter's real limits, and error capture.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use super::denormals::FlushSubnormals;
use super::settings::DeviceSettings;
use crate::error::{Error, Result};

/// Which wgpu backend to use (`--backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    #[default]
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl BackendChoice {
    pub fn backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Auto => wgpu::Backends::all(),
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
            BackendChoice::Gl => wgpu::Backends::GL,
        }
    }

    fn search_order(self) -> Vec<wgpu::Backends> {
        match self {
            BackendChoice::Auto => vec![wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY],
            other => vec![other.backends()],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Vulkan => "vulkan",
            BackendChoice::Metal => "metal",
            BackendChoice::Dx12 => "dx12",
            BackendChoice::Gl => "gl",
        }
    }
}

impl FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => BackendChoice::Auto,
            "vulkan" | "vk" => BackendChoice::Vulkan,
            "metal" | "mtl" => BackendChoice::Metal,
            "dx12" | "d3d12" => BackendChoice::Dx12,
            "gl" | "gles" | "opengl" => BackendChoice::Gl,
            other => {
                return Err(format!("unknown backend '{other}' (use vulkan, metal, dx12, gl or auto)"));
            }
        })
    }
}

fn instance(choice: BackendChoice) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = choice.backends();
    wgpu::Instance::new(desc)
}

/// A short description of one adapter, for `wgan-gpu devices` and bench headers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_uniform_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub timestamp_queries: bool,
    /// Subgroup (SIMD group) operations, and their size range.
    pub subgroups: bool,
    pub subgroup_size: (u32, u32),
}

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let limits = adapter.limits();
        AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_uniform_buffer_binding_size: limits.max_uniform_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroup_size_x: limits.max_compute_workgroup_size_x,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            timestamp_queries: adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroups: adapter.features().contains(wgpu::Features::SUBGROUP),
            subgroup_size: (info.subgroup_min_size, info.subgroup_max_size),
        }
    }

    /// True for CPU adapters such as lavapipe (llvmpipe) and WARP.
    pub fn is_cpu(&self) -> bool {
        self.device_type == "Cpu"
    }

    /// What to do when the adapter is Mesa's llvmpipe through OpenGL, which `auto` falls back to
    /// where no Vulkan driver is installed: wgpu's GL backend has no subgroup operations, and the
    /// default model trained about 2x slower there than on lavapipe (167 against 355 images/s on
    /// 2 Intel Xeon cores; BENCHMARKS.md, session 12).
    pub fn slow_path_hint(&self) -> Option<&'static str> {
        (self.is_cpu() && self.backend == "Gl").then_some(
            "note: running on llvmpipe through OpenGL, which trains the default model about 2x slower \
             than Mesa's Vulkan driver (lavapipe; measured 167 against 355 images/s on 2 cores, an \
             epoch about 6 minutes instead of 3): sudo apt-get install mesa-vulkan-drivers",
        )
    }
}

/// Every adapter wgpu can see for the chosen backends.
pub fn list_adapters(choice: BackendChoice) -> Vec<AdapterSummary> {
    let instance = instance(choice);
    pollster::block_on(instance.enumerate_adapters(choice.backends())).iter().map(AdapterSummary::of).collect()
}

/// Shader, entry point and the values of its `override` constants.
pub(crate) type PipelineKey = (&'static str, &'static str, Vec<(&'static str, u32)>);

/// A device and queue on one adapter, with the pipelines compiled on it so far.
/// Shared (behind an `Arc`) by every backend and test that runs on that device.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    pub limits: wgpu::Limits,
    pub(crate) pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    /// Errors outside any error scope land here instead of wgpu's default panic.
    pub(crate) uncaptured: Arc<Mutex<Vec<String>>>,
    /// Why the device was lost, once it has been: every later GPU error reports this instead.
    lost: Arc<Mutex<Option<String>>>,
    /// What the environment asked of the device, as the program's entry read it.
    pub settings: DeviceSettings,
}

impl GpuContext {
    /// Opens the adapter for `choice`: the one whose name contains `settings.adapter_name`
    /// (case-insensitive), else a discrete GPU before an integrated one before a CPU adapter.
    pub fn new(choice: BackendChoice, settings: &DeviceSettings) -> Result<Arc<Self>> {
        // Held until the device exists, so that CPU drivers' worker threads start flushing
        // subnormals to zero; `WGAN_SUBNORMALS=keep` leaves them be (see `denormals`).
        let _flush = (!settings.keep_subnormals).then(FlushSubnormals::begin);
        let instance = instance(choice);
        let mut adapters = Vec::new();
        // `auto` tries Vulkan/Metal/DX12 first and GL only when none of those has an adapter:
        // GL is the slowest path, and probing EGL prints warnings on headless machines.
        for backends in choice.search_order() {
            adapters = pollster::block_on(instance.enumerate_adapters(backends));
            if !adapters.is_empty() {
                break;
            }
        }
        if adapters.is_empty() {
            return Err(Error::NoAdapter { backend: choice.name().into() });
        }
        let adapter = match settings.adapter_name.clone() {
            Some(wanted) => {
                let w = wanted.to_lowercase();
                adapters.iter().find(|a| a.get_info().name.to_lowercase().contains(&w)).cloned().ok_or_else(|| {
                    Error::AdapterNotFound {
                        wanted,
                        available: adapters.iter().map(|a| a.get_info().name).collect::<Vec<_>>().join(", "),
                    }
                })?
            }
            _ => adapters
                .iter()
                .min_by_key(|a| match a.get_info().device_type {
                    wgpu::DeviceType::DiscreteGpu => 0,
                    wgpu::DeviceType::IntegratedGpu => 1,
                    wgpu::DeviceType::VirtualGpu => 2,
                    wgpu::DeviceType::Other => 3,
                    wgpu::DeviceType::Cpu => 4,
                })
                .cloned()
                .expect("non-empty"),
        };
        Self::on_adapter(&adapter, settings)
    }

    fn on_adapter(adapter: &wgpu::Adapter, settings: &DeviceSettings) -> Result<Arc<Self>> {
        let summary = AdapterSummary::of(adapter);
        // The adapter's real limits, not WebGPU's conservative defaults: a 60000-image data set
        // or a large batch needs the bigger storage bindings real drivers offer.
        let limits = adapter.limits();
        let features = adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("wgan-gpu"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Device { adapter: summary.name.clone(), msg: e.to_string() })?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().push(e.to_string());
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let why = if msg.is_empty() { format!("{reason:?}") } else { format!("{reason:?}: {msg}") };
            *lost_sink.lock().unwrap() = Some(why);
        });
        Ok(Arc::new(GpuContext {
            device,
            queue,
            adapter: summary,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            uncaptured,
            lost,
            settings: settings.clone(),
        }))
    }

    /// Runs `f` inside a validation error scope and turns a captured error into `Error::Gpu`.
    pub fn checked<T>(&self, context: &str, f: impl FnOnce() -> T) -> Result<T> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        match pollster::block_on(scope.pop()) {
            None => Ok(value),
            Some(e) => Err(self.error(context, e)),
        }
    }

    /// Errors that escaped every scope since the last call.
    pub fn take_uncaptured(&self) -> Result<()> {
        let mut errs = self.uncaptured.lock().unwrap();
        if errs.is_empty() {
            self.lost_error().map_or(Ok(()), Err)
        } else {
            let msg = errs.join("; ");
            errs.clear();
            Err(self.error("device", msg))
        }
    }

    /// A GPU failure in `context`; after the device is lost, that loss is what is reported
    /// (a lost device fails every later call, and the loss is what the user can act on).
    pub fn error(&self, context: &str, msg: impl ToString) -> Error {
        self.lost_error().unwrap_or_else(|| Error::Gpu { context: context.into(), msg: msg.to_string() })
    }

    fn lost_error(&self) -> Option<Error> {
        let lost = self.lost.lock().unwrap();
        lost.as_ref().map(|msg| Error::DeviceLost { adapter: self.adapter.name.clone(), msg: msg.clone() })
    }
}
