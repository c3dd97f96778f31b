//! Connections to elements: opened through the connector factory (on the
//! alternate host when the host does not answer), the host key pinned the
//! first time ucsync reaches an element, and — when connections are kept
//! between jobs — one kept per element, shared by jobs, administering and
//! notify sync.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Mutex;
use ucsync_connect::{Catalogs, ConnectError, Connector};
use ucsync_store::{Element, ElementUpdate, Store};

use crate::error::RunnerError;
use crate::events::{Event, Events};

/// What opening a connector gives: the connector, or why not.
pub type Opening = Pin<Box<dyn Future<Output = Result<Arc<dyn Connector>, ConnectError>> + Send>>;

/// Opens a connector to an element, given its password, with the catalogues
/// in effect — the ones its connectors read, which the runner and the API
/// check keys by. Clones share both.
#[derive(Clone)]
pub struct ConnectorFactory {
    open: Arc<dyn Fn(Element, String) -> Opening + Send + Sync>,
    catalogs: Catalogs,
}

impl std::fmt::Debug for ConnectorFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorFactory")
            .field("catalogs", &self.catalogs)
            .finish_non_exhaustive()
    }
}

impl ConnectorFactory {
    /// `open` opens connectors that read `catalogs`.
    pub fn new(
        catalogs: Catalogs,
        open: impl Fn(Element, String) -> Opening + Send + Sync + 'static,
    ) -> ConnectorFactory {
        ConnectorFactory {
            open: Arc::new(open),
            catalogs,
        }
    }

    /// Opens a connector to the element with its password.
    pub fn open(&self, element: Element, password: String) -> Opening {
        (self.open)(element, password)
    }

    /// The catalogues in effect.
    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }
}

/// The element connections of this node; clones share them.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    factory: ConnectorFactory,
    /// Whether a connection is kept between jobs.
    keep: bool,
    kept: Mutex<HashMap<String, Arc<dyn Connector>>>,
    store: Arc<dyn Store>,
    events: Events,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("keep", &self.inner.keep)
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// `keep`: keep each element's connection (for a CM, its SAT sessions)
    /// open between jobs. A pinned host key is told on `events`.
    pub fn new(
        factory: ConnectorFactory,
        keep: bool,
        store: Arc<dyn Store>,
        events: Events,
    ) -> Connections {
        Connections {
            inner: Arc::new(Inner {
                factory,
                keep,
                kept: Mutex::new(HashMap::new()),
                store,
                events,
            }),
        }
    }

    /// The catalogues the connectors read.
    pub fn catalogs(&self) -> &Catalogs {
        self.inner.factory.catalogs()
    }

    /// Whether connections are kept between jobs.
    pub fn keeps(&self) -> bool {
        self.inner.keep
    }

    /// The element's kept connection, if there is one.
    pub async fn kept(&self, element: &str) -> Option<Arc<dyn Connector>> {
        self.inner.kept.lock().await.get(element).cloned()
    }

    /// The element's kept connection, or a new one (kept from now on when
    /// connections are kept between jobs); the flag says whether it is kept.
    pub async fn connection(
        &self,
        element: &Element,
    ) -> Result<(Arc<dyn Connector>, bool), RunnerError> {
        if let Some(c) = self.kept(element.name.as_str()).await {
            return Ok((c, true));
        }
        let (conn, _) = self.open(element).await?;
        if !self.inner.keep {
            return Ok((conn, false));
        }
        let mut kept = self.inner.kept.lock().await;
        // Another task may have connected meanwhile: keep one.
        if let Some(c) = kept.get(element.name.as_str()) {
            let c = c.clone();
            drop(kept);
            conn.close().await;
            return Ok((c, true));
        }
        kept.insert(element.name.to_string(), conn.clone());
        Ok((conn, true))
    }

    /// A new connection with the element's stored password, and the
    /// address that answered.
    pub async fn open(
        &self,
        element: &Element,
    ) -> Result<(Arc<dyn Connector>, String), RunnerError> {
        let password = self
            .inner
            .store
            .element_password(element.name.as_str())
            .await?;
        Ok(self.connect(element, password).await?)
    }

    /// Opens a connection to the element (its alternate host when the host
    /// does not answer), and pins its host key if none is pinned yet.
    pub async fn connect(
        &self,
        element: &Element,
        password: String,
    ) -> Result<(Arc<dyn Connector>, String), ConnectError> {
        let opened = self.open_with(element, password).await;
        if let Ok((conn, _)) = &opened {
            self.pin_host_key(element, conn.as_ref()).await;
        }
        opened
    }

    async fn open_with(
        &self,
        element: &Element,
        password: String,
    ) -> Result<(Arc<dyn Connector>, String), ConnectError> {
        match self
            .inner
            .factory
            .open(element.clone(), password.clone())
            .await
        {
            Ok(c) => Ok((c, element.host.clone())),
            Err(e) if e.is_unreachable() && element.alternate_host.is_some() => {
                let alternate = element.alternate_host.clone().unwrap_or_default();
                tracing::warn!(element = %element.name, error = %e, %alternate, "host does not answer; trying the alternate host");
                let mut other = element.clone();
                other.host = alternate.clone();
                let c = self.inner.factory.open(other, password).await?;
                Ok((c, alternate))
            }
            Err(e) => Err(e),
        }
    }

    /// After a job: its connection is kept when connections are kept and
    /// the job succeeded; otherwise it is closed, and nothing stays kept for
    /// the element (a failed job may have left it broken: start afresh).
    pub(crate) async fn job_ended(&self, element: &str, conn: Arc<dyn Connector>, ok: bool) {
        let mut kept = self.inner.kept.lock().await;
        if self.inner.keep && ok {
            kept.insert(element.to_string(), conn);
        } else {
            kept.remove(element);
            drop(kept);
            conn.close().await;
        }
    }

    /// Closes the connection kept for an element (removed, or its settings changed).
    pub async fn forget(&self, element: &str) {
        let conn = self.inner.kept.lock().await.remove(element);
        if let Some(c) = conn {
            c.close().await;
        }
    }

    /// Closes every kept connection.
    pub(crate) async fn close_all(&self) {
        let kept: Vec<Arc<dyn Connector>> = self
            .inner
            .kept
            .lock()
            .await
            .drain()
            .map(|(_, c)| c)
            .collect();
        for c in kept {
            c.close().await;
        }
    }

    /// The host key is pinned the first time ucsync reaches the element,
    /// whatever reached it (a job, a check, an object administered, notify
    /// sync); after that a different key is refused until an administrator
    /// accepts it.
    async fn pin_host_key(&self, element: &Element, conn: &dyn Connector) {
        if element.settings.host_key.is_some() {
            return;
        }
        let Some(fingerprint) = conn.fingerprint() else {
            return;
        };
        let mut settings = element.settings.clone();
        settings.host_key = Some(fingerprint.clone());
        let update = ElementUpdate {
            settings: Some(settings),
            ..Default::default()
        };
        match self
            .inner
            .store
            .update_element(element.name.as_str(), update)
            .await
        {
            Ok(_) => {
                tracing::info!(element = %element.name, %fingerprint, "host key pinned");
                self.inner.events.publish(Event::Element {
                    name: element.name.to_string(),
                    change: "changed".into(),
                });
            }
            Err(e) => {
                tracing::warn!(element = %element.name, error = %e, "cannot pin the host key")
            }
        }
    }
}
