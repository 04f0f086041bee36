//! Subnormal floats on CPU adapters. x86 cores take a microcode assist for every arithmetic
//! instruction that meets a subnormal operand or result unless the thread's MXCSR flushes them:
//! on lavapipe a GEMM whose inputs were subnormal ran 40x slower (`BENCHMARKS.md`), and training
//! makes them (tiny gradients, Adam's squared moments). lavapipe never sets the flags for compute,
//! but a thread starts with its creator's floating-point environment, and lavapipe creates its
//! worker threads when the adapter is opened. So the flags are set on this thread only while the
//! device is being created, and the driver's workers keep them. WGSL lets an implementation flush
//! subnormals, and GPUs commonly do; on a real GPU this changes nothing.

/// Flush-to-zero and denormals-are-zero on the current thread until dropped, which restores the
/// previous mode. A no-op off x86-64.
pub(crate) struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

#[cfg(target_arch = "x86_64")]
impl FlushSubnormals {
    /// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) flags.
    const FTZ_DAZ: u32 = 0x8040;

    pub(crate) fn begin() -> Self {
        let saved = read_mxcsr();
        write_mxcsr(saved | Self::FTZ_DAZ);
        FlushSubnormals { saved }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        write_mxcsr(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut csr = 0u32;
    // SAFETY: stmxcsr only stores the control register into the given 4 bytes.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(csr: u32) {
    // SAFETY: ldmxcsr loads a value read from MXCSR with only the two mode flags changed; it
    // cannot fault (no reserved bit is set) and changes only how this thread rounds subnormals.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly)) };
}

#[cfg(not(target_arch = "x86_64"))]
impl FlushSubnormals {
    pub(crate) fn begin() -> Self {
        FlushSubnormals {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_only_while_held() {
        let tiny = std::hint::black_box(1e-39f32);
        {
            let _flush = FlushSubnormals::begin();
            if cfg!(target_arch = "x86_64") {
                assert_eq!(std::hint::black_box(tiny * 1.0), 0.0);
            }
        }
        assert_eq!(std::hint::black_box(tiny * 1.0), tiny);
    }

    #[test]
    fn threads_inherit_the_mode() {
        let tiny = std::hint::black_box(1e-39f32);
        let _flush = FlushSubnormals::begin();
        let seen = std::thread::spawn(move || std::hint::black_box(tiny * 1.0)).join().unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(seen, 0.0);
        }
    }
}
