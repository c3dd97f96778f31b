//! Where a messaging incremental continues from, read from the server's
//! clock, never ucsync's: the boundary second (every change after the point
//! has a `modifyTimestamp` at or after it), and the newest `modifyTimestamp`
//! in the directory with the subscriber that carried it (to notice a clock
//! set back).

use chrono::{NaiveDateTime, TimeZone, Utc};

/// The stored text starts with this, so another connector's point is not
/// mistaken for one.
const TAG: &str = "ldap1";

/// A sync point of a messaging directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LdapPoint {
    /// The boundary: the server's `currentTime` when the directory publishes
    /// it, else the newest `modifyTimestamp`; `None` for an empty directory
    /// that tells no time.
    pub boundary: Option<String>,
    /// The newest `modifyTimestamp`, as GeneralizedTime (`20261126081500Z`);
    /// `None` when the directory held no subscriber.
    pub newest: Option<String>,
    /// The key of a subscriber that carried it.
    pub key: String,
}

impl LdapPoint {
    pub fn to_text(&self) -> String {
        format!(
            "{TAG};{};{};{}",
            self.boundary.as_deref().unwrap_or(""),
            self.newest.as_deref().unwrap_or(""),
            self.key
        )
    }

    pub fn parse(s: &str) -> Option<LdapPoint> {
        let mut parts = s.splitn(4, ';');
        if parts.next()? != TAG {
            return None;
        }
        let time = |t: &str| -> Option<Option<String>> {
            if t.is_empty() {
                Some(None)
            } else {
                parse_time(t)?;
                Some(Some(t.to_string()))
            }
        };
        let boundary = time(parts.next()?)?;
        let newest = time(parts.next()?)?;
        let key = parts.next()?.to_string();
        Some(LdapPoint {
            boundary,
            newest,
            key,
        })
    }
}

/// Reads GeneralizedTime as servers write `modifyTimestamp`
/// (`YYYYMMDDHHMMSS[.fraction]Z`, or with an offset).
pub fn parse_time(s: &str) -> Option<chrono::DateTime<Utc>> {
    let s = s.trim();
    let (main, zone) = match s.strip_suffix('Z') {
        Some(m) => (m, None),
        None => {
            let at = s.rfind(['+', '-'])?;
            (&s[..at], Some(&s[at..]))
        }
    };
    let whole = main.split(['.', ',']).next()?;
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok()?;
    let utc = Utc.from_utc_datetime(&naive);
    match zone {
        None => Some(utc),
        Some(z) if z.len() == 5 => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[3..5].parse().ok()?;
            Some(utc - chrono::Duration::minutes(sign * (h * 60 + m)))
        }
        _ => None,
    }
}

/// GeneralizedTime to the second, as an LDAP filter takes it.
pub fn format_time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_trip_and_foreign_text_is_refused() {
        for p in [
            LdapPoint::default(),
            LdapPoint {
                boundary: Some("20261126081600Z".into()),
                newest: Some("20261126081500Z".into()),
                key: "4711".into(),
            },
        ] {
            assert_eq!(LdapPoint::parse(&p.to_text()), Some(p));
        }
        assert_eq!(LdapPoint::parse("2026-11-26 08:15:00;3"), None);
        assert_eq!(LdapPoint::parse("ldap1;yesterday;;1"), None);
    }

    #[test]
    fn generalized_time_in_its_forms() {
        let t = parse_time("20261126081500Z").unwrap();
        assert_eq!(format_time(t), "20261126081500Z");
        assert_eq!(parse_time("20261126081500.123456Z"), Some(t));
        assert_eq!(parse_time("20261126091500+0100"), Some(t));
        assert_eq!(parse_time("2026112608150Z"), None);
        assert_eq!(parse_time("garbage"), None);
    }
}
