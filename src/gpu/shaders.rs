//! The WGSL sources, embedded at compile time, and their compute pipelines (compiled once per
//! device and entry point, on first use).

use std::borrow::Cow;

use super::context::GpuContext;
use crate::error::{Error, Result};

/// Prepended to every op shader: WGSL has no `#include`.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// The GEMM kernels' shared parameters, buffers and tile helpers, for the shaders that name it.
pub const GEMM_TILES: &str = include_str!("../../shaders/gemm_tiles.wgsl");

/// How the GEMM kernels store C: as scalars through any strides, or as vec4 rows.
pub const GEMM_STORE: &str = include_str!("../../shaders/gemm_store.wgsl");
pub const GEMM_STORE4: &str = include_str!("../../shaders/gemm_store4.wgsl");

/// The implicit-GEMM convolution's B (gathered from an image) and C (stored back into one).
pub const GEMM_CONV: &str = include_str!("../../shaders/gemm_conv.wgsl");
/// The implicit-GEMM weight gradient's B (taps gathered from an image).
pub const GEMM_CONV_WEIGHT: &str = include_str!("../../shaders/gemm_conv_weight.wgsl");

/// The per-sample losses' one parameter block and buffers (bce_with_logits, mse, hinge).
pub const LOSS: &str = include_str!("../../shaders/loss.wgsl");
/// The buffers of linear, conv2d and conv_transpose2d, at the slots their shared Rust passes bind.
pub const WEIGHTED: &str = include_str!("../../shaders/weighted.wgsl");
/// conv2d's and conv_transpose2d's parameter block and window arithmetic.
pub const CONV: &str = include_str!("../../shaders/conv.wgsl");

/// Files of `shaders/` that are included into op shaders rather than being ops themselves.
pub const INCLUDES: &[(&str, &str)] = &[
    ("common", COMMON),
    ("gemm_tiles", GEMM_TILES),
    ("gemm_store", GEMM_STORE),
    ("gemm_store4", GEMM_STORE4),
    ("gemm_conv", GEMM_CONV),
    ("gemm_conv_weight", GEMM_CONV_WEIGHT),
    ("loss", LOSS),
    ("weighted", WEIGHTED),
    ("conv", CONV),
];

/// Shaders assembled from another's file with different includes: `gemm_subgroup` storing C
/// as vec4 rows, as a convolution that gathers B from an image, and as a convolution's weight
/// gradient that does.
pub const VARIANTS: &[&str] = &["gemm_subgroup_c4", "gemm_subgroup_conv", "gemm_subgroup_conv_weight"];

/// How `gemm_subgroup.wgsl`'s template reads B: from memory, or gathered from an image as a
/// convolution's columns (`gemm_conv.wgsl`) or as its weight gradient's (`gemm_conv_weight.wgsl`).
/// Each keeps the template's `//% dense:`, `//% conv:` or `//% conv_weight:` lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileB {
    Dense,
    Conv,
    ConvWeight,
}

/// Every shader by name (the registry is in [`crate::ops`]).
pub use crate::ops::SHADERS;

/// The full source of an op shader: the common helpers, its parameter block (generated from the
/// Rust struct the op uploads), the declarations it shares with related ops (the GEMM pieces for
/// the GEMM shaders), then the op's own file.
pub fn source(name: &str) -> Option<String> {
    let (file, stores, b): (_, &[&str], _) = match name {
        "gemm_subgroup_c4" => ("gemm_subgroup", &[GEMM_STORE4], TileB::Dense),
        "gemm_subgroup_conv" => ("gemm_subgroup", &[GEMM_CONV], TileB::Conv),
        "gemm_subgroup_conv_weight" => ("gemm_subgroup", &[GEMM_STORE4, GEMM_CONV_WEIGHT], TileB::ConvWeight),
        _ => (name, &[GEMM_STORE], TileB::Dense),
    };
    let shader = SHADERS.iter().find(|s| s.name == file)?;
    let (params, body) = (super::params::wgsl(shader.params), shader.source);
    let shared = match file {
        "gemm" | "gemm_shared" | "gemm_subgroup" => format!("{GEMM_TILES}\n{}", stores.join("\n")),
        "bce_with_logits" | "mse" | "hinge" => LOSS.to_string(),
        "linear" => WEIGHTED.to_string(),
        "conv2d" | "conv_transpose2d" => format!("{CONV}\n{WEIGHTED}"),
        _ => String::new(),
    };
    let body = if file == "gemm_subgroup" { expand_tiles(body, b) } else { body.to_string() };
    Some(format!("{COMMON}\n{params}\n{shared}\n{body}"))
}

/// The heights of `gemm_subgroup.wgsl`'s tiles: its entry points are `tile16x4`, `tile32x4` and
/// `tile64x4`.
pub const SUBGROUP_TILE_ROWS: [usize; 3] = [16, 32, 64];

/// `gemm_subgroup.wgsl` with its one templated entry point (the first `@compute` function) written
/// out for every tile height, reading B as `b` says; the file's header says what the `{…}` names
/// and `//%` lines mean.
pub fn expand_tiles(template: &str, b: TileB) -> String {
    let start = template.find("@compute").expect("the template has an entry point");
    let end = start + template[start..].find("\n}\n").expect("the entry point ends with a `}` line") + 3;
    let mut out = template[..start].to_string();
    for rows in SUBGROUP_TILE_ROWS {
        out += &expand_entry(&template[start..end], rows, b);
        out.push('\n');
    }
    out + &template[end..]
}

fn expand_entry(entry: &str, rows: usize, b: TileB) -> String {
    let mut out = String::new();
    for line in entry.lines() {
        let text = line.trim_start();
        let indent = &line[..line.len() - text.len()];
        let only =
            [(TileB::Dense, "//% dense: "), (TileB::Conv, "//% conv: "), (TileB::ConvWeight, "//% conv_weight: ")]
                .into_iter()
                .find_map(|(mode, prefix)| text.strip_prefix(prefix).map(|rest| (mode, rest)));
        if let Some((mode, text)) = only {
            if mode == b {
                out += indent;
                out += text;
                out.push('\n');
            }
            continue;
        }
        let Some((kind, text)) = text.strip_prefix("//% each ").and_then(|d| d.split_once(": ")) else {
            out += &line.replace("{rows}", &rows.to_string());
            out.push('\n');
            continue;
        };
        let groups = rows / 4;
        let items: Vec<Vec<(String, usize)>> = match kind {
            "load" => (0..rows / 8).map(|j| vec![("j".into(), j)]).collect(),
            "row" => (0..rows).map(|r| vec![("r".into(), r), ("q".into(), r / 8), ("l".into(), r % 8)]).collect(),
            "group" => (0..groups)
                .map(|g| {
                    let mut names = vec![("g".to_string(), g)];
                    for i in 0..4 {
                        // Row 4g + i; the values at k + i sit in load slot i·groups + g.
                        let slot = i * groups + g;
                        names.extend([
                            (format!("r{i}"), 4 * g + i),
                            (format!("q{i}"), slot / 8),
                            (format!("l{i}"), slot % 8),
                        ]);
                    }
                    names
                })
                .collect(),
            other => panic!("gemm_subgroup.wgsl: unknown `//% each {other}` line"),
        };
        for names in items {
            let mut l = text.replace("{rows}", &rows.to_string());
            for (name, v) in names {
                l = l.replace(&format!("{{{name}}}"), &v.to_string());
            }
            out += indent;
            out += &l;
            out.push('\n');
        }
    }
    out
}

impl GpuContext {
    /// The pipeline for `shader`'s entry point `entry` with its `override` constants set to
    /// `constants`, compiled on first use. Its bind-group layout is derived from the bindings
    /// that entry point uses.
    pub(crate) fn pipeline(
        &self,
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, u32)],
    ) -> Result<wgpu::ComputePipeline> {
        let key = (shader, entry, constants.to_vec());
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return Ok(p.clone());
        }
        let overrides: Vec<(&str, f64)> = constants.iter().map(|&(name, v)| (name, f64::from(v))).collect();
        let src = source(shader).ok_or_else(|| Error::Shader { name: shader.into(), msg: "no such shader".into() })?;
        let label = format!("{shader}.{entry}");
        let pipeline = self
            .checked(&label, || {
                let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(Cow::Owned(src)),
                });
                self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &overrides,
                        ..Default::default()
                    },
                    cache: None,
                })
            })
            .map_err(|e| Error::Shader { name: label.clone(), msg: e.to_string() })?;
        self.pipelines.lock().unwrap().insert(key, pipeline.clone());
        Ok(pipeline)
    }
}
