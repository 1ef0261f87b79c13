//! Canonical JSON (RFC 8785, JCS) for the integer-only documents of formats.md §1.
//!
//! serde_json's `Value` keeps objects in a `BTreeMap` (sorted by key bytes, and every key here
//! is ASCII), writes no white space, and escapes strings exactly as ECMAScript's
//! `JSON.stringify` does. For documents holding only integers, strings, booleans, null,
//! arrays and objects, that output is JCS; [`to_jcs`] asserts there is no float.

use serde_json::Value;

/// The JCS bytes of `value`. Panics on a float: the formats never hold one.
pub fn to_jcs(value: &Value) -> String {
    debug_assert!(
        integers_only(value),
        "JCS here is defined for integer-only documents"
    );
    serde_json::to_string(value).expect("a JSON value always serializes")
}

fn integers_only(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_u64() || n.is_i64(),
        Value::Array(a) => a.iter().all(integers_only),
        Value::Object(o) => o.values().all(integers_only),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_escapes_like_ecmascript() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":"x/\u007f\u0001\n\"\\é","c":[true,null,{"z":0,"y":9007199254740991}]}"#,
        )
        .unwrap();
        assert_eq!(to_jcs(&v), "{\"a\":\"x/\u{7f}\\u0001\\n\\\"\\\\é\",\"b\":1,\"c\":[true,null,{\"y\":9007199254740991,\"z\":0}]}");
    }

    #[test]
    fn control_characters_are_lower_case_u_escapes() {
        let v = Value::String("\u{1f}\u{8}\u{c}\t\r".to_string());
        assert_eq!(to_jcs(&v), "\"\\u001f\\b\\f\\t\\r\"");
    }
}
