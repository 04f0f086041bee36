// sgd: one step of SGD with momentum over a flat parameter buffer (torch.optim.SGD, no dampening).
// buf = momentum · buf + (g + weight_decay · w);  w −= lr · buf.  With momentum 0, buf is just g.
// param, grad, buf [n]

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(256)
fn step(inv: Invocation) {
    let i = flat_id(inv);
    if (i >= p.n) { return; }
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let b = p.momentum * buf[i] + g;
    buf[i] = b;
    param[i] = w - p.lr * b;
}
