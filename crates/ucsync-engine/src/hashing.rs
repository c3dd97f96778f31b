//! Hashing what a connector reads, apart from the diff and on every core.

use rayon::prelude::*;
use tokio::sync::mpsc;
use ucsync_connect::ReadEvent;
use ucsync_core::{Hashed, Object};

/// A read event, its object hashed.
#[derive(Debug)]
pub enum HashedEvent {
    /// The number of objects of a type about to be read.
    Expect {
        object_type: String,
        count: u64,
    },
    Object(Object, Hashed),
}

impl HashedEvent {
    /// The object's identity digest, if it is an object.
    pub fn digest(&self) -> Option<u128> {
        match self {
            HashedEvent::Object(_, h) => Some(h.digest),
            HashedEvent::Expect { .. } => None,
        }
    }
}

/// The most events one message carries.
const BATCH: usize = 1024;

/// The smallest batch hashed on every core.
const PARALLEL_FROM: usize = 128;

fn hash(hash_key: &[u8; 32], ev: ReadEvent) -> HashedEvent {
    match ev {
        ReadEvent::Expect { object_type, count } => HashedEvent::Expect { object_type, count },
        ReadEvent::Object(o) => {
            let h = Hashed::of(hash_key, &o);
            HashedEvent::Object(o, h)
        }
    }
}

/// Hashes the objects of `events` on a thread of its own, a batch at a time
/// spread over every core, and passes the events on in order. Hashing is the
/// costly part of a diff: this way it runs beside the diff, and the first
/// batches before the stored index has loaded. The thread ends when `events`
/// closes or the receiver it returns is dropped (which closes `events` for
/// the reader in turn).
pub fn spawn_hasher(
    hash_key: [u8; 32],
    mut events: mpsc::Receiver<ReadEvent>,
) -> mpsc::Receiver<Vec<HashedEvent>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(BATCH);
        // What is there, up to a batch, taken at once: the reader's places in
        // the channel come back together, so a reader waiting for room is
        // woken once a batch, not once an object (a million thread wake-ups
        // cost more than hashing a million objects).
        while events.blocking_recv_many(&mut buf, BATCH) > 0 {
            // Spreading a batch over the cores pays only when it is large:
            // objects trickling in from a slow element are hashed here.
            let batch: Vec<HashedEvent> = if buf.len() >= PARALLEL_FROM {
                buf.par_drain(..).map(|ev| hash(&hash_key, ev)).collect()
            } else {
                buf.drain(..).map(|ev| hash(&hash_key, ev)).collect()
            };
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_core::{Fields, ObjectId};

    fn objects() -> Vec<Object> {
        (0..1000)
            .map(|i| Object {
                id: ObjectId::new("station", i.to_string()),
                fields: Fields::new(vec![("8003ff00".into(), format!("Name {i}"))]),
            })
            .collect()
    }

    fn check(key: &[u8; 32], got: &[HashedEvent], objects: &[Object]) {
        assert!(matches!(&got[0], HashedEvent::Expect { count: 1000, .. }));
        assert_eq!(got.len(), 1001);
        for (ev, want) in got[1..].iter().zip(objects) {
            let HashedEvent::Object(o, h) = ev else {
                panic!("an object expected")
            };
            assert_eq!(o, want);
            assert_eq!(*h, Hashed::of(key, want));
        }
    }

    fn expect() -> ReadEvent {
        ReadEvent::Expect {
            object_type: "station".into(),
            count: 1000,
        }
    }

    /// Everything there at once: large batches, spread over the cores.
    #[tokio::test]
    async fn hashes_every_object_in_order_in_large_batches() {
        let key = [3u8; 32];
        let objects = objects();
        let (tx, rx) = mpsc::channel(2048);
        tx.send(expect()).await.unwrap();
        for o in objects.clone() {
            tx.send(ReadEvent::Object(o)).await.unwrap();
        }
        drop(tx);
        let mut out = spawn_hasher(key, rx);
        let mut got = Vec::new();
        let mut largest = 0;
        while let Some(batch) = out.recv().await {
            largest = largest.max(batch.len());
            got.extend(batch);
        }
        assert!(largest >= PARALLEL_FROM, "largest batch {largest}");
        check(&key, &got, &objects);
    }

    /// One event at a time: each is hashed and passed on by itself.
    #[tokio::test]
    async fn hashes_every_object_in_order_as_they_trickle_in() {
        let key = [3u8; 32];
        let objects = objects();
        let (tx, rx) = mpsc::channel(1);
        let mut out = spawn_hasher(key, rx);
        let mut got = Vec::new();
        let events =
            std::iter::once(expect()).chain(objects.iter().cloned().map(ReadEvent::Object));
        for ev in events {
            tx.send(ev).await.unwrap();
            let batch = out.recv().await.unwrap();
            assert_eq!(batch.len(), 1);
            got.extend(batch);
        }
        drop(tx);
        assert!(out.recv().await.is_none());
        check(&key, &got, &objects);
    }
}
