//! Deliveries counted by message sequence number, shared by every connection's reader.
//!
//! A reader's work per frame is one clock read, one parse of the two numbers it needs and one
//! atomic increment; only the delivery that completes a message (the last of `clients`) takes a
//! lock, to advance the count of messages that reached everyone, and wakes the publisher.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::sync::Notify;

/// The part of a channel message frame the generator reads: `{"payload": {"seq", "t"}}`.
/// Every other member (the channel, anything else in the payload) is skipped unread.
#[derive(Deserialize)]
struct Frame {
    payload: Stamp,
}

#[derive(Deserialize)]
struct Stamp {
    seq: usize,
    /// The publish time, in nanoseconds since the epoch (same machine, same clock).
    t: i64,
}

/// Nanoseconds since the epoch, as the publisher stamps `t`.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
}

pub struct Tally {
    clients: u32,
    /// Deliveries of each message so far; sequence numbers run from 0 to `counts.len() - 1`.
    counts: Box<[AtomicU32]>,
    /// Messages with a sequence number below this record a latency sample per delivery.
    timed: usize,
    /// Messages 0..complete reached every client; written under `advance`.
    complete: AtomicUsize,
    advance: Mutex<()>,
    changed: Notify,
    latencies_ns: Mutex<Vec<i64>>,
    frames: AtomicU64,
    /// Frames that are not a message of this run (error frames, a sequence number out of range).
    strays: AtomicU64,
    first_stray: Mutex<Option<String>>,
    /// Connections that ended before the run asked them to, and why the first one did.
    lost: AtomicUsize,
    first_loss: Mutex<Option<String>>,
}

impl Tally {
    /// A tally for `clients` connections, messages `0..messages`, the first `timed` of which
    /// record latency samples.
    pub fn new(clients: u32, messages: usize, timed: usize) -> Self {
        Self {
            clients,
            counts: (0..messages).map(|_| AtomicU32::new(0)).collect(),
            timed,
            complete: AtomicUsize::new(0),
            advance: Mutex::new(()),
            changed: Notify::new(),
            latencies_ns: Mutex::new(Vec::with_capacity(timed * clients as usize)),
            frames: AtomicU64::new(0),
            strays: AtomicU64::new(0),
            first_stray: Mutex::new(None),
            lost: AtomicUsize::new(0),
            first_loss: Mutex::new(None),
        }
    }

    /// One text frame received at `now_ns`.
    pub fn frame(&self, text: &str, now_ns: i64) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        let Ok(Frame {
            payload: Stamp { seq, t },
        }) = serde_json::from_str::<Frame>(text)
        else {
            self.stray(text);
            return;
        };
        let Some(count) = self.counts.get(seq) else {
            self.stray(text);
            return;
        };
        if seq < self.timed {
            lock(&self.latencies_ns).push(now_ns - t);
        }
        if count.fetch_add(1, Ordering::AcqRel) + 1 == self.clients {
            self.advance();
        }
    }

    /// Moves `complete` past every message that reached all clients. Whoever completes a message
    /// comes here after its own increment, under the lock: none is missed, whatever the order.
    #[cold]
    fn advance(&self) {
        let _guard = lock(&self.advance);
        let mut complete = self.complete.load(Ordering::Acquire);
        while self
            .counts
            .get(complete)
            .is_some_and(|count| count.load(Ordering::Acquire) == self.clients)
        {
            complete += 1;
        }
        self.complete.store(complete, Ordering::Release);
        self.changed.notify_one();
    }

    #[cold]
    fn stray(&self, text: &str) {
        self.strays.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_stray).get_or_insert_with(|| text.chars().take(300).collect());
    }

    /// A connection ended before it was asked to.
    pub fn lost(&self, why: String) {
        self.lost.fetch_add(1, Ordering::AcqRel);
        lock(&self.first_loss).get_or_insert(why);
        self.changed.notify_one();
    }

    /// How many messages, in order, reached every client.
    pub fn complete(&self) -> usize {
        self.complete.load(Ordering::Acquire)
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub fn strays(&self) -> u64 {
        self.strays.load(Ordering::Relaxed)
    }

    /// Takes the latency samples recorded so far.
    pub fn take_latencies(&self) -> Vec<i64> {
        std::mem::take(&mut *lock(&self.latencies_ns))
    }

    /// Waits until messages `0..upto` reached every client. Only one task (the publisher) waits.
    pub async fn wait_complete(&self, upto: usize, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let lost = self.lost.load(Ordering::Acquire);
            if lost > 0 {
                let why = lock(&self.first_loss).clone().unwrap_or_default();
                return Err(format!("{lost} connection(s) ended during the run; the first: {why}"));
            }
            let complete = self.complete();
            if complete >= upto {
                return Ok(());
            }
            // notify_one keeps a permit when nobody waits: a wake-up between the check above and
            // this wait is not lost.
            if tokio::time::timeout_at(deadline, self.changed.notified())
                .await
                .is_err()
            {
                let missing = self
                    .counts
                    .get(complete)
                    .map_or(0, |count| self.clients.saturating_sub(count.load(Ordering::Acquire)));
                let stray = lock(&self.first_stray).clone();
                return Err(format!(
                    "timed out after {timeout:?} waiting for message {complete} to reach every \
                     client ({missing} of {} still missing); {} stray frame(s){}",
                    self.clients,
                    self.strays(),
                    stray.map(|text| format!(", the first: {text}")).unwrap_or_default(),
                ));
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A reader that panicked cannot leave these values half-written; carry on with them.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The nearest-rank percentile of `sorted`, as the Python client computes it (`round` halves
/// to even, as Python's does).
pub fn percentile(sorted: &[i64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = (fraction * sorted.len() as f64).round_ties_even() as usize;
    let index = rank.saturating_sub(1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    sorted.get(index).map_or(f64::NAN, |&value| value as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_completes_in_order() {
        let tally = Tally::new(2, 3, 1);
        tally.frame(r#"{"channel":"c","payload":{"seq":1,"t":5}}"#, 7);
        tally.frame(r#"{"channel": "c", "payload": {"seq": 1, "t": 5}}"#, 7);
        assert_eq!(tally.complete(), 0);
        tally.frame(r#"{"payload":{"t":10,"seq":0,"extra":[1,{"a":2}]},"channel":"c"}"#, 13);
        tally.frame(r#"{"channel":"c","payload":{"seq":0,"t":10}}"#, 14);
        assert_eq!(tally.complete(), 2);
        assert_eq!(tally.take_latencies(), vec![3, 4]);
        tally.frame(r#"{"event":"error","code":"x"}"#, 0);
        tally.frame(r#"{"channel":"c","payload":{"seq":3,"t":0}}"#, 0);
        assert_eq!(tally.strays(), 2);
        assert_eq!(tally.frames(), 6);
    }

    #[test]
    fn nearest_rank() {
        let samples: Vec<i64> = (1..=100).collect();
        assert!((percentile(&samples, 0.5) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&samples, 0.99) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&[7], 0.99) - 7.0).abs() < f64::EPSILON);
    }
}
