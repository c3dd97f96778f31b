//! Small pieces the client's tables share: the table style, times, empty
//! cells, and the line under a page of a listing.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

/// A table with a header, in the style of the other subcommands.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    t
}

/// A two-column table of names and values, for one item.
pub fn fields(rows: &[(&str, String)]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    for (name, value) in rows {
        t.add_row([name.to_string(), value.clone()]);
    }
    t.to_string()
}

/// An RFC 3339 time without its fractional seconds, in UTC; anything that
/// does not parse is shown as it came.
pub fn time(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) => d
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%SZ")
            .to_string(),
        Err(_) => t.to_string(),
    }
}

pub fn opt_time(t: Option<&str>) -> String {
    t.map(time).unwrap_or_else(|| "-".into())
}

pub fn opt(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".into(),
    }
}

/// The line under a page: how many, and how to get the next page when
/// there may be one.
pub fn page_footer(
    noun: &str,
    shown: usize,
    offset: u64,
    limit: u64,
    total: Option<u64>,
) -> String {
    let plural = if shown == 1 { "" } else { "s" };
    let next = offset + shown as u64;
    match total {
        Some(total) if next < total => {
            format!("{shown} {noun}{plural} of {total}; the next page: --offset {next}")
        }
        Some(total) if offset > 0 || shown as u64 != total => {
            format!("{shown} {noun}{plural} of {total}")
        }
        Some(_) => format!("{shown} {noun}{plural}"),
        None if shown as u64 == limit && shown > 0 => {
            format!("{shown} {noun}{plural}; there may be more: --offset {next}")
        }
        None => format!("{shown} {noun}{plural}"),
    }
}

/// A number with thousands separators, for counts people compare.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            time("2025-03-30T01:02:03.456+02:00"),
            "2025-03-29 23:02:03Z"
        );
        assert_eq!(time("not a time"), "not a time");
        assert_eq!(opt_time(None), "-");
    }

    #[test]
    fn counts() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }

    #[test]
    fn footers() {
        assert_eq!(page_footer("job", 1, 0, 50, None), "1 job");
        assert_eq!(
            page_footer("job", 50, 0, 50, None),
            "50 jobs; there may be more: --offset 50"
        );
        assert_eq!(
            page_footer("element", 2, 0, 2, Some(5)),
            "2 elements of 5; the next page: --offset 2"
        );
        assert_eq!(page_footer("element", 5, 0, 50, Some(5)), "5 elements");
        assert_eq!(page_footer("element", 0, 0, 50, Some(0)), "0 elements");
    }
}
