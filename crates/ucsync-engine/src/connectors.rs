//! How a connector is opened for each element kind: the one path every
//! connection to an element takes — the service's, the benchmarks' and the
//! tests' alike — so the element networks are enforced here, before any
//! connector is given an address.

use std::sync::Arc;
use std::time::Duration;

use ucsync_connect::cm::CmConnector;
use ucsync_connect::ipo::{IpoConfig, IpoConnector, Known, Trust};
use ucsync_connect::messaging::{LdapConfig, MessagingConnector};
use ucsync_connect::{Catalogs, ConnectError, Connector};
use ucsync_core::{ElementKind, ElementNetworks, Password};
use ucsync_sat::SatConfig;
use ucsync_store::Element;

use crate::ConnectorFactory;

/// What the factory gives every connector it opens. `None` keeps the
/// connector's own default; tests shorten waits through these, never
/// through a factory of their own.
#[derive(Debug, Clone)]
pub struct ConnectorOptions {
    /// The addresses an element's host may resolve to.
    pub networks: ElementNetworks,
    /// SAT sessions per CM.
    pub sessions: usize,
    /// The first wait before a lost SAT session is opened again.
    pub backoff: Option<Duration>,
    /// The deadline of each request to an IP Office or a directory.
    pub timeout: Option<Duration>,
    /// Entries per page of a directory search.
    pub page_size: Option<i32>,
    /// The catalogues the connectors read: the built-in ones, or the CM's
    /// with a site's file applied (the `cm_catalog` setting).
    pub catalogs: Catalogs,
}

impl ConnectorOptions {
    /// Connectors as configured by default, to elements in `networks`.
    pub fn new(networks: ElementNetworks) -> ConnectorOptions {
        ConnectorOptions {
            networks,
            sessions: SatConfig::DEFAULT_SESSIONS,
            backoff: None,
            timeout: None,
            page_size: None,
            catalogs: Catalogs::builtin(),
        }
    }
}

/// Connectors for every element kind, reading `options.catalogs`. An element's host is resolved and
/// checked against the networks each time a connector is opened; the
/// connector connects to those addresses only.
pub fn factory(options: ConnectorOptions) -> ConnectorFactory {
    let catalogs = options.catalogs.clone();
    let options = Arc::new(options);
    ConnectorFactory::new(catalogs, move |e: Element, password: String| {
        let catalog = options.catalogs.cm.clone();
        let mailboxes = options.catalogs.messaging.clone();
        let options = options.clone();
        Box::pin(async move {
            // The runner asks for the alternate host by putting it in `host`.
            let field = if e.alternate_host.as_ref() == Some(&e.host) {
                "alternate_host"
            } else {
                "host"
            };
            let addrs =
                ucsync_connect::net::resolve(&options.networks, field, &e.host, e.port).await?;
            match e.kind {
                ElementKind::Cm => {
                    let mut cfg = SatConfig::new(
                        e.host.clone(),
                        e.port,
                        e.login.clone(),
                        Password::new(password),
                    );
                    cfg.addrs = addrs;
                    cfg.host_key = e.settings.host_key.clone();
                    cfg.sessions = options.sessions;
                    if let Some(backoff) = options.backoff {
                        cfg.backoff = backoff;
                    }
                    let c: Arc<dyn Connector> = Arc::new(CmConnector::connect(cfg, catalog).await?);
                    Ok(c)
                }
                ElementKind::IpOffice => {
                    let mut cfg = ipo_config(&e, password)?;
                    cfg.addrs = addrs;
                    if let Some(timeout) = options.timeout {
                        cfg.timeout = timeout;
                    }
                    let c: Arc<dyn Connector> = Arc::new(IpoConnector::connect(cfg).await?);
                    Ok(c)
                }
                ElementKind::Messaging
                | ElementKind::CmMessaging
                | ElementKind::ModularMessaging => {
                    let product = mailboxes.by_kind(e.kind).cloned().ok_or_else(|| {
                        ConnectError::refused(format!("no messaging product for {}", e.kind))
                    })?;
                    let mut cfg = ldap_config(&e, password)?;
                    cfg.addrs = addrs;
                    if let Some(timeout) = options.timeout {
                        cfg.timeout = timeout;
                    }
                    if let Some(page_size) = options.page_size {
                        cfg.page_size = page_size;
                    }
                    let c: Arc<dyn Connector> =
                        Arc::new(MessagingConnector::connect(cfg, Arc::new(product)).await?);
                    Ok(c)
                }
            }
        })
    })
}

/// How to reach an IP Office element: TLS as its settings say, and what its
/// last sync stored, so an unchanged configuration costs one small request.
pub fn ipo_config(e: &Element, password: String) -> Result<IpoConfig, ConnectError> {
    let mut cfg = IpoConfig::new(
        e.host.clone(),
        e.port,
        e.login.clone(),
        Password::new(password),
    );
    cfg.tls = trust(e)?;
    cfg.known = Known::from_sync(
        e.sync.sync_point.as_deref(),
        e.sync.version_at_init.as_deref(),
    );
    Ok(cfg)
}

/// How an element's TLS certificate is checked, as its settings say.
fn trust(e: &Element) -> Result<Option<Trust>, ConnectError> {
    Trust::from_settings(
        e.settings.tls,
        e.settings.ca_file.as_deref(),
        e.settings.host_key.as_deref(),
    )
}

/// How to reach a messaging element's directory: its login is the bind DN.
pub fn ldap_config(e: &Element, password: String) -> Result<LdapConfig, ConnectError> {
    let mut cfg = LdapConfig::new(
        e.host.clone(),
        e.port,
        e.login.clone(),
        Password::new(password),
    );
    cfg.tls = trust(e)?;
    cfg.link_cm = e.settings.cm.clone();
    Ok(cfg)
}
