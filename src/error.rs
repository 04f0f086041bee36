//! One error type for the whole crate. Every variant says what went wrong and what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no GPU adapter found for backend '{backend}'. Install a driver (on Linux without a GPU: \
         `apt-get install mesa-vulkan-drivers` for lavapipe), pick another --backend, or run \
         `wgan-gpu devices` to see what wgpu finds"
    )]
    NoAdapter { backend: String },

    #[error("no adapter named like '{wanted}' (WGPU_ADAPTER_NAME); available: {available}")]
    AdapterNotFound { wanted: String, available: String },

    #[error("could not open the GPU device on '{adapter}': {msg}")]
    Device { adapter: String, msg: String },

    #[error("shader '{name}' failed to compile or validate: {msg}")]
    Shader { name: String, msg: String },

    #[error("GPU validation error in {context}: {msg}")]
    Gpu { context: String, msg: String },

    #[error(
        "the GPU device on '{adapter}' was lost ({msg}): a driver reset, a removed or sleeping GPU, \
         or a kernel that ran too long. Checkpoints already written are intact: continue with \
         `wgan-gpu train --resume RUN_DIR`, at a smaller --batch-size if it happens again"
    )]
    DeviceLost { adapter: String, msg: String },

    #[error("{op}: shape mismatch: {msg}")]
    Shape { op: &'static str, msg: String },

    #[error(
        "{op}: buffer of {bytes} bytes exceeds this adapter's {limit_name} of {limit} bytes; \
         lower {hint}"
    )]
    TooLarge { op: String, bytes: u64, limit: u64, limit_name: &'static str, hint: String },

    #[error(
        "training diverged at step {step} (D loss {d_loss}, G loss {g_loss}); the last good checkpoint \
         is kept. Lower the learning rates or try --loss lsgan / one-sided label smoothing"
    )]
    Diverged { step: u64, d_loss: f32, g_loss: f32 },

    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },

    #[error("{0}")]
    Config(String),

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Error {
    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape { op, msg: msg.into() }
    }
}
