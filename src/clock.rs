//! Time as the server sees it. Production reads the system clock; tests drive a manual clock so
//! deadlines, schedules and missed fires are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::Notify;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
    /// Resolves when the clock has been moved by hand (never, for the system clock), so the
    /// scheduler looks again at once.
    fn changed(&self) -> Option<&Notify> {
        None
    }
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
    notify: Notify,
}

impl ManualClock {
    pub fn new(ms: i64) -> Self {
        ManualClock { ms: AtomicI64::new(ms), notify: Notify::new() }
    }

    pub fn set_ms(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
    fn changed(&self) -> Option<&Notify> {
        Some(&self.notify)
    }
}
