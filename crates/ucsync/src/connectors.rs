//! How the binary opens a connector for each element kind: the one path
//! every connection to an element takes, so the element networks are
//! enforced here, before any connector is given an address.

use std::sync::Arc;

use ucsync_connect::cm::CmConnector;
use ucsync_connect::cm::catalog::Catalog;
use ucsync_connect::ipo::{IpoConfig, IpoConnector, Known, Trust};
use ucsync_connect::messaging::{self, LdapConfig, MessagingConnector};
use ucsync_connect::{ConnectError, Connector};
use ucsync_core::{ElementKind, ElementNetworks, Password};
use ucsync_engine::ConnectorFactory;
use ucsync_sat::SatConfig;
use ucsync_store::Element;

/// Connectors for every element kind; a CM gets `sessions` SAT sessions.
/// An element's host is resolved and checked against `networks` each time a
/// connector is opened; the connector connects to those addresses only.
pub fn factory(sessions: usize, networks: ElementNetworks) -> ConnectorFactory {
    let catalog = Arc::new(Catalog::builtin());
    let mailboxes = Arc::new(messaging::catalog::Catalog::builtin());
    let networks = Arc::new(networks);
    Arc::new(move |e: Element, password: String| {
        let catalog = catalog.clone();
        let mailboxes = mailboxes.clone();
        let networks = networks.clone();
        Box::pin(async move {
            // The runner asks for the alternate host by putting it in `host`.
            let field = if e.alternate_host.as_ref() == Some(&e.host) {
                "alternate_host"
            } else {
                "host"
            };
            let addrs = ucsync_connect::net::resolve(&networks, field, &e.host, e.port).await?;
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
                    cfg.sessions = sessions;
                    let c: Arc<dyn Connector> = Arc::new(CmConnector::connect(cfg, catalog).await?);
                    Ok(c)
                }
                ElementKind::IpOffice => {
                    let mut cfg = ipo_config(&e, password)?;
                    cfg.addrs = addrs;
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
    cfg.tls = Trust::from_settings(
        e.settings.tls,
        e.settings.ca_file.as_deref(),
        e.settings.host_key.as_deref(),
    )?;
    cfg.known = Known::from_sync(
        e.sync.sync_point.as_deref(),
        e.sync.version_at_init.as_deref(),
    );
    Ok(cfg)
}

/// How to reach a messaging element's directory: its login is the bind DN.
pub fn ldap_config(e: &Element, password: String) -> Result<LdapConfig, ConnectError> {
    let mut cfg = LdapConfig::new(
        e.host.clone(),
        e.port,
        e.login.clone(),
        Password::new(password),
    );
    cfg.tls = Trust::from_settings(
        e.settings.tls,
        e.settings.ca_file.as_deref(),
        e.settings.host_key.as_deref(),
    )?;
    cfg.link_cm = e.settings.cm.clone();
    Ok(cfg)
}
