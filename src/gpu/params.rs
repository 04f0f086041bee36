//! Shader parameter blocks. Each `shaders/<op>.wgsl` reads a `struct Params` of u32 and f32
//! fields from its uniform at binding 0; its Rust mirror is declared with [`params!`]: a
//! `#[repr(C)]` Pod struct with the same fields in the same order, whose [`Params::FIELDS`] the
//! shader test compares with the WGSL struct that naga parses (names, types, offsets), so the two
//! cannot drift apart unnoticed.

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
