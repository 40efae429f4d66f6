//! Resident memory of this process, for /health and the periodic log.

/// Current RSS in MiB (0 where /proc is unavailable).
pub fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// Highest RSS of the process so far, in MiB.
pub fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_plausible_rss() {
        let mb = super::rss_mb();
        assert!(mb > 1.0 && mb < 100_000.0, "{mb}");
        assert!(super::peak_rss_mb() >= mb);
    }
}
