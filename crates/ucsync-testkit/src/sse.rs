//! Server-sent events as a test reads them: `GET /api/v1/events`, read
//! until what was read is enough.

use std::time::Duration;

use serde_json::Value;

/// Reads server-sent events from `resp` until `until` says stop (at most a
/// minute); returns each event's name and data, in order.
pub async fn read_events(
    resp: &mut reqwest::Response,
    mut until: impl FnMut(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !until(&events) {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}
