use super::Float;

/// ema[i] = decay · ema[i] + (1 − decay) · param[i]
pub fn ema_update<F: Float>(decay: F, param: &[F], ema: &mut [F]) {
    for (e, &p) in ema.iter_mut().zip(param) {
        *e = decay * *e + (F::one() - decay) * p;
    }
}
