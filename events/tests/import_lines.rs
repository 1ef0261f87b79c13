//! Import lines of the shipped example parse, and bad lines are refused naming the field.

use events::import::parse_line;

const VILLAGE: &str = include_str!("../../examples/village.jsonl");

#[test]
fn every_example_line_parses_and_round_trips_through_jcs() {
    let mut n = 0;
    for line in VILLAGE.lines() {
        let parsed = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        // The payload's canonical JSON parses back to the same payload.
        let ty = parsed.event.payload.event_type();
        let jcs = events::canonical::to_jcs(&parsed.event.payload.to_json_value());
        assert_eq!(
            events::Payload::from_json(ty, &jcs).unwrap(),
            parsed.event.payload
        );
        n += 1;
    }
    assert_eq!(n, 18);
}

fn refused(line: &str) -> (String, String) {
    let e = parse_line(line).expect_err(line);
    (e.field, e.reason)
}

#[test]
fn bad_lines_name_the_field() {
    let ok = r#"{"type":"ProjectStarted","occurred_on":"2016-03-15","payload":{"project_id":"R-CX-01"}}"#;
    parse_line(ok).unwrap();
    assert_eq!(
        refused(&ok.replace("ProjectStarted", "ProjectBegun")).0,
        "type"
    );
    assert_eq!(
        refused(&ok.replace("2016-03-15", "2016-02-30")).0,
        "occurred_on"
    );
    assert_eq!(
        refused(&ok.replace("R-CX-01", "R CX")).0,
        "payload.project_id"
    );
    assert_eq!(
        refused(&ok.replace(r#""R-CX-01""#, r#""R-CX-01","x":1"#)).0,
        "payload.x"
    );
    assert_eq!(
        refused(&ok.replace(r#""project_id":"R-CX-01""#, "")).0,
        "payload.project_id"
    );
    assert_eq!(
        refused(&ok.replace(r#""R-CX-01""#, "null")).0,
        "payload.project_id"
    );
    assert_eq!(
        refused(&ok.replace(r#""R-CX-01""#, r#""R-CX-01","project_id":"B""#)).0,
        "payload.project_id"
    );
    assert_eq!(refused(&ok.replace("}}", r#"},"color":"red"}"#)).0, "color");
    assert_eq!(
        refused(&ok.replace(
            "}}",
            r#"},"event_id":"0190A5B2-7C4E-7D3A-9B1F-2E4D6C8A0B1C"}"#
        ))
        .0,
        "event_id"
    );
    assert_eq!(
        refused(&ok.replace("}}", r#"},"expected_version":-1}"#)).0,
        "expected_version"
    );
    assert_eq!(
        refused(&ok.replace("}}", r#"},"expected_version":1e2}"#)).0,
        "expected_version"
    );
    assert_eq!(refused(&format!("\u{feff}{ok}")).0, "line");
    assert_eq!(refused(r#"{"type":"ProjectStarted","occurred_on":"2016-03-15","payload":{"project_id":"\ud800"}}"#).0, "payload.project_id");
    let amount = r#"{"type":"DonationReceived","occurred_on":"2016-05-20","payload":{"pledge_id":"D","amount_fen":AMT,"receipt_no":"R"}}"#;
    parse_line(&amount.replace("AMT", "9007199254740991")).unwrap();
    assert_eq!(
        refused(&amount.replace("AMT", "9007199254740992")).0,
        "payload.amount_fen"
    );
    assert_eq!(
        refused(&amount.replace("AMT", "-5")).0,
        "payload.amount_fen"
    );
    assert_eq!(
        refused(&amount.replace("AMT", "5.0")).0,
        "payload.amount_fen"
    );
    assert_eq!(
        refused(&amount.replace("AMT", "\"5\"")).0,
        "payload.amount_fen"
    );
}

#[test]
fn nested_fields_are_named_with_their_index() {
    let line = r#"{"type":"InspectionRecorded","occurred_on":"2016-08-12","payload":{"inspection_id":"I","village_id":"V","posting_id":null,"inspector":"x","findings":[{"finding_id":"F1","severity":"minor","text":""},{"finding_id":"F1","severity":"minor","text":""}]}}"#;
    assert_eq!(refused(line).0, "payload.findings[1].finding_id");
    let bad_enum = line.replace(
        r#""severity":"minor","text":""},{"finding_id":"F1""#,
        r#""severity":"Minor","text":""},{"finding_id":"F2""#,
    );
    assert_eq!(refused(&bad_enum).0, "payload.findings[0].severity");
}
