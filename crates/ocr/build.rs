//! Tells the unit tests which vector paths of `src/lookup.rs` this machine's
//! CPU cannot run, so that those tests show as ignored (with the reason)
//! instead of passing without testing anything. Nothing outside the tests
//! reads these flags: the library picks its path at run time.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(hub_cpu_lacks_avx2)");
    println!("cargo::rustc-check-cfg=cfg(hub_cpu_lacks_avx512vbmi)");
    // Only when the tests are built for the machine building them.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if !has!("avx2") {
            println!("cargo::rustc-cfg=hub_cpu_lacks_avx2");
        }
        if !(has!("avx512f") && has!("avx512bw") && has!("avx512vbmi")) {
            println!("cargo::rustc-cfg=hub_cpu_lacks_avx512vbmi");
        }
    }
}
