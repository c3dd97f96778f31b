//! Small pieces the client's tables share: the table style and width,
//! listings (truncated to the terminal, or CSV), times, empty cells, and
//! the line under a page of a listing.

use std::fmt;
use std::sync::OnceLock;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// The width tables are fitted to; none (the default, and in tests): as
/// wide as their content.
static WIDTH: OnceLock<Option<u16>> = OnceLock::new();

/// Fits the tables printed from now on to `COLUMNS`, else to the terminal
/// standard output is; printed to a file or a pipe they keep their full
/// width.
pub(super) fn fit_to_terminal() {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c >= 20);
    // A new table knows the terminal's width when standard output is one.
    let _ = WIDTH.set(columns.or_else(|| Table::new().width()));
}

fn width() -> Option<u16> {
    WIDTH.get().copied().flatten()
}

fn styled() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    // The width is chosen once, by `fit_to_terminal`, not per table.
    t.force_no_tty();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_truncation_indicator("…");
    if let Some(w) = width() {
        t.set_width(w);
    }
    t
}

/// A table with a header, in the style of the other subcommands; a cell
/// too long for the terminal wraps.
pub(super) fn table(header: &[&str]) -> Table {
    let mut t = styled();
    t.set_header(header.iter().copied());
    t
}

/// A two-column table of names and values, for one item; a long value (an
/// error) wraps.
pub(super) fn fields(rows: &[(&str, String)]) -> String {
    fields_in(rows, width())
}

/// [`fields`] fitted to a width, or not.
pub(super) fn fields_in(rows: &[(&str, String)], width: Option<u16>) -> String {
    let mut t = styled();
    if let Some(w) = width {
        t.set_width(w);
    }
    for (name, value) in rows {
        t.add_row([name.to_string(), value.clone()]);
    }
    t.to_string()
}

/// A page of a listing: a row per item, cut to one line each on a narrow
/// terminal (`…` marks a cut; `--output json` or `csv` has the full text),
/// and the line under it.
pub(crate) struct Listing {
    table: Table,
    footer: String,
}

pub(super) fn listing(table: Table, footer: String) -> Listing {
    Listing { table, footer }
}

impl Listing {
    /// The same rows as CSV, with the header, every cell in full.
    pub(crate) fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let row =
            |r: &comfy_table::Row| -> Vec<String> { r.cell_iter().map(|c| c.content()).collect() };
        if let Some(h) = self.table.header() {
            let _ = w.write_record(row(h));
        }
        for r in self.table.row_iter() {
            let _ = w.write_record(row(r));
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }

    /// The table and its footer, each row cut to one line to fit a width.
    pub(crate) fn fitted(&self, width: Option<u16>) -> String {
        let mut table = self.table.clone();
        if let Some(w) = width {
            table.set_width(w);
            for r in table.row_iter_mut() {
                r.max_height(1);
            }
        }
        format!("{table}\n{}", self.footer)
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fitted(width()))
    }
}

/// An RFC 3339 time without its fractional seconds, in UTC; anything that
/// does not parse is shown as it came.
pub(super) fn time(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) => d
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%SZ")
            .to_string(),
        Err(_) => t.to_string(),
    }
}

pub(super) fn opt_time(t: Option<&str>) -> String {
    t.map(time).unwrap_or_else(|| "-".into())
}

pub(super) fn opt(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".into(),
    }
}

/// The line under a page: how many, and how to get the next page when
/// there may be one.
pub(super) fn page_footer(
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
pub(super) fn count(n: u64) -> String {
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
    fn listings_are_cut_to_the_width_and_csv_is_whole() {
        let mut t = table(&["NAME", "ERROR"]);
        let long = "the CM refused the login: check the element's login and password";
        t.add_row(["cm1", long]);
        let l = listing(t, "1 element".into());
        let narrow = l.fitted(Some(40));
        for line in narrow.lines() {
            assert!(line.chars().count() <= 40, "{line:?} in\n{narrow}");
        }
        assert!(narrow.contains('…'), "{narrow}");
        assert!(narrow.ends_with("\n1 element"), "{narrow}");
        // Without a width, and as CSV, every cell is whole.
        assert!(l.fitted(None).contains(long));
        assert_eq!(l.csv(), format!("NAME,ERROR\ncm1,{long}"));
    }

    #[test]
    fn fields_wrap_long_values() {
        let long = "the CM refused the login: check the element's login and password";
        let text = fields_in(&[("error", long.to_string())], Some(40));
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
        assert!(!text.contains('…'), "{text}");
        let words: String = text
            .lines()
            .filter_map(|l| l.split('┆').nth(1))
            .map(|c| c.trim_end_matches(['│', ' ']).trim())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(words, long, "{text}");
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
