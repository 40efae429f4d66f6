//! Interchangeable sessions of one model, checked out for a run and returned
//! on drop. ONNX Runtime sessions run with `&mut`, so sharing means pooling.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::engine::Model;

pub struct ModelPool {
    free: Mutex<Vec<Box<dyn Model>>>,
    returned: Condvar,
    size: usize,
}

/// A session on loan from a [`ModelPool`].
pub struct Checkout<'a> {
    pool: &'a ModelPool,
    model: Option<Box<dyn Model>>,
}

impl ModelPool {
    pub fn new(models: Vec<Box<dyn Model>>) -> Self {
        let size = models.len();
        Self { free: Mutex::new(models), returned: Condvar::new(), size }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Waits for a free session.
    pub fn checkout(&self) -> Checkout<'_> {
        // A panic while holding the lock cannot corrupt a Vec of sessions.
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(model) = free.pop() {
                return Checkout { pool: self, model: Some(model) };
            }
            free = self.returned.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A free session if there is one now.
    pub fn try_checkout(&self) -> Option<Checkout<'_>> {
        let model = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        Some(Checkout { pool: self, model: Some(model) })
    }
}

impl Deref for Checkout<'_> {
    type Target = dyn Model;
    fn deref(&self) -> &Self::Target {
        self.model.as_deref().expect("present until drop")
    }
}

impl DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.model.as_deref_mut().expect("present until drop")
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(model) = self.model.take() {
            self.pool.free.lock().unwrap_or_else(PoisonError::into_inner).push(model);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use ndarray::{ArrayD, ArrayView4};

    struct Nop;
    impl Model for Nop {
        fn run(&mut self, _: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
            Ok(ArrayD::zeros(vec![1]))
        }
    }

    #[test]
    fn sessions_come_back_on_drop() {
        let pool = ModelPool::new(vec![Box::new(Nop), Box::new(Nop)]);
        let a = pool.checkout();
        let b = pool.try_checkout().expect("second session");
        assert!(pool.try_checkout().is_none());
        drop(a);
        assert!(pool.try_checkout().is_some());
        drop(b);
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }

    #[test]
    fn checkout_waits_for_a_return() {
        let pool = ModelPool::new(vec![Box::new(Nop)]);
        std::thread::scope(|s| {
            let held = pool.checkout();
            let waiter = s.spawn(|| pool.checkout().run(ndarray::Array4::zeros((1, 1, 1, 1)).view()).is_ok());
            std::thread::sleep(std::time::Duration::from_millis(20));
            drop(held);
            assert!(waiter.join().unwrap());
        });
    }
}
