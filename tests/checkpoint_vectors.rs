//! Golden vectors for keys, signed notes and checkpoints (formats.md §4), and the ways a note must be refused.
//!
//! Two sources:
//! - the Go reference, golang.org/x/mod `sumdb/note/note_test.go` (the PeterNeumann and EnochRoot keys and signatures);
//! - our own checkpoint vector, produced by this code once and then re-derived byte for byte, signature included,
//!   by `tests/independent/checkpoint_vector.py` using only Python's hashlib and `cryptography` (OpenSSL Ed25519).

use taizhang::checkpoint::{
    open_note, parse_signed_note, sign_note, Checkpoint, KeyError, KeyId, NoteError, SigningKey,
    VerifierKey, MAX_NOTE_BYTES, MAX_SIGNATURE_LINES,
};

const NAME: &str = "example.com/taizhang-test";

/// The size-5 root of the RFC 6962 test tree (transparency-dev/merkle `testonly/constants.go`, RootHashes()[5]).
const ROOT_HEX: &str = "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4";

/// Seed bytes 0x00, 0x01, …, 0x1f.
fn seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn root() -> [u8; 32] {
    hex::decode(ROOT_HEX).unwrap().try_into().unwrap()
}

fn log_key() -> SigningKey {
    SigningKey::from_seed(NAME, &seed()).unwrap()
}

/// Cross-checked by tests/independent/checkpoint_vector.py.
const GOLDEN_NOTE: &str = "example.com/taizhang-test\n\
5\n\
Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=\n\
\n\
\u{2014} example.com/taizhang-test c5rlX/Q6amPE4vIiuVVcvR9AkjUeljBUbF0LpoipRhSglTbEzJAjK5SqGUrzfinm9vBalf/ePX8Bhg4d8HwZ82f9hAA=\n";
const GOLDEN_VERIFIER: &str =
    "example.com/taizhang-test+739ae55f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
const GOLDEN_SECRET: &str =
    "PRIVATE+KEY+example.com/taizhang-test+739ae55f+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";

/// A second key (seed 0x42 × 32) co-signing the same checkpoint, as a witness would; also cross-checked.
const WITNESS_LINE: &str = "\u{2014} witness.example/w1 hzOQzUfGpOMtumCNuWyUebP8QsBG5cc+S3dQCNA1p2Bc93tp5JaelAx0LUrFtTPNqx2B77U5FhHuKGE3Y/y/FId7qwY=\n";
const WITNESS_VERIFIER: &str =
    "witness.example/w1+873390cd+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";

#[test]
fn golden_checkpoint_byte_for_byte() {
    let key = log_key();
    assert_eq!(key.key_id(), KeyId([0x73, 0x9a, 0xe5, 0x5f]));
    assert_eq!(key.verifier().to_string(), GOLDEN_VERIFIER);
    assert_eq!(key.to_secret_string(), GOLDEN_SECRET);
    let checkpoint = Checkpoint::new(NAME, 5, root()).unwrap();
    assert_eq!(
        checkpoint.body(),
        "example.com/taizhang-test\n5\nTju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=\n"
    );
    assert_eq!(checkpoint.sign(&key), GOLDEN_NOTE);

    let verifier = VerifierKey::parse(GOLDEN_VERIFIER).unwrap();
    let parsed = parse_signed_note(GOLDEN_NOTE, &verifier).unwrap();
    assert_eq!(parsed, checkpoint);
    assert_eq!(parsed.origin(), NAME);
    assert_eq!(parsed.size(), 5);
    assert_eq!(parsed.root(), root());
}

#[test]
fn secret_string_round_trips() {
    let key = SigningKey::from_secret_string(GOLDEN_SECRET).unwrap();
    assert_eq!(key.verifier().to_string(), GOLDEN_VERIFIER);
    // The file may end with a newline; one, not more.
    let key = SigningKey::from_secret_string(&format!("{GOLDEN_SECRET}\n")).unwrap();
    assert_eq!(key.to_secret_string(), GOLDEN_SECRET);
    assert!(SigningKey::from_secret_string(&format!("{GOLDEN_SECRET}\n\n")).is_err());
    // A generated key survives the trip too.
    let fresh = SigningKey::generate("example.com/fresh").unwrap();
    let again = SigningKey::from_secret_string(&fresh.to_secret_string()).unwrap();
    assert_eq!(again.verifier(), fresh.verifier());
    assert_ne!(fresh.verifier(), log_key().verifier());
}

#[test]
fn secret_string_errors_hide_the_key() {
    let seed_base64 = "AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
    let cases = [
        GOLDEN_SECRET.replacen("PRIVATE+KEY+", "PUBLIC+KEY+", 1),
        GOLDEN_SECRET.replacen("739ae55f", "739ae55e", 1),
        GOLDEN_SECRET.replacen("739ae55f", "739AE55F", 1),
        GOLDEN_SECRET.replacen("taizhang-test", "taizhang-other", 1),
        GOLDEN_SECRET.replacen("+AQAB", "+AgAB", 1),
        format!("{}=", &GOLDEN_SECRET[..GOLDEN_SECRET.len() - 1]),
    ];
    for text in cases {
        let error = SigningKey::from_secret_string(&text).unwrap_err();
        assert!(!error.to_string().contains(seed_base64), "{error}");
    }
}

/// golang.org/x/mod `sumdb/note/note_test.go`.
mod go_reference {
    pub const PETER_SECRET: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    pub const PETER_VERIFIER: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    pub const ENOCH_VERIFIER: &str =
        "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    pub const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                            then you don't know what your problem is.\n";
    pub const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    pub const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
}

#[test]
fn go_reference_keys() {
    use go_reference::*;
    let key = SigningKey::from_secret_string(PETER_SECRET).unwrap();
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(key.key_id(), KeyId([0xc7, 0x4f, 0x20, 0xa3]));
    assert_eq!(key.verifier().to_string(), PETER_VERIFIER);
    assert_eq!(key.to_secret_string(), PETER_SECRET);
    let verifier = VerifierKey::parse(PETER_VERIFIER).unwrap();
    assert_eq!(verifier.to_string(), PETER_VERIFIER);
    assert_eq!(
        VerifierKey::parse(ENOCH_VERIFIER).unwrap().to_string(),
        ENOCH_VERIFIER
    );
}

#[test]
fn go_reference_key_manglings_are_refused() {
    use go_reference::*;
    // As TestNewVerifier and TestNewSigner: every proper substring and every one-byte change fails.
    for text in [PETER_VERIFIER, PETER_SECRET] {
        let parse = |candidate: &str| {
            if text == PETER_SECRET {
                SigningKey::from_secret_string(candidate).map(|_| ())
            } else {
                VerifierKey::parse(candidate).map(|_| ())
            }
        };
        assert_eq!(parse(text), Ok(()));
        let bytes = text.as_bytes();
        for start in 0..=bytes.len() {
            for end in start + 1..=bytes.len() {
                if start == 0 && end == bytes.len() {
                    continue;
                }
                let candidate = &text[start..end];
                // One trailing newline is allowed on a secret, not a missing character; nothing else is skipped.
                assert!(parse(candidate).is_err(), "accepted {candidate:?}");
            }
        }
        for index in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[index] += 1;
            let candidate = String::from_utf8(changed).unwrap();
            assert!(parse(&candidate).is_err(), "accepted {candidate:?}");
        }
    }
    // Go's two extra cases, their key ids adjusted so only the key is wrong.
    // The first is refused one step earlier here: "EY==" leaves non-zero trailing bits, which is not canonical base64.
    assert_eq!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(KeyError::InvalidBase64)
    );
    assert_eq!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEQ=="
        ),
        Err(KeyError::WrongKeyLength(36))
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedAlgorithm(0x65))
    );
}

#[test]
fn go_reference_sign() {
    use go_reference::*;
    let key = SigningKey::from_secret_string(PETER_SECRET).unwrap();
    assert_eq!(
        sign_note(TEXT, &key).unwrap(),
        format!("{TEXT}\n{PETER_SIG}")
    );
    assert_eq!(sign_note("abc", &key), Err(NoteError::MissingFinalNewline));
    assert_eq!(sign_note("", &key), Err(NoteError::EmptyText));
    assert_eq!(
        sign_note("a\rb\n", &key),
        Err(NoteError::ControlCharacter { offset: 1 })
    );
}

#[test]
fn go_reference_open() {
    use go_reference::*;
    let peter = VerifierKey::parse(PETER_VERIFIER).unwrap();
    let enoch = VerifierKey::parse(ENOCH_VERIFIER).unwrap();
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // Each key finds its own signature and ignores the other's.
    assert_eq!(open_note(&both, &peter), Ok(TEXT));
    assert_eq!(open_note(&both, &enoch), Ok(TEXT));
    let unknown = log_key().verifier();
    assert!(matches!(
        open_note(&both, &unknown),
        Err(NoteError::NoVerifiedSignature { .. })
    ));

    // A known key's broken signature refuses the whole note.
    let broken_peter = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        open_note(&format!("{TEXT}\n{broken_peter}"), &peter),
        Err(NoteError::InvalidSignature { .. })
    ));
    // An unknown key's broken signature is ignored: duplicates and junk from others do not matter.
    let broken_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let noisy = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{broken_enoch}");
    assert_eq!(open_note(&noisy, &peter), Ok(TEXT));

    // Same name with another key id, or another name with the same key id: not our key, so ignored.
    let other_id = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(
        open_note(&format!("{TEXT}\n{other_id}"), &peter),
        Err(NoteError::NoVerifiedSignature { .. })
    ));
    let other_name = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        open_note(&format!("{TEXT}\n{other_name}"), &peter),
        Err(NoteError::NoVerifiedSignature { .. })
    ));

    // Too many signature lines.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURE_LINES + 1));
    assert_eq!(
        open_note(&many, &peter),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURE_LINES
        })
    );
    let enough = format!("{TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURE_LINES));
    assert_eq!(open_note(&enough, &peter), Ok(TEXT));

    // Go's malformed messages (its invalid-UTF-8 case cannot be a &str).
    let malformed: [(String, NoteError); 6] = [
        (TEXT.to_owned(), NoteError::MissingSignatures),
        (format!("{TEXT}\n"), NoteError::MissingSignatures),
        (
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            NoteError::MissingFinalNewline,
        ),
        (
            format!("\u{1}{TEXT}\n{PETER_SIG}"),
            NoteError::ControlCharacter { offset: 0 },
        ),
        (
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            NoteError::MalformedSignatureLine {
                line: 1,
                reason: "the signature is not canonical standard base64",
            },
        ),
        (
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            NoteError::MalformedSignatureLine {
                line: 2,
                reason: "it does not start with an em dash and a space",
            },
        ),
    ];
    for (note, expected) in malformed {
        assert_eq!(open_note(&note, &peter), Err(expected), "{note:?}");
    }
}

#[test]
fn witness_cosignature_is_ignored_or_used() {
    let log = VerifierKey::parse(GOLDEN_VERIFIER).unwrap();
    let witness = VerifierKey::parse(WITNESS_VERIFIER).unwrap();
    let witness_key = SigningKey::from_seed("witness.example/w1", &[0x42; 32]).unwrap();
    assert_eq!(witness_key.verifier(), witness);
    let checkpoint = Checkpoint::new(NAME, 5, root()).unwrap();
    assert!(checkpoint.sign(&witness_key).ends_with(WITNESS_LINE));

    // Either order, and each key finds its own line among the others.
    let cosigned = format!("{GOLDEN_NOTE}{WITNESS_LINE}");
    let (body, log_line) = GOLDEN_NOTE.split_once("\n\n").unwrap();
    let witness_first = format!("{body}\n\n{WITNESS_LINE}{log_line}");
    for note in [&cosigned, &witness_first] {
        assert_eq!(parse_signed_note(note, &log), Ok(checkpoint.clone()));
        assert_eq!(parse_signed_note(note, &witness), Ok(checkpoint.clone()));
    }
    // The witness's line alone does not satisfy the log's key.
    let witness_only = format!("{body}\n\n{WITNESS_LINE}");
    assert_eq!(
        parse_signed_note(&witness_only, &log),
        Err(NoteError::NoVerifiedSignature {
            name: NAME.to_owned(),
            key_id: log.key_id()
        })
    );
}

#[test]
fn c2sp_examples_parse_as_notes() {
    // The examples of c2sp.org/tlog-checkpoint and c2sp.org/signed-note: we do not hold their keys,
    // so they must get as far as "no signature by our key", not stop at a syntax error.
    let tlog = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    let poem = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let ours = log_key().verifier();
    for note in [tlog, poem] {
        assert!(
            matches!(
                open_note(note, &ours),
                Err(NoteError::NoVerifiedSignature { .. })
            ),
            "{note:?}"
        );
    }
    // A text with a blank line inside is split at the last blank line, as in the poem.
    let key = log_key();
    let poem_text = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n";
    let signed = sign_note(poem_text, &key).unwrap();
    assert_eq!(open_note(&signed, &ours), Ok(poem_text));
    // But a checkpoint body never has one.
    assert_eq!(
        parse_signed_note(&signed, &ours),
        Err(NoteError::BodyLineCount { found: 4 })
    );
}

#[test]
fn tampered_checkpoints_are_refused() {
    let verifier = log_key().verifier();
    let (body, line) = GOLDEN_NOTE.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let line = line.to_owned();
    let invalid = || {
        Err(NoteError::InvalidSignature {
            name: NAME.to_owned(),
            key_id: verifier.key_id(),
        })
    };
    // Any change to the body breaks the signature.
    for changed in [
        body.replace("\n5\n", "\n6\n"),
        body.replace("Tju7", "Tju8"),
        body.replace("taizhang-test\n", "taizhang-tesT\n"),
    ] {
        assert_ne!(changed, body);
        assert_eq!(
            parse_signed_note(&format!("{changed}\n{line}"), &verifier),
            invalid(),
            "{changed:?}"
        );
    }
    // Any change to the signature too (bytes 4.. of the decoded line; the first 4 are the key id).
    let encoded = line.rsplit_once(' ').unwrap().1.trim_end();
    let mut signature = base64_decode(encoded);
    for index in 4..signature.len() {
        signature[index] ^= 0x01;
        let note = format!("{body}\n\u{2014} {NAME} {}\n", base64_encode(&signature));
        assert_eq!(
            parse_signed_note(&note, &verifier),
            invalid(),
            "byte {index}"
        );
        signature[index] ^= 0x01;
    }
    // A signature cut short is invalid, not ignored.
    let short = base64_encode(&signature[..40]);
    assert_eq!(
        parse_signed_note(&format!("{body}\n\u{2014} {NAME} {short}\n"), &verifier),
        invalid()
    );
    // Without the final newline, or without the blank line.
    assert_eq!(
        parse_signed_note(GOLDEN_NOTE.trim_end_matches('\n'), &verifier),
        Err(NoteError::MissingFinalNewline)
    );
    assert_eq!(
        parse_signed_note(&format!("{body}{line}"), &verifier),
        Err(NoteError::MissingSignatures)
    );
    // Validly signed bodies that are not checkpoints of formats.md §4.
    let key = log_key();
    let root_base64 = "Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=";
    let bodies: [(String, &str); 6] = [
        (
            format!("{NAME}\n5\n{root_base64}\nextension\n"),
            "exactly 3 lines",
        ),
        (format!("{NAME}\n05\n{root_base64}\n"), "leading zero"),
        (
            format!("{NAME}\n5\n{}\n", root_base64.trim_end_matches('=')),
            "base64",
        ),
        (
            format!("{NAME}\n5\nTju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNR=\n"),
            "base64",
        ),
        (format!("{NAME}\n5\nAAAA\n"), "32 bytes"),
        (format!("{NAME}\n5\n"), "exactly 3 lines"),
    ];
    for (text, expected) in bodies {
        let note = sign_note(&text, &key).unwrap();
        let error = parse_signed_note(&note, &verifier).unwrap_err();
        assert!(error.to_string().contains(expected), "{text:?}: {error}");
    }
    // An empty origin cannot even be signed as a checkpoint, and is refused when signed as a note.
    assert!(Checkpoint::new("", 5, root()).is_err());
    let note = sign_note(&format!("\n5\n{root_base64}\n"), &key).unwrap();
    assert!(matches!(
        parse_signed_note(&note, &verifier),
        Err(NoteError::InvalidOrigin { .. })
    ));
}

#[test]
fn note_size_limit_admits_sixteen_large_signatures() {
    // c2sp.org/signed-note: accept at least 16 signatures, post-quantum ones near 5 kB each.
    let verifier = log_key().verifier();
    let big = base64_encode(&[0x5a; 4 + 4_900]);
    let others: String = (0..16)
        .map(|i| format!("\u{2014} pq.example/w{i} {big}\n"))
        .collect();
    let note = format!("{GOLDEN_NOTE}{others}");
    assert!(note.len() <= MAX_NOTE_BYTES, "{}", note.len());
    assert!(parse_signed_note(&note, &verifier).is_ok());
    // Past the limit, refused before any work.
    let huge = format!("{GOLDEN_NOTE}{}", others.repeat(2));
    assert_eq!(
        parse_signed_note(&huge, &verifier),
        Err(NoteError::TooLarge {
            len: huge.len(),
            max: MAX_NOTE_BYTES
        })
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
