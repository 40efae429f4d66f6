//! Inference workers: one thread per engine instance, taking jobs from a
//! bounded queue and answering on a oneshot channel, so no inference ever
//! runs on the async runtime. Each loaded engine has its own pool, and the
//! shadow engine a background one besides.

// Unsafe code here: sched_setscheduler for background workers.
#![allow(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use crossbeam_channel::{Sender, TrySendError, bounded};
use hub_engines::{Engine, read_bytes};
use hub_ocr::{DecodeLimits, TextLine};
use tokio::sync::oneshot;

use crate::wire::error::ApiError;

/// The outcome of one image.
pub struct Recognized {
    pub lines: Vec<TextLine>,
    /// Decode plus engine time on the worker, without queueing.
    pub elapsed: Duration,
}

struct Job {
    image: Bytes,
    reply: oneshot::Sender<Result<Recognized, ApiError>>,
    /// The request's span: the worker's log lines carry its request id.
    span: tracing::Span,
}

/// How the pool's threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Clients wait for these.
    Normal,
    /// Work nobody waits for (shadow comparisons): the threads run under
    /// `SCHED_IDLE`, so the kernel gives them only CPU time that no other
    /// thread wants, and a client's request is never slowed by them.
    Background,
}

/// A fixed set of workers, one per engine instance, behind a bounded queue.
pub struct Workers {
    jobs: Sender<Job>,
    workers: usize,
    /// Workers running a job now.
    busy: Arc<AtomicUsize>,
}

impl Workers {
    /// Starts one thread per instance; at most `queue` jobs wait. Images
    /// are decoded on the worker within `limits`.
    pub fn start(
        name: &str,
        instances: Vec<Box<dyn Engine>>,
        limits: DecodeLimits,
        queue: usize,
        priority: Priority,
    ) -> std::io::Result<Self> {
        let (jobs, inbox) = bounded::<Job>(queue.max(1));
        let (workers, busy) = (instances.len(), Arc::new(AtomicUsize::new(0)));
        for (i, mut engine) in instances.into_iter().enumerate() {
            let (inbox, busy, limits) = (inbox.clone(), busy.clone(), limits.clone());
            let thread = match priority {
                Priority::Normal => format!("{name}-{i}"),
                Priority::Background => format!("{name}-bg-{i}"),
            };
            thread::Builder::new().name(thread).spawn(move || {
                if priority == Priority::Background {
                    run_when_idle();
                }
                for job in inbox {
                    // The client went away while the job was queued: skip it.
                    if job.reply.is_closed() {
                        continue;
                    }
                    busy.fetch_add(1, Ordering::Relaxed);
                    let _entered = job.span.enter();
                    let _ = job.reply.send(run_one(engine.as_mut(), &job.image, &limits));
                    busy.fetch_sub(1, Ordering::Relaxed);
                }
            })?;
        }
        Ok(Self { jobs, workers, busy })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Nothing queued and at least one worker free.
    pub fn idle(&self) -> bool {
        self.jobs.is_empty() && self.busy.load(Ordering::Relaxed) < self.workers
    }

    /// Jobs that may wait before new ones are refused.
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
    }

    /// Queues an image and waits for its lines. A full queue is refused at
    /// once rather than left to grow.
    pub async fn recognize(&self, image: Bytes) -> Result<Recognized, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(Job { image, reply, span: tracing::Span::current() }).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::Overloaded,
            TrySendError::Disconnected(_) => ApiError::Internal,
        })?;
        answer.await.map_err(|_| ApiError::Internal)?
    }
}

/// Puts the calling thread under `SCHED_IDLE`. Lowering one's own priority
/// needs no privilege; should it fail anyway, the thread runs normally.
fn run_when_idle() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid, initialised
    // sched_param that the call only reads.
    let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0;
    if failed {
        tracing::warn!("cannot run background work under SCHED_IDLE: {}", std::io::Error::last_os_error());
    }
}

/// One image on one engine instance. A panic in native or engine code fails
/// this request only; the worker and its engine carry on.
fn run_one(engine: &mut dyn Engine, image: &[u8], limits: &DecodeLimits) -> Result<Recognized, ApiError> {
    let started = Instant::now();
    match catch_unwind(AssertUnwindSafe(|| read_bytes(engine, image, limits))) {
        Ok(Ok(lines)) => Ok(Recognized { lines, elapsed: started.elapsed() }),
        Ok(Err(err)) => Err(ApiError::from(err)),
        Err(_) => {
            tracing::error!("inference panicked; the request failed, the worker continues");
            Err(ApiError::Internal)
        }
    }
}
