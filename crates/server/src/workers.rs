//! Inference workers: threads that share one [`OcrEngine`] (which pools its
//! ONNX Runtime sessions), take jobs from a bounded queue and answer on a
//! oneshot channel, so no inference ever runs on the async runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};
use hub_ocr::{OcrEngine, TextLine};
use tokio::sync::oneshot;

use crate::wire::error::ApiError;

/// The outcome of one image.
pub struct Recognized {
    pub lines: Vec<TextLine>,
    /// Decode plus pipeline time on the worker, without queueing.
    pub elapsed: Duration,
}

struct Job {
    image: Vec<u8>,
    reply: oneshot::Sender<Result<Recognized, ApiError>>,
    /// The request's span: the worker's log lines carry its request id.
    span: tracing::Span,
}

/// A fixed set of workers behind a bounded queue.
pub struct Workers {
    jobs: Sender<Job>,
    workers: usize,
}

impl Workers {
    /// Starts `workers` threads over `engine`; at most `queue` jobs wait.
    pub fn start(engine: Arc<OcrEngine>, workers: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, inbox) = bounded::<Job>(queue.max(1));
        for i in 0..workers.max(1) {
            let (inbox, engine) = (inbox.clone(), engine.clone());
            thread::Builder::new().name(format!("ocr-worker-{i}")).spawn(move || {
                for job in inbox {
                    // The client went away while the job was queued: skip it.
                    if job.reply.is_closed() {
                        continue;
                    }
                    let _entered = job.span.enter();
                    let _ = job.reply.send(run_one(&engine, &job.image));
                }
            })?;
        }
        Ok(Self { jobs, workers: workers.max(1) })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Jobs that may wait before new ones are refused.
    pub fn capacity(&self) -> usize {
        self.jobs.capacity().unwrap_or(usize::MAX)
    }

    /// Queues an image and waits for its lines. A full queue is refused at
    /// once rather than left to grow.
    pub async fn recognize(&self, image: Vec<u8>) -> Result<Recognized, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(Job { image, reply, span: tracing::Span::current() }).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::Overloaded,
            TrySendError::Disconnected(_) => ApiError::Internal,
        })?;
        answer.await.map_err(|_| ApiError::Internal)?
    }
}

/// One image on one engine. A panic in native or pipeline code fails this
/// request only; the worker and its engine carry on.
fn run_one(engine: &OcrEngine, image: &[u8]) -> Result<Recognized, ApiError> {
    let started = Instant::now();
    match catch_unwind(AssertUnwindSafe(|| engine.read_bytes(image))) {
        Ok(Ok(lines)) => Ok(Recognized { lines, elapsed: started.elapsed() }),
        Ok(Err(err)) => Err(ApiError::from(err)),
        Err(_) => {
            tracing::error!("inference panicked; the request failed, the worker continues");
            Err(ApiError::Internal)
        }
    }
}
