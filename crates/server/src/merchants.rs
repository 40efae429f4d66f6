//! The merchant directory the fields are read with (`--merchants`): read at
//! start-up, where a bad file stops the start, then read again when its
//! file changes, so an ERP's vendor list is updated without a restart (a
//! Kubernetes ConfigMap's new version, a file replaced by a sync job). A
//! changed file that cannot be used leaves the directory in use as it was,
//! and says so in the log and in `/metrics`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hub_fields::Merchants;
use metrics::{counter, describe_counter, describe_gauge, gauge};

/// What tells one version of the file from another: a file replaced by a
/// rename is a new inode, one rewritten in place a new change time (which,
/// unlike the modification time, `cp -p` or `rsync -t` cannot set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    changed: (i64, i64),
    len: u64,
}

pub struct Directory {
    path: PathBuf,
    current: RwLock<Arc<Merchants>>,
    /// The version of the file last read, used or not (`None`: gone), so a
    /// bad version is reported once, not at every look.
    seen: Mutex<Option<Stamp>>,
}

impl Directory {
    /// Reads the directory at `path`; an error names the file and, for a
    /// bad entry, its line.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let stamp = stamp(path).map_err(|e| anyhow::anyhow!(about(path, e)))?;
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!(about(path, e)))?;
        let merchants = Merchants::from_jsonl(&text).map_err(|e| anyhow::anyhow!(about(path, e)))?;
        loaded(&merchants);
        Ok(Self { path: path.to_owned(), current: RwLock::new(Arc::new(merchants)), seen: Mutex::new(Some(stamp)) })
    }

    /// The directory as it is now.
    pub fn current(&self) -> Arc<Merchants> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Looks at the file every `every` and reads it again when it changed,
    /// for as long as the process runs.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let directory = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let directory = Arc::clone(&directory);
                // File reads and parsing stay off the async threads.
                let _ = tokio::task::spawn_blocking(move || directory.refresh()).await;
            }
        });
    }

    /// Reads the file again if it changed since it was last read.
    fn refresh(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = match stamp(&self.path) {
            Ok(now) => now,
            Err(e) => {
                // Gone is a version of its own: reported once.
                if seen.take().is_some() {
                    failed(&about(&self.path, e));
                }
                return;
            }
        };
        if *seen == Some(now) {
            return;
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            // Not marked as seen: a passing failure (permissions being
            // changed) is tried again at the next look.
            Err(e) => return failed(&about(&self.path, e)),
        };
        *seen = Some(now);
        match Merchants::from_jsonl(&text) {
            Ok(merchants) => {
                loaded(&merchants);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(merchants);
            }
            Err(e) => failed(&about(&self.path, e)),
        }
    }
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    // `metadata` follows symbolic links: a ConfigMap's update swaps the
    // link, and the stamp is the new file's.
    let meta = std::fs::metadata(path)?;
    Ok(Stamp { inode: meta.ino(), changed: (meta.ctime(), meta.ctime_nsec()), len: meta.len() })
}

/// An error about the directory's file, naming it as the flag does.
fn about(path: &Path, err: impl std::fmt::Display) -> String {
    format!("--merchants {}: {err}", path.display())
}

fn loaded(merchants: &Merchants) {
    // Counts only: the file is the operator's business, not the log's.
    tracing::info!(entries = merchants.len(), skipped = merchants.skipped(), "merchant directory loaded");
    gauge!("merchant_directory_entries").set(merchants.len() as f64);
    counter!("merchant_directory_loads_total", "outcome" => "ok").increment(1);
}

fn failed(why: &str) {
    tracing::warn!("merchant directory not reloaded, the previous one stays in use: {why}");
    counter!("merchant_directory_loads_total", "outcome" => "error").increment(1);
}

pub fn describe_metrics() {
    describe_gauge!("merchant_directory_entries", "Entries of the merchant directory in use (--merchants)");
    describe_counter!(
        "merchant_directory_loads_total",
        "Reads of the merchant directory's file, at start-up and after it changed, by outcome (ok, error)"
    );
}
