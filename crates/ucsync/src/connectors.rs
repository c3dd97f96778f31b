//! How the binary opens a connector for each element kind.

use std::sync::Arc;

use ucsync_connect::cm::CmConnector;
use ucsync_connect::cm::catalog::Catalog;
use ucsync_connect::{ConnectError, Connector};
use ucsync_core::ElementKind;
use ucsync_engine::ConnectorFactory;
use ucsync_sat::{Password, SatConfig};
use ucsync_store::Element;

/// Connectors for every kind this build supports; a CM gets `sessions` SAT sessions.
pub fn factory(sessions: usize) -> ConnectorFactory {
    let catalog = Arc::new(Catalog::builtin());
    Arc::new(move |e: Element, password: String| {
        let catalog = catalog.clone();
        Box::pin(async move {
            match e.kind {
                ElementKind::Cm => {
                    let mut cfg = SatConfig::new(
                        e.host.clone(),
                        e.port,
                        e.login.clone(),
                        Password::new(password),
                    );
                    cfg.host_key = e.settings.host_key.clone();
                    cfg.sessions = sessions;
                    let c: Arc<dyn Connector> = Arc::new(CmConnector::connect(cfg, catalog).await?);
                    Ok(c)
                }
                other => Err(ConnectError::Refused(format!(
                    "synchronizing {other} elements is not available in this build yet"
                ))),
            }
        })
    })
}
