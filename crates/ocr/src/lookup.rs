//! `inference_hub.ByteLookup`: the one custom ONNX Runtime operator, used by
//! the int8 models `scripts/quantize.py` derives.
//!
//! In a quantised network a float op that maps each value on its own (GELU,
//! HardSigmoid) sits between a DequantizeLinear and a QuantizeLinear: three
//! passes over the tensor, two of them in float. Its result is a function of
//! one byte, so the set-up script replaces the chain with a 256-entry table
//! (computed by ONNX Runtime on the original chain, on the machine that
//! derives the models, so its outputs are unchanged there) and this operator
//! applies it in one pass. Figures: docs/performance.md.

// Unsafe code here: SIMD intrinsics (the workspace denies it elsewhere).
#![allow(unsafe_code)]

use ort::operator::{ComputeContext, Kernel, KernelContext, Operator, OperatorDomain, OperatorInput, OperatorOutput};
use ort::value::TensorElementType;

/// The operator domain the derived models declare.
const DOMAIN: &str = "inference_hub";

/// The domain with its operator, for a session builder.
pub fn domain() -> ort::Result<OperatorDomain> {
    OperatorDomain::new(DOMAIN)?.add(ByteLookup)
}

struct ByteLookup;

impl Operator for ByteLookup {
    type Kernel<'attr> = Table;

    fn name(&self) -> &str {
        "ByteLookup"
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [OperatorInput::required(TensorElementType::Uint8)]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Uint8)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<Table> {
        let table: Vec<i64> =
            ctx.get("table").ok_or_else(|| ort::Error::new("ByteLookup needs a `table` attribute"))?;
        Table::new(&table).ok_or_else(|| ort::Error::new("ByteLookup `table` must be 256 bytes"))
    }
}

impl Kernel for Table {
    /// Called by ONNX Runtime through its C API, where a panic cannot unwind
    /// (it would abort the process): every failure is an error, and a panic
    /// anywhere below (none is known; this includes `ort`'s own code) is
    /// caught here and turned into one.
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        // Unwind-safe in fact: `self` is an immutable table, and nothing
        // observes the output tensor of a failed run.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compute_checked(ctx)))
            .unwrap_or_else(|_| Err(ort::Error::new("ByteLookup: the kernel panicked")))
    }
}

impl Table {
    fn compute_checked(&self, ctx: &ComputeContext) -> ort::Result<()> {
        let input = ctx.input(0)?.ok_or_else(|| ort::Error::new("ByteLookup: no input"))?;
        let (shape, bytes) = input.try_extract_tensor::<u8>()?;
        let mut output = ctx.output(0, shape.to_vec())?.ok_or_else(|| ort::Error::new("ByteLookup: no output"))?;
        let (_, out) = output.try_extract_tensor_mut::<u8>()?;
        self.apply(bytes, out).map_err(ort::Error::new)
    }
}

/// A byte-to-byte map: the operator's kernel.
struct Table([u8; 256]);

impl Table {
    /// From the attribute's 256 integers, each a byte.
    fn new(values: &[i64]) -> Option<Self> {
        let bytes: Vec<u8> = values.iter().map(|&v| u8::try_from(v).ok()).collect::<Option<_>>()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// `out[i] = table[input[i]]`, with the fastest path this CPU has; an
    /// error (never a panic: see `compute`) when the slices differ in length.
    /// A plain message, as an `ort::Error` needs ONNX Runtime loaded.
    fn apply(&self, input: &[u8], out: &mut [u8]) -> Result<(), String> {
        if input.len() != out.len() {
            return Err(format!("ByteLookup: input of {} bytes, output of {}", input.len(), out.len()));
        }
        #[cfg(target_arch = "x86_64")]
        if has_vbmi() {
            // SAFETY: the CPU has every feature the function is compiled for.
            unsafe { self.apply_avx512(input, out) };
            return Ok(());
        } else if has_avx2() {
            // SAFETY: as above.
            unsafe { self.apply_avx2(input, out) };
            return Ok(());
        }
        self.apply_scalar(input, out);
        Ok(())
    }

    fn apply_scalar(&self, input: &[u8], out: &mut [u8]) {
        for (o, &i) in out.iter_mut().zip(input) {
            *o = self.0[usize::from(i)];
        }
    }

    /// 64 bytes per step: two 128-entry permutes (VBMI), picked by each
    /// byte's top bit.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn apply_avx512(&self, input: &[u8], out: &mut [u8]) {
        use std::arch::x86_64::*;
        // SAFETY: a 64-byte array is exactly one unaligned 512-bit load.
        let load = |part: &[u8; 64]| unsafe { _mm512_loadu_si512(part.as_ptr().cast()) };
        let (table, _) = self.0.as_chunks::<64>();
        let (lo0, lo1, hi0, hi1) = (load(&table[0]), load(&table[1]), load(&table[2]), load(&table[3]));
        let (chunks, rest) = input.as_chunks::<64>();
        let (outs, out_rest) = out.as_chunks_mut::<64>();
        for (chunk, dst) in chunks.iter().zip(outs) {
            let idx = load(chunk);
            let low = _mm512_permutex2var_epi8(lo0, idx, lo1);
            let high = _mm512_permutex2var_epi8(hi0, idx, hi1);
            let picked = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
            // SAFETY: `dst` is exactly one unaligned 512-bit store.
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), picked) };
        }
        self.apply_scalar(rest, out_rest);
    }
}

#[cfg(target_arch = "x86_64")]
impl Table {
    /// 32 bytes per step on AVX2 (the common rented CPU): the table as 16
    /// rows of 16 bytes, each looked up with an in-lane byte shuffle. For
    /// row `r`, `index ^ (r << 4)` keeps the low nibble and zeroes the high
    /// one only where the byte belongs to row `r`; a saturating `+ 0x70`
    /// then sets the top bit of every other byte, which makes the shuffle
    /// answer 0 there, so OR-ing the 16 rows leaves each byte's entry.
    #[target_feature(enable = "avx2")]
    fn apply_avx2(&self, input: &[u8], out: &mut [u8]) {
        use std::arch::x86_64::*;
        let (rows, _) = self.0.as_chunks::<16>();
        // SAFETY: a 16-byte array is exactly one unaligned 128-bit load.
        let rows: [__m256i; 16] =
            std::array::from_fn(|r| _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(rows[r].as_ptr().cast()) }));
        let push_out = _mm256_set1_epi8(0x70);
        let (chunks, rest) = input.as_chunks::<32>();
        let (outs, out_rest) = out.as_chunks_mut::<32>();
        for (chunk, dst) in chunks.iter().zip(outs) {
            // SAFETY: a 32-byte array is exactly one unaligned 256-bit load.
            let index = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
            let mut picked = _mm256_setzero_si256();
            for (r, row) in rows.iter().enumerate() {
                let own = _mm256_adds_epu8(_mm256_xor_si256(index, _mm256_set1_epi8((r << 4) as i8)), push_out);
                picked = _mm256_or_si256(picked, _mm256_shuffle_epi8(*row, own));
            }
            // SAFETY: `dst` is exactly one unaligned 256-bit store.
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), picked) };
        }
        self.apply_scalar(rest, out_rest);
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
fn has_vbmi() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512bw") && has!("avx512vbmi")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        // A non-monotonic map, so a wrong half or lane shows.
        let values: Vec<i64> = (0..256).map(|v| (v * 37 + 11) % 256).collect();
        Table::new(&values).unwrap()
    }

    #[test]
    fn maps_every_byte_at_every_length() {
        let table = table();
        for len in [0, 1, 63, 64, 65, 256, 1000] {
            let input: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let mut out = vec![0; len];
            table.apply(&input, &mut out).unwrap();
            let expected: Vec<u8> = input.iter().map(|&b| ((usize::from(b) * 37 + 11) % 256) as u8).collect();
            assert_eq!(out, expected, "length {len}");
        }
    }

    #[test]
    fn unequal_lengths_are_an_error_not_a_panic() {
        let err = table().apply(&[1, 2, 3], &mut [0; 2]).unwrap_err();
        assert_eq!(err, "ByteLookup: input of 3 bytes, output of 2");
    }

    /// Runs `path` and the scalar loop over every byte value at every
    /// position of a vector, and a scalar tail, and compares their outputs.
    fn assert_agrees_with_scalar(path: impl Fn(&Table, &[u8], &mut [u8])) {
        let table = table();
        let input: Vec<u8> = (0..4096 + 17).map(|i| (i * 131 % 256) as u8).collect();
        let (mut fast, mut plain) = (vec![0; input.len()], vec![0; input.len()]);
        path(&table, &input, &mut fast);
        table.apply_scalar(&input, &mut plain);
        assert_eq!(fast, plain);
    }

    /// Always runs: whichever path `apply` picks on this CPU.
    #[test]
    fn dispatched_and_scalar_paths_agree() {
        assert_agrees_with_scalar(|table, input, out| table.apply(input, out).unwrap());
    }

    // The per-ISA tests below cannot skip themselves at run time without
    // looking like a pass, so build.rs detects the features on the machine
    // that builds the tests (the one that runs them, but for a copied target
    // directory) and marks a test whose feature is missing `ignore`d with
    // the reason: the skip shows as "ignored" in the test output. Should a
    // test still run on a CPU without its feature, it fails instead of passing.

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(hub_cpu_lacks_avx512vbmi, ignore = "this machine's CPU has no AVX-512 VBMI")]
    fn avx512_and_scalar_paths_agree() {
        assert!(has_vbmi(), "this CPU has no AVX-512 VBMI, but build.rs found it when the test was built");
        // SAFETY: checked above.
        assert_agrees_with_scalar(|table, input, out| unsafe { table.apply_avx512(input, out) });
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(hub_cpu_lacks_avx2, ignore = "this machine's CPU has no AVX2")]
    fn avx2_and_scalar_paths_agree() {
        assert!(has_avx2(), "this CPU has no AVX2, but build.rs found it when the test was built");
        // SAFETY: checked above.
        assert_agrees_with_scalar(|table, input, out| unsafe { table.apply_avx2(input, out) });
    }

    #[test]
    fn table_must_be_256_bytes() {
        assert!(Table::new(&[0; 255]).is_none());
        assert!(Table::new(&[256; 256]).is_none());
        assert!(Table::new(&[-1; 256]).is_none());
    }
}
