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
use crossbeam_channel::{Sender, unbounded};
use hub_engines::Engine;
use hub_ocr::TextLine;
use tokio::sync::{Notify, oneshot};

pub use crate::pdf_pages::ReadLimits;
use crate::pdf_pages::{Pages, PdfText, read_upload};
use crate::wire::error::ApiError;

/// The outcome of one upload.
pub struct Recognized {
    pub lines: Vec<TextLine>,
    /// For a PDF: each line's page, and which pages the engine read.
    pub pages: Option<Pages>,
    /// Decode plus engine time on the worker, without queueing.
    pub elapsed: Duration,
}

struct Job {
    image: Bytes,
    pdf_text: PdfText,
    /// A PDF starts no page after it.
    deadline: Option<Instant>,
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
    /// Jobs admitted and not yet taken by a worker.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    /// Workers running a job now.
    busy: Arc<AtomicUsize>,
    /// Woken whenever a worker takes, skips or finishes a job: the moments
    /// [`Self::idle`] can turn true.
    changed: Arc<Notify>,
}

impl Workers {
    /// Starts one thread per instance; at most `queue` jobs wait. Uploads
    /// are decoded (PDFs drawn) on the worker within `limits`.
    pub fn start(
        name: &str,
        instances: Vec<Box<dyn Engine>>,
        limits: ReadLimits,
        queue: usize,
        priority: Priority,
    ) -> std::io::Result<Self> {
        let (jobs, inbox) = unbounded::<Job>();
        let (workers, busy, queued) = (instances.len(), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let changed = Arc::new(Notify::new());
        for (i, mut engine) in instances.into_iter().enumerate() {
            let (inbox, busy, queued, limits) = (inbox.clone(), busy.clone(), queued.clone(), limits.clone());
            let changed = changed.clone();
            let thread = match priority {
                Priority::Normal => format!("{name}-{i}"),
                Priority::Background => format!("{name}-bg-{i}"),
            };
            thread::Builder::new().name(thread).spawn(move || {
                if priority == Priority::Background {
                    run_when_idle();
                }
                for job in inbox {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    // The client went away while the job was queued: skip it.
                    if job.reply.is_closed() {
                        changed.notify_waiters();
                        continue;
                    }
                    busy.fetch_add(1, Ordering::Relaxed);
                    changed.notify_waiters();
                    let _entered = job.span.enter();
                    let outcome = run_one(engine.as_mut(), &job, &limits);
                    let _ = job.reply.send(outcome);
                    busy.fetch_sub(1, Ordering::Relaxed);
                    changed.notify_waiters();
                }
            })?;
        }
        Ok(Self { jobs, workers, queued, capacity: queue.max(1), busy, changed })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Nothing queued and at least one worker free.
    pub fn idle(&self) -> bool {
        self.queued() == 0 && self.busy.load(Ordering::Relaxed) < self.workers
    }

    /// Returns once [`Self::idle`] holds: work nobody waits for (job images)
    /// starts only when no request is in front of it.
    pub async fn until_idle(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change in between wakes it.
            changed.as_mut().enable();
            if self.idle() {
                return;
            }
            changed.await;
        }
    }

    /// Jobs that may wait before new ones are refused.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queue slots free now: how many images a batch may have in flight.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.queued())
    }

    /// Queues an upload and waits for its lines. A full queue is refused at
    /// once (429 `overloaded`) rather than left to grow; dropping the future
    /// drops the queued work (a PDF being read stops at `deadline`).
    pub async fn recognize(
        &self,
        image: Bytes,
        pdf_text: PdfText,
        deadline: Option<Instant>,
    ) -> Result<Recognized, ApiError> {
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| (q < self.capacity).then_some(q + 1))
            .map_err(|_| ApiError::Overloaded)?;
        let (reply, answer) = oneshot::channel();
        // Workers only stop with the process, so the channel stays open.
        let job = Job { image, pdf_text, deadline, reply, span: tracing::Span::current() };
        self.jobs.send(job).map_err(|_| ApiError::Internal)?;
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

/// One upload on one engine instance. A panic in native or engine code fails
/// this request only; the worker and its engine carry on.
fn run_one(engine: &mut dyn Engine, job: &Job, limits: &ReadLimits) -> Result<Recognized, ApiError> {
    let started = Instant::now();
    let read = || read_upload(engine, &job.image, limits, job.pdf_text, job.deadline);
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(Ok((lines, pages))) => Ok(Recognized { lines, pages, elapsed: started.elapsed() }),
        Ok(Err(err)) => Err(err),
        Err(_) => {
            tracing::error!("inference panicked; the request failed, the worker continues");
            Err(ApiError::Internal)
        }
    }
}
