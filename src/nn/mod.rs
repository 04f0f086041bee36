//! Networks as a stack of layers over any [`Backend`], built once for a fixed batch size:
//! every activation, gradient and parameter buffer exists before the first step. All parameters
//! of a network live in one flat buffer (and its gradients in another), so an optimizer step is
//! one dispatch and zeroing the gradients one clear. Backward is explicit, layer by layer.

mod net;
mod spec;

pub use net::{InitScheme, Net, PENALTY_WITHOUT_BATCH_NORM, ParamInfo};
pub use spec::{LayerSpec, NetSpec, Shape, WeightedOp};
