//! One result slot per graph node, filled by whichever stage thread runs the node and awaited
//! by the threads whose nodes depend on it. A failure fills the slot with `Failed`, so waiters
//! give up instead of hanging.

use std::sync::{Arc, Condvar, Mutex};

use super::state::StepState;

enum Slot {
    Pending,
    Done(Arc<StepState>),
    Failed,
}

pub struct Slots {
    slots: Vec<(Mutex<Slot>, Condvar)>,
}

impl Slots {
    pub fn new(n: usize) -> Self {
        Slots {
            slots: (0..n)
                .map(|_| (Mutex::new(Slot::Pending), Condvar::new()))
                .collect(),
        }
    }

    /// Blocks until node `id` finished; `None` when it failed or was cancelled.
    pub fn wait(&self, id: usize) -> Option<Arc<StepState>> {
        let (lock, cv) = &self.slots[id];
        let mut s = lock.lock().expect("slot lock");
        loop {
            match &*s {
                Slot::Pending => s = cv.wait(s).expect("slot lock"),
                Slot::Done(st) => return Some(st.clone()),
                Slot::Failed => return None,
            }
        }
    }

    pub fn done(&self, id: usize, state: Arc<StepState>) {
        self.set(id, Slot::Done(state));
    }

    pub fn fail(&self, id: usize) {
        self.set(id, Slot::Failed);
    }

    fn set(&self, id: usize, v: Slot) {
        let (lock, cv) = &self.slots[id];
        *lock.lock().expect("slot lock") = v;
        cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CacheKey;
    use crate::store::config::ImageConfig;

    #[test]
    fn waiters_wake_on_done_and_on_failure() {
        let slots = Slots::new(2);
        std::thread::scope(|s| {
            let a = s.spawn(|| slots.wait(0).map(|st| st.cached));
            let b = s.spawn(|| slots.wait(1).is_none());
            std::thread::sleep(std::time::Duration::from_millis(20));
            slots.done(
                0,
                Arc::new(StepState {
                    key: CacheKey::from_bytes([1; 32]),
                    config: ImageConfig::new_for_host(),
                    layers: vec![],
                    cmd_set: false,
                    cached: true,
                }),
            );
            slots.fail(1);
            assert_eq!(a.join().unwrap(), Some(true));
            assert!(b.join().unwrap());
        });
    }
}
