//! Crash test: a child process appends under concurrency and is killed with SIGKILL at random
//! (seeded) moments. After each kill the store reopens, every acknowledged event is there with
//! the same position and leaf hash, every attempted batch is either whole or absent, positions
//! are gapless (checked by open) and verify passes.
//!
//! The child is this test binary itself, re-run with `TAIZHANG_CRASH_CHILD` set.
//! Rounds: `TAIZHANG_CRASH_ROUNDS` (default 50); seed: `TAIZHANG_CRASH_SEED`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use events::import::parse_line;
use events::EventId;
use taizhang::store::{Log, SledLog, Source};

const WRITERS: usize = 8;

/// A small deterministic generator (xorshift64*), so a failing seed replays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn batch_for(round: u64, writer: usize, n: u64, size: usize) -> Vec<events::ProposedEvent> {
    let mut out = Vec::new();
    for k in 0..size {
        let village = format!("V-{round}-{writer}-{n}-{k}");
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, village.as_bytes());
        let line = format!(
            r#"{{"type":"VillageRegistered","occurred_on":"2016-01-04","event_id":"{id}","payload":{{"village_id":"{village}","name":"村{n}","county":"岑溪市","township":"波塘镇"}}}}"#
        );
        out.push(parse_line(&line).unwrap().event);
        let id2 = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{village}/c").as_bytes(),
        );
        let line = format!(
            r#"{{"type":"VillageClassified","occurred_on":"2016-01-10","event_id":"{id2}","payload":{{"village_id":"{village}","year":2016,"obstacle":"industry"}}}}"#
        );
        out.push(parse_line(&line).unwrap().event);
    }
    out
}

/// The child: appends from several threads until killed, reporting each batch before and after.
fn child(dir: &Path, round: u64) {
    let log = std::sync::Arc::new(SledLog::open(dir).expect("child opens the store"));
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let log = log.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    let size = [1, 1, 1, 5, 50][n as usize % 5];
                    let batch = batch_for(round, w, n, size);
                    let ids: Vec<String> = batch
                        .iter()
                        .map(|e| e.event_id.unwrap().to_string())
                        .collect();
                    writeln!(out.lock().unwrap(), "try {}", ids.join(" ")).unwrap();
                    let appended = log
                        .append(batch, "crash", Source::Client, None)
                        .expect("append");
                    let acks: Vec<String> = appended
                        .iter()
                        .map(|a| format!("{}:{}", a.position, a.event_id))
                        .collect();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ack {}", acks.join(" ")).unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn crash_child_entry() {
    // Runs only as the child of `killed_writers_lose_nothing_acknowledged`.
    if let (Ok(dir), Ok(round)) = (
        std::env::var("TAIZHANG_CRASH_CHILD"),
        std::env::var("TAIZHANG_CRASH_ROUND"),
    ) {
        child(Path::new(&dir), round.parse().unwrap());
    }
}

#[test]
fn killed_writers_lose_nothing_acknowledged() {
    let rounds: u64 = std::env::var("TAIZHANG_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("TAIZHANG_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a1_2016);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    drop(SledLog::init(&data, "crash.test/taizhang", false).unwrap());

    // Every acknowledged event, by position.
    let mut acked: HashMap<u64, EventId> = HashMap::new();
    let mut total_acked_batches = 0usize;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_entry",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("TAIZHANG_CRASH_CHILD", &data)
            .env("TAIZHANG_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Let it run until some appends went through, then a random while longer.
        std::thread::sleep(Duration::from_millis(150 + rng.below(250)));
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        // Reopen: open itself checks gapless positions and stream versions, every record's
        // checksum, and the stored tree against the records.
        let log = SledLog::open(&data)
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: reopen failed: {e}"));
        let size = log.size();
        let mut present: HashMap<EventId, u64> = HashMap::new();
        for rec in log.read(0, size) {
            let ev = rec.unwrap().event;
            present.insert(ev.event_id, ev.position);
        }
        for (i, line) in lines.iter().enumerate() {
            // The test harness prints its own lines too.
            if !(line.starts_with("try ") || line.starts_with("ack ")) {
                continue;
            }
            // The kill may cut the last line short; every other line is whole.
            let whole = line
                .split(' ')
                .skip(1)
                .all(|w| EventId::parse(w.rsplit(':').next().unwrap_or("")).is_ok());
            if !whole {
                assert_eq!(
                    i,
                    lines.len() - 1,
                    "seed {seed} round {round}: malformed line {line:?}"
                );
                continue;
            }
            if let Some(acks) = line.strip_prefix("ack ") {
                total_acked_batches += 1;
                for a in acks.split(' ') {
                    let (p, id) = a.split_once(':').unwrap();
                    let p: u64 = p.parse().unwrap();
                    let id = EventId::parse(id).unwrap();
                    assert_eq!(present.get(&id), Some(&p), "seed {seed} round {round}: acknowledged event {id} at {p} is missing or moved");
                    if let Some(prev) = acked.insert(p, id) {
                        assert_eq!(
                            prev, id,
                            "seed {seed}: position {p} acknowledged twice for different events"
                        );
                    }
                }
            } else if let Some(ids) = line.strip_prefix("try ") {
                // All or nothing: an attempted batch is whole or absent.
                let ids: Vec<EventId> =
                    ids.split(' ').map(|s| EventId::parse(s).unwrap()).collect();
                let found = ids.iter().filter(|id| present.contains_key(id)).count();
                assert!(
                    found == 0 || found == ids.len(),
                    "seed {seed} round {round}: a batch of {} is half present ({found})",
                    ids.len()
                );
            }
        }
        for (p, id) in &acked {
            assert_eq!(
                present.get(id),
                Some(p),
                "seed {seed} round {round}: event acknowledged in an earlier round is gone"
            );
        }
        let v = taizhang::ops::verify(&log, |_| {})
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: verify: {e}"));
        assert_eq!(v.size, size);
        drop(log);
    }
    eprintln!("crash test: seed {seed}, {rounds} rounds killed, {total_acked_batches} batches acknowledged, {} events acknowledged and found", acked.len());
    assert!(total_acked_batches >= rounds as usize, "the child acknowledged too few batches ({total_acked_batches}) for the test to mean anything");
}
