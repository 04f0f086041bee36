//! Every shader parses and validates with naga, without any adapter; every file in `shaders/`
//! is one the crate embeds; and every shader's uniform parameter block, as naga parses it from
//! the assembled source, is field by field (names, types, offsets) the Rust struct its op writes.

use std::collections::BTreeSet;

use wgan_gpu::gpu::params::Scalar;
use wgan_gpu::gpu::shaders::{INCLUDES, SHADERS, VARIANTS, source};

fn validate(name: &str, src: &str) {
    let module =
        naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: parse error:\n{}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: validation error:\n{}", e.emit_to_string(src)));
}

#[test]
fn every_shader_validates() {
    // Includes are validated inside the shaders that include them.
    for name in SHADERS.iter().map(|s| s.name).chain(VARIANTS.iter().copied()) {
        validate(name, &source(name).unwrap());
    }
}

#[test]
fn every_shader_file_is_embedded() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".wgsl").map(String::from))
        .filter(|n| INCLUDES.iter().all(|(i, _)| i != n))
        .collect();
    let embedded: BTreeSet<String> = SHADERS.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(on_disk, embedded, "shaders/ and ops::SHADERS disagree");
}

/// The members of the uniform at group 0, binding 0: (name, scalar, byte offset).
fn uniform_members(name: &str, src: &str) -> Vec<(String, Scalar, u32)> {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (_, var) = module
        .global_variables
        .iter()
        .find(|(_, v)| {
            v.space == naga::AddressSpace::Uniform && v.binding.as_ref().is_some_and(|b| b.group == 0 && b.binding == 0)
        })
        .unwrap_or_else(|| panic!("{name}: no uniform at group 0, binding 0"));
    let naga::TypeInner::Struct { members, .. } = &module.types[var.ty].inner else {
        panic!("{name}: the uniform is not a struct");
    };
    members
        .iter()
        .map(|m| {
            let scalar = match module.types[m.ty].inner {
                naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Uint, width: 4 }) => Scalar::U32,
                naga::TypeInner::Scalar(naga::Scalar { kind: naga::ScalarKind::Float, width: 4 }) => Scalar::F32,
                ref other => panic!("{name}: member {:?} is {other:?}, not u32 or f32", m.name),
            };
            (m.name.clone().unwrap_or_default(), scalar, m.offset)
        })
        .collect()
}

#[test]
fn every_parameter_block_matches_its_rust_struct() {
    for shader in SHADERS {
        let wgsl = uniform_members(shader.name, &source(shader.name).unwrap());
        let rust: Vec<(String, Scalar, u32)> =
            shader.params.iter().enumerate().map(|(i, (n, s))| (n.to_string(), *s, 4 * i as u32)).collect();
        assert_eq!(wgsl, rust, "{}: the WGSL Params (left) and the Rust struct (right) differ", shader.name);
    }
}
