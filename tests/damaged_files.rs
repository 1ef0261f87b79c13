//! A store whose files are damaged, truncated, missing or of another format: the real
//! `taizhang` refuses to open it, names what is damaged and tells the operator what to do, and
//! never "repairs" history silently — a second open refuses too, and a log shorter than what
//! was acknowledged is never served.
//!
//! Each case starts from a copy of one pristine store made by the binary (the example village
//! imported in two files, 5 then 13 events, a checkpoint signed between them), damages its
//! files with ordinary file operations (or, for the format version, through sled), then runs
//! `taizhang verify` as an operator would.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use util::{copy_dir, example, ok, run};

const EVENTS: u64 = 18;

fn pristine(root: &Path) -> PathBuf {
    let data = root.join("pristine");
    ok(&data, &["init", "--origin", "damaged.test/taizhang"]);
    let text = std::fs::read_to_string(example()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, EVENTS);
    let head = root.join("head.jsonl");
    let tail = root.join("tail.jsonl");
    std::fs::write(&head, lines[..5].join("\n") + "\n").unwrap();
    std::fs::write(&tail, lines[5..].join("\n") + "\n").unwrap();
    ok(&data, &["import", head.to_str().unwrap()]);
    ok(&data, &["checkpoint"]);
    ok(&data, &["import", tail.to_str().unwrap()]);
    // The baseline, checked on a copy: every open makes sled write a snapshot of its log so
    // far, and what the last writer wrote after its own open (the second import) must stay
    // beyond the snapshot, as the writes of a long-running server are.
    let check = root.join("pristine-check");
    copy_dir(&data, &check);
    assert!(ok(&check, &["verify"]).starts_with("ok: 18 events"));
    data
}

fn copy_of(pristine: &Path, name: &str) -> PathBuf {
    let data = pristine.with_file_name(name);
    copy_dir(pristine, &data);
    data
}

/// Every file under `dir` with its bytes (to show an open changed nothing).
#[allow(clippy::type_complexity)]
fn contents(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.insert(entry.path(), None);
            out.extend(contents(&entry.path()));
        } else {
            out.insert(entry.path(), Some(std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

/// Runs `verify`, which must fail without claiming success; returns its standard error.
fn refused(data: &Path, case: &str) -> String {
    let out = run(data, &["verify"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{case}: verify succeeded on a damaged store: {stdout}"
    );
    assert!(!stdout.contains("ok:"), "{case}: {stdout}");
    assert!(stderr.starts_with("error: "), "{case}: {stderr}");
    stderr
}

/// A refusal as damage: it names it, says that nothing was repaired, and what to do.
fn refused_as_damage(data: &Path, case: &str) -> String {
    let stderr = refused(data, case);
    for words in [
        "is damaged: ",
        "taizhang repaired nothing",
        "restore the store from a backup or an export",
        "taizhang verify",
    ] {
        assert!(stderr.contains(words), "{case}: {words:?} in: {stderr}");
    }
    // And again: the first attempt must not have turned the damage into a smaller store.
    let again = refused(data, case);
    assert!(
        again.contains("is damaged: "),
        "{case}, second open: {again}"
    );
    stderr
}

/// Where sled's log ends in `db` (the rest of its segment is zeros).
fn log_end(data: &Path) -> usize {
    let db = std::fs::read(data.join("sled/db")).unwrap();
    db.iter().rposition(|b| *b != 0).unwrap() + 1
}

#[test]
fn a_truncated_log_is_refused_and_never_served_shorter() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let end = log_end(&pristine);
    let mut lengths = vec![0, 1, 100, 1000];
    // Every 97 bytes from a tenth of the log to its end, then the last bytes.
    lengths.extend((end / 10..end).step_by(97));
    lengths.extend([end - 3, end - 1]);
    let (mut corrupt, mut shorter) = (0, 0);
    for (i, len) in lengths.iter().enumerate() {
        let data = copy_of(&pristine, &format!("truncated-{i}"));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(data.join("sled/db"))
            .unwrap();
        f.set_len(*len as u64).unwrap();
        drop(f);
        let case = format!("sled/db truncated to {len} of {end} bytes");
        let stderr = refused_as_damage(&data, &case);
        if stderr.contains("records missing from position") {
            // The regression: sled recovered a shorter log without an error, and the store
            // opened with fewer events than it had acknowledged.
            assert!(
                stderr.contains("but 18 were acknowledged (file acknowledged)"),
                "{case}: {stderr}"
            );
            shorter += 1;
        } else {
            assert!(
                stderr.contains("sled found corrupt data in sled/db"),
                "{case}: {stderr}"
            );
            corrupt += 1;
        }
        std::fs::remove_dir_all(&data).unwrap();
    }
    // Truncating only the zeros after the log loses nothing: the store opens whole.
    let data = copy_of(&pristine, "truncated-zeros");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(data.join("sled/db"))
        .unwrap();
    f.set_len(end as u64 + 1).unwrap();
    drop(f);
    assert!(ok(&data, &["verify"]).starts_with("ok: 18 events"));
    eprintln!(
        "truncated sled/db ({end} bytes of log) at {} lengths: {corrupt} refused as corrupt by \
         sled, {shorter} recovered shorter by sled and refused by the acknowledged size",
        lengths.len()
    );
    assert!(shorter > 0, "no truncation exercised the acknowledged size");
}

#[test]
fn overwritten_bytes_in_the_log_are_refused_or_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let end = log_end(&pristine);
    let (mut corrupt, mut shorter, mut harmless) = (0, 0, 0);
    for (i, offset) in (0..end).step_by(211).enumerate() {
        let data = copy_of(&pristine, &format!("overwritten-{i}"));
        let path = data.join("sled/db");
        let mut db = std::fs::read(&path).unwrap();
        for b in &mut db[offset..(offset + 8).min(end)] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, db).unwrap();
        let case = format!("8 bytes of sled/db overwritten at byte {offset}");
        let out = run(&data, &["verify"], None);
        if out.status.success() {
            // Bytes sled never reads again (a page version it superseded): history is whole.
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.starts_with("ok: 18 events"), "{case}: {stdout}");
            harmless += 1;
        } else if refused_as_damage(&data, &case).contains("records missing from position") {
            shorter += 1;
        } else {
            corrupt += 1;
        }
        std::fs::remove_dir_all(&data).unwrap();
    }
    eprintln!(
        "overwrote 8 bytes of sled/db at {} offsets: {corrupt} refused as corrupt by sled, \
         {shorter} recovered shorter by sled and refused by the acknowledged size, {harmless} in \
         bytes sled no longer reads (the store opened whole and verified)",
        corrupt + shorter + harmless
    );
    assert!(shorter > 0, "no overwrite exercised the acknowledged size");
}

#[test]
fn missing_files_are_named_before_sled_touches_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    for (name, expect) in [
        ("sled/db", "sled/db is missing"),
        ("sled/conf", "sled/conf is missing"),
        ("sled/blobs", "sled/blobs is missing"),
        (
            "signing.key",
            "signing.key is missing: restore it from this store's backup",
        ),
        ("acknowledged", "file acknowledged is missing"),
    ] {
        let data = copy_of(&pristine, &format!("missing-{}", name.replace('/', "-")));
        let path = data.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
        let before = contents(&data);
        let stderr = refused_as_damage(&data, name);
        assert!(stderr.contains(expect), "{name}: {expect:?} in: {stderr}");
        if name != "acknowledged" {
            // Refused before sled opened: sled made no new db, conf or blobs.
            assert_eq!(
                contents(&data),
                before,
                "{name}: the refused open changed files"
            );
        }
    }
    // sled's snapshots are caches of its log: without them it reads the whole log.
    let data = copy_of(&pristine, "missing-snapshots");
    for entry in std::fs::read_dir(data.join("sled")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("snap.")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert!(ok(&data, &["verify"]).starts_with("ok: 18 events"));
}

#[test]
fn an_unreadable_acknowledged_size_is_refused_and_an_explicit_one_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    assert_eq!(
        std::fs::read_to_string(pristine.join("acknowledged")).unwrap(),
        "00000000000000000018\n"
    );
    let data = copy_of(&pristine, "ack-garbage");
    std::fs::write(data.join("acknowledged"), "eighteen\n").unwrap();
    let stderr = refused_as_damage(&data, "garbage");
    assert!(
        stderr.contains("file acknowledged does not hold an event count"),
        "{stderr}"
    );
    // More than the log holds: refused, naming the first missing position.
    std::fs::write(data.join("acknowledged"), "19\n").unwrap();
    let stderr = refused_as_damage(&data, "19");
    assert!(
        stderr.contains("records missing from position 18 on"),
        "{stderr}"
    );
    // The operator's explicit word (the message's own advice): the store opens, and the next
    // append records the size again, in full.
    std::fs::write(data.join("acknowledged"), "0\n").unwrap();
    assert!(ok(&data, &["verify"]).starts_with("ok: 18 events"));
    let line = r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"XX-ACK","name":"确认村","county":"岑溪市","township":"波塘镇"}}"#;
    let out = run(&data, &["append"], Some(line));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("acknowledged")).unwrap(),
        "00000000000000000019\n"
    );
}

/// Writes metadata `name` = `value` through sled directly (the store is closed).
fn set_meta(data: &Path, name: &str, value: &[u8]) {
    let db = sled::Config::new().path(data.join("sled")).open().unwrap();
    let tree = db.open_tree("log").unwrap();
    let mut key = vec![b'M'];
    key.extend_from_slice(name.as_bytes());
    tree.insert(key, value).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_store_from_before_the_acknowledged_size_opens_and_starts_keeping_it() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = copy_of(&pristine, "older");
    // What a store made by an earlier build looks like: no file, no metadata saying it keeps one.
    std::fs::remove_file(data.join("acknowledged")).unwrap();
    {
        let db = sled::Config::new().path(data.join("sled")).open().unwrap();
        let tree = db.open_tree("log").unwrap();
        assert!(tree.remove(b"Macknowledged-file").unwrap().is_some());
        db.flush().unwrap();
    }
    assert!(ok(&data, &["verify"]).starts_with("ok: 18 events"));
    // Known durable at that open: nothing yet; the next append records the size.
    assert_eq!(
        std::fs::read_to_string(data.join("acknowledged")).unwrap(),
        "00000000000000000000\n"
    );
    let line = r#"{"type":"VillageRegistered","occurred_on":"2016-01-04","payload":{"village_id":"XX-OLD","name":"旧村","county":"岑溪市","township":"波塘镇"}}"#;
    let out = run(&data, &["append"], Some(line));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("acknowledged")).unwrap(),
        "00000000000000000019\n"
    );
    // From now on the file is required.
    std::fs::remove_file(data.join("acknowledged")).unwrap();
    let stderr = refused_as_damage(&data, "removed after the upgrade");
    assert!(stderr.contains("file acknowledged is missing"), "{stderr}");
}

#[test]
fn another_format_version_is_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = pristine(tmp.path());
    let data = copy_of(&pristine, "format-2");
    set_meta(&data, "format", &2u32.to_be_bytes());
    let stderr = refused(&data, "format 2");
    assert!(
        stderr.contains("has format 2, newer than this build reads (1): upgrade taizhang"),
        "{stderr}"
    );
    let data = copy_of(&pristine, "format-0");
    set_meta(&data, "format", &0u32.to_be_bytes());
    let stderr = refused_as_damage(&data, "format 0");
    assert!(
        stderr.contains("format 0, which no taizhang ever wrote"),
        "{stderr}"
    );
    let data = copy_of(&pristine, "format-garbage");
    set_meta(&data, "format", b"one");
    let stderr = refused_as_damage(&data, "format garbage");
    assert!(
        stderr.contains("\"format\" is not a format version (bytes 6f6e65)"),
        "{stderr}"
    );
}

#[test]
fn what_is_not_a_store_is_said_so_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let stderr = refused(&empty, "empty");
    assert!(
        stderr.contains("no store at") && stderr.contains("taizhang init"),
        "{stderr}"
    );
    assert_eq!(contents(&empty), BTreeMap::new());

    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("sled")).unwrap();
    std::fs::write(other.join("sled/notes.txt"), "not a store").unwrap();
    let before = contents(&other);
    let stderr = refused(&other, "other");
    assert!(
        stderr.contains("is not a taizhang store") && stderr.contains("check --data"),
        "{stderr}"
    );
    assert_eq!(
        contents(&other),
        before,
        "sled made files in a directory that is no store"
    );

    let file = tmp.path().join("file");
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("sled"), "a file").unwrap();
    let stderr = refused(&file, "sled is a file");
    assert!(stderr.contains("is not a taizhang store"), "{stderr}");

    // Another store's log beside this store's key.
    let pristine = pristine(tmp.path());
    let stranger = tmp.path().join("stranger");
    ok(&stranger, &["init", "--origin", "stranger.test/taizhang"]);
    let mixed = copy_of(&pristine, "mixed");
    std::fs::copy(stranger.join("signing.key"), mixed.join("signing.key")).unwrap();
    let stderr = refused_as_damage(&mixed, "another store's key");
    assert!(
        stderr.contains("signing.key does not match the store's verifier key"),
        "{stderr}"
    );
}
