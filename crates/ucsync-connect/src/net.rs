//! The one door to the network for every connector: an element's host is
//! resolved here and each address it resolves to is checked against the
//! element networks before any connection is attempted; the connectors then
//! connect to exactly these addresses, never resolving the name themselves.

use std::net::SocketAddr;
use std::time::Duration;

use ucsync_core::ElementNetworks;

use crate::ConnectError;

/// How long a name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The addresses to connect to for `host:port`, all inside `networks`.
/// `field` names the element setting the host came from, for the message.
pub async fn resolve(
    networks: &ElementNetworks,
    field: &str,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ConnectError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tracing::debug!(%host, "resolving an element's host name");
            let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
                .await
                .map_err(|_| {
                    ConnectError::unreachable(format!(
                        "resolving {host} took longer than {RESOLVE_TIMEOUT:?}: check the name server, or give the element's address"
                    ))
                })?
                .map_err(|e| {
                    ConnectError::unreachable(format!(
                        "cannot resolve {host}: {e}: check the name, or give the element's address"
                    ))
                })?;
            found.collect()
        }
    };
    if addrs.is_empty() {
        return Err(ConnectError::unreachable(format!(
            "{host} resolves to no address: check the name, or give the element's address"
        )));
    }
    let ips: Vec<_> = addrs.iter().map(SocketAddr::ip).collect();
    networks
        .check_resolved(field, host, &ips)
        .map_err(ConnectError::NotAllowed)?;
    Ok(addrs)
}

/// Connects to the first of `addrs` that answers within `timeout` each.
pub async fn connect_tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{addr} did not answer within {timeout:?}"),
                )
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(items: &[&str]) -> ElementNetworks {
        ElementNetworks::parse(items).unwrap()
    }

    #[tokio::test]
    async fn literals_are_checked_without_a_lookup() {
        let allow = nets(&["127.0.0.1/32"]);
        let a = resolve(&allow, "host", "127.0.0.1", 22).await.unwrap();
        assert_eq!(a, vec!["127.0.0.1:22".parse().unwrap()]);
        let e = resolve(&allow, "host", "127.0.0.2", 22).await.unwrap_err();
        assert!(matches!(e, ConnectError::NotAllowed(_)), "{e:?}");
        assert!(e.is_not_allowed());
        let e = resolve(&allow, "alternate_host", "[::1]", 22)
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("alternate_host [::1] is outside"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn every_address_of_a_name_must_be_inside() {
        // `localhost` resolves from /etc/hosts to loopback addresses only.
        let a = resolve(&nets(&["127.0.0.0/8", "::1/128"]), "host", "localhost", 389)
            .await
            .unwrap();
        assert!(!a.is_empty() && a.iter().all(|a| a.ip().is_loopback() && a.port() == 389));
        let e = resolve(&nets(&["127.0.0.2/32"]), "host", "localhost", 389)
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("host localhost resolves to "),
            "{e}"
        );
        assert!(e.is_not_allowed());
    }

    #[tokio::test]
    async fn connects_to_the_first_address_that_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let s = connect_tcp(
            &[closed, listener.local_addr().unwrap()],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(s.peer_addr().unwrap(), listener.local_addr().unwrap());
        assert!(
            connect_tcp(&[closed], Duration::from_secs(5))
                .await
                .is_err()
        );
    }
}
