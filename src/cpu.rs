//! The CPU reference as a [`Backend`]: each op copies its inputs out, runs the plain-loop
//! reference and writes the outputs back. Slow and simple on purpose; it is the ground truth.

use std::cell::RefCell;
use std::rc::Rc;

use crate::backend::{Backend, Grads, Tensor};
use crate::error::Result;
use crate::ops::activation::Activation;
use crate::ops::adam::AdamStep;
use crate::ops::batch_norm::{BatchNorm, BatchNormState};
use crate::ops::condition::Condition;
use crate::ops::conv_transpose2d::ConvTranspose2d;
use crate::ops::conv2d::Conv2d;
use crate::ops::dropout::Dropout;
use crate::ops::ema::EmaStep;
use crate::ops::gather::Gather;
use crate::ops::gemm::Gemm;
use crate::ops::linear::Linear;
use crate::ops::random::Distribution;
use crate::ops::reduce::ChannelSum;
use crate::ops::sgd::SgdStep;
use crate::ops::softmax_cross_entropy::SoftmaxCrossEntropy;
use crate::ops::spectral_norm::{SpectralNorm, SpectralState};
use crate::ops::{check_grads, check_loss, expect, same_len};
use crate::reference as r;

#[derive(Clone)]
pub struct CpuTensor {
    data: Rc<RefCell<Vec<f32>>>,
    offset: usize,
    len: usize,
}

impl std::fmt::Debug for CpuTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuTensor[{}..{}]", self.offset, self.offset + self.len)
    }
}

impl Tensor for CpuTensor {
    fn len(&self) -> usize {
        self.len
    }
    fn slice(&self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.len, "slice {start}+{len} out of {}", self.len);
        CpuTensor { data: self.data.clone(), offset: self.offset + start, len }
    }
}

impl CpuTensor {
    fn get(&self) -> Vec<f32> {
        self.data.borrow()[self.offset..self.offset + self.len].to_vec()
    }
    fn set(&self, v: &[f32]) {
        self.data.borrow_mut()[self.offset..self.offset + self.len].copy_from_slice(v);
    }
}

fn get_opt(t: Option<&CpuTensor>) -> Option<Vec<f32>> {
    t.map(CpuTensor::get)
}

fn set_opt(t: Option<&CpuTensor>, v: Option<Vec<f32>>) {
    if let (Some(t), Some(v)) = (t, v) {
        t.set(&v);
    }
}

/// Runs a weighted layer's reference backward on copies of the requested gradients and writes
/// them back (dx overwritten, dw and db accumulated by the reference itself).
fn weighted_backward(
    g: Grads<'_, CpuTensor>,
    f: impl FnOnce(Option<&mut [f32]>, Option<&mut [f32]>, Option<&mut [f32]>),
) {
    let (mut dx, mut dw, mut db) = (get_opt(g.dx), get_opt(g.dw), get_opt(g.db));
    f(dx.as_deref_mut(), dw.as_deref_mut(), db.as_deref_mut());
    set_opt(g.dx, dx);
    set_opt(g.dw, dw);
    set_opt(g.db, db);
}

#[derive(Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    type T = CpuTensor;

    fn describe(&self) -> String {
        "CPU reference".into()
    }

    fn alloc(&mut self, len: usize) -> Result<CpuTensor> {
        Ok(CpuTensor { data: Rc::new(RefCell::new(vec![0.0; len])), offset: 0, len })
    }
    fn write(&mut self, t: &CpuTensor, data: &[f32]) -> Result<()> {
        t.set(data);
        Ok(())
    }
    fn read(&mut self, t: &CpuTensor) -> Result<Vec<f32>> {
        Ok(t.get())
    }
    fn zero(&mut self, t: &CpuTensor) -> Result<()> {
        t.set(&vec![0.0; t.len]);
        Ok(())
    }
    fn copy(&mut self, src: &CpuTensor, dst: &CpuTensor) -> Result<()> {
        dst.set(&src.get());
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn gemm(
        &mut self,
        s: &Gemm,
        a: &CpuTensor,
        b: &CpuTensor,
        bias: Option<&CpuTensor>,
        c: &CpuTensor,
    ) -> Result<()> {
        s.check(a.len, b.len, bias.map(|t| t.len), c.len)?;
        let mut out = c.get();
        r::gemm::gemm(s, &a.get(), &b.get(), get_opt(bias).as_deref(), &mut out);
        c.set(&out);
        Ok(())
    }

    fn linear_forward(
        &mut self,
        s: &Linear,
        x: &CpuTensor,
        w: &CpuTensor,
        b: Option<&CpuTensor>,
        y: &CpuTensor,
    ) -> Result<()> {
        s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
        let mut out = y.get();
        r::linear::linear_forward(s, &x.get(), &w.get(), get_opt(b).as_deref(), &mut out);
        y.set(&out);
        Ok(())
    }

    fn linear_backward(
        &mut self,
        s: &Linear,
        x: &CpuTensor,
        w: &CpuTensor,
        dy: &CpuTensor,
        g: Grads<'_, CpuTensor>,
    ) -> Result<()> {
        s.check(x.len, w.len, g.db.map(|b| b.len), dy.len)?;
        check_grads("linear", x.len, w.len, g)?;
        let (x, w, dy) = (x.get(), w.get(), dy.get());
        weighted_backward(g, |dx, dw, db| r::linear::linear_backward(s, &x, &w, &dy, dx, dw, db));
        Ok(())
    }

    fn conv2d_forward(
        &mut self,
        s: &Conv2d,
        x: &CpuTensor,
        w: &CpuTensor,
        b: Option<&CpuTensor>,
        y: &CpuTensor,
    ) -> Result<()> {
        s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
        let mut out = y.get();
        r::conv2d::conv2d_forward(s, &x.get(), &w.get(), get_opt(b).as_deref(), &mut out);
        y.set(&out);
        Ok(())
    }

    fn conv2d_backward(
        &mut self,
        s: &Conv2d,
        x: &CpuTensor,
        w: &CpuTensor,
        dy: &CpuTensor,
        g: Grads<'_, CpuTensor>,
    ) -> Result<()> {
        s.check(x.len, w.len, g.db.map(|b| b.len), dy.len)?;
        check_grads("conv2d", x.len, w.len, g)?;
        let (x, w, dy) = (x.get(), w.get(), dy.get());
        weighted_backward(g, |dx, dw, db| r::conv2d::conv2d_backward(s, &x, &w, &dy, dx, dw, db));
        Ok(())
    }

    fn conv_transpose2d_forward(
        &mut self,
        s: &ConvTranspose2d,
        x: &CpuTensor,
        w: &CpuTensor,
        b: Option<&CpuTensor>,
        y: &CpuTensor,
    ) -> Result<()> {
        s.check(x.len, w.len, b.map(|b| b.len), y.len)?;
        let mut out = y.get();
        r::conv_transpose2d::conv_transpose2d_forward(s, &x.get(), &w.get(), get_opt(b).as_deref(), &mut out);
        y.set(&out);
        Ok(())
    }

    fn conv_transpose2d_backward(
        &mut self,
        s: &ConvTranspose2d,
        x: &CpuTensor,
        w: &CpuTensor,
        dy: &CpuTensor,
        g: Grads<'_, CpuTensor>,
    ) -> Result<()> {
        s.check(x.len, w.len, g.db.map(|b| b.len), dy.len)?;
        check_grads("conv_transpose2d", x.len, w.len, g)?;
        let (x, w, dy) = (x.get(), w.get(), dy.get());
        weighted_backward(g, |dx, dw, db| {
            r::conv_transpose2d::conv_transpose2d_backward(s, &x, &w, &dy, dx, dw, db)
        });
        Ok(())
    }

    fn activation_forward(&mut self, a: Activation, x: &CpuTensor, y: &CpuTensor) -> Result<()> {
        same_len("activation", ("x", x.len), ("y", y.len))?;
        let mut out = y.get();
        r::activation::activation_forward(a, &x.get(), &mut out);
        y.set(&out);
        Ok(())
    }

    fn activation_backward(
        &mut self,
        a: Activation,
        y: &CpuTensor,
        dy: &CpuTensor,
        dx: &CpuTensor,
    ) -> Result<()> {
        crate::ops::activation::check_backward(y.len, dy.len, dx.len)?;
        let mut out = dx.get();
        r::activation::activation_backward(a, &y.get(), &dy.get(), &mut out);
        dx.set(&out);
        Ok(())
    }

    fn softmax_cross_entropy_forward(
        &mut self,
        s: &SoftmaxCrossEntropy,
        z: &CpuTensor,
        label: &CpuTensor,
        loss: &CpuTensor,
    ) -> Result<()> {
        s.check(z.len, label.len, loss.len, &[s.n])?;
        let mut out = loss.get();
        r::softmax_cross_entropy::softmax_cross_entropy_forward(&z.get(), &label.get(), s.k, &mut out);
        loss.set(&out);
        Ok(())
    }

    fn softmax_cross_entropy_backward(
        &mut self,
        s: &SoftmaxCrossEntropy,
        z: &CpuTensor,
        label: &CpuTensor,
        dz: &CpuTensor,
        scale: f32,
    ) -> Result<()> {
        s.check(z.len, label.len, dz.len, &[s.n, s.k])?;
        let mut out = dz.get();
        r::softmax_cross_entropy::softmax_cross_entropy_backward(
            &z.get(),
            &label.get(),
            s.k,
            &mut out,
            scale,
        );
        dz.set(&out);
        Ok(())
    }

    fn softmax(&mut self, s: &SoftmaxCrossEntropy, z: &CpuTensor, p: &CpuTensor) -> Result<()> {
        s.check(z.len, s.n, p.len, &[s.n, s.k])?;
        let mut out = p.get();
        r::softmax_cross_entropy::softmax_cross_entropy_probs(&z.get(), s.k, &mut out);
        p.set(&out);
        Ok(())
    }

    fn bce_with_logits_forward(&mut self, z: &CpuTensor, t: &CpuTensor, loss: &CpuTensor) -> Result<()> {
        check_loss("bce_with_logits", z.len, t.len, loss.len)?;
        let mut out = loss.get();
        r::bce_with_logits::bce_with_logits_forward(&z.get(), &t.get(), &mut out);
        loss.set(&out);
        Ok(())
    }

    fn bce_with_logits_backward(
        &mut self,
        z: &CpuTensor,
        t: &CpuTensor,
        dz: &CpuTensor,
        scale: f32,
    ) -> Result<()> {
        check_loss("bce_with_logits", z.len, t.len, dz.len)?;
        let mut out = dz.get();
        r::bce_with_logits::bce_with_logits_backward(&z.get(), &t.get(), &mut out, scale);
        dz.set(&out);
        Ok(())
    }

    fn hinge_forward(&mut self, z: &CpuTensor, t: &CpuTensor, loss: &CpuTensor) -> Result<()> {
        check_loss("hinge", z.len, t.len, loss.len)?;
        let mut out = loss.get();
        r::hinge::hinge_forward(&z.get(), &t.get(), &mut out);
        loss.set(&out);
        Ok(())
    }

    fn hinge_backward(&mut self, z: &CpuTensor, t: &CpuTensor, dz: &CpuTensor, scale: f32) -> Result<()> {
        check_loss("hinge", z.len, t.len, dz.len)?;
        let mut out = dz.get();
        r::hinge::hinge_backward(&z.get(), &t.get(), &mut out, scale);
        dz.set(&out);
        Ok(())
    }

    fn mse_forward(&mut self, z: &CpuTensor, t: &CpuTensor, loss: &CpuTensor) -> Result<()> {
        check_loss("mse", z.len, t.len, loss.len)?;
        let mut out = loss.get();
        r::mse::mse_forward(&z.get(), &t.get(), &mut out);
        loss.set(&out);
        Ok(())
    }

    fn mse_backward(&mut self, z: &CpuTensor, t: &CpuTensor, dz: &CpuTensor, scale: f32) -> Result<()> {
        check_loss("mse", z.len, t.len, dz.len)?;
        let mut out = dz.get();
        r::mse::mse_backward(&z.get(), &t.get(), &mut out, scale);
        dz.set(&out);
        Ok(())
    }

    fn sum(&mut self, x: &CpuTensor, out: &CpuTensor, alpha: f32) -> Result<()> {
        expect("sum", "out", out.len, &[1])?;
        out.set(&[r::reduce::sum(&x.get(), alpha)]);
        Ok(())
    }

    fn sum_channels(
        &mut self,
        s: &ChannelSum,
        x: &CpuTensor,
        out: &CpuTensor,
        accumulate: bool,
    ) -> Result<()> {
        expect("sum_channels", "x", x.len, &[s.n, s.channels, s.spatial])?;
        expect("sum_channels", "out", out.len, &[s.channels])?;
        let mut o = out.get();
        r::reduce::sum_channels(s.n, s.channels, s.spatial, &x.get(), &mut o, accumulate);
        out.set(&o);
        Ok(())
    }

    fn batch_norm_forward(
        &mut self,
        s: &BatchNorm,
        x: &CpuTensor,
        st: &BatchNormState<'_, CpuTensor>,
        y: &CpuTensor,
        training: bool,
    ) -> Result<()> {
        s.check(x.len, st.gamma.len, st.beta.len, st.running.len, st.saved.len, y.len)?;
        let (mut running, mut saved, mut out) = (st.running.get(), st.saved.get(), y.get());
        r::batch_norm::batch_norm_forward(
            s,
            &x.get(),
            &st.gamma.get(),
            &st.beta.get(),
            &mut running,
            &mut saved,
            &mut out,
            training,
        );
        st.running.set(&running);
        st.saved.set(&saved);
        y.set(&out);
        Ok(())
    }

    fn batch_norm_backward(
        &mut self,
        s: &BatchNorm,
        x: &CpuTensor,
        gamma: &CpuTensor,
        saved: &CpuTensor,
        dy: &CpuTensor,
        dx: &CpuTensor,
        dgamma: &CpuTensor,
        dbeta: &CpuTensor,
    ) -> Result<()> {
        s.check_backward(x.len, gamma.len, saved.len, dy.len, dx.len, dgamma.len, dbeta.len)?;
        let (mut ddx, mut dg, mut db) = (dx.get(), dgamma.get(), dbeta.get());
        r::batch_norm::batch_norm_backward(
            s,
            &x.get(),
            &gamma.get(),
            &saved.get(),
            &dy.get(),
            &mut ddx,
            &mut dg,
            &mut db,
        );
        dx.set(&ddx);
        dgamma.set(&dg);
        dbeta.set(&db);
        Ok(())
    }

    fn dropout(&mut self, s: &Dropout, x: &CpuTensor, y: &CpuTensor) -> Result<()> {
        s.check(x.len, y.len)?;
        let mut out = y.get();
        r::dropout::dropout(s, &x.get(), &mut out);
        y.set(&out);
        Ok(())
    }

    fn fill_random(&mut self, d: Distribution, seed: u64, offset: u64, out: &CpuTensor) -> Result<()> {
        let mut o = vec![0.0; out.len];
        match d {
            Distribution::Normal { mean, std } => r::random::normal(&mut o, seed, offset, mean, std),
            Distribution::Uniform { low, high } => r::random::uniform(&mut o, seed, offset, low, high),
        }
        out.set(&o);
        Ok(())
    }

    fn wgan_critic_backward(&mut self, dz: &CpuTensor, scale: f32) -> Result<()> {
        let mut out = dz.get();
        r::wgan::wgan_critic_backward(&mut out, scale);
        dz.set(&out);
        Ok(())
    }

    fn wgan_clip(&mut self, w: &CpuTensor, c: f32) -> Result<()> {
        crate::ops::wgan::check_clip(c)?;
        let mut out = w.get();
        r::wgan::wgan_clip(&mut out, c);
        w.set(&out);
        Ok(())
    }

    fn gather(&mut self, s: &Gather, data: &CpuTensor, order: &CpuTensor, out: &CpuTensor) -> Result<()> {
        s.check(data.len, order.len, out.len)?;
        let order: Vec<u32> = order.get().iter().map(|w| w.to_bits()).collect();
        let mut o = out.get();
        r::gather::gather(s, &data.get(), &order, &mut o);
        out.set(&o);
        Ok(())
    }

    fn condition_forward(
        &mut self,
        s: &Condition,
        x: &CpuTensor,
        label: &CpuTensor,
        out: &CpuTensor,
    ) -> Result<()> {
        s.check(x.len, label.len, out.len)?;
        let mut o = out.get();
        r::condition::condition_forward(s, &x.get(), &label.get(), &mut o);
        out.set(&o);
        Ok(())
    }

    fn condition_backward(&mut self, s: &Condition, dout: &CpuTensor, dx: &CpuTensor) -> Result<()> {
        s.check(dx.len, s.n, dout.len)?;
        let mut o = dx.get();
        r::condition::condition_backward(s, &dout.get(), &mut o);
        dx.set(&o);
        Ok(())
    }

    fn adam_step(
        &mut self,
        s: &AdamStep,
        param: &CpuTensor,
        grad: &CpuTensor,
        m: &CpuTensor,
        v: &CpuTensor,
    ) -> Result<()> {
        s.check(param.len, grad.len, m.len, v.len)?;
        let (mut p, mut mm, mut vv) = (param.get(), m.get(), v.get());
        r::adam::adam_step(s, &mut p, &grad.get(), &mut mm, &mut vv);
        param.set(&p);
        m.set(&mm);
        v.set(&vv);
        Ok(())
    }

    fn sgd_step(&mut self, s: &SgdStep, param: &CpuTensor, grad: &CpuTensor, buf: &CpuTensor) -> Result<()> {
        s.check(param.len, grad.len, buf.len)?;
        let (mut p, mut b) = (param.get(), buf.get());
        r::sgd::sgd_step(s, &mut p, &grad.get(), &mut b);
        param.set(&p);
        buf.set(&b);
        Ok(())
    }

    fn ema_update(&mut self, s: &EmaStep, param: &CpuTensor, ema: &CpuTensor) -> Result<()> {
        s.check(param.len, ema.len)?;
        let mut e = ema.get();
        r::ema::ema_update(s.decay, &param.get(), &mut e);
        ema.set(&e);
        Ok(())
    }

    fn spectral_norm_forward(
        &mut self,
        s: &SpectralNorm,
        w: &CpuTensor,
        st: &SpectralState<'_, CpuTensor>,
        w_sn: &CpuTensor,
    ) -> Result<()> {
        s.check(w.len, st.u.len, st.v.len, st.state.len, w_sn.len)?;
        let (w, mut state, mut u, mut v) = (w.get(), st.state.get(), st.u.get(), st.v.get());
        r::spectral_norm::spectral_norm_power(s, &w, &mut u, &mut v, &mut state);
        st.u.set(&u);
        st.v.set(&v);
        st.state.set(&state);
        let mut o = w_sn.get();
        r::spectral_norm::spectral_norm_scale(&w, &state, &mut o);
        w_sn.set(&o);
        Ok(())
    }

    fn spectral_norm_backward(
        &mut self,
        s: &SpectralNorm,
        w_sn: &CpuTensor,
        st: &SpectralState<'_, CpuTensor>,
        dw: &CpuTensor,
    ) -> Result<()> {
        s.check(dw.len, st.u.len, st.v.len, st.state.len, w_sn.len)?;
        let (mut state, mut d) = (st.state.get(), dw.get());
        r::spectral_norm::spectral_norm_backward(
            s,
            &w_sn.get(),
            &st.u.get(),
            &st.v.get(),
            &mut state,
            &mut d,
        );
        st.state.set(&state);
        dw.set(&d);
        Ok(())
    }
}
