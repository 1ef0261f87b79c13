//! Golden vectors for the committed event formats (formats.md §1, §2, §3, §5): payload hashes,
//! leaf hashes, the RFC 9162 root and export lines of the example village, frozen from an
//! independent implementation.
//!
//! Every expected value below was computed by `tests/independent/golden_events.py` (Python's
//! `json`, `hashlib` and `uuid`, and the RFC 9162 tree written out there), not by this crate.
//! cargo does not run it; rerun it from the repository root with
//! `python3 tests/independent/golden_events.py` and paste its output over the constants when a
//! format changes on purpose (which also means every existing proof and checkpoint changes).

use events::import::parse_line;
use events::{EventId, RecordedEvent, Sha256, Timestamp};
use sha2::Digest;

/// The example the vectors cover, as shipped.
const EXAMPLE: &str = include_str!("../../examples/village.jsonl");

/// Two events beyond the example, for what it lacks: null optional fields, and strings that
/// need every kind of JCS escape (short escapes, `\u00xx` controls) beside characters that must
/// not be escaped (`/`, U+007F, U+2028, CJK). The same lines as EXTRA in the Python script.
const EXTRA: [&str; 2] = [
    r#"{"type":"FundsDisbursed","occurred_on":"2016-11-02","payload":{"village_id":"CX-BT-LF","pledge_id":null,"amount_fen":3000000,"purpose":"村集体自筹：\"修缮\"祠堂\\戏台/门楼\n第二行\t\u0001\u001f\u007f\u2028结束"}}"#,
    r#"{"type":"InspectionRecorded","occurred_on":"2016-11-20","payload":{"inspection_id":"I-CX-11","village_id":"CX-BT-LF","posting_id":null,"inspector":"县纪委\b督查组","findings":[{"finding_id":"F1","severity":"serious","text":"危房改造资金\r\n未公示"},{"finding_id":"F2","severity":"minor","text":""}]}}"#,
];

/// The fixed envelope: what the log would have recorded for line `i` under these rules.
/// - position `i`; event_id uuid5(NAMESPACE_URL, "golden/<i>"); stream from the payload, its
///   version counted per stream; schema 1; actor "golden";
/// - recorded_at: the business date's midnight in China Standard Time + 9h30m + `i` seconds,
///   so that it never decreases along the position and is never before `occurred_on`.
fn golden_events() -> Vec<RecordedEvent> {
    let lines: Vec<&str> = EXAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .chain(EXTRA)
        .collect();
    assert_eq!(lines.len(), 20, "the example has 18 lines, plus 2 extra");
    let mut versions = std::collections::HashMap::<String, u64>::new();
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let ev = parse_line(line)
                .unwrap_or_else(|e| panic!("line {i}: {e}"))
                .event;
            let stream = ev.payload.stream().expect("no retraction in the vectors");
            let version = versions.entry(stream.clone()).or_insert(0);
            let stream_version = *version;
            *version += 1;
            let since_midnight_s = 9 * 3600 + 30 * 60 + i as i64;
            RecordedEvent {
                position: i as u64,
                event_id: EventId(uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_URL,
                    format!("golden/{i}").as_bytes(),
                )),
                stream,
                stream_version,
                schema: 1,
                occurred_on: ev.occurred_on,
                recorded_at: Timestamp::from_micros(
                    Timestamp::cst_midnight(ev.occurred_on).micros() + since_midnight_s * 1_000_000,
                ),
                actor: "golden".into(),
                payload: ev.payload,
            }
        })
        .collect()
}

/// RFC 9162 §2.1.1 over leaf hashes, written out here because the tree lives in the root
/// crate; the expected roots come from the Python script, so this is checked too.
fn mth(leaves: &[Sha256]) -> [u8; 32] {
    let h = |parts: &[&[u8]]| -> [u8; 32] {
        let mut d = sha2::Sha256::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().into()
    };
    match leaves.len() {
        0 => h(&[]),
        1 => leaves[0].0,
        n => {
            let k = largest_power_of_two_below(n);
            h(&[&[1u8], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// The k of RFC 9162: the largest power of two smaller than `n` (n ≥ 2).
fn largest_power_of_two_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

#[test]
fn payload_and_leaf_hashes_match_the_independent_derivation() {
    let events = golden_events();
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(
            ev.payload_sha256().to_hex(),
            PAYLOAD_SHA256[i],
            "payload_sha256 of event {i}"
        );
        assert_eq!(
            ev.leaf_sha256().to_hex(),
            LEAF_SHA256[i],
            "leaf_sha256 of event {i}"
        );
        // The leaf is SHA-256(0x00 ‖ leaf input), and the leaf input is the export line less
        // `payload` and `leaf_sha256`: check the parts agree with each other too.
        assert_eq!(
            events::leaf_hash(ev.leaf_input().as_bytes()),
            ev.leaf_sha256(),
            "event {i}"
        );
    }
}

#[test]
fn the_root_of_the_example_matches_the_independent_derivation() {
    let leaves: Vec<Sha256> = golden_events().iter().map(|e| e.leaf_sha256()).collect();
    assert_eq!(hex::encode(mth(&leaves[..18])), ROOT_18);
    assert_eq!(hex::encode(mth(&leaves)), ROOT_20);
}

#[test]
fn export_lines_match_the_independent_derivation() {
    let events = golden_events();
    assert_eq!(events[0].export_line(), EXPORT_0);
    assert_eq!(events[18].export_line(), EXPORT_18);
    assert_eq!(events[19].export_line(), EXPORT_19);
}

#[test]
fn the_leaf_input_is_the_export_line_without_payload_and_leaf() {
    // formats.md §2: the leaf input is exactly ten keys; removing `payload` and `leaf_sha256`
    // from the (independently frozen) export line and re-serialising must give it.
    let events = golden_events();
    for (i, export) in [(0, EXPORT_0), (18, EXPORT_18), (19, EXPORT_19)] {
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(export).unwrap();
        v.remove("payload");
        v.remove("leaf_sha256");
        assert_eq!(v.len(), 10);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            events[i].leaf_input(),
            "event {i}"
        );
    }
}

/// SHA-256 of JCS(payload), by position.
const PAYLOAD_SHA256: [&str; 20] = [
    "6813fda678c7c2d5827ed5246b7cce30ae6c6567f3731e87efd3118357ae3e48",
    "c56063dc5e11d0f2f9f18f1e1d2ff83246c2c50080988f029dbaaed5e681674d",
    "ec94fcee594e13a7211bce233696eb9614434d2f77c544974aeb9a172b0e8846",
    "adc1656f32a83b845fd0d049c16fceb910399000b10c3db74afb00538e685c1c",
    "dc154c1ef859abf38f43295ecd26018ae5eb24c5adef979086c0582c1250f5b3",
    "8a145bb8f01f8267c456d9ff8470a39f6b47c8c207016c03e47f15f6ca32cafd",
    "ea71593654978a2be3d9f5051bbc91b26882b807cf1c43a092f68287c5391092",
    "eb154724d5ec189bc820df89c5a0bf6f3f99befc06869cee7b8cbd5a29641568",
    "2be03eff0cd62ebed78cfcc96dc2ccbae62a9fc5e0e03cb3d631e507b7eb4d5d",
    "42b242dfc8b1ed7d1b40e8471672d091b8c31715b7ba4a72ade4791a4528701b",
    "2c16ef072cc9415b2d42749444d7ef56e22ae7572f648e7e37dc29b99e8af2a8",
    "9e0c30d57c9e2cd238e3370e3174e117d55a563a36f05dff499aac91375c46a5",
    "8ff27e0257f2d984b00c5cabf9fb378d4f83ee27313f65d8012c411cc6a7cd1a",
    "6b82b666a840f5d667f7b49f1dda2126f9a2eca274a5e04854c18585fc8e06ee",
    "76d06ff951583efe45ac1a4a7cdc9a5e44f66ee1d244b310f1b1eb89209d1e4a",
    "ef271ea205ba82d37015bc73b590e6664ea3cdc66e1950bbec7893ababbc94ea",
    "8fc1708d9623d6dfe3282a457a5b20313e6f8d0a91b01088f70126551ee16694",
    "f2c1f4052e2c82d5e751752a978563a9ad9c2277893a04c4b817ffada4df338d",
    "5f3d0e63e100f9819a2cb95b9fb0d1c82e74d11ab3da096c063374ec1515d5da",
    "9057b4f3722a639bfb845c0249ecff77fa12ce49974470fc2506f0537fe93f53",
];
/// SHA-256(0x00 ‖ leaf input), by position.
const LEAF_SHA256: [&str; 20] = [
    "4a85a02419f7d91eb2180213734938dc57be519d211b90969634dd8754b93723",
    "c01fa02fc38d8b5feba573dc152a16e78ba92d6033039c558db4e605fc270b43",
    "5c51e3d5f9de067904f6444c04d83f18f9417671be42402e2b457820c3685e9e",
    "02c61e9f3bf7c0b7ca8b362e450e88a7e1b09ac492a10c1b52db64ae5f604679",
    "2595d2f1201db7198c6b2dccc2f19b65c48ec26a5c97c26504c1fc05360fdf18",
    "b06b22092c1a4e59afec971c01a875d0957d350338e2cfe6dd4e4da7b4e58472",
    "929e1ecf4f5b6d0cf486961b4e4ec84739d33e9115206fdac6f480a7f187dcfa",
    "2703715e10b6859a0c929257eaa08ca762d8ed61926698ce9844a6fca7785dd9",
    "440864a75617a26a85ba0b523eaab94a7271e4f5639fcf7c1abb34ac0dfd6ba1",
    "f4a8343f8714f14d16721daa818c53e9f4044a806b38d3eae8dc0e232579ab71",
    "0b6ef36fda3f1b8f279bada28006af53990d122f7e2f951ad8f480487bdfdb26",
    "89fb1d94ae57308e742de0978f2998acc50d7ed2b4b0caef11c87076b2c4c665",
    "34ebad80b4ef38c3bbc0d7d1430805620e0d86249a279c6fa73a7cfd41140bac",
    "25d7cc1bb664d071875222eadf42e35f1bb8d14da2450498dee4c79d077e6221",
    "bfd47ae60394e5f59e329aeff0de3fd3139c3dbf350671461cc22d68dd235da6",
    "283c0d6ba2d501dbea66640c3672aee4fac4ba4733f6af4b6f5069f0f16f347c",
    "a4676d2fb7b96e857f72978a44946bd32a068e643239755b785153629eab5522",
    "1367204087823065b1c412c8d48135a42aeb3d790d5943549667dc2707145b06",
    "8d3c59cac6a88939ba5387415ed30e5a2517ea211716061e5159f08f1c1891da",
    "22eb542548e72d0ba1c5759029808fd60086d60c9def4234f74741baaad30900",
];
/// RFC 9162 root of the 18 example events.
const ROOT_18: &str = "de66879587702825bbc1c76714a58f59bca1b0bc41cb49e271937823ca3bfcba";
/// RFC 9162 root of the 18 example events and the 2 extra ones.
const ROOT_20: &str = "c5845d8f8819d2cd6d439286ae362080358c091620b952b79530250156f6e604";
/// Export lines (without their final newline).
const EXPORT_0: &str = "{\"actor\":\"golden\",\"event_id\":\"90dafc41-ea2f-5edb-8a56-ebe47f1330b1\",\"leaf_sha256\":\"4a85a02419f7d91eb2180213734938dc57be519d211b90969634dd8754b93723\",\"occurred_on\":\"2016-01-04\",\"payload\":{\"county\":\"岑溪市\",\"name\":\"六肥村\",\"township\":\"波塘镇\",\"village_id\":\"CX-BT-LF\"},\"payload_sha256\":\"6813fda678c7c2d5827ed5246b7cce30ae6c6567f3731e87efd3118357ae3e48\",\"position\":0,\"recorded_at\":\"2016-01-04T01:30:00.000000Z\",\"schema\":1,\"stream\":\"village/CX-BT-LF\",\"stream_version\":0,\"type\":\"VillageRegistered\"}";
const EXPORT_18: &str = "{\"actor\":\"golden\",\"event_id\":\"d0972454-b038-576e-86b2-c2952967aa44\",\"leaf_sha256\":\"8d3c59cac6a88939ba5387415ed30e5a2517ea211716061e5159f08f1c1891da\",\"occurred_on\":\"2016-11-02\",\"payload\":{\"amount_fen\":3000000,\"pledge_id\":null,\"purpose\":\"村集体自筹：\\\"修缮\\\"祠堂\\\\戏台/门楼\\n第二行\\t\\u0001\\u001f\u{7f}\u{2028}结束\",\"village_id\":\"CX-BT-LF\"},\"payload_sha256\":\"5f3d0e63e100f9819a2cb95b9fb0d1c82e74d11ab3da096c063374ec1515d5da\",\"position\":18,\"recorded_at\":\"2016-11-02T01:30:18.000000Z\",\"schema\":1,\"stream\":\"village/CX-BT-LF\",\"stream_version\":4,\"type\":\"FundsDisbursed\"}";
const EXPORT_19: &str = "{\"actor\":\"golden\",\"event_id\":\"0d4a2dc8-e2b7-58ef-bc4e-86c394bea347\",\"leaf_sha256\":\"22eb542548e72d0ba1c5759029808fd60086d60c9def4234f74741baaad30900\",\"occurred_on\":\"2016-11-20\",\"payload\":{\"findings\":[{\"finding_id\":\"F1\",\"severity\":\"serious\",\"text\":\"危房改造资金\\r\\n未公示\"},{\"finding_id\":\"F2\",\"severity\":\"minor\",\"text\":\"\"}],\"inspection_id\":\"I-CX-11\",\"inspector\":\"县纪委\\b督查组\",\"posting_id\":null,\"village_id\":\"CX-BT-LF\"},\"payload_sha256\":\"9057b4f3722a639bfb845c0249ecff77fa12ce49974470fc2506f0537fe93f53\",\"position\":19,\"recorded_at\":\"2016-11-20T01:30:19.000000Z\",\"schema\":1,\"stream\":\"inspection/I-CX-11\",\"stream_version\":0,\"type\":\"InspectionRecorded\"}";

/// The leaf input written directly equals the one built through a JSON map and JCS, for
/// actors and streams that need escaping too.
#[test]
fn direct_leaf_input_equals_the_map_built_one() {
    let line = r#"{"type":"ProjectStarted","occurred_on":"2016-03-15","payload":{"project_id":"R-CX-01"}}"#;
    let ev = events::import::parse_line(line).unwrap().event;
    for actor in ["cli", "县\"委\"\\组织部\n\u{1}", "a/b\u{7f}\u{2028}"] {
        let rec = events::RecordedEvent {
            position: 12345678901,
            event_id: events::EventId::parse("0190a5b2-7c4e-7d3a-9b1f-2e4d6c8a0b1c").unwrap(),
            stream: "project/R-CX-01".into(),
            stream_version: 3,
            schema: 1,
            occurred_on: ev.occurred_on,
            recorded_at: events::Timestamp::from_micros(1_458_000_000_123_456),
            actor: actor.into(),
            payload: ev.payload.clone(),
        };
        assert_eq!(rec.leaf_input(), rec.leaf_input_by_map());
    }
}
