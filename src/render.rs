//! Printing rows for people and machines: aligned tables (Chinese text counted by display
//! width), CSV for spreadsheets, JSON Lines for programs. Rows are any `Serialize` structs;
//! columns follow the struct's field order.

use std::io::Write;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// Output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON object per line.
    Json,
    /// RFC 4180 CSV with a header line.
    Csv,
}

/// A JSON object with its keys in the order they were written.
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn ordered<T: Serialize>(row: &T) -> Vec<(String, Value)> {
    let text = serde_json::to_string(row).expect("rows serialize");
    match serde_json::from_str::<Ordered>(&text) {
        Ok(o) => o.0,
        Err(_) => vec![(
            "value".to_string(),
            serde_json::from_str(&text).expect("valid JSON"),
        )],
    }
}

/// A cell as text: null empty, strings bare, anything nested as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Writes `rows` in `format`. An empty table prints `(none)`.
pub fn rows<T: Serialize>(out: &mut dyn Write, rows: &[T], format: Format) -> std::io::Result<()> {
    match format {
        Format::Json => {
            for r in rows {
                serde_json::to_writer(&mut *out, r)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let mut header = false;
            for r in rows {
                let o = ordered(r);
                if !header {
                    w.write_record(o.iter().map(|(k, _)| k.as_str()))?;
                    header = true;
                }
                w.write_record(o.iter().map(|(_, v)| cell(v)))?;
            }
            w.flush()
        }
        Format::Table => {
            if rows.is_empty() {
                return writeln!(out, "(none)");
            }
            let table: Vec<Vec<(String, Value)>> = rows.iter().map(ordered).collect();
            let names: Vec<String> = table[0].iter().map(|(k, _)| k.clone()).collect();
            let cells: Vec<Vec<String>> = table
                .iter()
                .map(|r| r.iter().map(|(_, v)| cell(v).replace('\n', " ")).collect())
                .collect();
            aligned(out, &names, &cells)
        }
    }
}

/// Aligned columns, padded by display width; numbers right-aligned.
pub fn aligned(
    out: &mut dyn Write,
    names: &[String],
    cells: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = names.iter().map(|n| n.width()).collect();
    for r in cells {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.width().min(COLUMN_WIDTH_MAX));
            }
        }
    }
    let numeric: Vec<bool> = (0..names.len())
        .map(|i| {
            cells.iter().all(|r| {
                r.get(i)
                    .is_none_or(|c| c.is_empty() || c.parse::<f64>().is_ok())
            })
        })
        .collect();
    let line = |out: &mut dyn Write, r: &[String]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            let c = truncate(c, COLUMN_WIDTH_MAX);
            let pad = " ".repeat(widths[i].saturating_sub(c.width()));
            if i > 0 {
                s.push_str("  ");
            }
            if numeric[i] {
                s.push_str(&pad);
                s.push_str(&c);
            } else {
                s.push_str(&c);
                if i + 1 < r.len() {
                    s.push_str(&pad);
                }
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, names)?;
    line(
        out,
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    )?;
    for r in cells {
        line(out, r)?;
    }
    Ok(())
}

/// Widest column in a table, in display cells; longer text is cut with an ellipsis.
pub const COLUMN_WIDTH_MAX: usize = 48;

fn truncate(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for ch in s.chars() {
        if out.width() + unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0) > max - 1 {
            break;
        }
        out.push(ch);
    }
    out.push('…');
    out
}

/// Writes one value: pretty key/value lines for a table, one JSON line, or a one-row CSV.
pub fn record<T: Serialize>(out: &mut dyn Write, value: &T, format: Format) -> std::io::Result<()> {
    match format {
        Format::Table => {
            let o = ordered(value);
            let w = o.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
            for (k, v) in o {
                writeln!(out, "{k}{}  {}", " ".repeat(w - k.width()), cell(&v))?;
            }
            Ok(())
        }
        _ => rows(out, std::slice::from_ref(value), format),
    }
}

/// Basis points as points with two decimals (9536 → 95.36).
pub fn points(bp: Option<u64>) -> String {
    bp.map(|b| format!("{}.{:02}", b / 100, b % 100))
        .unwrap_or_default()
}

/// The human view of a review: the summary first, then one line per posting.
pub fn review(out: &mut dyn Write, r: &projections::review::ReviewResult) -> std::io::Result<()> {
    let s = &r.summary;
    writeln!(
        out,
        "Review {} .. {} over the first {} events (root {}), policy {} (sha256 {})",
        r.period.start,
        r.period.end,
        r.tree_size,
        &r.root[..16],
        r.policy_id,
        &r.policy_sha256[..16]
    )?;
    writeln!(
        out,
        "active {}   graded {}   excluded (not graded) {}",
        s.active, s.graded, s.excluded
    )?;
    writeln!(out, "excellent 优秀 {}   competent 称职 {}   basically competent 基本称职 {}   incompetent 不称职 {}", s.excellent, s.competent, s.basically_competent, s.incompetent)?;
    writeln!(out, "competent or above 称职以上: {} of {} graded = {}%   ({} active postings excluded, listed below)", s.competent_or_above, s.graded, points(Some(s.competent_or_above_bp)), s.excluded)?;
    let excluded: Vec<Vec<String>> = r
        .postings
        .iter()
        .filter(|p| p.reason.is_some())
        .map(|p| {
            vec![
                p.posting_id.to_string(),
                p.person_name.clone(),
                p.village_id.to_string(),
                p.service_days.to_string(),
                serde_json::to_value(p.reason)
                    .ok()
                    .map(|v| cell(&v))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    if !excluded.is_empty() {
        writeln!(out, "\nexcluded:")?;
        let names: Vec<String> = ["posting", "name", "village", "service_days", "reason"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        aligned(out, &names, &excluded)?;
    }
    writeln!(out, "\npostings (points out of 100):")?;
    let names: Vec<String> = [
        "posting",
        "name",
        "village",
        "days",
        "work",
        "commitments",
        "evaluation",
        "satisfaction",
        "deductions",
        "total",
        "grade",
        "caps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cells: Vec<Vec<String>> = r
        .postings
        .iter()
        .filter(|p| p.reason.is_none())
        .map(|p| {
            let grade = p
                .grade
                .and_then(|g| serde_json::to_value(g).ok())
                .map(|v| cell(&v))
                .unwrap_or_default();
            let caps: Vec<String> = p
                .caps
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .map(|v| cell(&v))
                .collect();
            vec![
                p.posting_id.to_string(),
                p.person_name.clone(),
                p.village_id.to_string(),
                p.service_days.to_string(),
                points(p.work_bp),
                points(p.commitments_bp),
                points(p.evaluation_bp),
                points(p.satisfaction_bp),
                points(Some(p.deductions_bp)),
                points(p.total_bp),
                grade,
                caps.join(" "),
            ]
        })
        .collect();
    aligned(out, &names, &cells)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        village: &'static str,
        km: u64,
        note: Option<&'static str>,
    }

    #[test]
    fn tables_align_by_display_width_and_keep_field_order() {
        let mut out = Vec::new();
        rows(
            &mut out,
            &[
                Row {
                    village: "六肥村",
                    km: 4,
                    note: None,
                },
                Row {
                    village: "LF",
                    km: 12,
                    note: Some("a,b"),
                },
            ],
            Format::Table,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "village  km  note\n-------  --  ----\n六肥村    4\nLF       12  a,b\n"
        );
    }

    #[test]
    fn csv_quotes_and_keeps_order() {
        let mut out = Vec::new();
        rows(
            &mut out,
            &[Row {
                village: "六肥村",
                km: 4,
                note: Some("a,b"),
            }],
            Format::Csv,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "village,km,note\n六肥村,4,\"a,b\"\n"
        );
    }
}
