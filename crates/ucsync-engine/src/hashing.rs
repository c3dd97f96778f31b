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
        while let Some(first) = events.blocking_recv() {
            buf.push(first);
            while buf.len() < BATCH {
                match events.try_recv() {
                    Ok(ev) => buf.push(ev),
                    Err(_) => break,
                }
            }
            let batch = buf
                .par_drain(..)
                .map(|ev| match ev {
                    ReadEvent::Expect { object_type, count } => {
                        HashedEvent::Expect { object_type, count }
                    }
                    ReadEvent::Object(o) => {
                        let h = Hashed::of(&hash_key, &o);
                        HashedEvent::Object(o, h)
                    }
                })
                .collect();
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

    #[tokio::test]
    async fn hashes_every_object_in_order() {
        let key = [3u8; 32];
        let (tx, rx) = mpsc::channel(8);
        let mut out = spawn_hasher(key, rx);
        let objects: Vec<Object> = (0..1000)
            .map(|i| Object {
                id: ObjectId::new("station", i.to_string()),
                fields: Fields::new(vec![("8003ff00".into(), format!("Name {i}"))]),
            })
            .collect();
        let feed = objects.clone();
        tokio::spawn(async move {
            tx.send(ReadEvent::Expect {
                object_type: "station".into(),
                count: 1000,
            })
            .await
            .unwrap();
            for o in feed {
                tx.send(ReadEvent::Object(o)).await.unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(batch) = out.recv().await {
            got.extend(batch);
        }
        assert!(matches!(&got[0], HashedEvent::Expect { count: 1000, .. }));
        assert_eq!(got.len(), 1001);
        for (ev, want) in got[1..].iter().zip(&objects) {
            let HashedEvent::Object(o, h) = ev else {
                panic!("an object expected")
            };
            assert_eq!(o, want);
            assert_eq!(*h, Hashed::of(&key, want));
        }
    }
}
