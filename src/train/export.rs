//! `wgan-gpu export`: a checkpoint's generator as an ONNX graph other tools run (onnxruntime,
//! tract, PyTorch's onnx2torch). Layers map one to one: Linear → Gemm, ConvTranspose2d →
//! ConvTranspose, Conv2d → Conv, batch norm → BatchNormalization with the running statistics
//! (inference mode, as `sample`), dropout → nothing; pixel norm, which ONNX lacks, is spelt out
//! (Mul, ReduceMean, Add, Sqrt, Div). The weights are read on the CPU backend, so exporting needs
//! no adapter.

use std::path::{Path, PathBuf};

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::type_proto::{self, Value};
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};

use super::checkpoint::Checkpoint;
use super::sample::Generator;
use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::error::{Error, Result};
use crate::nn::{LayerSpec, Net, NetSpec, ResidualSpec, Shape, Upsampling};
use crate::ops::activation::Activation;

/// Opset 13 has every operator used here in its current form and is read by every runtime
/// released since 2021; IR version 7 is the one that goes with it.
const OPSET: i64 = 13;
const IR_VERSION: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// An ONNX model: input `z` [N, z_dim] (plus `label` or `code` one-hot [N, K] for
    /// conditional and InfoGAN models), output `images` [N, C, H, W] in [−1, 1] (`rows`
    /// [N, features] in the model's units for tables).
    Onnx,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A checkpoint.safetensors, or the run folder holding one.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long, value_enum, default_value = "onnx")]
    pub format: ExportFormat,
    #[arg(long)]
    pub out: PathBuf,
    /// Export the live generator's weights, not their moving average (--g-ema).
    #[arg(long)]
    pub raw: bool,
}

pub fn export(args: ExportArgs) -> Result<()> {
    let path = Generator::checkpoint_path(&args.checkpoint);
    let ckpt = Checkpoint::load(&path)?;
    let ExportFormat::Onnx = args.format;
    let bytes = onnx_model(&ckpt, &path, args.raw)?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.into(), source })?;
    }
    super::outputs::write_atomic(&args.out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}

/// The ONNX bytes of the generator in `ckpt` (read from `path`, which names it in errors): its
/// moving average when it has one, unless `raw`.
pub fn onnx_model(ckpt: &Checkpoint, path: &Path, raw: bool) -> Result<Vec<u8>> {
    let spec: NetSpec = serde_json::from_str(ckpt.meta("g_spec", path)?)
        .map_err(|e| Error::Data { path: path.into(), msg: format!("bad g_spec: {e}") })?;
    if spec.spectral_norm {
        return Err(Error::Config("export of a spectrally normalised generator is not supported".into()));
    }
    let (info, codes, _) = Generator::codes_of(ckpt, path)?;
    let mut b = CpuBackend;
    let net = Net::new(&mut b, &spec, 1)?;
    let prefix = if !raw && ckpt.has_net("g_ema") { "g_ema" } else { "g" };
    ckpt.load_net(&mut b, prefix, &net, path)?;
    let mut g = Graph::default();
    for (name, shape, t) in net.named_tensors() {
        g.initializer(&name, &shape, b.read(&t)?);
    }
    let z_dim = spec.input.size() - codes;
    g.input("z", &[z_dim]);
    let mut x = "z".to_string();
    if codes > 0 {
        let one_hot = if info.classes.is_empty() { "code" } else { "label" };
        g.input(one_hot, &[codes]);
        g.label = Some(one_hot.to_string());
        x = g.node("Concat", &[&x, one_hot], vec![int("axis", 1)]);
    }
    // Whether x is [N, features] (z, a Gemm's output) rather than [N, C, H, W].
    let mut flat = true;
    x = g.sequence("", &spec.layers, &x, spec.input, &mut flat)?;
    let out = spec.output()?;
    let unit_pixels = matches!(spec.layers.last(), Some(LayerSpec::Activation { f: Activation::Sigmoid }));
    if unit_pixels && !info.is_table() {
        // A sigmoid generator draws in [0, 1]; every export draws in [−1, 1], as `sample` does.
        g.initializer("two", &[], vec![2.0]);
        g.initializer("one", &[], vec![1.0]);
        let doubled = g.node("Mul", &[&x, "two"], vec![]);
        x = g.node("Sub", &[&doubled, "one"], vec![]);
    }
    let (output, dims) = if info.is_table() {
        ("rows", vec![out.size()])
    } else {
        if flat {
            x = g.reshape(&x, out, false);
        }
        ("images", vec![out.0, out.1, out.2])
    };
    g.node("Identity", &[&x], vec![]);
    g.nodes.last_mut().expect("just added").output = vec![output.into()];
    g.output(output, &dims);
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { version: OPSET, ..Default::default() }],
        producer_name: "wgan-gpu".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("wgan-gpu generator ({prefix} of {})", path.display()),
        graph: Some(g.finish()).into(),
        ..Default::default()
    };
    model.write_to_bytes().map_err(|e| Error::Data { path: path.into(), msg: format!("ONNX encoding: {e}") })
}

/// An ONNX graph under construction: nodes in order, each output named after its node.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    /// The one-hot label input [N, classes], which conditional batch norms read.
    label: Option<String>,
}

impl Graph {
    /// Appends node `op` on `inputs`; returns the name of its output.
    fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        let name = format!("{}_{}", op.to_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        name
    }

    fn initializer(&mut self, name: &str, dims: &[usize], values: Vec<f32>) {
        self.initializers.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::FLOAT as i32,
            float_data: values,
            ..Default::default()
        });
    }

    fn input(&mut self, name: &str, dims: &[usize]) {
        self.inputs.push(value_info(name, dims));
    }

    fn output(&mut self, name: &str, dims: &[usize]) {
        self.outputs.push(value_info(name, dims));
    }

    /// `x` reshaped to [N, c, h, w], or to [N, c] where `flat`.
    fn reshape(&mut self, x: &str, to: Shape, flat: bool) -> String {
        let name = format!("shape_{}", self.initializers.len());
        let Shape(c, h, w) = to;
        let dims: Vec<i64> = if flat { vec![-1, c as i64] } else { vec![-1, c as i64, h as i64, w as i64] };
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![dims.len() as i64],
            data_type: DataType::INT64 as i32,
            int64_data: dims,
            ..Default::default()
        });
        self.node("Reshape", &[x, &name], vec![])
    }

    /// The layers at `path` on `x`, whose per-sample shape is `inp`; `flat` says whether x is
    /// [N, features], and becomes whether the output is.
    fn sequence(&mut self, path: &str, layers: &[LayerSpec], x: &str, inp: Shape, flat: &mut bool) -> Result<String> {
        let shapes = layers_shapes(layers, inp)?;
        let mut x = x.to_string();
        for (i, layer) in layers.iter().enumerate() {
            let inp = if i == 0 { inp } else { shapes[i - 1] };
            let at = if path.is_empty() { i.to_string() } else { format!("{path}.{i}") };
            x = self.layer(&at, layer, &x, inp, flat)?;
        }
        Ok(x)
    }

    /// Layer `i` (a path) of the network on `x`, as [`Graph::sequence`].
    fn layer(&mut self, i: &str, layer: &LayerSpec, x: &str, inp: Shape, flat: &mut bool) -> Result<String> {
        let (w, bias) = (format!("{i}.weight"), format!("{i}.bias"));
        let square = |name: &str, v: usize| ints(name, &[v as i64, v as i64]);
        let with_bias = |has: bool| if has { vec![x, w.as_str(), bias.as_str()] } else { vec![x, w.as_str()] };
        let was_flat = std::mem::replace(flat, false);
        Ok(match layer {
            &LayerSpec::Linear { bias: has, .. } => {
                *flat = true;
                // Our linear layers read any per-sample shape as flat, as nn.Flatten + nn.Linear.
                let x2 = if was_flat { x.to_string() } else { self.node("Flatten", &[x], vec![]) };
                let mut args = with_bias(has);
                args[0] = &x2;
                self.node("Gemm", &args, vec![int("transB", 1)])
            }
            &LayerSpec::Conv2d { kernel, stride, pad, bias: has, .. }
            | &LayerSpec::ConvTranspose2d { kernel, stride, pad, bias: has, .. } => {
                let x4 = if was_flat { self.reshape(x, inp, false) } else { x.to_string() };
                let mut args = with_bias(has);
                args[0] = &x4;
                let mut attrs =
                    vec![square("kernel_shape", kernel), square("strides", stride), ints("pads", &[pad as i64; 4])];
                let op = match *layer {
                    LayerSpec::ConvTranspose2d { output_padding, .. } => {
                        attrs.push(square("output_padding", output_padding));
                        "ConvTranspose"
                    }
                    _ => "Conv",
                };
                self.node(op, &args, attrs)
            }
            &LayerSpec::BatchNorm { eps, .. } => {
                *flat = was_flat;
                let (mean, var) = (format!("{i}.running_mean"), format!("{i}.running_var"));
                self.node("BatchNormalization", &[x, &w, &bias, &mean, &var], vec![float("epsilon", eps)])
            }
            &LayerSpec::ConditionalBatchNorm { eps, .. } => {
                *flat = was_flat;
                let Some(label) = self.label.clone() else {
                    return Err(Error::Config(format!("layer {i} is a conditional batch norm in a G without labels")));
                };
                let (mean, var) = (format!("{i}.running_mean"), format!("{i}.running_var"));
                let (ones, zeros) = (format!("{i}.unit_scale"), format!("{i}.unit_shift"));
                self.initializer(&ones, &[inp.0], vec![1.0; inp.0]);
                self.initializer(&zeros, &[inp.0], vec![0.0; inp.0]);
                let normalised =
                    self.node("BatchNormalization", &[x, &ones, &zeros, &mean, &var], vec![float("epsilon", eps)]);
                // The class's rows: the one-hot label [N, classes] times the tables [classes, C].
                let mut per_class = [&w, &bias].map(|table| self.node("MatMul", &[&label, table], vec![]));
                if !was_flat {
                    per_class = per_class.map(|t| self.reshape(&t, Shape(inp.0, 1, 1), false));
                }
                let scaled = self.node("Mul", &[&normalised, &per_class[0]], vec![]);
                self.node("Add", &[&scaled, &per_class[1]], vec![])
            }
            // One ReduceMean over axis 1 serves both layouts: it holds the channels of [N, C, H, W]
            // and the features of [N, F].
            &LayerSpec::PixelNorm { eps } => {
                *flat = was_flat;
                let eps_name = format!("{i}.eps");
                self.initializer(&eps_name, &[], vec![eps]);
                let squared = self.node("Mul", &[x, x], vec![]);
                let mean = self.node("ReduceMean", &[&squared], vec![ints("axes", &[1]), int("keepdims", 1)]);
                let shifted = self.node("Add", &[&mean, &eps_name], vec![]);
                let rms = self.node("Sqrt", &[&shifted], vec![]);
                self.node("Div", &[x, &rms], vec![])
            }
            &LayerSpec::Activation { f } => {
                *flat = was_flat;
                match f {
                    Activation::Relu => self.node("Relu", &[x], vec![]),
                    Activation::LeakyRelu(slope) => self.node("LeakyRelu", &[x], vec![float("alpha", slope)]),
                    Activation::Sigmoid => self.node("Sigmoid", &[x], vec![]),
                    Activation::Tanh => self.node("Tanh", &[x], vec![]),
                }
            }
            // Inference: dropout is the identity.
            LayerSpec::Dropout { .. } => {
                *flat = was_flat;
                x.to_string()
            }
            &LayerSpec::Reshape { to } => {
                *flat = to.1 * to.2 == 1;
                self.reshape(x, to, *flat)
            }
            &LayerSpec::Upsample { mode } => {
                let x4 = if was_flat { self.reshape(x, inp, false) } else { x.to_string() };
                self.upsample(&x4, mode)
            }
            LayerSpec::AvgPool => {
                let x4 = if was_flat { self.reshape(x, inp, false) } else { x.to_string() };
                self.node("AveragePool", &[&x4], vec![square("kernel_shape", 2), square("strides", 2)])
            }
            LayerSpec::Residual(r) => self.residual(i, r, x, inp, (was_flat, flat))?,
            LayerSpec::Blend(_) => {
                return Err(Error::Config(format!(
                    "layer {i} is a blend (a fade-in in progress): export a checkpoint taken after the fade-in"
                )));
            }
            // A layer kind added without its ONNX nodes yet.
            #[allow(unreachable_patterns)]
            other => {
                return Err(Error::Config(format!("ONNX export of layer {i} ({other:?}) is not supported")));
            }
        })
    }

    /// 2× upsampling of x [N, C, H, W]: PyTorch's nearest reads floor(o / 2), its bilinear
    /// (align_corners=False) the half-pixel centres, clamped at the edges as ONNX's linear mode.
    fn upsample(&mut self, x: &str, mode: Upsampling) -> String {
        let scales = format!("scales_{}", self.initializers.len());
        self.initializer(&scales, &[4], vec![1.0, 1.0, 2.0, 2.0]);
        let attrs = match mode {
            Upsampling::Nearest => vec![
                string("mode", "nearest"),
                string("coordinate_transformation_mode", "asymmetric"),
                string("nearest_mode", "floor"),
            ],
            Upsampling::Bilinear => {
                vec![string("mode", "linear"), string("coordinate_transformation_mode", "half_pixel")]
            }
        };
        self.node("Resize", &[x, "", &scales], attrs)
    }

    /// Residual block `i` on x: both paths, brought to one layout, added.
    fn residual(
        &mut self,
        i: &str,
        r: &ResidualSpec,
        x: &str,
        inp: Shape,
        (was_flat, flat): (bool, &mut bool),
    ) -> Result<String> {
        let (mut main_flat, mut short_flat) = (was_flat, was_flat);
        let main = self.sequence(&format!("{i}.main"), &r.main, x, inp, &mut main_flat)?;
        let short = self.sequence(&format!("{i}.shortcut"), &r.shortcut, x, inp, &mut short_flat)?;
        let out = layers_shapes(&r.main, inp)?.last().copied().unwrap_or(inp);
        let (main, short) = match (main_flat, short_flat) {
            (true, false) => (self.reshape(&main, out, false), short),
            (false, true) => (main, self.reshape(&short, out, false)),
            _ => (main, short),
        };
        *flat = main_flat && short_flat;
        Ok(self.node("Add", &[&main, &short], vec![]))
    }

    fn finish(self) -> GraphProto {
        GraphProto {
            name: "generator".into(),
            node: self.nodes,
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        }
    }
}

/// A float tensor [N, dims...] with a symbolic batch dimension.
fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let mut dim = vec![Dimension { value: Some(dimension::Value::DimParam("N".into())), ..Default::default() }];
    dim.extend(
        dims.iter().map(|&d| Dimension { value: Some(dimension::Value::DimValue(d as i64)), ..Default::default() }),
    );
    let tensor = type_proto::Tensor {
        elem_type: DataType::FLOAT as i32,
        shape: Some(TensorShapeProto { dim, ..Default::default() }).into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto { value: Some(Value::TensorType(tensor)), ..Default::default() }).into(),
        ..Default::default()
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::INT.into(), i, ..Default::default() }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::INTS.into(), ints: v.to_vec(), ..Default::default() }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::STRING.into(),
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// The per-sample output shapes of `layers` on `inp`.
fn layers_shapes(layers: &[LayerSpec], inp: Shape) -> Result<Vec<Shape>> {
    NetSpec { input: inp, layers: layers.to_vec(), spectral_norm: false }.shapes()
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::FLOAT.into(), f, ..Default::default() }
}
