//! The cluster's events on PostgreSQL: an announcement is a NOTIFY on the
//! installation's channel (named after its schema, so that installations
//! sharing a database do not hear each other), heard by every node that
//! LISTENs on a connection of its own, outside the pool.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Connection, NoTls, Socket};

use super::{PgStore, db};
use crate::{Announcements, MAX_ANNOUNCEMENT, Result, StoreError};

/// Announcements heard but not yet taken; past it the connection is read
/// no further until they are (the database keeps the rest).
const HEARD: usize = 1024;

/// How a node listens: the store's connection settings and its channel.
#[derive(Clone)]
pub(super) struct Bus {
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// `ucsync_events_` and a digest of the schema's name: a plain
    /// identifier, whatever the schema is called.
    pub(super) channel: String,
}

impl PgStore {
    pub(crate) async fn announce(&self, message: &str) -> Result<()> {
        if message.len() > MAX_ANNOUNCEMENT {
            return Err(StoreError::Database(format!(
                "an announcement of {} bytes is over the {MAX_ANNOUNCEMENT} allowed",
                message.len()
            )));
        }
        let c = self.client().await?;
        c.execute("SELECT pg_notify($1, $2)", &[&self.bus.channel, &message])
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn listen(&self) -> Result<Option<Announcements>> {
        let bus = &self.bus;
        let announcements = match &bus.tls {
            Some(tls) => listen_on(&bus.config, tls.clone(), &bus.channel).await?,
            None => listen_on(&bus.config, NoTls, &bus.channel).await?,
        };
        Ok(Some(announcements))
    }
}

async fn listen_on<T>(
    config: &tokio_postgres::Config,
    tls: T,
    channel: &str,
) -> Result<Announcements>
where
    T: MakeTlsConnect<Socket> + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await.map_err(db)?;
    let (tx, rx) = mpsc::channel(HEARD);
    // The connection is read by this task: LISTEN's answer, then the
    // notifications, until it fails or the listener is dropped.
    tokio::spawn(forward(connection, tx));
    client
        .batch_execute(&format!("LISTEN {channel}"))
        .await
        .map_err(db)?;
    Ok(Announcements {
        rx,
        // Dropped, the client closes the connection.
        _keep: Box::new(client),
    })
}

async fn forward<S, T>(mut connection: Connection<S, T>, tx: mpsc::Sender<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
        match message {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if tx.send(n.payload().to_string()).await.is_err() {
                    return;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the connection that listens for other nodes' events was lost");
                return;
            }
            None => return,
        }
    }
}
