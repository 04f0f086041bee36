//! One small trait over our ops, implemented by the GPU ([`crate::gpu::GpuBackend`]) and by the
//! CPU reference ([`crate::cpu::CpuBackend`]), so models and the training loop are written once
//! and a whole training step can be compared GPU against CPU.
//!
//! Conventions (llm.c's): parameter gradients accumulate (`+=`, so a zero-grad is one clear of
//! the flat gradient buffer), input gradients overwrite. GPU calls record work; `read` and
//! `flush` submit it.

use crate::error::Result;
use crate::ops::Pass;

/// A 1-D range of f32 in a backend's memory.
pub trait Tensor: Clone + std::fmt::Debug {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A view of `len` elements from `start`, sharing the same memory.
    fn slice(&self, start: usize, len: usize) -> Self;
}

/// Which gradients a backward pass computes; `None` skips that kernel.
pub struct Grads<'a, T> {
    pub dx: Option<&'a T>,
    pub dw: Option<&'a T>,
    pub db: Option<&'a T>,
}

impl<T> Clone for Grads<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Grads<'_, T> {}

/// `'static`: networks hold their layers as trait objects over the backend.
pub trait Backend: 'static {
    type T: Tensor;
    /// A read started by [`Backend::read_async`].
    type Pending;

    /// Adapter or device name, for logs and bench headers.
    fn describe(&self) -> String;

    /// A zeroed tensor of `len` f32.
    fn alloc(&mut self, len: usize) -> Result<Self::T>;
    fn upload(&mut self, data: &[f32]) -> Result<Self::T> {
        let t = self.alloc(data.len())?;
        self.write(&t, data)?;
        Ok(t)
    }
    fn write(&mut self, t: &Self::T, data: &[f32]) -> Result<()>;
    /// Waits for all recorded work, then copies the tensor out.
    fn read(&mut self, t: &Self::T) -> Result<Vec<f32>>;
    fn zero(&mut self, t: &Self::T) -> Result<()>;
    fn copy(&mut self, src: &Self::T, dst: &Self::T) -> Result<()>;
    /// Submits the recorded work without waiting for it.
    fn flush(&mut self) -> Result<()>;
    /// Submits the recorded work and starts copying `t` out, without waiting (the CPU copies at
    /// once): the training loop reads its losses this way, so the GPU never idles for them.
    fn read_async(&mut self, t: &Self::T) -> Result<Self::Pending>;
    /// The values of a read once they have arrived, else None.
    fn try_collect(&mut self, p: &Self::Pending) -> Result<Option<Vec<f32>>>;
    /// Waits until at most `max` submissions are still running (the CPU runs none).
    fn limit_in_flight(&mut self, max: usize) -> Result<()>;

    /// Runs one pass of an op: checks the shapes of `reads` and `writes` once (an error names the
    /// op), then runs the CPU reference on them or records the GPU kernels. `writes` are the
    /// tensors the pass writes; they also hold what they held, for passes that accumulate or
    /// update in place. Each op's typed entry points (e.g. [`crate::ops::linear::forward`]) build
    /// the two lists; `None` stands for an optional tensor not given.
    fn run<P: Pass + ?Sized>(
        &mut self,
        pass: &P,
        reads: &[Option<&Self::T>],
        writes: &[Option<&Self::T>],
    ) -> Result<()>;
}
