//! Delivering alarms to a syslog collector: each new alarm and each clear
//! as one RFC 5424 message — over UDP (a datagram each), TCP or TLS (RFC
//! 6587 octet counting) — with the alarm in a structured-data element
//! `ucsyncAlarm@32473` and its cause as the message. A stream connection is
//! opened when needed and opened again after a failure; a message that
//! cannot be sent is retried with backoff a few times, then logged as lost.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ucsync_core::Severity;
use ucsync_schedule::Clock;
use ucsync_store::Alarm;
use ucsync_syslog::{Framing, encode_frame, escape_param_value};

use super::AlarmChange;
use crate::events::Event;

/// The structured-data id of an alarm (32473: the example enterprise
/// number of RFC 5612, as ucsync's notify events use).
pub const ALARM_SD_ID: &str = "ucsyncAlarm@32473";

/// How messages reach the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Transport, String> {
        match s {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            "tls" => Ok(Transport::Tls),
            _ => Err(format!(
                "unknown syslog transport {s:?}: use udp, tcp or tls"
            )),
        }
    }
}

/// A syslog collector alarms are sent to.
#[derive(Debug, Clone)]
pub struct SyslogTarget {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// How the collector's certificate is checked (TLS only).
    pub tls: Option<ucsync_tls::Check>,
    /// The syslog facility (16, local0, by default).
    pub facility: u8,
    /// The HOSTNAME of each message: this node's name.
    pub hostname: String,
}

/// The syslog severity of an alarm event: a clear is a notice.
fn syslog_severity(change: AlarmChange, s: Severity) -> u8 {
    match (change, s) {
        (AlarmChange::Cleared, _) => 5,
        (_, Severity::Critical) => 2,
        (_, Severity::Major) => 3,
        (_, Severity::Minor | Severity::Warning) => 4,
    }
}

/// The RFC 5424 message (without framing) of an alarm event at `at`.
pub fn message(
    change: AlarmChange,
    alarm: &Alarm,
    facility: u8,
    hostname: &str,
    at: DateTime<Utc>,
) -> String {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(change, alarm.severity));
    // HOSTNAME is printable US-ASCII without spaces, at most 255.
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() { "-".into() } else { host };
    let mut s = String::with_capacity(320);
    let _ = write!(
        s,
        "<{pri}>1 {} {host} ucsync - alarm-{} [{ALARM_SD_ID}",
        at.to_rfc3339_opts(SecondsFormat::Millis, true),
        change.as_str()
    );
    let id = alarm.id.to_string();
    let count = alarm.count.to_string();
    let params = [
        ("id", id.as_str()),
        ("element", alarm.element.as_str()),
        ("condition", alarm.condition.as_str()),
        ("severity", alarm.severity.as_str()),
        ("count", count.as_str()),
        ("event", change.as_str()),
    ];
    for (name, value) in params {
        let _ = write!(s, " {name}=\"");
        escape_param_value(value, &mut s);
        s.push('"');
    }
    s.push_str("] ");
    // The cause on one line: a stream frame is counted, but collectors
    // show a line.
    s.extend(
        alarm
            .cause
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    s
}

trait Stream: AsyncWrite + Unpin + Send {}
impl<T: AsyncWrite + Unpin + Send> Stream for T {}

struct Sender {
    target: SyslogTarget,
    tls: Option<tokio_rustls::TlsConnector>,
    udp: Option<UdpSocket>,
    stream: Option<Box<dyn Stream>>,
}

impl Sender {
    async fn send(&mut self, msg: &[u8]) -> Result<(), String> {
        let addr = (self.target.host.as_str(), self.target.port);
        match self.target.transport {
            Transport::Udp => {
                if self.udp.is_none() {
                    let local = if self.target.host.contains(':') {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    };
                    let s = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
                    s.connect(addr).await.map_err(|e| e.to_string())?;
                    self.udp = Some(s);
                }
                let s = self.udp.as_ref().expect("bound");
                s.send(&encode_frame(Framing::Datagram, msg))
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        self.udp = None;
                        e.to_string()
                    })
            }
            Transport::Tcp | Transport::Tls => {
                if self.stream.is_none() {
                    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                    let _ = tcp.set_nodelay(true);
                    self.stream = Some(match &self.tls {
                        None => Box::new(tcp),
                        Some(c) => {
                            let name =
                                rustls::pki_types::ServerName::try_from(self.target.host.clone())
                                    .map_err(|e| e.to_string())?;
                            Box::new(c.connect(name, tcp).await.map_err(|e| e.to_string())?)
                        }
                    });
                }
                let s = self.stream.as_mut().expect("connected");
                let frame = encode_frame(Framing::OctetCounting, msg);
                let r = async {
                    s.write_all(&frame).await?;
                    s.flush().await
                }
                .await;
                r.map_err(|e| {
                    self.stream = None;
                    e.to_string()
                })
            }
        }
    }
}

/// Starts sending the alarm events of `events` to the collector, until
/// `shutdown`; fails at once if its TLS settings cannot be used.
pub fn spawn(
    mut events: broadcast::Receiver<Event>,
    target: SyslogTarget,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), String> {
    let tls = match (target.transport, &target.tls) {
        (Transport::Tls, check) => {
            let check = check.clone().unwrap_or(ucsync_tls::Check {
                roots: ucsync_tls::Roots::System,
                pin: None,
                names: true,
            });
            let config = ucsync_tls::client_config(&check, Arc::default())?;
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        }
        _ => None,
    };
    let mut sender = Sender {
        target,
        tls,
        udp: None,
        stream: None,
    };
    tasks.spawn(async move {
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = events.recv() => ev,
            };
            let (change, alarm) = match ev {
                Ok(Event::Alarm { change, alarm }) => (change, alarm),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!(
                        missed = n,
                        "the syslog delivery fell behind the event stream: alarm events were missed"
                    );
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let t = &sender.target;
            let msg = message(change, &alarm, t.facility, &t.hostname, clock.now());
            let mut wait = Duration::from_millis(500);
            for attempt in 1..=5 {
                match sender.send(msg.as_bytes()).await {
                    Ok(()) => break,
                    Err(e) if attempt == 5 => {
                        tracing::error!(
                            alarm = alarm.id,
                            "alarm not sent to the syslog collector: {e}"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(
                            alarm = alarm.id,
                            attempt,
                            "cannot send an alarm to the syslog collector, retrying: {e}"
                        );
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        wait *= 2;
                    }
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_core::AlarmCondition;
    use ucsync_syslog::SyslogMessage;

    fn alarm() -> Alarm {
        let t = DateTime::parse_from_rfc3339("2026-12-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Alarm {
            id: 7,
            element: "cm1".into(),
            condition: AlarmCondition::Unreachable,
            severity: Severity::Critical,
            cause: "no answer from \"cm1\"]\nat all".into(),
            first_seen: t,
            last_seen: t,
            count: 2,
            cleared_at: None,
            acked_by: None,
            acked_at: None,
        }
    }

    /// The message is RFC 5424 that ucsync's own decoder reads back, with
    /// the alarm's fields escaped in its structured data.
    #[test]
    fn an_alarm_is_an_rfc5424_message() {
        let a = alarm();
        let at = a.first_seen;
        let m = message(AlarmChange::Raised, &a, 16, "node 1", at);
        assert!(m.starts_with("<130>1 2026-12-05T10:00:00.000Z node1 ucsync - alarm-raised [ucsyncAlarm@32473 id=\"7\""), "{m}");
        let decoded = SyslogMessage::decode(m.as_bytes()).unwrap();
        assert_eq!(decoded.severity.code(), 2);
        let sd = decoded.sd_element(ALARM_SD_ID).unwrap();
        assert_eq!(sd.param("condition"), Some("unreachable"));
        assert_eq!(sd.param("count"), Some("2"));
        assert!(m.ends_with("] no answer from \"cm1\"] at all"), "{m}");
        let cleared = message(AlarmChange::Cleared, &a, 16, "n", at);
        assert!(cleared.starts_with("<133>1 "), "{cleared}");
    }
}
