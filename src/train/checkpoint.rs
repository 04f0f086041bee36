//! Checkpoints in safetensors: both networks' parameters and running statistics, both
//! optimizer states, and (as metadata) the step, epoch, optimizer step counts and the whole
//! run configuration. All randomness derives from (seed, step, epoch), so those are the RNG
//! state. Written to a temporary file and renamed, so a crash never leaves a half checkpoint.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::nn::Net;
use crate::{Backend, Tensor};

pub const FORMAT: &str = "wgan-gpu/1";

/// Named f32 tensors plus string metadata.
#[derive(Default)]
pub struct Checkpoint {
    pub tensors: Vec<(String, Vec<f32>)>,
    pub meta: HashMap<String, String>,
    /// Tensors with more than one dimension (the rest are flat).
    pub shapes: HashMap<String, Vec<usize>>,
}

impl Checkpoint {
    pub fn tensor(&self, name: &str, path: &Path) -> Result<&[f32]> {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| &v[..])
            .ok_or_else(|| Error::Data { path: path.into(), msg: format!("checkpoint has no tensor '{name}'") })
    }

    /// Writes tensor `name` into `into` (a network's parameters or statistics), which must have
    /// its length: a checkpoint of another architecture is an error naming the tensor.
    pub fn load_into<B: Backend>(&self, b: &mut B, name: &str, into: &B::T, path: &Path) -> Result<()> {
        let v = self.tensor(name, path)?;
        if v.len() != into.len() {
            return Err(Error::Data {
                path: path.into(),
                msg: format!("tensor {name} has {} values, the model {}", v.len(), into.len()),
            });
        }
        b.write(into, v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors.iter().any(|(n, _)| n == name)
    }

    /// Whether the checkpoint holds network `prefix` (`g`, `d`, `g_ema`) in either layout.
    pub fn has_net(&self, prefix: &str) -> bool {
        let dot = format!("{prefix}.");
        self.tensors.iter().any(|(n, _)| {
            n.strip_prefix(&dot).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()) || r == "params")
        })
    }

    /// Network `prefix`'s tensors under their PyTorch names (`g.0.weight`, ...; see
    /// [`Net::named_tensors`]), shapes included, as this checkpoint would hold them.
    pub fn add_net<B: Backend>(&mut self, b: &mut B, prefix: &str, net: &Net<B>) -> Result<()> {
        for (name, shape, t) in net.named_tensors() {
            let name = format!("{prefix}.{name}");
            self.tensors.push((name.clone(), b.read(&t)?));
            if shape.len() > 1 {
                self.shapes.insert(name, shape);
            }
        }
        Ok(())
    }

    /// Loads network `prefix` into `net`: from its per-layer tensors, or from the flat
    /// `<prefix>.params` and `<prefix>.running` of checkpoints written before those.
    pub fn load_net<B: Backend>(&self, b: &mut B, prefix: &str, net: &Net<B>, path: &Path) -> Result<()> {
        if self.has(&format!("{prefix}.params")) {
            self.load_into(b, &format!("{prefix}.params"), &net.params, path)?;
            return self.load_into(b, &format!("{prefix}.running"), &net.running, path);
        }
        for (name, _, t) in net.named_tensors() {
            self.load_into(b, &format!("{prefix}.{name}"), &t, path)?;
        }
        Ok(())
    }

    pub fn meta(&self, key: &str, path: &Path) -> Result<&str> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Data { path: path.into(), msg: format!("checkpoint metadata has no '{key}'") })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes: Vec<Vec<u8>> = self.tensors.iter().map(|(_, v)| bytemuck::cast_slice(v).to_vec()).collect();
        let views = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, v), b)| {
                let shape = self.shapes.get(name).cloned().unwrap_or_else(|| vec![v.len()]);
                Ok((name.clone(), TensorView::new(Dtype::F32, shape, b)?))
            })
            .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| Error::Data { path: path.into(), msg: e.to_string() })?;
        let mut meta = self.meta.clone();
        meta.insert("format".into(), FORMAT.into());
        let data = safetensors::tensor::serialize(views, Some(meta))
            .map_err(|e| Error::Data { path: path.into(), msg: e.to_string() })?;
        super::outputs::write_atomic(path, &data)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a checkpoint's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |msg: String| Error::Data { path: path.into(), msg: format!("not a wgan-gpu checkpoint: {msg}") };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!("format is {:?}, expected {FORMAT}", meta.get("format"))));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (mut tensors, mut shapes) = (Vec::new(), HashMap::new());
        for name in st.names() {
            let t = st.tensor(name).map_err(|e| bad(e.to_string()))?;
            if t.dtype() != Dtype::F32 {
                return Err(bad(format!("tensor {name} is {:?}, expected F32", t.dtype())));
            }
            let v = t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            tensors.push((name.to_string(), v));
            if t.shape().len() > 1 {
                shapes.insert(name.to_string(), t.shape().to_vec());
            }
        }
        Ok(Checkpoint { tensors, meta, shapes })
    }
}
