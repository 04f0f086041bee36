// Included into conv2d.wgsl and conv_transpose2d.wgsl (both read ops::conv2d::ConvParams): the
// index arithmetic of a strided, padded window, which the two use in opposite directions (one's
// forward gather is the other's input gradient).

// The position o·stride + i − pad that window position o reads through tap i, along an axis of
// `size`; −1 in the padding. As reference::tap.
fn tap(o: u32, i: u32, size: u32) -> i32 {
    let t = i32(o * p.stride + i) - i32(p.pad);
    return select(-1, t, t >= 0 && t < i32(size));
}

// The adjoint of `tap`: the window position o < size whose tap i reads position q, or −1 where
// there is none (q + pad − i negative or not a multiple of the stride).
fn tapped_by(q: u32, i: u32, size: u32) -> i32 {
    let t = i32(q + p.pad) - i32(i);
    if (t < 0 || t % i32(p.stride) != 0) { return -1; }
    let o = u32(t) / p.stride;
    return select(-1, i32(o), o < size);
}
