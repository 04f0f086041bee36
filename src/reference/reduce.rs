use super::Float;

/// alpha · Σ x
pub fn sum<F: Float>(x: &[F], alpha: F) -> F {
    x.iter().fold(F::zero(), |a, &v| a + v) * alpha
}

/// out [channels] (+)= Σ over batch and spatial of x [n, channels, spatial]
pub fn sum_channels<F: Float>(
    n: usize,
    channels: usize,
    spatial: usize,
    x: &[F],
    out: &mut [F],
    accumulate: bool,
) {
    for (c, o) in out.iter_mut().enumerate().take(channels) {
        let mut acc = F::zero();
        for b in 0..n {
            let base = (b * channels + c) * spatial;
            acc = x[base..base + spatial].iter().fold(acc, |a, &v| a + v);
        }
        *o = if accumulate { *o + acc } else { acc };
    }
}
