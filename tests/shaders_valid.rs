//! Every shader parses and validates with naga, without any adapter, and every file in
//! `shaders/` is one the crate embeds.

use std::collections::BTreeSet;

use wgan_gpu::gpu::shaders::{INCLUDES, SHADERS, VARIANTS, source};

fn validate(name: &str, src: &str) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: parse error:\n{}", e.emit_to_string(src)));
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
    for name in SHADERS.iter().map(|(n, _)| *n).chain(VARIANTS.iter().copied()) {
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
    let embedded: BTreeSet<String> = SHADERS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded, "shaders/ and ops::SHADERS disagree");
}
