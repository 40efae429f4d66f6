//! The CPU the process runs on, as far as the int8 kernels care: its model
//! name and the instruction set ONNX Runtime's quantised kernels pick
//! (they choose from CPUID at run time, as this module does). Every speed
//! or accuracy figure the binary prints names both.

use std::fmt;

/// Which int8 kernel family ONNX Runtime (MLAS) runs on this CPU, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelIsa {
    /// AVX-512 with VNNI (`vpdpbusd`): exact 32-bit int8 dot products.
    Avx512Vnni,
    /// AVX2 with the 256-bit VNNI extension (Alder Lake and later).
    AvxVnni,
    /// AVX-512 without VNNI: 16-bit pairwise sums that can saturate.
    Avx512,
    /// AVX2 and FMA, the common rented CPU (AMD Zen 2/3, Intel before Ice
    /// Lake): 16-bit pairwise sums that can saturate.
    Avx2,
    /// Older x86-64: SSE4.1 kernels.
    Sse41,
    /// aarch64 with the dot-product extension (`sdot`/`udot`).
    NeonDot,
    /// aarch64 without it.
    Neon,
    /// Anything else: portable kernels.
    Other,
}

impl KernelIsa {
    /// Detected from this CPU's feature flags.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx512 = has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq");
            return match () {
                _ if avx512 && has!("avx512vnni") => Self::Avx512Vnni,
                _ if has!("avx2") && has!("avxvnni") => Self::AvxVnni,
                _ if avx512 => Self::Avx512,
                _ if has!("avx2") && has!("fma") => Self::Avx2,
                _ if has!("sse4.1") => Self::Sse41,
                _ => Self::Other,
            };
        }
        #[cfg(target_arch = "aarch64")]
        {
            return if std::arch::is_aarch64_feature_detected!("dotprod") { Self::NeonDot } else { Self::Neon };
        }
        #[allow(unreachable_code)]
        Self::Other
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avx512Vnni => "avx512-vnni",
            Self::AvxVnni => "avx-vnni",
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::Sse41 => "sse4.1",
            Self::NeonDot => "neon-dotprod",
            Self::Neon => "neon",
            Self::Other => "generic",
        }
    }
}

impl fmt::Display for KernelIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CPU model and kernel family, for logs, `/health`, `/metrics` and
/// benchmark reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuInfo {
    /// `model name` (x86) or the implementer/part (aarch64) from
    /// `/proc/cpuinfo`; `unknown` elsewhere.
    pub model: String,
    pub isa: KernelIsa,
}

impl CpuInfo {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self { model: model_name(&cpuinfo), isa: KernelIsa::detect() }
    }
}

impl fmt::Display for CpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} kernels)", self.model, self.isa)
    }
}

/// The first model line of `/proc/cpuinfo`'s text.
fn model_name(cpuinfo: &str) -> String {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    if let Some(name) = field("model name").filter(|n| !n.is_empty()) {
        return name;
    }
    match (field("CPU implementer"), field("CPU part")) {
        (Some(implementer), Some(part)) => format!("aarch64 implementer {implementer} part {part}"),
        _ => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_model_name_on_x86_and_the_part_on_arm() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu\n";
        assert_eq!(model_name(x86), "AMD EPYC 7B12");
        let arm = "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n";
        assert_eq!(model_name(arm), "aarch64 implementer 0x41 part 0xd0c");
        assert_eq!(model_name(""), "unknown");
    }

    #[test]
    fn detects_a_kernel_family_of_this_architecture() {
        let isa = KernelIsa::detect();
        #[cfg(target_arch = "x86_64")]
        assert!(!matches!(isa, KernelIsa::Neon | KernelIsa::NeonDot), "{isa}");
        #[cfg(target_arch = "aarch64")]
        assert!(matches!(isa, KernelIsa::Neon | KernelIsa::NeonDot), "{isa}");
    }
}
