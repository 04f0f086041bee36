// ema: the generator's exponential moving average (Karras et al. 2018), over G's whole flat
// parameter buffer in one dispatch, after every G step.
// update: ema[i] = decay · ema[i] + (1 − decay) · param[i]
// param, ema [n]

@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> ema: array<f32>;

@compute @workgroup_size(256)
fn update(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    ema[i] = p.decay * ema[i] + (1.0 - p.decay) * param[i];
}
