//! The command line as a client of `taizhang serve`: [`RemoteLog`] implements the [`Log`]
//! trait over the HTTP API, so every command runs the same code, and prints the same output,
//! against a server as against a local store.
//!
//! A `RemoteLog` is a snapshot: it reads the log's size once, at connection, and every read
//! stays within it, so a command's several passes see the same prefix while others append.
//! What it reads is checked as a local read is: each export line is decoded field by field,
//! and `verify` recomputes every leaf and root, checks every signed checkpoint, and checks
//! that the latest one is consistent with the checkpoint this client verified last time
//! ([`verify_remote`]), as a transparency-log client does: a server that rewrote history is
//! caught even if it re-signed everything.

use std::path::{Path, PathBuf};

use events::record::StoredRecord;
use events::{Date, EventId, EventType, Payload, ProposedEvent, RecordedEvent, Sha256, Timestamp};
use serde_json::{json, Value};

use crate::checkpoint::{self, VerifierKey};
use crate::merkle::{self, ConsistencyProof, Hash, InclusionProof};
use crate::ops::{self, Verified};
use crate::store::{
    AppendError, AppendHold, Appended, Log, ProofError, ReadError, SealError, SealReceipt, Source,
};

/// Events asked for in one page.
const PAGE_EVENTS: u64 = 10_000;

/// Why a request to the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached, or the connection broke.
    #[error("{url}: {reason}")]
    Transport {
        /// What was asked.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The server answered an error; the message is the server's (the same text the command
    /// line prints locally).
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error's code.
        code: String,
        /// Its message.
        message: String,
        /// The whole error object.
        body: Value,
    },
    /// The server's answer does not decode.
    #[error("the server's answer to {url} does not decode: {reason}")]
    Decode {
        /// What was asked.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// What the server says of its log.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RemoteInfo {
    /// The checkpoint origin.
    pub origin: String,
    /// The checkpoint verifier key.
    pub verifier_key: String,
    /// Number of events when asked.
    pub size: u64,
    /// Whether the store has a simulated clock.
    pub simulated_clock: bool,
}

/// A log behind a server, seen at the size it had when connected.
pub struct RemoteLog {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    info: RemoteInfo,
}

impl RemoteLog {
    /// Connects to the server at `url` with a bearer token and reads its log's size.
    pub fn connect(url: &str, token: &str) -> Result<RemoteLog, ClientError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .map_err(|e| ClientError::Transport {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let mut log = RemoteLog {
            base: url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
            info: RemoteInfo {
                origin: String::new(),
                verifier_key: String::new(),
                size: 0,
                simulated_clock: false,
            },
        };
        log.info = log.get_json("/v1/info")?;
        Ok(log)
    }

    /// What the server said at connection.
    pub fn info(&self) -> &RemoteInfo {
        &self.info
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::blocking::Response, ClientError> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| ClientError::Transport {
                url: url.to_string(),
                reason: format!("{e:#}"),
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let e = &body["error"];
        match (e["code"].as_str(), e["message"].as_str()) {
            (Some(code), Some(message)) => Err(ClientError::Api {
                status,
                code: code.to_string(),
                message: message.to_string(),
                body: e.clone(),
            }),
            _ => Err(ClientError::Api {
                status,
                code: "http".into(),
                message: format!("{url}: HTTP {status}: {}", text.trim()),
                body: Value::Null,
            }),
        }
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let text =
            self.send(self.http.get(&url), &url)?
                .text()
                .map_err(|e| ClientError::Transport {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// POSTs a JSON body and returns the response.
    fn post(
        &self,
        path: &str,
        body: Option<String>,
    ) -> Result<reqwest::blocking::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.post(&url);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        self.send(req, &url)
    }

    /// Seals a review on the server (`POST /v1/reviews`); returns the server's answer.
    pub fn seal_review(&self, id: &str, start: Date, end: Date) -> Result<Value, ClientError> {
        let body = json!({"id": id, "start": start.to_string(), "end": end.to_string()});
        let url = format!("{}/v1/reviews", self.base);
        let text = self
            .post("/v1/reviews", Some(body.to_string()))?
            .text()
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    fn page(&self, from: u64, limit: u64) -> Result<Vec<StoredRecord>, ReadError> {
        #[derive(serde::Deserialize)]
        struct Page {
            events: Vec<Value>,
        }
        let page: Page = self
            .get_json(&format!("/v1/events?from={from}&limit={limit}"))
            .map_err(|e| ReadError::Remote(e.to_string()))?;
        let mut out = Vec::with_capacity(page.events.len());
        for (i, v) in page.events.iter().enumerate() {
            let position = from + i as u64;
            let rec =
                decode_export_line(v).map_err(|reason| ReadError::Corrupt { position, reason })?;
            if rec.event.position != position {
                return Err(ReadError::Corrupt {
                    position,
                    reason: format!("the server sent position {} here", rec.event.position),
                });
            }
            out.push(rec);
        }
        Ok(out)
    }
}

/// Decodes one export line (formats.md §5) into the event and the leaf hash the server gave
/// with it (`verify` recomputes the leaf and compares).
pub fn decode_export_line(v: &Value) -> Result<StoredRecord, String> {
    let s = |k: &str| {
        v[k].as_str()
            .ok_or_else(|| format!("{k} is missing or not a string"))
    };
    let n = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("{k} is missing or not an integer"))
    };
    let ty = EventType::parse(s("type")?)
        .ok_or_else(|| format!("unknown type {}", s("type").unwrap_or("")))?;
    let payload = Payload::from_json(ty, &v["payload"].to_string()).map_err(|e| e.to_string())?;
    let event = RecordedEvent {
        position: n("position")?,
        event_id: EventId::parse(s("event_id")?)?,
        stream: s("stream")?.to_string(),
        stream_version: n("stream_version")?,
        schema: u32::try_from(n("schema")?).map_err(|_| "schema is out of range".to_string())?,
        occurred_on: s("occurred_on")?
            .parse::<Date>()
            .map_err(|e| format!("occurred_on: {e}"))?,
        recorded_at: s("recorded_at")?
            .parse::<Timestamp>()
            .map_err(|e| format!("recorded_at: {e}"))?,
        actor: s("actor")?.to_string(),
        payload,
    };
    let leaf_sha256 = Sha256::parse_hex(s("leaf_sha256")?)?;
    if event.payload_sha256().to_hex() != s("payload_sha256")? {
        return Err("payload_sha256 does not match the payload".into());
    }
    Ok(StoredRecord { leaf_sha256, event })
}

/// An event as an import line (formats.md §5), for `POST /v1/events`.
fn import_line(e: &ProposedEvent) -> Value {
    json!({
        "type": e.payload.event_type().as_str(),
        "occurred_on": e.occurred_on.to_string(),
        "payload": e.payload.to_json_value(),
        "event_id": e.event_id.map(|id| id.to_string()),
        "expected_version": e.expected_version,
    })
}

/// Rebuilds the store's refusal from the server's error body, so that `import` names the
/// file's line as it does locally.
fn append_error(e: ClientError) -> AppendError {
    let ClientError::Api {
        code,
        message,
        body,
        ..
    } = &e
    else {
        return AppendError::Remote(e.to_string());
    };
    let d = &body["detail"];
    let index = body["index"].as_u64().map(|i| i as usize);
    let field = body["field"].as_str().map(str::to_string);
    let rebuilt = match code.as_str() {
        "refused" => (|| {
            Some(AppendError::Refused {
                index: index?,
                event_type: EventType::parse(d["event_type"].as_str()?)?,
                field: field?,
                reason: d["reason"].as_str()?.to_string(),
            })
        })(),
        "version_conflict" => (|| {
            Some(AppendError::VersionConflict {
                index: index?,
                stream: d["stream"].as_str()?.to_string(),
                expected: d["expected"].as_u64()?,
                actual: d["actual"].as_u64()?,
            })
        })(),
        "event_id_conflict" => (|| {
            Some(AppendError::EventIdConflict {
                index: index?,
                event_id: EventId::parse(d["event_id"].as_str()?).ok()?,
            })
        })(),
        "batch_too_large" => d["events"]
            .as_u64()
            .map(|n| AppendError::BatchSize { events: n as usize }),
        "clock" => d["reason"]
            .as_str()
            .map(|r| AppendError::Clock(r.to_string())),
        "store_failed" => d["reason"].as_str().map(|r| AppendError::Io(r.to_string())),
        "store_unreadable" => d["reason"]
            .as_str()
            .map(|r| AppendError::Unreadable(r.to_string())),
        "closed" => Some(AppendError::Closed),
        _ => None,
    };
    rebuilt.unwrap_or_else(|| AppendError::Remote(message.clone()))
}

fn proof_error(e: ClientError) -> ProofError {
    ProofError::Remote(e.to_string())
}

impl Log for RemoteLog {
    fn append(
        &self,
        batch: Vec<ProposedEvent>,
        _actor: &str,
        _source: Source,
        _recorded_at: Option<Timestamp>,
    ) -> Result<Vec<Appended>, AppendError> {
        // The server takes the actor from the token, never from the request.
        let body = Value::Array(batch.iter().map(import_line).collect()).to_string();
        let resp = self.post("/v1/events", Some(body)).map_err(append_error)?;
        let written: usize = resp
            .headers()
            .get(crate::server::routes::WRITTEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let v: Value = resp.json().map_err(|e| {
            AppendError::Remote(format!("the server's answer does not decode: {e}"))
        })?;
        let rows = v["events"].as_array().cloned().unwrap_or_default();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let bad = |k: &str| AppendError::Remote(format!("the server's answer lacks {k}"));
            out.push(Appended {
                position: r["position"].as_u64().ok_or_else(|| bad("position"))?,
                event_id: EventId::parse(r["event_id"].as_str().ok_or_else(|| bad("event_id"))?)
                    .map_err(AppendError::Remote)?,
                stream: r["stream"]
                    .as_str()
                    .ok_or_else(|| bad("stream"))?
                    .to_string(),
                stream_version: r["stream_version"]
                    .as_u64()
                    .ok_or_else(|| bad("stream_version"))?,
                recorded_at: r["recorded_at"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| bad("recorded_at"))?,
                written: false,
            });
        }
        // The events this request wrote are the `written` highest positions: they were given
        // the next positions of the log, and everything already there lies below them.
        if let Some(max) = out.iter().map(|a| a.position).max() {
            let first_new = (max + 1).saturating_sub(written as u64);
            let mut seen = std::collections::HashSet::new();
            for a in &mut out {
                a.written = written > 0 && a.position >= first_new && seen.insert(a.position);
            }
        }
        Ok(out)
    }

    fn size(&self) -> u64 {
        self.info.size
    }

    fn read(
        &self,
        from: u64,
        to: u64,
    ) -> Box<dyn Iterator<Item = Result<StoredRecord, ReadError>> + Send + '_> {
        let end = to.min(self.info.size).max(from);
        let mut next = from;
        let mut buffer = std::collections::VecDeque::new();
        let mut failed = false;
        Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            if buffer.is_empty() && next < end {
                match self.page(next, (end - next).min(PAGE_EVENTS)) {
                    Ok(p) if p.is_empty() => {
                        failed = true;
                        return Some(Err(ReadError::Missing { position: next }));
                    }
                    Ok(p) => {
                        next += p.len() as u64;
                        buffer.extend(p);
                    }
                    Err(e) => {
                        failed = true;
                        return Some(Err(e));
                    }
                }
            }
            buffer.pop_front().map(Ok)
        }))
    }

    fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: u64,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        #[derive(serde::Deserialize)]
        struct Page {
            events: Vec<Value>,
        }
        let mut out = Vec::new();
        let mut from = from_version;
        while (out.len() as u64) < limit {
            let want = (limit - out.len() as u64).min(PAGE_EVENTS);
            let page: Page = self
                .get_json(&format!(
                    "/v1/streams/{stream}?from_version={from}&limit={want}"
                ))
                .map_err(|e| ReadError::Remote(e.to_string()))?;
            let got = page.events.len() as u64;
            for v in &page.events {
                let rec = decode_export_line(v).map_err(|reason| ReadError::Corrupt {
                    position: v["position"].as_u64().unwrap_or(0),
                    reason,
                })?;
                if rec.event.position < self.info.size {
                    out.push(rec.event);
                }
            }
            if got < want {
                break;
            }
            from += got;
        }
        Ok(out)
    }

    fn stream_len(&self, stream: &str) -> Result<u64, ReadError> {
        Ok(self.read_stream(stream, 0, u64::MAX)?.len() as u64)
    }

    fn event(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError> {
        match self.get_json::<Value>(&format!("/v1/events/{id}")) {
            Ok(v) => {
                let rec = decode_export_line(&v).map_err(|reason| ReadError::Corrupt {
                    position: v["position"].as_u64().unwrap_or(0),
                    reason,
                })?;
                Ok((rec.event.position < self.info.size).then_some(rec.event))
            }
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(ReadError::Remote(e.to_string())),
        }
    }

    fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.info.size {
            return Err(ProofError::Range(format!(
                "size {size} is beyond the log's {} events",
                self.info.size
            )));
        }
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        // A consistency proof from a size to itself carries that size's root.
        Ok(self.consistency_proof(size, size)?.first_root)
    }

    fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError> {
        let p: InclusionProof = self
            .get_json(&format!(
                "/v1/proof/inclusion?index={leaf_index}&size={tree_size}"
            ))
            .map_err(proof_error)?;
        p.verify().map_err(|e| {
            ProofError::Remote(format!("the server's inclusion proof does not verify: {e}"))
        })?;
        Ok(p)
    }

    fn consistency_proof(&self, first: u64, second: u64) -> Result<ConsistencyProof, ProofError> {
        let p: ConsistencyProof = self
            .get_json(&format!(
                "/v1/proof/consistency?first={first}&second={second}"
            ))
            .map_err(proof_error)?;
        p.verify().map_err(|e| {
            ProofError::Remote(format!(
                "the server's consistency proof does not verify: {e}"
            ))
        })?;
        Ok(p)
    }

    fn sign_checkpoint(&self) -> Result<String, ProofError> {
        self.post("/v1/checkpoint", None)
            .and_then(|r| {
                r.text().map_err(|e| ClientError::Transport {
                    url: format!("{}/v1/checkpoint", self.base),
                    reason: e.to_string(),
                })
            })
            .map_err(proof_error)
    }

    fn hold_appends(&self) -> Result<AppendHold<'_>, AppendError> {
        Err(AppendError::Remote(
            "a server holds its own appends, while it seals a review (POST /v1/reviews)".into(),
        ))
    }

    fn seal(
        &self,
        _: u64,
        _: ProposedEvent,
        _: &str,
        _: Option<Timestamp>,
    ) -> Result<SealReceipt, SealError> {
        Err(SealError::Append(AppendError::Remote(
            "a server seals reviews itself: POST /v1/reviews (taizhang review seal --server …)"
                .into(),
        )))
    }

    /// A client keeps no village index: the caller folds the whole prefix (which it reads
    /// from the server either way).
    fn village_positions(&self, _village: &str, _size: u64) -> Result<Option<Vec<u64>>, ReadError> {
        Ok(None)
    }

    fn retractions(&self, size: u64) -> Result<Vec<RecordedEvent>, ReadError> {
        let mut out = Vec::new();
        for rec in self.read(0, size) {
            let ev = rec?.event;
            if matches!(ev.payload, Payload::Retracted(_)) {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// A server's indexes and stored nodes are its own (its `verify` checks them against its
    /// records); what a client checks is the records, the roots, the proofs and the signed
    /// checkpoints. So the digest here is the one the records imply, and `verify` through a
    /// server compares the records with themselves on this point.
    fn derived_digest(&self, size: u64) -> Result<crate::store::DerivedDigest, ReadError> {
        let mut d = crate::store::DerivedDigest::default();
        let mut frontier = merkle::Frontier::new();
        for rec in self.read(0, size) {
            let rec = rec?;
            let ev = &rec.event;
            d.ids.add_id(&ev.event_id, ev.position);
            d.streams
                .add_stream(&ev.stream, ev.stream_version, ev.position);
            if let Payload::Retracted(r) = &ev.payload {
                d.retractions
                    .add_retraction(ev.position, &r.target_event_id);
            }
            for (level, index, hash) in frontier.push(rec.leaf_sha256.0) {
                if level > 0 {
                    d.nodes.add_node(level, index, &hash);
                }
            }
        }
        Ok(d)
    }

    /// The hash of a complete subtree, from its leaves as the server sends them.
    fn node(&self, level: u8, index: u64) -> Result<Hash, ReadError> {
        let first = index << level;
        let mut tree = merkle::MemoryTree::new();
        for rec in self.read(first, first + (1u64 << level)) {
            tree.push(rec?.leaf_sha256.0);
        }
        if tree.size() != 1u64 << level {
            return Err(ReadError::Range(format!(
                "subtree level {level} index {index} is not complete in the log's {} events",
                self.info.size
            )));
        }
        Ok(tree.root())
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, ReadError> {
        #[derive(serde::Deserialize)]
        struct Row {
            size: u64,
            note: String,
        }
        #[derive(serde::Deserialize)]
        struct All {
            checkpoints: Vec<Row>,
        }
        let all: All = self
            .get_json("/v1/checkpoints")
            .map_err(|e| ReadError::Remote(e.to_string()))?;
        Ok(all
            .checkpoints
            .into_iter()
            .filter(|r| r.size <= self.info.size)
            .map(|r| (r.size, r.note))
            .collect())
    }

    fn verifier_key(&self) -> String {
        self.info.verifier_key.clone()
    }

    fn origin(&self) -> String {
        self.info.origin.clone()
    }
}

/// The checkpoint a client verified last, kept per origin.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Trusted {
    origin: String,
    verifier_key: String,
    size: u64,
    note: String,
}

/// What [`verify_remote`] checked beyond [`ops::verify`].
#[derive(Debug, Clone)]
pub enum TrustReport {
    /// First contact: the latest checkpoint is now trusted, and with it the verifier key.
    FirstUse {
        /// Its size.
        size: u64,
        /// The verifier key now pinned for the origin.
        verifier_key: String,
        /// Where it is kept.
        file: PathBuf,
    },
    /// The latest checkpoint is consistent with the one trusted before.
    Consistent {
        /// The size trusted before.
        from: u64,
        /// The size trusted now.
        to: u64,
    },
    /// The server has signed no checkpoint yet: nothing to keep.
    NoCheckpoint,
}

/// Where the trusted checkpoints live by default: `$XDG_CONFIG_HOME/taizhang/trust`, or
/// `~/.config/taizhang/trust`.
pub fn default_trust_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("taizhang").join("trust"))
}

fn trust_file(dir: &Path, origin: &str) -> PathBuf {
    let name: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}.json"))
}

/// An exclusive lock on a trust file (on `<file>.lock`), held while it is read, compared and
/// written, so that concurrent runs never replace a newer trusted checkpoint by an older one.
struct TrustLock(#[allow(dead_code)] std::fs::File);

impl TrustLock {
    fn take(file: &Path) -> std::io::Result<TrustLock> {
        use std::os::fd::AsRawFd;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(file.with_extension("json.lock"))?;
        // Released when the file is closed.
        loop {
            if crate::store::tokens::flock(lock.as_raw_fd(), libc::LOCK_EX) == 0 {
                return Ok(TrustLock(lock));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Other trust files of `dir` that pin `key` for another origin than `origin`.
fn key_trusted_elsewhere(dir: &Path, key: &str, origin: &str) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let t: Trusted = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            (t.verifier_key == key && t.origin != origin).then_some((t.origin, p))
        })
        .collect()
}

/// Verifies a server's log as `taizhang verify` does a local one (every record, leaf, root
/// and signed checkpoint), then checks that its latest checkpoint is consistent with the one
/// this client trusted before for the log's origin (same origin, same pinned verifier key;
/// consistency proof from the old size to the new), and keeps the new one. A first use is
/// reported as such; a verifier key already trusted for another origin is refused (a server
/// cannot shed what it was trusted for by renaming its log). The trust file is locked from
/// its reading to its writing.
pub fn verify_remote(
    log: &RemoteLog,
    trust_dir: &Path,
    progress: impl FnMut(u64),
) -> anyhow::Result<(Verified, TrustReport)> {
    use anyhow::{bail, Context};
    let verified = ops::verify(log, progress)?;
    let key = VerifierKey::parse(&log.verifier_key())
        .map_err(|e| anyhow::anyhow!("the server's verifier key: {e}"))?;
    let file = trust_file(trust_dir, &log.origin());
    let _lock = TrustLock::take(&file).with_context(|| format!("locking {}", file.display()))?;
    let trusted: Option<Trusted> = match std::fs::read_to_string(&file) {
        Ok(t) => Some(
            serde_json::from_str(&t)
                .with_context(|| format!("{} does not parse", file.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    if let Some(t) = &trusted {
        if t.origin != log.origin() {
            bail!("the server's log has origin {:?}, but {} holds the checkpoint trusted for origin {:?}: another log; use another --trust-dir for it", log.origin(), file.display(), t.origin);
        }
        if t.verifier_key != log.verifier_key() {
            bail!("the server's verifier key is {}, the one trusted before for {} is {}: this is another log, or a rewritten one", log.verifier_key(), t.origin, t.verifier_key);
        }
    } else if let Some((origin, other)) =
        key_trusted_elsewhere(trust_dir, &log.verifier_key(), &log.origin()).pop()
    {
        bail!("the server's log calls itself {:?}, but its verifier key {} is trusted for origin {:?} ({}): a log does not change its origin; refusing to trust it anew", log.origin(), log.verifier_key(), origin, other.display());
    }
    let latest = log.checkpoints()?.pop();
    let Some((size, note)) = latest else {
        if let Some(t) = trusted {
            bail!("the server shows no signed checkpoint, but this client verified one of size {} before: history was removed", t.size);
        }
        return Ok((verified, TrustReport::NoCheckpoint));
    };
    let cp = checkpoint::parse_signed_note(&note, &key)
        .map_err(|e| anyhow::anyhow!("the latest checkpoint: {e}"))?;
    let report = match &trusted {
        Some(t) => {
            // The trusted checkpoint is checked against the key pinned with it.
            let pinned = VerifierKey::parse(&t.verifier_key).map_err(|e| {
                anyhow::anyhow!("the verifier key pinned in {}: {e}", file.display())
            })?;
            let old = checkpoint::parse_signed_note(&t.note, &pinned).map_err(|e| {
                anyhow::anyhow!("the trusted checkpoint in {}: {e}", file.display())
            })?;
            if old.size() > cp.size() {
                bail!("the server's latest checkpoint is for {} events, fewer than the {} verified before: history was cut", cp.size(), old.size());
            }
            if old.size() > 0 {
                let proof = log.consistency_proof(old.size(), cp.size()).map_err(|e| {
                    anyhow::anyhow!(
                        "consistency proof from {} to {}: {e}",
                        old.size(),
                        cp.size()
                    )
                })?;
                merkle::verify_consistency(old.size(), cp.size(), &old.root(), &cp.root(), &proof.path)
                    .map_err(|e| anyhow::anyhow!("the log at {} events is not an extension of the checkpoint verified before at {}: history was rewritten ({e})", cp.size(), old.size()))?;
            }
            TrustReport::Consistent {
                from: old.size(),
                to: cp.size(),
            }
        }
        None => TrustReport::FirstUse {
            size: cp.size(),
            verifier_key: log.verifier_key(),
            file: file.clone(),
        },
    };
    if trusted.as_ref().is_none_or(|t| t.size < size) {
        let t = Trusted {
            origin: log.origin(),
            verifier_key: log.verifier_key(),
            size,
            note,
        };
        write_atomically(&file, serde_json::to_string_pretty(&t)?.as_bytes())
            .with_context(|| format!("keeping the checkpoint in {}", file.display()))?;
    }
    Ok((verified, report))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
