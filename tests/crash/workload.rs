//! What the child's writers append: one recorder per writer thread, keeping the books of a few
//! villages of its own through 2016 (founded this round, so nothing of them depends on what an
//! earlier kill kept), and classifying demo villages for a new year (which reads the village's
//! stream after the restart and appends with the `expected_version` it found).
//!
//! Every batch is valid when it is built: a refusal is a failure of the store, not of the test.
//! A writer's model of its villages is updated only once a batch is acknowledged.

use events::import::parse_line;
use events::{EventId, Payload, ProposedEvent};
use serde_json::{json, Value};
use taizhang::store::Log;

/// A small deterministic generator (xorshift64*), so a failing seed replays.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for this seed (any value; zero is avoided).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Events in one appended batch: mostly small, sometimes a day's or a month's entries at once.
const BATCH_SIZES: [usize; 12] = [1, 1, 1, 1, 2, 2, 3, 5, 8, 13, 30, 60];
/// Villages a writer founds in one round at most.
const VILLAGES_PER_ROUND_MAX: usize = 3;

fn day(month: u32, d: u32) -> String {
    format!("2016-{month:02}-{d:02}")
}

#[derive(Clone)]
struct Commitment {
    id: String,
    /// Events in its stream (the next event's `expected_version`).
    version: u64,
    due_month: u32,
    percent: u64,
    done: bool,
}

#[derive(Clone)]
struct Project {
    id: String,
    version: u64,
    due_month: u32,
    quantity: u64,
    budget_fen: u64,
    /// 0 planned, 1 started, 2 completed, 3 accepted.
    stage: u8,
}

#[derive(Clone)]
struct Pledge {
    id: String,
    donor_id: String,
    amount_fen: u64,
    received_fen: u64,
    /// The counted `DonationPledged` (a move retracts it and enters the pledge again).
    creation: EventId,
    /// The last counted receipt: (event, amount, receipt number).
    last_receipt: Option<(EventId, u64, String)>,
}

#[derive(Clone)]
struct Town {
    village_id: String,
    posting_id: String,
    commitments: Vec<Commitment>,
    projects: Vec<Project>,
    pledges: Vec<Pledge>,
    /// (inspection, finding) not yet rectified.
    open_findings: Vec<(String, String)>,
    months_reported: u32,
    evaluations: u32,
}

/// One writer's books. Cloned before each batch; the clone becomes the books once acknowledged.
#[derive(Clone)]
pub struct Books {
    round: u64,
    writer: usize,
    /// Serial of the next event id and of every other id this writer makes.
    serial: u64,
    towns: Vec<Town>,
    founded: usize,
    /// Demo villages this writer may classify.
    demo_villages: Vec<String>,
    /// The import lines of the batch being built (a retry after a kill sends them again).
    lines: Vec<Value>,
}

impl Books {
    /// The books of writer `writer` in round `round`, owning these demo villages.
    pub fn new(round: u64, writer: usize, demo_villages: Vec<String>) -> Books {
        Books {
            round,
            writer,
            serial: 0,
            towns: Vec::new(),
            founded: 0,
            demo_villages,
            lines: Vec::new(),
        }
    }

    fn tag(&mut self) -> String {
        self.serial += 1;
        format!("CR{}-W{}-{}", self.round, self.writer, self.serial)
    }

    /// An event with an id of its own (UUIDv5 of round, writer and serial).
    fn event(
        &mut self,
        event_type: &str,
        occurred_on: &str,
        payload: Value,
        expected_version: Option<u64>,
    ) -> ProposedEvent {
        let tag = self.tag();
        let id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("crash/{tag}").as_bytes(),
        );
        let line = json!({
            "type": event_type,
            "occurred_on": occurred_on,
            "payload": payload,
            "event_id": id.to_string(),
            "expected_version": expected_version,
        });
        let event = parse_line(&line.to_string())
            .unwrap_or_else(|e| panic!("the workload built an invalid line {line}: {e}"))
            .event;
        self.lines.push(line);
        event
    }

    /// The next batch and its import lines; `self` becomes the books as they will be once it
    /// is acknowledged.
    pub fn next_batch(&mut self, rng: &mut Rng, log: &dyn Log) -> (Vec<ProposedEvent>, Vec<Value>) {
        let target = *rng.pick(&BATCH_SIZES);
        let mut events = Vec::new();
        self.lines.clear();
        while events.len() < target {
            self.act(rng, log, &mut events);
        }
        (events, std::mem::take(&mut self.lines))
    }

    /// Appends one action's events (one to four) to `out`.
    fn act(&mut self, rng: &mut Rng, log: &dyn Log, out: &mut Vec<ProposedEvent>) {
        if self.towns.is_empty() || (self.founded < VILLAGES_PER_ROUND_MAX && rng.chance(3)) {
            self.found(rng, out);
            return;
        }
        if rng.chance(4) && !self.demo_villages.is_empty() && self.classify_demo(rng, log, out) {
            return;
        }
        let t = rng.below(self.towns.len() as u64) as usize;
        // Try the actions from a random one on; making a commitment always applies.
        let first = rng.below(14);
        for k in 0..14 {
            let done = match (first + k) % 14 {
                0 => self.commit(t, rng, out),
                1 | 2 => self.progress(t, rng, out),
                3 | 4 => self.fulfil(t, rng, out),
                5 => self.plan(t, rng, out),
                6 | 7 => self.advance_project(t, rng, out),
                8 => self.pledge(t, rng, out),
                9 => self.receive(t, rng, out),
                // Corrections are rare, as in a real ledger office.
                10 => rng.chance(8) && self.correct_or_move(t, rng, out),
                11 => self.evaluate_or_inspect(t, rng, out),
                12 => self.rectify(t, out),
                _ => self.attend(t, rng, out),
            };
            if done {
                return;
            }
        }
        unreachable!("making a commitment always applies");
    }

    fn found(&mut self, rng: &mut Rng, out: &mut Vec<ProposedEvent>) {
        let village_id = self.tag();
        let posting_id = format!("P-{village_id}");
        let n = self.serial;
        out.push(self.event(
            "VillageRegistered",
            "2016-01-04",
            json!({"village_id": village_id, "name": format!("试{n}村"), "county": "岑溪市", "township": "波塘镇"}),
            Some(0),
        ));
        let obstacle = *rng.pick(&[
            "infrastructure",
            "industry",
            "education",
            "health",
            "labour",
        ]);
        out.push(self.event(
            "VillageClassified",
            "2016-01-10",
            json!({"village_id": village_id, "year": 2016, "obstacle": obstacle}),
            None,
        ));
        let probation = rng.chance(12);
        out.push(self.event(
            "SecretaryPosted",
            "2016-01-05",
            json!({"posting_id": posting_id, "person_id": format!("CAD-{village_id}"), "person_name": format!("陈{n}"),
                   "village_id": village_id, "sending_unit": "岑溪市委组织部", "probation": probation}),
            Some(0),
        ));
        out.push(self.event(
            "TeamMemberJoined",
            "2016-01-20",
            json!({"village_id": village_id, "person_id": format!("TM-{village_id}"), "name": format!("黄{n}"), "role": "graduate_official"}),
            None,
        ));
        self.towns.push(Town {
            village_id,
            posting_id,
            commitments: Vec::new(),
            projects: Vec::new(),
            pledges: Vec::new(),
            open_findings: Vec::new(),
            months_reported: 0,
            evaluations: 0,
        });
        self.founded += 1;
    }

    /// Classifies a demo village for the year after its latest classification, with the
    /// stream's length as `expected_version`: read from the log, so after a restart it reflects
    /// whatever the kill kept. False when the year would leave the calendar.
    fn classify_demo(
        &mut self,
        rng: &mut Rng,
        log: &dyn Log,
        out: &mut Vec<ProposedEvent>,
    ) -> bool {
        let village = rng.pick(&self.demo_villages).clone();
        // A classification of this village already in the batch would not be in the log yet.
        if out.iter().any(|e| matches!(&e.payload, Payload::VillageClassified(c) if c.village_id.as_str() == village)) {
            return false;
        }
        let stream = log
            .read_stream(&format!("village/{village}"), 0, 100_000)
            .unwrap_or_else(|e| panic!("reading village/{village}: {e}"));
        let stream_name = format!("village/{village}");
        let in_batch = out
            .iter()
            .filter(|e| e.payload.stream().as_deref() == Some(stream_name.as_str()))
            .count() as u64;
        let year = stream
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::VillageClassified(c) => Some(c.year),
                _ => None,
            })
            .max()
            .unwrap_or(2016)
            + 1;
        if year > 2999 {
            return false;
        }
        let obstacle = *rng.pick(&[
            "infrastructure",
            "industry",
            "education",
            "health",
            "labour",
            "other",
        ]);
        out.push(self.event(
            "VillageClassified",
            "2017-02-01",
            json!({"village_id": village, "year": year, "obstacle": obstacle}),
            Some(stream.len() as u64 + in_batch),
        ));
        true
    }

    fn commit(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let id = format!("K-{}", self.tag());
        let due_month = 4 + rng.below(8) as u32;
        let kind = *rng.pick(&["common", "post", "practical"]);
        let (village, posting) = (
            self.towns[t].village_id.clone(),
            self.towns[t].posting_id.clone(),
        );
        out.push(self.event(
            "CommitmentMade",
            "2016-02-01",
            json!({"commitment_id": id, "posting_id": posting, "village_id": village, "kind": kind,
                   "content": format!("为{village}修通村道、建成饮水工程"), "due": day(due_month, 28)}),
            Some(0),
        ));
        self.towns[t].commitments.push(Commitment {
            id,
            version: 1,
            due_month,
            percent: 0,
            done: false,
        });
        true
    }

    fn open_commitment(&self, t: usize, rng: &mut Rng) -> Option<usize> {
        let open: Vec<usize> = (0..self.towns[t].commitments.len())
            .filter(|&i| !self.towns[t].commitments[i].done)
            .collect();
        (!open.is_empty()).then(|| *rng.pick(&open))
    }

    fn progress(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let Some(i) = self.open_commitment(t, rng) else {
            return false;
        };
        let c = self.towns[t].commitments[i].clone();
        if rng.chance(15) && c.due_month < 11 {
            // Extended before it falls due, so the extension applies.
            out.push(self.event(
                "CommitmentDeadlineExtended",
                &day(c.due_month, 1),
                json!({"commitment_id": c.id, "new_due": day(c.due_month + 1, 28), "reason": "汛期停工", "approved_by": "岑溪市扶贫办"}),
                Some(c.version),
            ));
            let c = &mut self.towns[t].commitments[i];
            c.due_month += 1;
            c.version += 1;
            return true;
        }
        let percent = (c.percent + 10 + rng.below(40)).min(100);
        out.push(self.event(
            "CommitmentProgressed",
            "2016-03-15",
            json!({"commitment_id": c.id, "percent": percent, "note": format!("完成{percent}%")}),
            Some(c.version),
        ));
        let c = &mut self.towns[t].commitments[i];
        c.percent = percent;
        c.version += 1;
        true
    }

    fn fulfil(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let Some(i) = self.open_commitment(t, rng) else {
            return false;
        };
        let c = self.towns[t].commitments[i].clone();
        let on = if rng.chance(75) {
            day(c.due_month, 1 + rng.below(27) as u32)
        } else {
            day(c.due_month + 1, 10)
        };
        out.push(self.event(
            "CommitmentFulfilled",
            &on,
            json!({"commitment_id": c.id, "evidence": "验收单及照片"}),
            Some(c.version),
        ));
        let c = &mut self.towns[t].commitments[i];
        c.done = true;
        c.version += 1;
        true
    }

    fn plan(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let id = format!("X-{}", self.tag());
        let (kind, unit, quantity) = match rng.below(5) {
            0 => ("road", "metre", 1000 + 500 * rng.below(14)),
            1 => ("bridge", "item", 1),
            2 => ("drinking_water", "item", 1 + rng.below(3)),
            3 => ("sanitation", "item", 1 + rng.below(5)),
            _ => ("school", "item", 1),
        };
        let budget_fen = (20 + rng.below(200)) * 1_000_000;
        let due_month = 4 + rng.below(8) as u32;
        let (village, posting) = (
            self.towns[t].village_id.clone(),
            self.towns[t].posting_id.clone(),
        );
        out.push(self.event(
            "ProjectPlanned",
            "2016-02-10",
            json!({"project_id": id, "village_id": village, "posting_id": posting, "kind": kind,
                   "planned_quantity": quantity, "unit": unit, "budget_fen": budget_fen, "due": day(due_month, 28)}),
            Some(0),
        ));
        self.towns[t].projects.push(Project {
            id,
            version: 1,
            due_month,
            quantity,
            budget_fen,
            stage: 0,
        });
        true
    }

    fn advance_project(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let live: Vec<usize> = (0..self.towns[t].projects.len())
            .filter(|&i| self.towns[t].projects[i].stage < 3)
            .collect();
        if live.is_empty() {
            return false;
        }
        let i = *rng.pick(&live);
        let p = self.towns[t].projects[i].clone();
        let event = match p.stage {
            0 => self.event(
                "ProjectStarted",
                "2016-03-01",
                json!({"project_id": p.id}),
                Some(p.version),
            ),
            1 => {
                let on = if rng.chance(70) {
                    day(p.due_month, 1 + rng.below(27) as u32)
                } else {
                    day(p.due_month + 1, 15)
                };
                let cost_fen = p.budget_fen / 100 * (90 + rng.below(15));
                self.event(
                    "ProjectCompleted",
                    &on,
                    json!({"project_id": p.id, "quantity": p.quantity, "cost_fen": cost_fen}),
                    Some(p.version),
                )
            }
            _ => {
                let passed = rng.chance(90);
                self.event("ProjectAccepted", "2016-12-20", json!({"project_id": p.id, "passed": passed, "inspector": "县交通局", "note": ""}), Some(p.version))
            }
        };
        out.push(event);
        let p = &mut self.towns[t].projects[i];
        p.stage += 1;
        p.version += 1;
        true
    }

    fn pledge(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let id = format!("D-{}", self.tag());
        let donor_id = format!("DN-W{}-{}", self.writer, rng.below(20));
        let amount_fen = (1 + rng.below(50)) * 1_000_000;
        let kind = *rng.pick(&[
            "enterprise",
            "adviser",
            "charity",
            "individual",
            "organisation",
        ]);
        let village = self.towns[t].village_id.clone();
        let e = self.event(
            "DonationPledged",
            "2016-03-01",
            json!({"pledge_id": id, "donor_id": donor_id, "donor_name": format!("捐赠人{donor_id}"), "donor_kind": kind,
                   "village_id": village, "amount_fen": amount_fen, "purpose": "村小学修缮", "due": "2016-12-31"}),
            Some(0),
        );
        let creation = e.event_id.expect("every workload event has an id");
        out.push(e);
        self.towns[t].pledges.push(Pledge {
            id,
            donor_id,
            amount_fen,
            received_fen: 0,
            creation,
            last_receipt: None,
        });
        true
    }

    fn receive(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let open: Vec<usize> = (0..self.towns[t].pledges.len())
            .filter(|&i| {
                self.towns[t].pledges[i].received_fen < self.towns[t].pledges[i].amount_fen
            })
            .collect();
        if open.is_empty() {
            return false;
        }
        let i = *rng.pick(&open);
        let p = self.towns[t].pledges[i].clone();
        let outstanding = p.amount_fen - p.received_fen;
        let amount_fen = if rng.chance(40) {
            outstanding
        } else {
            1 + rng.below(outstanding)
        };
        let receipt_no = format!("RC-{}", self.tag());
        let e = self.event(
            "DonationReceived",
            "2016-05-20",
            json!({"pledge_id": p.id, "amount_fen": amount_fen, "receipt_no": receipt_no}),
            None,
        );
        let id = e.event_id.expect("every workload event has an id");
        out.push(e);
        let p = &mut self.towns[t].pledges[i];
        p.received_fen += amount_fen;
        p.last_receipt = Some((id, amount_fen, receipt_no));
        true
    }

    /// The corrections of domain.md: a mistyped receipt retracted and entered again, or a pledge
    /// entered under the wrong village retracted and entered again under another (its receipts
    /// follow it), each as one atomic pair.
    fn correct_or_move(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        if self.towns[t].pledges.is_empty() {
            return false;
        }
        let i = rng.below(self.towns[t].pledges.len() as u64) as usize;
        let p = self.towns[t].pledges[i].clone();
        if let (Some((receipt, amount, receipt_no)), false) =
            (p.last_receipt.clone(), rng.chance(30))
        {
            out.push(self.event(
                "Retracted",
                "2016-06-01",
                json!({"target_event_id": receipt.to_string(), "reason": "金额录入错误", "approved_by": "波塘镇财政所"}),
                None,
            ));
            let fixed = (amount / 2).max(1);
            let e = self.event(
                "DonationReceived",
                "2016-05-20",
                json!({"pledge_id": p.id, "amount_fen": fixed, "receipt_no": format!("{receipt_no}-R")}),
                None,
            );
            let id = e.event_id.expect("every workload event has an id");
            out.push(e);
            let p = &mut self.towns[t].pledges[i];
            p.received_fen = p.received_fen - amount + fixed;
            p.last_receipt = Some((id, fixed, format!("{receipt_no}-R")));
            return true;
        }
        if self.towns.len() < 2 {
            return false;
        }
        let to = (t + 1 + rng.below(self.towns.len() as u64 - 1) as usize) % self.towns.len();
        let village = self.towns[to].village_id.clone();
        out.push(self.event(
            "Retracted",
            "2016-06-01",
            json!({"target_event_id": p.creation.to_string(), "reason": "录入村别错误", "approved_by": "岑溪市扶贫办"}),
            None,
        ));
        let e = self.event(
            "DonationPledged",
            "2016-03-01",
            json!({"pledge_id": p.id, "donor_id": p.donor_id, "donor_name": format!("捐赠人{}", p.donor_id), "donor_kind": "enterprise",
                   "village_id": village, "amount_fen": p.amount_fen, "purpose": "村小学修缮", "due": "2016-12-31"}),
            None,
        );
        let mut moved = self.towns[t].pledges.remove(i);
        moved.creation = e.event_id.expect("every workload event has an id");
        out.push(e);
        self.towns[to].pledges.push(moved);
        true
    }

    fn evaluate_or_inspect(
        &mut self,
        t: usize,
        rng: &mut Rng,
        out: &mut Vec<ProposedEvent>,
    ) -> bool {
        let (village, posting) = (
            self.towns[t].village_id.clone(),
            self.towns[t].posting_id.clone(),
        );
        if self.towns[t].evaluations < 2 && rng.chance(50) {
            let electorate = 200 + rng.below(200);
            let satisfied = electorate * (50 + rng.below(45)) / 100;
            let basically = (electorate - satisfied) * rng.below(80) / 100;
            let dissatisfied = (electorate - satisfied - basically) / 2;
            let invalid = rng
                .below(3)
                .min(electorate - satisfied - basically - dissatisfied);
            let on = if self.towns[t].evaluations == 0 {
                day(7, 5)
            } else {
                day(12, 10)
            };
            let id = format!("E-{}", self.tag());
            out.push(self.event(
                "EvaluationHeld",
                &on,
                json!({"evaluation_id": id, "posting_id": posting, "village_id": village, "electorate": electorate,
                       "satisfied": satisfied, "basically_satisfied": basically, "dissatisfied": dissatisfied, "invalid": invalid}),
                Some(0),
            ));
            self.towns[t].evaluations += 1;
            return true;
        }
        let id = format!("I-{}", self.tag());
        let findings: Vec<Value> = (1..=1 + rng.below(2))
            .map(|f| json!({"finding_id": format!("F{f}"), "severity": if rng.chance(20) { "serious" } else { "minor" }, "text": "工作台账未按月更新"}))
            .collect();
        for f in &findings {
            self.towns[t].open_findings.push((
                id.clone(),
                f["finding_id"].as_str().expect("an id").to_string(),
            ));
        }
        out.push(self.event(
            "InspectionRecorded",
            &day(1 + rng.below(11) as u32, 12),
            json!({"inspection_id": id, "village_id": village, "posting_id": posting, "inspector": "市督查组", "findings": findings}),
            Some(0),
        ));
        true
    }

    fn rectify(&mut self, t: usize, out: &mut Vec<ProposedEvent>) -> bool {
        let Some((inspection, finding)) = self.towns[t].open_findings.pop() else {
            return false;
        };
        out.push(self.event(
            "FindingRectified",
            "2016-12-30",
            json!({"inspection_id": inspection, "finding_id": finding, "evidence": "台账已补录"}),
            None,
        ));
        true
    }

    fn attend(&mut self, t: usize, rng: &mut Rng, out: &mut Vec<ProposedEvent>) -> bool {
        let posting = self.towns[t].posting_id.clone();
        if self.towns[t].months_reported < 12 && rng.chance(70) {
            let m = self.towns[t].months_reported + 1;
            let reported_on = if m == 12 {
                "2017-01-03".to_string()
            } else {
                day(m + 1, 2)
            };
            out.push(self.event(
                "AttendanceReported",
                &reported_on,
                json!({"posting_id": posting, "month": format!("2016-{m:02}"), "days_in_village": 15 + rng.below(10), "leave_days": rng.below(4)}),
                None,
            ));
            self.towns[t].months_reported = m;
            return true;
        }
        let present = rng.chance(85);
        let excused = !present && rng.chance(50);
        out.push(self.event(
            "SpotCheckRecorded",
            &day(1 + rng.below(12) as u32, 10),
            json!({"posting_id": posting, "present": present, "excused": excused, "inspector": "县委组织部督查组"}),
            None,
        ));
        true
    }
}
