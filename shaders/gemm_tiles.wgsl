// Included (after common.wgsl, before gemm_store.wgsl or gemm_store4.wgsl, which hold C) by the
// gemm*.wgsl shaders: the buffers of the product C[b, m, n] (+)= Σ_{ko, k} A[b, m, ko, k] · B[b, ko, k, n] (+ bias), and the pieces
// of its vec4 tiles. Element (i, j) of an operand at batch item b and outer reduction step ko is at
// x0 + b·x_b + ko·x_ko + i·x_<row> + j·x_<col> (the strides and offsets of ops::gemm::GemmParams).

// The vec4 kernels only: A is read 4 at a time along k (0) or along m (1); B along n (0) or k (1).
// Pipeline constants rather than parameters, so each layout is its own pipeline with no branch
// in the inner loop (on CPU adapters both sides of a branch run, masked).
override A_VEC: u32 = 0u;
override B_VEC: u32 = 0u;
// The activation fused into C's stores (common.wgsl's `epilogue` code: 0 none, 1 LeakyReLU,
// 2 sigmoid, 3 tanh); only for products that overwrite C.
override EPILOGUE: u32 = 0u;
// The bias added to C (0: none, 1: bias[n] (linear), 2: bias[m] (convolution channels)) and
// whether C is added to (1) or overwritten (0). Constants too: a CPU adapter runs a branch that no
// lane takes all the same, masked, loads included, and on lavapipe the untaken bias and
// accumulate branches of the stores cost products with k = 128 a sixth of their time.
override BIAS: u32 = 0u;
override ACCUMULATE: u32 = 0u;


@group(0) @binding(3) var<storage, read> bias: array<f32>;
// A and B as vec4 (the vec4 kernels; gemm.rs checks alignment and padding first).
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;

// Four rows of 4 consecutive n of B, as plain values: no arrays, since lavapipe keeps arrays in
// per-invocation memory and reaches them lane by lane like any buffer.
struct Rows4 { r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32> }

// The 4 columns from n0; those past the edge repeat the last one (read, never stored).
fn columns4(n0: u32) -> vec4<u32> {
    return min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
}

// B[k + kk, n0 .. n0+4] for kk < 4; `o` holds the 4 column offsets (B along k) or, in .x, the
// offset of column n0 (B along n).
fn b_rows(o: vec4<u32>, k: u32) -> Rows4 {
    if (B_VEC == 0u) {
        return Rows4(b4[(o.x + k * p.b_k) / 4u], b4[(o.x + (k + 1u) * p.b_k) / 4u],
                     b4[(o.x + (k + 2u) * p.b_k) / 4u], b4[(o.x + (k + 3u) * p.b_k) / 4u]);
    }
    let c0 = b4[(o.x + k) / 4u];
    let c1 = b4[(o.y + k) / 4u];
    let c2 = b4[(o.z + k) / 4u];
    let c3 = b4[(o.w + k) / 4u];
    return Rows4(vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c0.y, c1.y, c2.y, c3.y),
                 vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c0.w, c1.w, c2.w, c3.w));
}

// The offsets b_rows wants for the 4 columns from n0 (see there). Columns past the edge read the
// last valid ones and are never stored.
fn b_columns(bbase: u32, n0: u32) -> vec4<u32> {
    if (B_VEC == 0u) {
        return vec4<u32>(bbase + min(n0, (p.n + 3u) / 4u * 4u - 4u) * p.b_n);
    }
    return columns4(n0) * p.b_n + bbase;
}

// The image a gathering product reads B from (gemm_conv.wgsl, gemm_conv_weight.wgsl): img[at]
// where `inside`, else 0 (and the load reads element 0 instead).
@group(0) @binding(7) var<storage, read> img: array<f32>;

fn img4(at: vec4<u32>, inside: vec4<bool>) -> vec4<f32> {
    let safe = select(vec4<u32>(0u), at, inside);
    return select(vec4<f32>(0.0), vec4<f32>(img[safe.x], img[safe.y], img[safe.z], img[safe.w]), inside);
}

fn dot_rows(a: vec4<f32>, b: Rows4) -> vec4<f32> {
    return a.x * b.r0 + a.y * b.r1 + a.z * b.r2 + a.w * b.r3;
}
