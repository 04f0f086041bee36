//! The CPU reference as a [`Backend`]: one generic path copies a pass's tensors out, runs the
//! op's plain-loop reference and writes what it wrote back. Slow and simple on purpose; it is
//! the ground truth.

use std::cell::RefCell;
use std::rc::Rc;

use crate::backend::{Backend, Tensor};
use crate::error::Result;
use crate::ops::Pass;

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

#[derive(Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    type T = CpuTensor;
    type Pending = Vec<f32>;

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

    fn read_async(&mut self, t: &CpuTensor) -> Result<Vec<f32>> {
        Ok(t.get())
    }
    fn try_collect(&mut self, p: &Vec<f32>) -> Result<Option<Vec<f32>>> {
        Ok(Some(p.clone()))
    }
    fn limit_in_flight(&mut self, _max: usize) -> Result<()> {
        Ok(())
    }

    fn run<P: Pass + ?Sized>(
        &mut self,
        pass: &P,
        reads: &[Option<&CpuTensor>],
        writes: &[Option<&CpuTensor>],
    ) -> Result<()> {
        let lens = |list: &[Option<&CpuTensor>]| list.iter().map(|t| t.map(|t| t.len)).collect::<Vec<_>>();
        pass.check(&lens(reads), &lens(writes))?;
        let copy = |list: &[Option<&CpuTensor>]| list.iter().map(|t| t.map(CpuTensor::get)).collect::<Vec<_>>();
        let (inputs, mut outputs) = (copy(reads), copy(writes));
        let inputs: Vec<Option<&[f32]>> = inputs.iter().map(|v| v.as_deref()).collect();
        let mut outs: Vec<Option<&mut [f32]>> = outputs.iter_mut().map(|v| v.as_deref_mut()).collect();
        pass.reference(&inputs, &mut outs);
        for (t, v) in writes.iter().zip(&outputs) {
            if let (Some(t), Some(v)) = (t, v) {
                t.set(v);
            }
        }
        Ok(())
    }
}
