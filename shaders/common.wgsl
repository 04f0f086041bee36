// Prepended to every op shader (WGSL has no #include). Kept free of bindings so that
// each op file declares exactly the buffers its entry points use. Each op's `struct Params` and
// its uniform `p` at binding 0 are not written in WGSL: gpu::shaders::source generates them from
// the Rust parameter block that the op uploads (ops::SHADERS names it), so the two cannot differ.

const WG: u32 = 256u;

// The builtins of a kernel dispatched as a 2-D grid of workgroups (so that more than
// 65535 * WG elements can be covered), taken by its entry point as one argument.
struct Invocation {
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
}

// Workgroup index for kernels that give one workgroup to each channel or row.
fn group_id(inv: Invocation) -> u32 {
    return inv.wg.y * inv.nwg.x + inv.wg.x;
}

// Linear invocation id for 1-D work.
fn flat_id(inv: Invocation) -> u32 {
    return group_id(inv) * WG + inv.lid;
}

fn rotl(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

// Threefry-2x32 with 20 rounds (Salmon et al. 2011, Random123): a counter-based generator,
// so any element of any stream can be drawn independently and a seed reproduces it exactly.
// Mirrored bit for bit by reference::random::threefry2x32.
fn threefry2x32(key: vec2<u32>, ctr: vec2<u32>) -> vec2<u32> {
    var ks = array<u32, 3>(key.x, key.y, 0x1BD11BDAu ^ key.x ^ key.y);
    var x0 = ctr.x + ks[0];
    var x1 = ctr.y + ks[1];
    for (var q = 0u; q < 5u; q++) {
        let r = select(vec4<u32>(13u, 15u, 26u, 6u), vec4<u32>(17u, 29u, 16u, 24u), (q & 1u) == 1u);
        x0 += x1; x1 = rotl(x1, r.x); x1 ^= x0;
        x0 += x1; x1 = rotl(x1, r.y); x1 ^= x0;
        x0 += x1; x1 = rotl(x1, r.z); x1 ^= x0;
        x0 += x1; x1 = rotl(x1, r.w); x1 ^= x0;
        let i = q + 1u;
        x0 += ks[i % 3u];
        x1 += ks[(i + 1u) % 3u] + i;
    }
    return vec2<u32>(x0, x1);
}

// The counter of element `i` of a stream that starts at the 64-bit offset (lo, hi).
fn counter_at(off_lo: u32, off_hi: u32, i: u32) -> vec2<u32> {
    let lo = off_lo + i;
    return vec2<u32>(lo, off_hi + select(0u, 1u, lo < off_lo));
}

// Uniform in [0, 1) from the top 24 bits.
fn unit_float(bits: u32) -> f32 {
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

// A standard normal from one Threefry draw by Box–Muller; u1 is in (0, 1] so the log is finite.
// WGSL's log is only accurate to an absolute 2^-21 near 1, so a GPU may return a tiny positive
// log(u1) there: the max keeps the square root's argument from going negative (NaN).
fn standard_normal(r: vec2<u32>) -> f32 {
    let u1 = f32((r.x >> 8u) + 1u) * (1.0 / 16777216.0);
    return sqrt(max(-2.0 * log(u1), 0.0)) * cos(6.283185307179586 * unit_float(r.y));
}

fn sigmoid_stable(z: f32) -> f32 {
    if (z >= 0.0) {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

// tanh via exp(-2|x|) so that large |x| gives +-1, not inf/inf.
fn tanh_stable(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}

// Activation `kind` of v: 0 LeakyReLU(slope) (ReLU is slope 0), 1 sigmoid, 2 tanh. Callers pass
// a pipeline constant, so CPU adapters do not run the other kinds masked.
fn activate(kind: u32, slope: f32, v: f32) -> f32 {
    switch kind {
        case 1u: { return sigmoid_stable(v); }
        case 2u: { return tanh_stable(v); }
        default: { return select(slope * v, v, v > 0.0); }
    }
}

// A forward kernel's fused activation as it stores its output: `code` 0 none, else kind + 1.
fn epilogue(code: u32, slope: f32, v: f32) -> f32 {
    if (code == 0u) { return v; }
    return activate(code - 1u, slope, v);
}
