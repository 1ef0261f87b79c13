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

/// Where `raw` holds an array in place of an object of `decoded` (its path, such as
/// `.findings[0]`; empty for the whole value), if anywhere.
///
/// serde's derived structs accept a JSON array of their fields in order as well as an object;
/// events, payloads and policy documents are objects all the way down (formats.md §5), so a
/// decoder compares what it decoded, written back as JSON, with the text it was given.
pub fn array_for_object(decoded: &Value, raw: &Value) -> Option<String> {
    match (decoded, raw) {
        (Value::Object(d), Value::Object(r)) => d.iter().find_map(|(k, dv)| {
            let rv = r.get(k)?;
            array_for_object(dv, rv).map(|p| format!(".{k}{p}"))
        }),
        (Value::Object(_), Value::Array(_)) => Some(String::new()),
        (Value::Array(d), Value::Array(r)) => d
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (dv, rv))| array_for_object(dv, rv).map(|p| format!("[{i}]{p}"))),
        _ => None,
    }
}

#[cfg(test)]
mod array_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_in_place_of_objects_are_found_with_their_path() {
        let decoded = json!({"a": 1, "list": [{"x": 1}, {"x": 2}], "inner": {"y": 2}});
        assert_eq!(array_for_object(&decoded, &decoded), None);
        assert_eq!(
            array_for_object(&decoded, &json!([1, [], {}])),
            Some(String::new())
        );
        let raw = json!({"a": 1, "list": [{"x": 1}, [2]], "inner": {"y": 2}});
        assert_eq!(array_for_object(&decoded, &raw), Some(".list[1]".into()));
        let raw = json!({"a": 1, "list": [], "inner": [2]});
        assert_eq!(array_for_object(&decoded, &raw), Some(".inner".into()));
    }
}
