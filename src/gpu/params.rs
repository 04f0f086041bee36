//! Shader parameter blocks. Each `shaders/<op>.wgsl` reads a `struct Params` of u32 and f32
//! fields from its uniform `p` at binding 0. The block is declared once, in Rust, with
//! [`params!`]: a `#[repr(C)]` Pod struct, whose [`Params::FIELDS`] [`wgsl`] writes out as the
//! WGSL struct that [`crate::gpu::shaders::source`] prepends to the shader (the shader test
//! checks the names, types and offsets that naga parses from it).

/// The scalar type of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    U32,
    F32,
}

/// A parameter block as the shader reads it.
pub trait Params: bytemuck::Pod {
    /// (name, type) of every field, in order.
    const FIELDS: &'static [(&'static str, Scalar)];
}

/// The WGSL declaration of a block with these fields: `struct Params` and the uniform `p` at
/// group 0, binding 0, where every op shader reads it.
pub fn wgsl(fields: &[(&str, Scalar)]) -> String {
    let mut out = String::from("struct Params {\n");
    for (name, scalar) in fields {
        let ty = match scalar {
            Scalar::U32 => "u32",
            Scalar::F32 => "f32",
        };
        out += &format!("    {name}: {ty},\n");
    }
    out + "}\n\n@group(0) @binding(0) var<uniform> p: Params;\n"
}

/// The block as the 32-bit words a dispatch uploads.
pub fn words<P: Params>(p: &P) -> &[u32] {
    bytemuck::cast_slice(std::slice::from_ref(p))
}

/// Declares a parameter block: `params! { /// doc  pub struct Name { n: u32, scale: f32 } }`.
macro_rules! params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ident),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $(pub $field: $ty),*
        }

        impl $crate::gpu::params::Params for $name {
            const FIELDS: &'static [(&'static str, $crate::gpu::params::Scalar)] =
                &[$((stringify!($field), $crate::gpu::params::params!(@scalar $ty))),*];
        }
    };
    (@scalar u32) => {
        $crate::gpu::params::Scalar::U32
    };
    (@scalar f32) => {
        $crate::gpu::params::Scalar::F32
    };
}
pub(crate) use params;
