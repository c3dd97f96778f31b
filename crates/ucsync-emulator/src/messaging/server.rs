//! The LDAP side of the messaging emulator: one task per connection, the
//! `ldap3_proto` codec for the protocol, the directory behind a lock.

use std::sync::{Arc, Mutex, RwLock};

use futures::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedResponse, LdapFilter, LdapModifyType, LdapMsg,
    LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
    LdapSearchResultEntry, LdapSearchScope,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use super::directory::{Change, Directory, Entry, normalize_dn};

/// Faults to inject, per connection; read when a connection starts, so a
/// test can change them between connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Drop the connection after sending this many search entries.
    pub cut_after_entries: Option<u64>,
    /// Stop answering after this many search entries, keeping the connection open.
    pub stall_after_entries: Option<u64>,
    /// Send a garbled message in place of every N-th search entry.
    pub garble_every: Option<u64>,
    /// Answer every bind with `busy` (the directory is not accepting logins).
    pub refuse_binds: bool,
}

pub(super) struct Shared {
    pub dir: RwLock<Directory>,
    pub logins: Vec<(String, String)>,
    pub faults: Mutex<Faults>,
    pub size_limit: usize,
    pub version: String,
    pub state_file: Option<std::path::PathBuf>,
}

/// An entry's attributes: (name, values), in the order they are sent.
type Attrs = Vec<(String, Vec<String>)>;

/// What one entry looks like in a search result.
fn result_entry(dn: String, attrs: Vec<(String, Vec<String>)>) -> LdapSearchResultEntry {
    LdapSearchResultEntry {
        dn,
        attributes: attrs
            .into_iter()
            .map(|(atype, vals)| LdapPartialAttribute {
                atype,
                vals: vals.into_iter().map(String::into_bytes).collect(),
            })
            .collect(),
    }
}

fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

/// A subscriber with its operational attributes, as (name, values).
fn full(dir: &Directory, e: &Entry) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = vec![(
        "objectClass".into(),
        vec!["top".into(), dir.layout.object_class.into()],
    )];
    v.extend(e.attrs.iter().map(|(a, vals)| (a.clone(), vals.clone())));
    v.push(("createTimestamp".into(), vec![ts(&e.created)]));
    v.push(("modifyTimestamp".into(), vec![ts(&e.modified)]));
    v.push(("creatorsName".into(), vec![e.creator.clone()]));
    v.push(("modifiersName".into(), vec![e.modifier.clone()]));
    v
}

const OPERATIONAL: &[&str] = &[
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
];

/// The attributes a search asked for: `*` all user attributes, `+` all
/// operational ones, names by name; none named means `*`.
fn select(all: Vec<(String, Vec<String>)>, asked: &[String]) -> Vec<(String, Vec<String>)> {
    let star = asked.is_empty() || asked.iter().any(|a| a == "*");
    let plus = asked.iter().any(|a| a == "+");
    all.into_iter()
        .filter(|(a, _)| {
            let op = OPERATIONAL.iter().any(|o| o.eq_ignore_ascii_case(a));
            (star && !op) || (plus && op) || asked.iter().any(|x| x.eq_ignore_ascii_case(a))
        })
        .collect()
}

fn values<'a>(attrs: &'a [(String, Vec<String>)], name: &str) -> Option<&'a Vec<String>> {
    attrs
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Orders two values as their syntax does: times, numbers, or text.
fn order(attr: &str, a: &str, b: &str) -> Option<std::cmp::Ordering> {
    if attr.to_ascii_lowercase().ends_with("timestamp") {
        let norm = |s: &str| {
            let s = s.trim().trim_end_matches('Z');
            s.split('.').next().map(str::to_string)
        };
        return Some(norm(a)?.cmp(&norm(b)?));
    }
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => Some(x.cmp(&y)),
        _ => Some(a.to_lowercase().cmp(&b.to_lowercase())),
    }
}

pub(super) fn matches(f: &LdapFilter, attrs: &[(String, Vec<String>)]) -> bool {
    match f {
        LdapFilter::And(fs) => fs.iter().all(|f| matches(f, attrs)),
        LdapFilter::Or(fs) => fs.iter().any(|f| matches(f, attrs)),
        LdapFilter::Not(f) => !matches(f, attrs),
        LdapFilter::Present(a) => values(attrs, a).is_some(),
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => {
            values(attrs, a).is_some_and(|vals| vals.iter().any(|x| x.eq_ignore_ascii_case(v)))
        }
        LdapFilter::GreaterOrEqual(a, v) => values(attrs, a).is_some_and(|vals| {
            vals.iter()
                .any(|x| order(a, x, v).is_some_and(|o| o != std::cmp::Ordering::Less))
        }),
        LdapFilter::LessOrEqual(a, v) => values(attrs, a).is_some_and(|vals| {
            vals.iter()
                .any(|x| order(a, x, v).is_some_and(|o| o != std::cmp::Ordering::Greater))
        }),
        LdapFilter::Substring(a, s) => values(attrs, a).is_some_and(|vals| {
            vals.iter().any(|x| {
                let x = x.to_lowercase();
                let mut rest = x.as_str();
                if let Some(i) = &s.initial {
                    match rest.strip_prefix(i.to_lowercase().as_str()) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                }
                for any in &s.any {
                    match rest.find(any.to_lowercase().as_str()) {
                        Some(p) => rest = &rest[p + any.len()..],
                        None => return false,
                    }
                }
                s.final_
                    .as_ref()
                    .is_none_or(|f| rest.ends_with(f.to_lowercase().as_str()))
            })
        }),
        LdapFilter::Extensible(_) => false,
    }
}

/// The key a filter requires, when it requires one (`(key=v)` alone or
/// within an `&`).
fn key_equality<'f>(f: &'f LdapFilter, key: &str) -> Option<&'f String> {
    match f {
        LdapFilter::Equality(a, v) if a.eq_ignore_ascii_case(key) => Some(v),
        LdapFilter::And(fs) => fs.iter().find_map(|f| key_equality(f, key)),
        _ => None,
    }
}

fn result(code: LdapResultCode, message: impl Into<String>) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

fn code(n: u8) -> LdapResultCode {
    match n {
        17 => LdapResultCode::UndefinedAttributeType,
        32 => LdapResultCode::NoSuchObject,
        64 => LdapResultCode::NamingViolation,
        65 => LdapResultCode::ObjectClassViolation,
        67 => LdapResultCode::NotALlowedOnRDN,
        68 => LdapResultCode::EntryAlreadyExists,
        _ => LdapResultCode::Other,
    }
}

/// What a search sends back: entries, then the done message with its controls.
struct SearchAnswer {
    entries: Vec<LdapSearchResultEntry>,
    done: LdapResult,
    ctrl: Vec<LdapControl>,
}

impl Shared {
    fn bound(&self, dn: &str) -> bool {
        !dn.is_empty()
    }

    fn root_dse(&self, dir: &Directory) -> Vec<(String, Vec<String>)> {
        vec![
            ("objectClass".into(), vec!["top".into()]),
            ("namingContexts".into(), vec![dir.layout.suffix.into()]),
            ("supportedLDAPVersion".into(), vec!["3".into()]),
            (
                "supportedControl".into(),
                vec!["1.2.840.113556.1.4.319".into()],
            ),
            (
                "vendorName".into(),
                vec![format!("{} (emulated by ucsync)", dir.layout.label)],
            ),
            ("vendorVersion".into(), vec![self.version.clone()]),
            ("currentTime".into(), vec![ts(&dir.now())]),
        ]
    }

    fn search(&self, req: &LdapSearchRequest, ctrl: &[LdapControl], who: &str) -> SearchAnswer {
        let dir = self.dir.read().expect("directory");
        let base = normalize_dn(&req.base);
        let paged = ctrl.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let mut answer = SearchAnswer {
            entries: Vec::new(),
            done: result(LdapResultCode::Success, ""),
            ctrl: Vec::new(),
        };
        if base.is_empty() && req.scope == LdapSearchScope::Base {
            let attrs = self.root_dse(&dir);
            if matches(&req.filter, &attrs) {
                let asked =
                    if req.attrs.is_empty() || req.attrs.iter().any(|a| a == "*" || a == "+") {
                        attrs
                    } else {
                        attrs
                            .into_iter()
                            .filter(|(a, _)| req.attrs.iter().any(|x| x.eq_ignore_ascii_case(a)))
                            .collect()
                    };
                answer.entries.push(result_entry(String::new(), asked));
            }
            return answer;
        }
        if !self.bound(who) {
            answer.done = result(
                LdapResultCode::InsufficentAccessRights,
                "bind first: anonymous users may read the root DSE only",
            );
            return answer;
        }
        let suffix = normalize_dn(dir.layout.suffix);
        let sub_base = normalize_dn(dir.layout.base);
        // The two containers above the subscribers, then the subscribers.
        let containers: [(String, Attrs); 2] = [
            (
                dir.layout.suffix.to_string(),
                vec![
                    (
                        "objectClass".into(),
                        vec!["top".into(), "organization".into()],
                    ),
                    (
                        "o".into(),
                        vec![dir.layout.suffix.trim_start_matches("o=").into()],
                    ),
                ],
            ),
            (
                dir.layout.base.to_string(),
                vec![
                    (
                        "objectClass".into(),
                        vec!["top".into(), "organizationalUnit".into()],
                    ),
                    ("ou".into(), vec!["subscribers".into()]),
                ],
            ),
        ];
        let in_scope = |dn_norm: &str, depth_below_suffix: usize| -> bool {
            let base_depth = if base == suffix {
                0
            } else if base == sub_base {
                1
            } else {
                2
            };
            let under = dn_norm == base || dn_norm.ends_with(&format!(",{base}"));
            if !under {
                return false;
            }
            match req.scope {
                LdapSearchScope::Base => dn_norm == base,
                LdapSearchScope::OneLevel => depth_below_suffix == base_depth + 1,
                LdapSearchScope::Subtree => true,
                LdapSearchScope::Children => dn_norm != base,
            }
        };
        if base != suffix && base != sub_base && dir.key_of_dn(&req.base).is_none() {
            answer.done = result(LdapResultCode::NoSuchObject, "no such object");
            answer.done.matcheddn = if base.ends_with(&suffix) {
                dir.layout.suffix.into()
            } else {
                String::new()
            };
            return answer;
        }
        let (page_size, start) = match &paged {
            Some((size, cookie)) => (
                if *size <= 0 {
                    usize::MAX
                } else {
                    *size as usize
                },
                (!cookie.is_empty()).then(|| String::from_utf8_lossy(cookie).to_string()),
            ),
            None => (usize::MAX, None),
        };
        let limit = if paged.is_some() {
            usize::MAX
        } else if req.sizelimit > 0 {
            (req.sizelimit as usize).min(self.size_limit)
        } else {
            self.size_limit
        };
        let mut sent = 0usize;
        let mut push =
            |answer: &mut SearchAnswer, dn: String, attrs: Vec<(String, Vec<String>)>| -> bool {
                if sent >= limit {
                    return false;
                }
                answer
                    .entries
                    .push(result_entry(dn, select(attrs, &req.attrs)));
                sent += 1;
                true
            };
        if start.is_none() {
            for (depth, (dn, attrs)) in containers.into_iter().enumerate() {
                if in_scope(&normalize_dn(&dn), depth) && matches(&req.filter, &attrs) {
                    push(&mut answer, dn, attrs);
                }
            }
        }
        // A filter that names one key reads that entry, not the directory.
        let one = key_equality(&req.filter, dir.layout.key);
        let range: Box<dyn Iterator<Item = (&String, &Entry)>> = match (&start, one) {
            (_, Some(k)) => Box::new(dir.subscribers.get_key_value(k.as_str()).into_iter()),
            (Some(after), None) => Box::new(dir.subscribers.range::<String, _>((
                std::ops::Bound::Excluded(after),
                std::ops::Bound::Unbounded,
            ))),
            (None, None) => Box::new(dir.subscribers.iter()),
        };
        let mut last: Option<String> = None;
        let mut more = false;
        let mut in_page = 0usize;
        let mut over = false;
        for (key, e) in range {
            let dn = dir.dn_of(key);
            if !in_scope(&normalize_dn(&dn), 2) {
                continue;
            }
            let attrs = full(&dir, e);
            if !matches(&req.filter, &attrs) {
                continue;
            }
            if in_page >= page_size {
                more = true;
                break;
            }
            if !push(&mut answer, dn, attrs) {
                over = true;
                break;
            }
            in_page += 1;
            last = Some(key.clone());
        }
        if over {
            answer.done = result(LdapResultCode::SizeLimitExceeded, "size limit exceeded");
        }
        if paged.is_some() {
            let cookie = if more {
                last.unwrap_or_default().into_bytes()
            } else {
                Vec::new()
            };
            answer
                .ctrl
                .push(LdapControl::SimplePagedResults { size: 0, cookie });
        }
        answer
    }

    fn persist(&self, dir: &Directory) {
        if let Some(p) = &self.state_file
            && let Err(e) = dir.save(p)
        {
            tracing::warn!(error = %e, path = %p.display(), "cannot save the directory");
        }
    }
}

fn vals(a: &LdapPartialAttribute) -> Vec<String> {
    a.vals
        .iter()
        .map(|v| String::from_utf8_lossy(v).to_string())
        .collect()
}

/// Serves one connection until the client unbinds or goes away.
pub(super) async fn serve<S>(shared: Arc<Shared>, stream: S, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let faults = *shared.faults.lock().expect("faults");
    let (r, w) = tokio::io::split(stream);
    let mut reqs = FramedRead::new(r, LdapCodec::new(Some(4 * 1024 * 1024), None));
    let mut resp = FramedWrite::new(w, LdapCodec::default());
    let mut who = String::new();
    let mut entries_sent: u64 = 0;
    loop {
        let msg = tokio::select! {
            m = reqs.next() => m,
            _ = cancel.cancelled() => return,
        };
        let Some(Ok(msg)) = msg else { return };
        let id = msg.msgid;
        let reply = |op: LdapOp| LdapMsg {
            msgid: id,
            op,
            ctrl: Vec::new(),
        };
        let out: Vec<LdapMsg> = match msg.op {
            LdapOp::BindRequest(b) => {
                let res = match &b.cred {
                    _ if faults.refuse_binds => result(
                        LdapResultCode::Busy,
                        "the directory is busy: try again later",
                    ),
                    LdapBindCred::Simple(pw) if b.dn.is_empty() && pw.is_empty() => {
                        who.clear();
                        result(LdapResultCode::Success, "")
                    }
                    LdapBindCred::Simple(pw)
                        if shared
                            .logins
                            .iter()
                            .any(|(dn, p)| normalize_dn(dn) == normalize_dn(&b.dn) && p == pw) =>
                    {
                        who = b.dn.clone();
                        result(LdapResultCode::Success, "")
                    }
                    LdapBindCred::Simple(_) => {
                        who.clear();
                        result(LdapResultCode::InvalidCredentials, "invalid credentials")
                    }
                    _ => result(
                        LdapResultCode::AuthMethodNotSupported,
                        "only simple binds are supported",
                    ),
                };
                vec![reply(LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }))]
            }
            LdapOp::UnbindRequest => return,
            LdapOp::AbandonRequest(_) => continue,
            LdapOp::SearchRequest(req) => {
                let a = shared.search(&req, &msg.ctrl, &who);
                let mut out: Vec<LdapMsg> = a
                    .entries
                    .into_iter()
                    .map(|e| reply(LdapOp::SearchResultEntry(e)))
                    .collect();
                out.push(LdapMsg {
                    msgid: id,
                    op: LdapOp::SearchResultDone(a.done),
                    ctrl: a.ctrl,
                });
                out
            }
            LdapOp::AddRequest(add) if shared.bound(&who) => {
                let attrs: Vec<(String, Vec<String>)> = add
                    .attributes
                    .iter()
                    .map(|a| (a.atype.clone(), vals(a)))
                    .collect();
                let mut dir = shared.dir.write().expect("directory");
                let r = dir.add(&add.dn, &attrs, &who);
                if r.is_ok() {
                    shared.persist(&dir);
                }
                vec![reply(LdapOp::AddResponse(match r {
                    Ok(()) => result(LdapResultCode::Success, ""),
                    Err(e) => result(code(e.code), e.text),
                }))]
            }
            LdapOp::ModifyRequest(m) if shared.bound(&who) => {
                let changes: Vec<Change> = m
                    .changes
                    .iter()
                    .map(|c| {
                        let (a, v) = (c.modification.atype.clone(), vals(&c.modification));
                        match c.operation {
                            LdapModifyType::Add => Change::Add(a, v),
                            LdapModifyType::Delete => Change::Delete(a, v),
                            _ => Change::Replace(a, v),
                        }
                    })
                    .collect();
                let mut dir = shared.dir.write().expect("directory");
                let r = dir.modify(&m.dn, &changes, &who);
                if r.is_ok() {
                    shared.persist(&dir);
                }
                vec![reply(LdapOp::ModifyResponse(match r {
                    Ok(()) => result(LdapResultCode::Success, ""),
                    Err(e) => result(code(e.code), e.text),
                }))]
            }
            LdapOp::DelRequest(dn) if shared.bound(&who) => {
                let mut dir = shared.dir.write().expect("directory");
                let r = dir.delete(&dn);
                if r.is_ok() {
                    shared.persist(&dir);
                }
                vec![reply(LdapOp::DelResponse(match r {
                    Ok(()) => result(LdapResultCode::Success, ""),
                    Err(e) => result(code(e.code), e.text),
                }))]
            }
            LdapOp::AddRequest(_) => vec![reply(LdapOp::AddResponse(result(
                LdapResultCode::InsufficentAccessRights,
                "bind first",
            )))],
            LdapOp::ModifyRequest(_) => vec![reply(LdapOp::ModifyResponse(result(
                LdapResultCode::InsufficentAccessRights,
                "bind first",
            )))],
            LdapOp::DelRequest(_) => vec![reply(LdapOp::DelResponse(result(
                LdapResultCode::InsufficentAccessRights,
                "bind first",
            )))],
            LdapOp::ExtendedRequest(_) => {
                vec![reply(LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res: result(
                        LdapResultCode::ProtocolError,
                        "no extended operation is supported",
                    ),
                    name: None,
                    value: None,
                }))]
            }
            _ => vec![reply(LdapOp::ExtendedResponse(LdapExtendedResponse {
                res: result(
                    LdapResultCode::UnwillingToPerform,
                    "operation not supported",
                ),
                name: None,
                value: None,
            }))],
        };
        for m in out {
            if matches!(m.op, LdapOp::SearchResultEntry(_)) {
                entries_sent += 1;
                if faults.cut_after_entries.is_some_and(|n| entries_sent > n) {
                    let _ = resp.flush().await;
                    return;
                }
                if faults.stall_after_entries.is_some_and(|n| entries_sent > n) {
                    let _ = resp.flush().await;
                    cancel.cancelled().await;
                    return;
                }
                if faults
                    .garble_every
                    .is_some_and(|n| n > 0 && entries_sent % n == 0)
                {
                    let _ = resp.flush().await;
                    // A SEQUENCE whose message id is an OCTET STRING: no
                    // LDAP message at all.
                    let w = resp.get_mut();
                    if w.write_all(&[0x30, 0x05, 0x04, 0x03, b'?', b'?', b'?'])
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
            if resp.feed(m).await.is_err() {
                return;
            }
        }
        if resp.flush().await.is_err() {
            return;
        }
    }
}
