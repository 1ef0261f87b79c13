//! Who may do what: bearer tokens (reloaded when `tokens.json` changes) and the rules of the
//! roles. Every refusal names its rule, so a 401 or 403 says exactly what was missing.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::http::HeaderMap;
use events::{EventId, EventType, Payload, ProposedEvent};

use super::error::ApiError;
use crate::store::tokens::{self, Role, TokenEntry, Tokens};
use crate::store::{Log, SledLog};

/// The authenticated caller: a token's name (the `actor` of what it appends), role and, for a
/// restricted recorder, its villages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Villages a recorder is restricted to (empty: none).
    pub villages: Vec<String>,
    /// The SHA-256 of the token presented: streams check it is still in force.
    pub token_sha256: String,
}

impl From<&TokenEntry> for Principal {
    fn from(e: &TokenEntry) -> Principal {
        Principal {
            name: e.name.clone(),
            role: e.role,
            villages: e.villages.iter().cloned().collect(),
            token_sha256: e.sha256.clone(),
        }
    }
}

/// How often the token file's stamp is checked in the background: a revoked token is refused,
/// and its open subscriptions and exports ended, at most this long after `token revoke`.
pub const TOKENS_REFRESH: std::time::Duration = std::time::Duration::from_millis(100);

/// The token list, reread whenever the file's stamp changes, so `token add` and `token revoke`
/// take effect without a restart. The stamp is checked off the async runtime: by a background
/// thread every [`TOKENS_REFRESH`], and, for a token not in the list (perhaps just added), by
/// the request in the blocking pool. Every reload bumps a generation that streams watch.
#[derive(Clone)]
pub struct TokenCache(Arc<CacheInner>);

struct CacheInner {
    dir: PathBuf,
    current: RwLock<Arc<Tokens>>,
    reload: Mutex<()>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl TokenCache {
    /// The tokens of the store in `dir`, with a thread that keeps them current for as long as
    /// the cache lives.
    pub fn new(dir: PathBuf) -> Result<TokenCache, tokens::TokenError> {
        let current = tokens::load(&dir)?;
        let cache = TokenCache(Arc::new(CacheInner {
            dir,
            current: RwLock::new(Arc::new(current)),
            reload: Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
        }));
        let weak = Arc::downgrade(&cache.0);
        std::thread::Builder::new()
            .name("taizhang-tokens".into())
            .spawn(move || loop {
                std::thread::sleep(TOKENS_REFRESH);
                match weak.upgrade() {
                    Some(inner) => {
                        TokenCache(inner).refresh();
                    }
                    None => return,
                }
            })
            .map_err(|e| tokens::TokenError::Io {
                path: cache.0.dir.clone(),
                source: e,
            })?;
        Ok(cache)
    }

    /// The tokens as last read (no file access).
    pub fn current(&self) -> Arc<Tokens> {
        self.0.current.read().expect("tokens lock").clone()
    }

    /// A receiver woken whenever the token list is reloaded.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.generation.subscribe()
    }

    /// Checks the file's stamp and rereads the file if it changed (blocking: one `stat`, and
    /// a read when changed). Returns the tokens now in force.
    pub fn refresh(&self) -> Arc<Tokens> {
        let inner = &self.0;
        let now = tokens::stamp(&inner.dir);
        let cur = self.current();
        let fresh = match now {
            Ok(stamp) if stamp == cur.stamp() => return cur,
            Ok(_) => {
                let _one_reader = inner.reload.lock().expect("reload lock");
                match tokens::load(&inner.dir) {
                    Ok(t) => Arc::new(t),
                    Err(e) => {
                        // A damaged file refuses everyone rather than keep revoked tokens alive.
                        tracing::error!(error = %e, "the token file cannot be read: every token is refused until it is fixed");
                        Arc::new(Tokens::default())
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the token file cannot be checked: every token is refused until it can");
                Arc::new(Tokens::default())
            }
        };
        *inner.current.write().expect("tokens lock") = fresh.clone();
        inner.generation.send_modify(|g| *g += 1);
        fresh
    }

    /// Whether the token `who` authenticated with is still in force (no file access).
    pub fn still_valid(&self, who: &Principal) -> bool {
        self.current()
            .entries()
            .iter()
            .any(|e| e.sha256 == who.token_sha256)
    }

    /// The caller named by the request's `Authorization: Bearer` header.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated("auth.bearer", "this route needs an `Authorization: Bearer TOKEN` header; tokens are made with `taizhang token add` on the machine that holds the store"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "auth.bearer",
                    "the Authorization header must be `Bearer TOKEN`",
                )
            })?
            .to_string();
        if let Some(e) = self.current().find(&token) {
            return Ok(Principal::from(e));
        }
        // Not in the list as last read: perhaps added since; look again, off the runtime.
        let cache = self.clone();
        let tokens = tokio::task::spawn_blocking(move || cache.refresh())
            .await
            .map_err(ApiError::internal)?;
        tokens.find(&token).map(Principal::from).ok_or_else(|| {
            ApiError::unauthenticated("auth.token", "this token is unknown or was revoked")
        })
    }
}

/// Roles that read everything.
const READERS: &[Role] = &[Role::Inspector, Role::Reviewer, Role::Auditor];

fn names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a route needs, beyond appending (which is judged event by event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading the log, its views, proofs, checkpoints and exports.
    Read,
    /// Signing a checkpoint.
    SignCheckpoint,
    /// Sealing a review.
    Seal,
    /// Server status and metrics.
    Status,
}

impl Principal {
    /// Refuses, naming the rule, unless the role allows `need`.
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        let (rule, allowed): (&'static str, &[Role]) = match need {
            Need::Read => ("role.read", READERS),
            Need::SignCheckpoint => ("role.checkpoint", &[Role::Auditor]),
            Need::Seal => ("role.seal", &[Role::Reviewer]),
            Need::Status => ("role.status", &[Role::Admin]),
        };
        if allowed.contains(&self.role) {
            return Ok(());
        }
        let what = match need {
            Need::Read => "read the log",
            Need::SignCheckpoint => "sign checkpoints",
            Need::Seal => "seal reviews",
            Need::Status => "see the server's status",
        };
        Err(ApiError::forbidden(
            rule,
            format!(
                "token {} is a {}, which may not {what}; only {} tokens may",
                self.name,
                self.role,
                names(allowed)
            ),
        ))
    }
}

/// The event types a role may append (retractions are judged apart).
pub fn may_append(role: Role, t: EventType) -> bool {
    use EventType::*;
    match role {
        Role::Recorder => matches!(
            t,
            VillageRegistered
                | VillageClassified
                | SecretaryPosted
                | PostingEnded
                | TeamMemberJoined
                | TeamMemberLeft
                | AttendanceReported
                | CommitmentMade
                | CommitmentProgressed
                | CommitmentDeadlineExtended
                | CommitmentFulfilled
                | CommitmentWithdrawn
                | ProjectPlanned
                | ProjectStarted
                | ProjectCompleted
                | ProjectCancelled
                | DonationPledged
                | DonationReceived
                | PledgeReleased
                | FundsDisbursed
                | EvaluationHeld
                | ContractSigned
                | ContractItemCompleted
                | Retracted
        ),
        Role::Inspector => matches!(
            t,
            InspectionRecorded | FindingRectified | SpotCheckRecorded | ProjectAccepted
        ),
        Role::Reviewer => matches!(t, PolicyAdopted | DisciplineRecorded | Retracted),
        Role::Auditor | Role::Admin => false,
    }
}

/// Checks every event of a batch against the caller's role, villages and, for a recorder's
/// retractions, authorship. Reads the log (call it off the async runtime).
pub fn check_batch(
    log: &SledLog,
    who: &Principal,
    batch: &[ProposedEvent],
) -> Result<(), ApiError> {
    let mut villages = VillageOf::new(log, batch);
    for (index, ev) in batch.iter().enumerate() {
        let t = ev.payload.event_type();
        if t == EventType::ReviewSealed {
            return Err(ApiError::forbidden("append.review_sealed", format!("event {index}: ReviewSealed is appended only by the log's own review sealing (POST /v1/reviews)")).index(index).field("type"));
        }
        if !may_append(who.role, t) {
            let allowed: Vec<&str> = EventType::ALL
                .iter()
                .filter(|x| may_append(who.role, **x))
                .map(|x| x.as_str())
                .collect();
            let allowed = if allowed.is_empty() {
                "nothing".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(ApiError::forbidden(
                "role.append",
                format!(
                    "event {index}: token {} is a {}, which may not append {t}; a {} appends {allowed}",
                    who.name, who.role, who.role
                ),
            )
            .index(index)
            .field("type"));
        }
        if who.role != Role::Recorder {
            continue;
        }
        if let Payload::Retracted(r) = &ev.payload {
            let target = log.event(r.target_event_id)?;
            match target {
                Some(target) if target.actor == who.name => {}
                Some(target) => {
                    return Err(ApiError::forbidden("recorder.retract_own", format!("event {index}: a recorder retracts only events it appended itself; {} was appended by {}", r.target_event_id, target.actor)).index(index).field("payload.target_event_id"));
                }
                None => {
                    return Err(ApiError::forbidden("recorder.retract_own", format!("event {index}: a recorder retracts only events it appended itself; no event {} is in the log", r.target_event_id)).index(index).field("payload.target_event_id"));
                }
            }
        }
        if who.villages.is_empty() {
            continue;
        }
        match villages.of(index)? {
            Some(v) if who.villages.contains(&v) => {}
            Some(v) => {
                return Err(ApiError::forbidden(
                    "recorder.villages",
                    format!(
                    "event {index}: token {} records for {} only, this event is for village {v}",
                    who.name,
                    who.villages.join(", ")
                ),
                )
                .index(index))
            }
            None => {
                // Refused rather than let through: an entity made concurrently in another
                // village must not become writable by this recorder.
                return Err(ApiError::forbidden(
                    "recorder.villages",
                    format!("event {index}: token {} records for some villages only, and the village of this event's {} is unknown (no such entity in the log or earlier in the batch)", who.name, ev.payload.stream().unwrap_or_else(|| "target".into())),
                )
                .index(index));
            }
        }
    }
    Ok(())
}

/// A payload's own `village_id`, if it has one.
fn direct_village(p: &Payload) -> Option<String> {
    if let Payload::VillageRegistered(v) = p {
        return Some(v.village_id.to_string());
    }
    p.to_json_value()
        .get("village_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The village of events: from the payload, or from the entity's creation (the event of its
/// stream that names the village), in the batch or in the log. A creation can be corrected
/// (retracted and entered again, perhaps for another village, as domain.md "Corrections"
/// allows): the latest creation that is not retracted counts.
pub struct VillageOf<'a> {
    log: &'a dyn Log,
    batch: &'a [ProposedEvent],
    /// Per stream, its creations in the log not retracted there (event id, village), in order.
    streams: HashMap<String, Vec<(EventId, String)>>,
}

impl<'a> VillageOf<'a> {
    /// Judges events of `batch` against `log`.
    pub fn new(log: &'a dyn Log, batch: &'a [ProposedEvent]) -> VillageOf<'a> {
        VillageOf {
            log,
            batch,
            streams: HashMap::new(),
        }
    }

    /// The village of the batch's event `index`.
    pub fn of(&mut self, index: usize) -> Result<Option<String>, ApiError> {
        let p = &self.batch[index].payload;
        if let Some(v) = direct_village(p) {
            return Ok(Some(v));
        }
        let stream = match p {
            Payload::Retracted(r) => match self.log.event(r.target_event_id)? {
                Some(target) => {
                    if let Some(v) = direct_village(&target.payload) {
                        return Ok(Some(v));
                    }
                    target.stream
                }
                None => return Ok(None),
            },
            p => match p.stream() {
                Some(s) => s,
                None => return Ok(None),
            },
        };
        self.of_stream(&stream, index)
    }

    /// The village of a stream: that of its latest creation not retracted, looked for in the
    /// batch before `before`, then in the log.
    pub fn of_stream(&mut self, stream: &str, before: usize) -> Result<Option<String>, ApiError> {
        if let Some(id) = stream.strip_prefix("village/") {
            return Ok(Some(id.to_string()));
        }
        let earlier = &self.batch[..before];
        // Retractions earlier in the batch (a correction sent as one batch).
        let retracted_here: HashSet<EventId> = earlier
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Retracted(r) => Some(r.target_event_id),
                _ => None,
            })
            .collect();
        let in_batch = earlier
            .iter()
            .rev()
            .filter(|e| e.payload.stream().as_deref() == Some(stream))
            .filter(|e| e.event_id.is_none_or(|id| !retracted_here.contains(&id)))
            .find_map(|e| direct_village(&e.payload));
        if in_batch.is_some() {
            return Ok(in_batch);
        }
        if !self.streams.contains_key(stream) {
            // A retraction is recorded in its target's stream, so the stream alone tells which
            // of its creations stand.
            let events = self.log.read_stream(stream, 0, u64::MAX)?;
            let retracted: HashSet<EventId> = events
                .iter()
                .filter_map(|e| match &e.payload {
                    Payload::Retracted(r) => Some(r.target_event_id),
                    _ => None,
                })
                .collect();
            let creations = events
                .iter()
                .filter(|e| !retracted.contains(&e.event_id))
                .filter_map(|e| direct_village(&e.payload).map(|v| (e.event_id, v)))
                .collect();
            self.streams.insert(stream.to_string(), creations);
        }
        Ok(self.streams[stream]
            .iter()
            .rev()
            .find(|(id, _)| !retracted_here.contains(id))
            .map(|(_, v)| v.clone()))
    }
}
