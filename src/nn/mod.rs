//! Networks over any [`Backend`](crate::backend::Backend), built once for a fixed batch size:
//! every activation, gradient and parameter buffer exists before the first step. A network is a
//! sequence of layers and blocks of layers ([`Layer`], one trait); all its parameters live in one
//! flat buffer (and its gradients in another), so an optimizer step is one dispatch and zeroing
//! the gradients one clear. Backward is explicit, layer by layer.

mod blend;
mod layer;
mod layers;
mod net;
mod residual;
mod sequence;
mod spec;

pub use blend::{Blend, BlendSpec};
pub use layer::{Adjoint, Build, Io, Layer, Param, Run};
pub use layers::{LayerSpec, Upsampling};
pub use net::{InitScheme, Net, PENALTY_WITHOUT_BATCH_NORM, ParamInfo};
pub use residual::{Residual, ResidualSpec};
pub use sequence::Sequence;
pub use spec::{NetSpec, Shape, WeightedOp};
