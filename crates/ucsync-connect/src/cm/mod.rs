//! The CM connector: SAT/OSSI over SSH, through the `ucsync-sat` client.

pub mod catalog;
pub mod history;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::StreamExt;
use tokio::sync::mpsc;
use ucsync_core::{Fields, Object, ObjectId};
use ucsync_ossi::wellknown::{history as hist, time};
use ucsync_ossi::{ErrorKind, FieldId, Record, Request, Value};
use ucsync_sat::{SatClient, SatConfig, SatError};

use self::catalog::{Catalog, CmType};
use self::history::{CmPoint, HistoryRow, RowOutcome, classify, row_key, rows_since};
use crate::{
    Cause, ChangeItem, ChangeSet, ConnectError, Connector, ElementEvent, EventMeaning, ReadEvent,
    Result, WriteOp,
};

/// A connector to one CM.
pub struct CmConnector {
    client: SatClient,
    catalog: Arc<Catalog>,
}

impl std::fmt::Debug for CmConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmConnector")
            .field("client", &self.client)
            .finish()
    }
}

fn fields_of(r: &Record) -> Fields {
    Fields::new(
        r.iter()
            .map(|(f, v)| (f.to_string(), v.to_string()))
            .collect(),
    )
}

impl CmConnector {
    pub async fn connect(cfg: SatConfig, catalog: Arc<Catalog>) -> Result<CmConnector> {
        Ok(CmConnector {
            client: SatClient::connect(cfg).await?,
            catalog,
        })
    }

    pub fn client(&self) -> &SatClient {
        &self.client
    }

    /// The host key the CM presented.
    pub fn fingerprint(&self) -> &str {
        self.client.fingerprint()
    }

    fn cm_type(&self, object_type: &str) -> Result<&CmType> {
        self.catalog
            .by_type(object_type)
            .ok_or_else(|| ConnectError::UnknownType(object_type.to_string()))
    }

    fn in_flight(&self) -> usize {
        let c = self.client.config();
        c.window.max(1) * c.sessions.max(1)
    }

    /// The CM's clock, from `display time`.
    async fn clock(&self) -> Result<chrono::NaiveDateTime> {
        let r = self
            .client
            .run(&Request::select("display time", &time::ALL)?)
            .await?;
        let rec = r
            .records
            .first()
            .ok_or_else(|| ConnectError::protocol("display time returned nothing"))?;
        let n = |f: FieldId| rec.get(f).and_then(|v| v.trim().parse::<u32>().ok());
        let t = (|| {
            NaiveDate::from_ymd_opt(n(time::YEAR)? as i32, n(time::MONTH)?, n(time::DAY)?)?
                .and_hms_opt(n(time::HOUR)?, n(time::MINUTE)?, n(time::SECOND)?)
        })();
        t.ok_or_else(|| ConnectError::protocol("display time returned no valid date"))
    }

    async fn history(&self) -> Result<Vec<HistoryRow>> {
        let r = self
            .client
            .run(&Request::select("list history", &hist::ALL)?)
            .await?;
        Ok(r.records.iter().map(HistoryRow::from_record).collect())
    }

    async fn keys(&self, t: &CmType) -> Result<Vec<String>> {
        let key = t.key.expect("keyed type");
        let r = self
            .client
            .run(&Request::select(&format!("list {}", t.words), &[key])?)
            .await?;
        Ok(r.records
            .iter()
            .filter_map(|r| r.get(key).map(str::to_string))
            .collect())
    }

    async fn display(&self, t: &CmType, key: &str) -> Result<Option<Object>> {
        let cmd = if t.key.is_some() {
            format!("display {} {key}", t.words)
        } else {
            format!("display {}", t.words)
        };
        match self.client.command(&cmd).await {
            Ok(r) => Ok(r.records.first().map(|rec| Object {
                id: ObjectId::new(&t.object_type, key),
                fields: fields_of(rec),
            })),
            Err(SatError::Command { error, .. }) if error.kind() == ErrorKind::NotAssigned => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The keys of a type (`list`), or the one empty key of a single form.
    async fn keys_of(&self, t: &CmType) -> Result<Vec<String>> {
        match t.key {
            Some(_) => self.keys(t).await,
            None => Ok(vec![String::new()]),
        }
    }

    async fn expect(t: &CmType, keys: &[String], out: &mpsc::Sender<ReadEvent>) -> Result<()> {
        out.send(ReadEvent::Expect {
            object_type: t.object_type.clone(),
            count: keys.len() as u64,
        })
        .await
        .map_err(|_| ConnectError::protocol("the reader stopped"))
    }

    /// Displays the objects of a type, given its keys.
    async fn display_all(
        &self,
        t: &CmType,
        keys: Vec<String>,
        out: &mpsc::Sender<ReadEvent>,
    ) -> Result<()> {
        let closed = || ConnectError::protocol("the reader stopped");
        let mut shown = futures::stream::iter(keys)
            .map(|k| async move { self.display(t, &k).await })
            .buffered(self.in_flight());
        while let Some(r) = shown.next().await {
            // An object removed between `list` and `display` is simply gone.
            if let Some(obj) = r? {
                out.send(ReadEvent::Object(obj))
                    .await
                    .map_err(|_| closed())?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for CmConnector {
    async fn version(&self) -> Result<String> {
        let v = &self.catalog.version;
        let r = self
            .client
            .run(&Request::select(
                &format!("display {}", v.form),
                &[v.field],
            )?)
            .await?;
        r.records
            .first()
            .and_then(|r| r.get(v.field))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| ConnectError::protocol("the CM reported no software version"))
    }

    async fn sync_point(&self) -> Result<String> {
        let now = self.clock().await?;
        let rows = self.history().await?;
        Ok(CmPoint::new(now, &rows).to_text())
    }

    async fn read_all(&self, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        // Every type is listed before any is displayed, so that progress
        // knows every total from the start (the lists are a small part of
        // the reading).
        let types = &self.catalog.types;
        let mut listed: Vec<Vec<String>> = Vec::with_capacity(types.len());
        for t in types {
            listed.push(self.keys_of(t).await?);
        }
        for (t, keys) in types.iter().zip(&listed) {
            Self::expect(t, keys, &out).await?;
        }
        for (t, keys) in types.iter().zip(listed) {
            self.display_all(t, keys, &out).await?;
        }
        Ok(())
    }

    async fn read_type(&self, object_type: &str, out: mpsc::Sender<ReadEvent>) -> Result<()> {
        let t = self.cm_type(object_type)?.clone();
        let keys = self.keys_of(&t).await?;
        Self::expect(&t, &keys, &out).await?;
        self.display_all(&t, keys, &out).await
    }

    async fn changes_since(&self, point: &str, own_logins: &[String]) -> Result<ChangeSet> {
        self.changes_since_notified(point, own_logins, &[]).await
    }

    fn classify_event(&self, event: &ElementEvent, own_logins: &[String]) -> EventMeaning {
        history::classify_event(event, own_logins, &self.catalog)
    }

    async fn changes_since_notified(
        &self,
        point: &str,
        own_logins: &[String],
        notified: &[String],
    ) -> Result<ChangeSet> {
        // Each applied event stands for one row: a key given once skips one row.
        let mut budget: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for k in notified {
            *budget.entry(k.as_str()).or_default() += 1;
        }
        let prev = CmPoint::parse(point).ok_or_else(|| {
            ConnectError::protocol("the stored sync point is not a CM history point")
        })?;
        // The new point comes first, from the same reading of the history.
        let now = self.clock().await?;
        let rows = self.history().await?;
        let new_point = CmPoint::new(now, &rows).to_text();
        let (new, wrapped) = rows_since(&rows, &prev, now);
        let mut set = ChangeSet {
            new_point,
            ..ChangeSet::default()
        };
        set.summary.log_wrapped = wrapped;
        // Oldest first, so the log reads in the order things happened.
        for row in new.iter().rev() {
            match classify(row, own_logins, &self.catalog) {
                RowOutcome::Session => set.skipped.push(format!(
                    "{}: a login or logoff, not a data command",
                    row.line()
                )),
                RowOutcome::Skip(why) => {
                    set.data_rows_skipped += 1;
                    set.skipped.push(format!("{}: {why}", row.line()));
                }
                RowOutcome::NeedsInit(form) => {
                    set.summary.rows_to_apply += 1;
                    if !set.summary.needs_init.contains(&form) {
                        set.summary.needs_init.push(form);
                    }
                }
                RowOutcome::Apply(items) => {
                    let outcome = RowOutcome::Apply(items);
                    let left = row_key(row, &outcome)
                        .and_then(|k| budget.get_mut(k.as_str()))
                        .filter(|n| **n > 0);
                    if let Some(n) = left {
                        *n -= 1;
                        set.notified_rows_skipped += 1;
                        set.skipped
                            .push(format!("{}: already applied by notify sync", row.line()));
                        continue;
                    }
                    let RowOutcome::Apply(items) = outcome else {
                        unreachable!("built above")
                    };
                    set.summary.rows_to_apply += 1;
                    set.items.extend(items);
                }
            }
        }
        Ok(set)
    }

    async fn read_one(&self, id: &ObjectId) -> Result<Option<Object>> {
        let t = self.cm_type(&id.object_type)?.clone();
        self.display(&t, &id.key).await
    }

    async fn write_one(&self, op: &WriteOp) -> Result<Option<Object>> {
        let (verb, id, fields) = match op {
            WriteOp::Add { id, fields } => ("add", id, Some(fields)),
            WriteOp::Change { id, fields } => ("change", id, Some(fields)),
            WriteOp::Remove { id } => ("remove", id, None),
        };
        let t = self.cm_type(&id.object_type)?.clone();
        t.key_grammar().check(&t.object_type, &id.key)?;
        let cmd = if t.key.is_some() {
            format!("{verb} {} {}", t.words, id.key)
        } else {
            format!("{verb} {}", t.words)
        };
        let mut pairs = Vec::new();
        for (f, v) in fields.into_iter().flat_map(|f| f.iter()) {
            let fid = FieldId::parse(f).map_err(|e| ConnectError::refused(e.to_string()))?;
            pairs.push((
                fid,
                if v.is_empty() {
                    Value::Clear
                } else {
                    Value::Set(v.to_string())
                },
            ));
        }
        self.client.run(&Request::write(&cmd, &pairs)?).await?;
        if verb == "remove" {
            Ok(None)
        } else {
            self.display(&t, &id.key).await
        }
    }

    fn secret_fields(&self, object_type: &str) -> Vec<String> {
        self.catalog
            .by_type(object_type)
            .map(|t| t.secret.iter().map(|f| f.to_string()).collect())
            .unwrap_or_default()
    }

    fn display_name(&self, object: &Object) -> Option<String> {
        let t = self.catalog.by_type(&object.id.object_type)?;
        object
            .fields
            .get(&t.name?.to_string())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    fn fingerprint(&self) -> Option<String> {
        Some(self.client.fingerprint().to_string())
    }

    async fn close(&self) {
        self.client.close().await;
    }
}

impl From<ucsync_ossi::ValueError> for ConnectError {
    fn from(e: ucsync_ossi::ValueError) -> Self {
        ConnectError::Refused(Cause::of(e))
    }
}

/// The SAT client's failures as every connector's, the client's error kept.
impl From<SatError> for ConnectError {
    fn from(e: SatError) -> Self {
        match &e {
            SatError::Connect { .. } => ConnectError::Unreachable(Cause::of(e).unsent()),
            SatError::Timeout { .. } => ConnectError::Unreachable(Cause::of(e)),
            SatError::AuthFailed { .. } => ConnectError::LoginRefused(Cause::of(e)),
            SatError::HostKeyMismatch { .. } => ConnectError::IdentityMismatch(Cause::of(e)),
            SatError::Command { .. } | SatError::InvalidRequest(_) => {
                ConnectError::Refused(Cause::of(e))
            }
            // The CM answered, but has no session for ucsync: nothing was sent.
            SatError::ResourcesUnavailable { .. } => ConnectError::Protocol(Cause::of(e).unsent()),
            SatError::NotSsh { .. }
            | SatError::Ssh { .. }
            | SatError::Protocol { .. }
            | SatError::ConnectionLost { .. }
            | SatError::Closed { .. } => ConnectError::Protocol(Cause::of(e)),
        }
    }
}

/// So the engine can log what it skipped: `ChangeItem` as text.
pub fn describe(item: &ChangeItem) -> String {
    match item {
        ChangeItem::Object {
            id,
            by_login: Some(l),
            at_element: Some(at),
        } => format!("{id} (by {l} at {at})"),
        ChangeItem::Object { id, .. } => id.to_string(),
        ChangeItem::Type { object_type, why } => format!("every {object_type} ({why})"),
    }
}
