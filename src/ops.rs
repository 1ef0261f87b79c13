//! Operations on a log that the command line (and later the server) run: import, export and
//! verification. They read and write through the [`Log`] trait only.

use std::io::Write;

use events::import::{parse_line, ImportLine};
use events::{EventId, ProposedEvent};

use crate::checkpoint;
use crate::merkle::{self, Frontier};
use crate::store::{AppendError, Appended, DerivedDigest, Log, Source};

/// Most events one import file may hold: the whole file is one atomic append.
pub const IMPORT_EVENTS_MAX: usize = crate::store::BATCH_EVENTS_MAX;

/// Why an import or append was refused. Nothing was appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A line does not parse (formats.md §5), or the log refuses it (domain.md §2).
    #[error("line {line}: {field}: {reason}")]
    Line {
        /// 1-based line number in the file.
        line: usize,
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// The file as a whole is unusable.
    #[error("{0}")]
    File(String),
    /// The log could not append (not a refusal of a line).
    #[error(transparent)]
    Append(AppendError),
}

/// The parsed lines of an import file, with their 1-based line numbers.
pub struct ParsedImport {
    /// Events in file order, with default ids filled in.
    pub events: Vec<ProposedEvent>,
    /// Line number of each event.
    pub lines: Vec<usize>,
}

/// Parses an import file (formats.md §5). Lines without `event_id` get
/// `uuid5(NAMESPACE_URL, "<sha256 of the file>/<line>")`, so a second import appends nothing.
pub fn parse_import(
    bytes: &[u8],
    mut progress: impl FnMut(usize),
) -> Result<ParsedImport, ImportError> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(ImportError::Line {
            line: 1,
            field: "line".into(),
            reason: "starts with a byte-order mark; save the file as UTF-8 without BOM".into(),
        });
    }
    let file_sha = events::Sha256::of(bytes).to_hex();
    let mut out = ParsedImport {
        events: Vec::new(),
        lines: Vec::new(),
    };
    let mut offset = 0;
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        offset += raw.len() + 1;
        if offset > bytes.len() && raw.is_empty() {
            break; // the empty piece after the final newline
        }
        let text = std::str::from_utf8(raw).map_err(|e| ImportError::Line {
            line: line_no,
            field: "line".into(),
            reason: format!("is not valid UTF-8 (byte {})", e.valid_up_to()),
        })?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        let ImportLine {
            mut event,
            batch: _,
        } = parse_line(text).map_err(|e| ImportError::Line {
            line: line_no,
            field: e.field,
            reason: e.reason,
        })?;
        if event.event_id.is_none() {
            let name = format!("{file_sha}/{line_no}");
            event.event_id = Some(EventId(uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                name.as_bytes(),
            )));
        }
        out.events.push(event);
        out.lines.push(line_no);
        if out.events.len() > IMPORT_EVENTS_MAX {
            return Err(ImportError::File(format!(
                "the file holds more than {IMPORT_EVENTS_MAX} events; split it into several files"
            )));
        }
        progress(offset.min(bytes.len()));
    }
    if out.events.is_empty() {
        return Err(ImportError::File("the file holds no event".into()));
    }
    Ok(out)
}

/// Parses the input of `taizhang append`: one import line, or a JSON array of them.
pub fn parse_append(text: &str) -> Result<Vec<ProposedEvent>, ImportError> {
    let trimmed = text.trim_start_matches([' ', '\t', '\r', '\n']);
    if trimmed.starts_with('[') {
        let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(trimmed)
            .map_err(|e| ImportError::File(format!("not a JSON array of events: {e}")))?;
        if items.is_empty() {
            return Err(ImportError::File("the array holds no event".into()));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                parse_line(raw.get())
                    .map(|l| l.event)
                    .map_err(|e| ImportError::File(format!("event {i}: {}: {}", e.field, e.reason)))
            })
            .collect()
    } else {
        let line = trimmed.trim_end_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            return Err(ImportError::File("no event given".into()));
        }
        if line.contains('\n') {
            return Err(ImportError::File("append takes one event line or a JSON array; use `taizhang import` for a JSON Lines file".into()));
        }
        Ok(vec![
            parse_line(line)
                .map_err(|e| ImportError::File(format!("{}: {}", e.field, e.reason)))?
                .event,
        ])
    }
}

/// Imports a parsed file as one atomic append; refusals name the file's line.
pub fn import(
    log: &dyn Log,
    parsed: ParsedImport,
    actor: &str,
) -> Result<Vec<Appended>, ImportError> {
    let lines = parsed.lines;
    log.append(parsed.events, actor, Source::Client, None)
        .map_err(|e| match e {
            AppendError::Refused {
                index,
                field,
                reason,
                ..
            } => ImportError::Line {
                line: lines[index],
                field,
                reason,
            },
            AppendError::VersionConflict {
                index,
                stream,
                expected,
                actual,
            } => ImportError::Line {
                line: lines[index],
                field: "expected_version".into(),
                reason: format!(
                    "stream {stream} holds {actual} events, the line expected {expected}"
                ),
            },
            AppendError::EventIdConflict { index, event_id } => ImportError::Line {
                line: lines[index],
                field: "event_id".into(),
                reason: format!(
                    "{event_id} is already in the log with a different type, date or payload"
                ),
            },
            e => ImportError::Append(e),
        })
}

/// Writes the export (formats.md §5) of the first `size` events.
pub fn export(log: &dyn Log, size: u64, out: &mut dyn Write) -> anyhow::Result<()> {
    for ev in log.read(0, size) {
        let ev = ev?.event;
        out.write_all(ev.export_line().as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Events checked.
    pub size: u64,
    /// Root of the whole log.
    pub root: merkle::Hash,
    /// Signed checkpoints checked.
    pub checkpoints: usize,
}

/// What the reading thread of `verify` hands on for each record it checked.
struct Checked {
    position: u64,
    leaf: merkle::Hash,
    event_id: EventId,
    stream: String,
    stream_version: u64,
    recorded_at: events::Timestamp,
    retraction_target: Option<EventId>,
}

/// Records `verify` checks per chunk handed between its two threads.
const VERIFY_CHUNK_EVENTS: usize = 1024;
/// Chunks checked ahead at most (bounds the memory the second thread adds).
const VERIFY_CHUNKS_IN_FLIGHT: usize = 4;

/// Why verification failed: the first position (or checkpoint) that does not check out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VerifyFailure(pub String);

/// Rereads every record, recomputes every leaf from its canonical JSON and the root, and
/// checks every signed checkpoint (signature and root) against the recomputed tree, and the
/// stored tree against the recomputed one.
pub fn verify(log: &dyn Log, mut progress: impl FnMut(u64)) -> Result<Verified, VerifyFailure> {
    let size = log.size();
    let verifier = checkpoint::VerifierKey::parse(&log.verifier_key())
        .map_err(|e| VerifyFailure(format!("the log's verifier key: {e}")))?;
    let notes = log
        .checkpoints()
        .map_err(|e| VerifyFailure(e.to_string()))?;
    let mut notes = notes.into_iter().peekable();
    let mut frontier = Frontier::new();
    let mut checked = 0;
    let mut check_notes = |frontier: &Frontier,
                           notes: &mut std::iter::Peekable<std::vec::IntoIter<(u64, String)>>|
     -> Result<(), VerifyFailure> {
        while let Some((s, note)) = notes.peek() {
            if *s != frontier.size() {
                break;
            }
            let cp = checkpoint::parse_signed_note(note, &verifier)
                .map_err(|e| VerifyFailure(format!("checkpoint at size {s}: {e}")))?;
            if cp.size() != *s || cp.root() != frontier.root() || cp.origin() != log.origin() {
                return Err(VerifyFailure(format!("checkpoint at size {s}: its root does not match the tree recomputed from the records")));
            }
            checked += 1;
            notes.next();
        }
        Ok(())
    };
    let mut streams: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut last = None;
    // What the records imply of the indexes and inner tree nodes, compared with what is stored
    // after the pass: proofs are served from those nodes, lookups from those indexes.
    let mut implied = DerivedDigest::default();
    check_notes(&frontier, &mut notes)?;
    // Two threads: one reads, checks and decodes records and recomputes each leaf from the
    // event's canonical JSON (the costly part); this one checks the order of streams and
    // time, builds the tree and checks the checkpoints.
    std::thread::scope(|scope| -> Result<(), VerifyFailure> {
        let (tx, rx) = crossbeam_channel::bounded::<Result<Vec<Checked>, VerifyFailure>>(
            VERIFY_CHUNKS_IN_FLIGHT,
        );
        scope.spawn(move || {
            let mut chunk = Vec::with_capacity(VERIFY_CHUNK_EVENTS);
            for rec in log.read(0, size) {
                let checked = rec.map_err(|e| VerifyFailure(e.to_string())).and_then(|rec| {
                    let ev = rec.event;
                    let leaf = ev.leaf_sha256();
                    if rec.leaf_sha256 != leaf {
                        return Err(VerifyFailure(format!("position {}: the leaf recomputed from the event's canonical JSON differs from the stored leaf", ev.position)));
                    }
                    let retraction_target = match &ev.payload {
                        events::Payload::Retracted(r) => Some(r.target_event_id),
                        _ => None,
                    };
                    Ok(Checked { position: ev.position, leaf: leaf.0, event_id: ev.event_id, stream: ev.stream, stream_version: ev.stream_version, recorded_at: ev.recorded_at, retraction_target })
                });
                match checked {
                    Ok(c) => chunk.push(c),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                if chunk.len() == VERIFY_CHUNK_EVENTS && tx.send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(VERIFY_CHUNK_EVENTS)))).is_err() {
                    return;
                }
            }
            let _ = tx.send(Ok(chunk));
        });
        for chunk in rx {
            for c in chunk? {
                let p = c.position;
                implied.ids.add_id(&c.event_id, p);
                implied.streams.add_stream(&c.stream, c.stream_version, p);
                if let Some(target) = &c.retraction_target {
                    implied.retractions.add_retraction(p, target);
                }
                let v = streams.entry(c.stream.clone()).or_insert(0);
                if c.stream_version != *v {
                    return Err(VerifyFailure(format!(
                        "position {p}: stream {} version {} where {} was next",
                        c.stream, c.stream_version, v
                    )));
                }
                *v += 1;
                if last.is_some_and(|t| c.recorded_at < t) {
                    return Err(VerifyFailure(format!(
                        "position {p}: recorded_at goes back in time"
                    )));
                }
                last = Some(c.recorded_at);
                for (level, index, hash) in frontier.push(c.leaf) {
                    if level > 0 {
                        implied.nodes.add_node(level, index, &hash);
                    }
                }
                check_notes(&frontier, &mut notes)?;
                if p % 4096 == 0 {
                    progress(p);
                }
            }
        }
        Ok(())
    })?;
    if let Some((s, _)) = notes.next() {
        return Err(VerifyFailure(format!(
            "a checkpoint is signed for size {s}, beyond the log's {size} events"
        )));
    }
    let root = frontier.root();
    let stored_root = log.root(size).map_err(|e| VerifyFailure(e.to_string()))?;
    if stored_root != root {
        return Err(VerifyFailure(format!("the stored tree's root at size {size} differs from the root recomputed from the records")));
    }
    let stored = log
        .derived_digest(size)
        .map_err(|e| VerifyFailure(e.to_string()))?;
    if stored != implied {
        return Err(locate_derived_damage(log, size, &stored, &implied));
    }
    progress(size);
    Ok(Verified {
        size,
        root,
        checkpoints: checked,
    })
}

/// A second, slower pass that names the first position whose index entries or tree nodes do
/// not match its record, once the digests said something does.
fn locate_derived_damage(
    log: &dyn Log,
    size: u64,
    stored: &DerivedDigest,
    implied: &DerivedDigest,
) -> VerifyFailure {
    let mut frontier = Frontier::new();
    for rec in log.read(0, size) {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => return VerifyFailure(e.to_string()),
        };
        let ev = &rec.event;
        let p = ev.position;
        if stored.ids != implied.ids {
            match log.event(ev.event_id) {
                Ok(Some(found)) if found.position == p => {}
                Ok(_) => {
                    return VerifyFailure(format!(
                        "position {p}: the event-id index does not lead to this event ({})",
                        ev.event_id
                    ))
                }
                Err(e) => return VerifyFailure(format!("position {p}: the event-id index: {e}")),
            }
        }
        if stored.streams != implied.streams {
            match log.read_stream(&ev.stream, ev.stream_version, 1) {
                Ok(found) if found.first().is_some_and(|f| f.position == p) => {}
                Ok(_) => {
                    return VerifyFailure(format!(
                    "position {p}: the stream index does not lead to this event ({} version {})",
                    ev.stream, ev.stream_version
                ))
                }
                Err(e) => return VerifyFailure(format!("position {p}: the stream index: {e}")),
            }
        }
        if stored.retractions != implied.retractions {
            if let events::Payload::Retracted(_) = &ev.payload {
                let listed = log
                    .retractions(p + 1)
                    .map(|r| r.last().is_some_and(|l| l.position == p));
                if !matches!(listed, Ok(true)) {
                    return VerifyFailure(format!(
                        "position {p}: the retraction index does not list this retraction"
                    ));
                }
            }
        }
        for (level, index, hash) in frontier.push(rec.leaf_sha256.0) {
            if level > 0
                && stored.nodes != implied.nodes
                && log.node(level, index).ok() != Some(hash)
            {
                let first = index << level;
                let last = ((index + 1) << level) - 1;
                return VerifyFailure(format!("tree node level {level} index {index} (over positions {first}..={last}) differs from the hash of its records; proofs through it would be wrong"));
            }
        }
    }
    let which: Vec<&str> = [
        (stored.ids != implied.ids, "event-id index"),
        (stored.streams != implied.streams, "stream index"),
        (stored.nodes != implied.nodes, "tree nodes"),
        (
            stored.retractions != implied.retractions,
            "retraction index",
        ),
    ]
    .iter()
    .filter(|(bad, _)| *bad)
    .map(|(_, name)| *name)
    .collect();
    VerifyFailure(format!(
        "the store's {} hold entries no record explains",
        which.join(" and ")
    ))
}
