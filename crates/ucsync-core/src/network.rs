//! Where ucsync may connect: the administrator's list of element networks
//! (CIDR blocks). An empty list sets no limit. The rule is here, without IO;
//! resolving a host name and connecting live in `ucsync-connect`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The networks ucsync may connect to, as CIDR blocks; empty: anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElementNetworks(Vec<IpNet>);

/// An address ucsync may not connect to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} {host} {how} outside the element networks ({allowed}): use an address inside them, or ask the administrator to allow it in element_networks"
)]
pub struct HostNotAllowed {
    /// The setting that names the host (`host`, `alternate_host`).
    pub field: String,
    pub host: String,
    /// "is", or "resolves to 192.0.2.7, which is".
    how: String,
    allowed: String,
}

/// A CIDR block that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "element network {0:?} is not a CIDR block: write it as an address and a prefix length, e.g. 127.0.0.0/8 or ::1/128"
)]
pub struct BadNetwork(String);

impl ElementNetworks {
    /// Parses CIDR blocks; a bare address stands for itself alone (/32, /128).
    pub fn parse<S: AsRef<str>>(
        items: impl IntoIterator<Item = S>,
    ) -> Result<ElementNetworks, BadNetwork> {
        let mut nets = Vec::new();
        for item in items {
            let s = item.as_ref().trim();
            if s.is_empty() {
                continue;
            }
            let net = IpNet::from_str(s)
                .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                .map_err(|_| BadNetwork(s.to_string()))?;
            nets.push(net.trunc());
        }
        Ok(ElementNetworks(nets))
    }

    /// This machine only: `127.0.0.0/8` and `::1/128`.
    pub fn loopback() -> ElementNetworks {
        ElementNetworks::parse(["127.0.0.0/8", "::1/128"]).expect("loopback blocks")
    }

    /// Whether any address is allowed.
    pub fn is_unlimited(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether ucsync may connect to `addr`. An IPv4 address written as
    /// IPv6 (`::ffff:a.b.c.d`) counts as the IPv4 address it is.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.is_unlimited() || self.0.iter().any(|n| n.contains(&addr))
    }

    /// The check when an element is added or changed: an address literal
    /// must be inside the networks. A host name passes here; what it
    /// resolves to is checked at every connection ([`Self::check_resolved`]).
    pub fn check_host(&self, field: &str, host: &str) -> Result<(), HostNotAllowed> {
        match literal(host) {
            Some(addr) if !self.allows(addr) => Err(self.refusal(field, host, "is".into())),
            _ => Ok(()),
        }
    }

    /// The check before a connection: every address `host` resolved to must
    /// be inside the networks (so that a changed name cannot step outside).
    pub fn check_resolved(
        &self,
        field: &str,
        host: &str,
        addrs: &[IpAddr],
    ) -> Result<(), HostNotAllowed> {
        match addrs.iter().find(|a| !self.allows(**a)) {
            None => Ok(()),
            Some(_) if literal(host).is_some() => Err(self.refusal(field, host, "is".into())),
            Some(a) => Err(self.refusal(field, host, format!("resolves to {a}, which is"))),
        }
    }

    fn refusal(&self, field: &str, host: &str, how: String) -> HostNotAllowed {
        HostNotAllowed {
            field: field.into(),
            host: host.into(),
            how,
            allowed: self.to_string(),
        }
    }
}

/// A host given as an address literal (IPv6 with or without brackets).
fn literal(host: &str) -> Option<IpAddr> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    h.parse().ok()
}

impl fmt::Display for ElementNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("any address");
        }
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl Serialize for ElementNetworks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|n| n.to_string()))
    }
}

/// A list of blocks (TOML), or one text of blocks separated by commas or
/// spaces (an environment variable).
impl<'de> Deserialize<'de> for ElementNetworks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            List(Vec<String>),
            Text(String),
        }
        let items = match Given::deserialize(d)? {
            Given::List(v) => v,
            Given::Text(t) => t
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(str::to_string)
                .collect(),
        };
        ElementNetworks::parse(items).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(items: &[&str]) -> ElementNetworks {
        ElementNetworks::parse(items).unwrap()
    }

    #[test]
    fn empty_allows_everything() {
        let n = nets(&[]);
        assert!(n.is_unlimited());
        assert!(n.allows("192.0.2.1".parse().unwrap()));
        assert_eq!(n.to_string(), "any address");
    }

    #[test]
    fn addresses_inside_and_outside() {
        let n = nets(&["127.0.0.0/8", "::1/128", "10.1.0.0/16"]);
        for (addr, inside) in [
            ("127.0.0.1", true),
            ("127.255.0.9", true),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("10.1.200.3", true),
            ("10.2.0.1", false),
            ("128.0.0.1", false),
            ("::2", false),
            ("::ffff:10.2.0.1", false),
        ] {
            assert_eq!(n.allows(addr.parse().unwrap()), inside, "{addr}");
        }
    }

    #[test]
    fn a_bare_address_is_a_block_of_one_and_host_bits_are_dropped() {
        let n = nets(&["127.0.0.1", "127.0.1.7/24"]);
        assert_eq!(n.to_string(), "127.0.0.1/32, 127.0.1.0/24");
        assert!(!n.allows("127.0.0.2".parse().unwrap()));
        assert!(n.allows("127.0.1.200".parse().unwrap()));
    }

    #[test]
    fn bad_blocks_are_named() {
        for bad in ["127.0.0.0/33", "cm1", "127.0.0.0/"] {
            let e = ElementNetworks::parse([bad]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_when_given_and_names_when_resolved() {
        let n = nets(&["127.0.0.1/32"]);
        assert!(n.check_host("host", "127.0.0.1").is_ok());
        assert!(
            n.check_host("host", "localhost").is_ok(),
            "names are checked at connection"
        );
        let e = n.check_host("alternate_host", "127.0.0.2").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.host.as_str()),
            ("alternate_host", "127.0.0.2")
        );
        assert_eq!(
            e.to_string(),
            "alternate_host 127.0.0.2 is outside the element networks (127.0.0.1/32): use an address inside them, or ask the administrator to allow it in element_networks"
        );
        assert!(n.check_host("host", "[::1]").is_err());

        let ok: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        assert!(n.check_resolved("host", "localhost", &ok).is_ok());
        let mixed: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let e = n.check_resolved("host", "localhost", &mixed).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("host localhost resolves to ::1, which is outside"),
            "{e}"
        );
    }

    #[test]
    fn read_from_a_list_or_from_text() {
        let from_list: ElementNetworks =
            serde_json::from_str(r#"["127.0.0.0/8", "::1/128"]"#).unwrap();
        let from_text: ElementNetworks = serde_json::from_str(r#""127.0.0.0/8, ::1/128""#).unwrap();
        assert_eq!(from_list, from_text);
        assert_eq!(
            serde_json::to_string(&from_list).unwrap(),
            r#"["127.0.0.0/8","::1/128"]"#
        );
        assert_eq!(
            serde_json::from_str::<ElementNetworks>(r#""""#).unwrap(),
            nets(&[])
        );
        assert!(serde_json::from_str::<ElementNetworks>(r#"["x/1"]"#).is_err());
    }
}
