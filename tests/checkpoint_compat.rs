//! Checkpoints written by earlier versions still load and compute what they computed: a tiny
//! run's checkpoint (DCGAN, width 3, G batch norm, D spectral norm with two convs per scale,
//! G's moving average) was written by the code of 2026-12-07, together with what its networks
//! output on fixed inputs on the CPU reference. Any change to how networks are built, named or
//! laid out that breaks either fails here.

use std::path::Path;

use wgan_gpu::Backend;
use wgan_gpu::cpu::CpuBackend;
use wgan_gpu::nn::{Net, NetSpec};
use wgan_gpu::reference::gradcheck::Rng;
use wgan_gpu::train::checkpoint::Checkpoint;

const RUN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny_run");

/// G(z) for g and g_ema, and D(G(z)) (eval mode), on the CPU reference: 3 samples.
fn outputs() -> Vec<(String, Vec<f32>)> {
    let path = Path::new(RUN).join("checkpoint.safetensors");
    let ckpt = Checkpoint::load(&path).unwrap();
    let spec = |key: &str| -> NetSpec { serde_json::from_str(ckpt.meta(key, &path).unwrap()).unwrap() };
    let (gs, ds) = (spec("g_spec"), spec("d_spec"));
    let mut b = CpuBackend;
    let n = 3;
    let z = b.upload(&Rng::new(9).vec(n * gs.input.size(), -1.0, 1.0)).unwrap();
    let mut d = Net::new(&mut b, &ds, n).unwrap();
    ckpt.load_net(&mut b, "d", &d, &path).unwrap();
    ckpt.load_into(&mut b, "d.spectral", &d.spectral_state, &path).unwrap();
    d.normalise_weights(&mut b).unwrap();
    let mut out = Vec::new();
    for prefix in ["g", "g_ema"] {
        let mut g = Net::new(&mut b, &gs, n).unwrap();
        ckpt.load_net(&mut b, prefix, &g, &path).unwrap();
        g.forward(&mut b, &z, false, 0, 0).unwrap();
        let fake = g.output().clone();
        d.forward(&mut b, &fake, false, 0, 0).unwrap();
        out.push((format!("{prefix}(z)"), b.read(&fake).unwrap()));
        out.push((format!("d({prefix}(z))"), b.read(d.output()).unwrap()));
    }
    out
}

#[test]
fn a_checkpoint_of_2026_12_07_loads_and_computes_the_same() {
    let expected = Path::new(RUN).join("outputs.json");
    let got = outputs();
    if std::env::var_os("WGAN_WRITE_FIXTURE").is_some() {
        std::fs::write(&expected, serde_json::to_string(&got).unwrap()).unwrap();
    }
    let want: Vec<(String, Vec<f32>)> = serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
    assert_eq!(got.len(), want.len());
    for ((name, g), (_, w)) in got.iter().zip(&want) {
        assert_eq!(g.len(), w.len(), "{name}");
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{name}[{i}]: {a} now, {b} then");
        }
    }
}
