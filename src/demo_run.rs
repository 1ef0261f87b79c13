//! `taizhang demo`: builds a fresh demo city store from [`crate::demo::city`], seals the year's
//! review, appends the corrections and late entries that come after, and shows what an
//! inspector would look at: the city totals, the sealed review, the audit views, and the
//! verification of the review and of the whole log.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::demo::{city, DemoStep};
use crate::render;
use crate::reviews;
use crate::store::{Log, OpenError, SledLog, Source};

/// The origin line of demo stores.
pub const DEMO_ORIGIN: &str = "demo.wuzhou.example/taizhang";
/// Who seals the demo's review.
pub const REVIEW_COMMITTEE: &str = "wuzhou.review-committee";

/// Removes a previous demo store at `dir`; refuses to touch anything else.
fn clear(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    match SledLog::open(dir) {
        Ok(log) if log.info().simulated_clock => {
            drop(log);
            std::fs::remove_dir_all(dir).with_context(|| format!("removing the previous demo store {}", dir.display()))
        }
        Ok(_) => bail!("{} holds a store that is not a demo store; give the demo another --data directory", dir.display()),
        Err(OpenError::NotFound(_)) if std::fs::read_dir(dir)?.next().is_none() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("{} is not an empty directory or a demo store; give the demo another --data directory", dir.display())),
    }
}

/// Builds the demo city in `dir` and prints the walk-through to `out`.
pub fn run(dir: &Path, seed: u64, out: &mut dyn Write) -> Result<()> {
    let started = Instant::now();
    clear(dir)?;
    let log = SledLog::init(dir, DEMO_ORIGIN, true)?;
    let steps = city(seed);
    let mut sealed = None;
    for step in steps {
        match step {
            DemoStep::Append(b) => {
                let n = b.events.len();
                log.append(b.events, &b.actor, Source::Client, Some(b.recorded_at))
                    .with_context(|| {
                        format!(
                            "appending a demo batch of {n} events recorded at {}",
                            b.recorded_at
                        )
                    })?;
            }
            DemoStep::SealReview {
                review_id,
                start,
                end,
                recorded_at,
            } => {
                let (result, receipt) = reviews::seal(
                    &log,
                    &review_id,
                    start,
                    end,
                    REVIEW_COMMITTEE,
                    Some(recorded_at),
                )?;
                sealed = Some((review_id, result, receipt));
            }
        }
    }
    let size = log.size();
    writeln!(out, "taizhang demo — a city of 179 poor villages and their first secretaries, 2016 (seed {seed})")?;
    writeln!(out, "store: {} ({size} events); recorded_at comes from a simulated clock, and the store says so", dir.display())?;

    let ledgers = reviews::ledgers(&log, size)?;
    let report = ledgers.report(None);
    writeln!(
        out,
        "\n== City totals (what the city reports; money counts only when received)"
    )?;
    let t = &report.totals;
    writeln!(out, "villages {}   postings {}", t.villages, t.postings)?;
    writeln!(out, "village roads {} km   bridges {}   drinking-water works {}   sanitation and greening works {}", t.road_km, t.bridges, t.drinking_water_works, t.sanitation_works + t.greening_works)?;
    writeln!(
        out,
        "cooperatives {}   demonstration bases {}   schools {}",
        t.cooperatives, t.demonstration_bases, t.schools
    )?;
    writeln!(
        out,
        "donations received {} 万元   pledged but not received {} 万元 (not counted as achieved)",
        t.received_wan_yuan, t.pledged_only_wan_yuan
    )?;

    let Some((review_id, result, receipt)) = sealed else {
        bail!("the demo city sealed no review")
    };
    writeln!(
        out,
        "\n== The sealed review {review_id} (sealed at position {}, over the first {} events)",
        receipt.appended.position, result.tree_size
    )?;
    render::review(out, &result)?;
    writeln!(out, "result sha256 {}", result.result_sha256())?;

    let audit = reviews::audit(&log, size, projections::audit::LATE_AFTER_DAYS_DEFAULT)?;
    writeln!(
        out,
        "\n== What happened after the seal, and what an inspector sees"
    )?;
    writeln!(out, "retractions {}   late entries {} (of which dated inside a sealed review's period and recorded after the seal: {})   deadline extensions ignored {}   anomalies {}   implausible evaluations {}",
        audit.retractions.len(),
        audit.late_entries.len(),
        audit.late_entries.iter().filter(|l| !l.after_seals.is_empty()).count(),
        audit.extensions.iter().filter(|e| !e.applied).count(),
        audit.anomalies.len(),
        audit.implausible_evaluations.len())?;
    for r in &audit.retractions {
        let target = r
            .target_position
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into());
        writeln!(
            out,
            "  retraction at {} by {}: {} at position {target} — {}",
            r.position,
            r.actor,
            r.target_type.as_deref().unwrap_or("?"),
            r.reason
        )?;
    }
    let v = reviews::verify(&log, &review_id).context("the sealed review does not verify")?;
    writeln!(out, "review verify {review_id}: ok — rebuilt from its first {} events, it matches its seal although {} events came after", v.seal.tree_size, size - v.seal.tree_size)?;

    log.sign_checkpoint()?;
    let verified = crate::ops::verify(&log, |_| {}).context("verify failed")?;
    writeln!(
        out,
        "verify: ok: {} events, root {}, {} checkpoints",
        verified.size,
        hex::encode(verified.root),
        verified.checkpoints
    )?;
    writeln!(
        out,
        "\nbuilt and checked in {:.1} s. Explore it:",
        started.elapsed().as_secs_f64()
    )?;
    let d = dir.display();
    writeln!(out, "  taizhang --data {d} ledger villages\n  taizhang --data {d} ledger commitments --village CW-JN-01\n  taizhang --data {d} review show --start 2016-01-01 --end 2016-12-31 --size {}\n  taizhang --data {d} audit late\n  taizhang --data {d} review bundle --id {review_id}", result.tree_size)?;
    Ok(())
}
