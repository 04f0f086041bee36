use super::Float;

fn logsumexp<F: Float>(row: &[F]) -> F {
    let m = row.iter().copied().fold(F::neg_infinity(), F::max);
    m + row.iter().map(|&v| (v - m).exp()).fold(F::zero(), |a, b| a + b).ln()
}

fn class_of<F: Float>(label: F, k: usize) -> usize {
    label.max(F::zero()).to_usize().unwrap_or(0).min(k - 1)
}

/// z [n, k], label [n] → loss[i] = logsumexp(z[i]) − z[i, label[i]].
pub fn softmax_cross_entropy_forward<F: Float>(z: &[F], label: &[F], k: usize, loss: &mut [F]) {
    for (i, l) in loss.iter_mut().enumerate() {
        let row = &z[i * k..(i + 1) * k];
        *l = logsumexp(row) - row[class_of(label[i], k)];
    }
}

/// z [n, k] → p [n, k], each row's softmax.
pub fn softmax_cross_entropy_probs<F: Float>(z: &[F], k: usize, p: &mut [F]) {
    for (row, out) in z.chunks(k).zip(p.chunks_mut(k)) {
        let lse = logsumexp(row);
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v - lse).exp();
        }
    }
}

/// dz[i, c] = scale · (p[i, c] − [c == label[i]]) / n: the gradient of scale · mean(loss).
pub fn softmax_cross_entropy_backward<F: Float>(z: &[F], label: &[F], k: usize, dz: &mut [F], scale: F) {
    let n = F::from(label.len()).unwrap();
    softmax_cross_entropy_probs(z, k, dz);
    for (i, row) in dz.chunks_mut(k).enumerate() {
        row[class_of(label[i], k)] = row[class_of(label[i], k)] - F::one();
        for d in row.iter_mut() {
            *d = scale * *d / n;
        }
    }
}
