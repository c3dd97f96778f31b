//! Where `ucsync serve` sends its alarms: the webhooks and the syslog
//! collector of its settings, and the watch on notify sync's silence.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_engine::Runner;
use ucsync_engine::alarms::deliver::{self, DeliverySettings, Webhook};
use ucsync_engine::alarms::silence;
use ucsync_engine::alarms::syslog::{self, SyslogTarget, Transport};

use super::settings::Settings;

/// The syslog collector of `alarm_syslog` (`udp://`, `tcp://` or `tls://`
/// and HOST:PORT), with its CA file for TLS.
pub fn syslog_target(
    url: &str,
    ca_file: Option<PathBuf>,
    hostname: &str,
) -> anyhow::Result<SyslogTarget> {
    let bad = || {
        anyhow::anyhow!(
            "alarm_syslog {url:?}: give udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT"
        )
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let transport: Transport = scheme.parse().map_err(|_| bad())?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    let tls = ca_file.map(|f| ucsync_tls::Check {
        roots: ucsync_tls::Roots::CaFile(f),
        pin: None,
        names: true,
    });
    Ok(SyslogTarget {
        host: host.to_string(),
        port,
        transport,
        tls,
        facility: 16,
        hostname: hostname.to_string(),
    })
}

/// The webhooks of the settings.
pub fn webhooks(settings: &Settings) -> Vec<Webhook> {
    settings
        .webhooks
        .iter()
        .map(|w| Webhook {
            name: w.name.clone(),
            url: w.url.clone(),
            secret: Arc::new(ucsync_core::Password::new(w.secret.clone())),
            tls: w.ca_file.clone().map(|f| ucsync_tls::Check {
                roots: ucsync_tls::Roots::CaFile(f),
                pin: None,
                names: true,
            }),
        })
        .collect()
}

/// Starts delivering alarms as the settings say, and the silence watch.
pub fn start(
    settings: &Settings,
    runner: &Runner,
    node: &str,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<()> {
    let clock = runner.engine().clock().clone();
    let store = runner.store().clone();
    deliver::spawn(
        store.clone(),
        runner.subscribe(),
        webhooks(settings),
        DeliverySettings {
            backoff: Duration::from_secs_f64(settings.webhook_retry_seconds),
            node: node.to_string(),
            ..DeliverySettings::default()
        },
        clock.clone(),
        shutdown.clone(),
        tasks,
    )
    .map_err(|e| anyhow::anyhow!(e))
    .context("webhooks")?;
    if let Some(url) = &settings.alarm_syslog {
        let target = syslog_target(url, settings.alarm_syslog_ca_file.clone(), node)?;
        if target.transport != Transport::Tls && settings.alarm_syslog_ca_file.is_some() {
            bail!("alarm_syslog_ca_file is for a tls:// collector");
        }
        syslog::spawn(
            runner.subscribe(),
            target,
            clock.clone(),
            shutdown.clone(),
            tasks,
        )
        .map_err(|e| anyhow::anyhow!(e))
        .context("alarm_syslog")?;
    }
    silence::spawn(
        store,
        runner.alarms().clone(),
        settings.notify_silence_minutes,
        clock,
        shutdown,
        tasks,
    );
    Ok(())
}
