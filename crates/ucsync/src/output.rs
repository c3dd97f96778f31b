//! Printing records as a table, CSV or JSON.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ucsync_ossi::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
}

/// The records of one command, with the header taken from the first record.
pub(crate) fn table(records: &[Record]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    if let Some(first) = records.first() {
        t.set_header(first.fields().iter().map(|f| f.to_string()));
    }
    for r in records {
        t.add_row(r.values());
    }
    t.to_string()
}

pub(crate) fn csv(out: &mut impl Write, records: &[Record]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    if let Some(first) = records.first() {
        w.write_record(first.fields().iter().map(|f| f.to_string()))?;
    }
    for r in records {
        w.write_record(r.values())?;
    }
    w.flush()?;
    Ok(())
}

pub(crate) fn json_records(records: &[Record]) -> serde_json::Value {
    serde_json::Value::Array(
        records
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    r.iter()
                        .map(|(f, v)| (f.to_string(), serde_json::Value::String(v.to_string())))
                        .collect(),
                )
            })
            .collect(),
    )
}
