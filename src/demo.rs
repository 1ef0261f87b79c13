//! A realistic, deterministic demo city: Wuzhou's 179 poor villages through 2016 and early 2017, as
//! the batches a recorder would have appended, in recording order, with the 2016 review seal.
//!
//! The city follows the interview (`seed/README.md`): 179 villages and first secretaries, about
//! 900 km of village roads, 200 bridges, 200 drinking-water works, 500 sanitation and greening
//! works, Mengshan's 21 cooperatives and 19 demonstration bases, nearly 600万元 of donations.
//! It also holds what the interview leaves out and an inspector looks for (domain.md §5): a
//! secretary recalled in June and replaced, a pledge never paid, a deadline extended before and
//! one "extended" after it fell due, an evaluation entered twice, the 68万元 typed as 680万元 and
//! corrected after the seal, entries dated 2016 but recorded after the seal. The review comes out
//! as real life would: postings excluded with reasons, caps, the excellent quota, and
//! "competent or above" below 100% with its denominator.
//!
//! ## What is in it
//! - 179 villages in seven counties and districts (藤县 52, 苍梧县 38, 岑溪市 36, 蒙山县 28, 龙圩区 13,
//!   万秀区 7, 长洲区 5), ids `<county>-<township>-<nn>`, registered and classified in January 2016
//!   and classified again for 2017 after the annual review.
//! - 179 postings begun 4–8 January 2016 (about one in eight on probation); four end mid-year
//!   (recalled 2016-06-20 and 2016-09-12, replaced 2016-04-15 and 2016-08-05) and are followed a
//!   week later by a successor; one demerit (excluded: `discipline`) and one warning.
//! - Each posting has a hidden quality (star, good, fair, weak) that sets the odds of its
//!   projects and commitments being on time, its votes and its rectifications; a few villages
//!   carry one role each (the §5 cases, absences, low satisfaction, no evaluation, a village
//!   being relocated whose posting has nothing to judge: `no_evidence`).
//! - The city adopts `wuzhou-2016` on 2016-01-06, effective 2016-01-01: `default-v1` with
//!   `min_service_days` 180 (half a year counted as six months of 30 days).
//! - The 2016 review is sealed on Monday 2017-01-16 at 10:00 CST, the first working day after
//!   15 January; corrections and late entries follow in January–March 2017, and the log ends in
//!   the last week of March 2017.
//!
//! ## How it is built
//! - One seeded PRNG (splitmix64, written here so that no crate update can change a city) drives
//!   every choice; maps are `BTreeMap`s, so nothing depends on hash order. Same seed, same steps.
//! - Every event gets an explicit `event_id` (UUIDv5 of the seed and its serial number), so the
//!   same seed gives the same log byte for byte, and a retraction can name its target.
//! - Routine entries are recorded on `record_day(occurred_on)`: the same or the next working day
//!   (weekends and public holidays skipped), in one batch per day by the city's ledger office at
//!   17:00–17:40 CST, which keeps a year to about 250 appends.
//!   That function never decreases, so an event recorded on a day never depends on one recorded
//!   later; inside a day's batch events are ordered by date, then by the order they were made,
//!   and each thing is made before what names it.
//! - Corrections and late entries are their own batches at their own moments (a retraction and
//!   its re-entry must stay together, in that order), merged into the day's timeline by time.
//! - The magnitudes that the interview states are fixed numbers of projects per kind, with a
//!   fixed number of them cancelled or unfinished, so every seed reports the same counts; road
//!   lengths come in pairs that sum to 7.5 km, so the planned length is the same for every seed.

use std::collections::{BTreeMap, BTreeSet};

use events::payload::{
    self as p, CommitmentKind, DisciplineKind, DonorKind, EndReason, Obstacle, ProjectKind,
    Severity, TeamRole, Unit,
};
use events::{Date, EventId, Id, Month, Payload, Policy, ProposedEvent, Timestamp};

/// One atomic append: what a recorder sent at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBatch {
    /// When the (simulated) log records it; never earlier than the batch before.
    pub recorded_at: Timestamp,
    /// Who appends it.
    pub actor: String,
    /// The events, in order.
    pub events: Vec<ProposedEvent>,
}

/// One step of the city's history, in recording order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoStep {
    /// Append a batch.
    Append(DemoBatch),
    /// The log seals a review of `[start, end]` over every event appended so far.
    SealReview {
        /// The review's id.
        review_id: String,
        /// First day of the period.
        start: Date,
        /// Last day of the period.
        end: Date,
        /// When the seal is recorded.
        recorded_at: Timestamp,
    },
}

/// Id of the sealed 2016 review.
pub const REVIEW_ID: &str = "2016-annual";
/// Id of the scoring policy the city adopts for 2016.
pub const POLICY_ID: &str = "wuzhou-2016";
/// Number of poor villages (贫困村) in the city.
pub const VILLAGES: usize = 179;

/// The city's history in recording order. Deterministic for a seed.
pub fn city(seed: u64) -> Vec<DemoStep> {
    let mut c = City::new(seed);
    c.build();
    c.into_steps()
}

// ---------------------------------------------------------------------------------------------
// Calendar

fn d(y: i32, m: u32, day: u32) -> Date {
    Date::from_ymd(y, m, day).expect("the demo names real calendar dates")
}

/// The moment `h:m:s` China Standard Time on `day`.
fn at(day: Date, h: i64, m: i64, s: i64) -> Timestamp {
    Timestamp::from_micros(
        Timestamp::cst_midnight(day).micros() + (h * 3600 + m * 60 + s) * 1_000_000,
    )
}

/// 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(day: Date) -> i32 {
    (day.days() + 3).rem_euclid(7)
}

/// Public holidays of 2016 and early 2017 that fall on weekdays (the State Council's calendar;
/// the weekend make-up working days are left out: offices record little on them).
const HOLIDAYS: &[(i32, u32, u32)] = &[
    (2016, 1, 1),
    (2016, 2, 8),
    (2016, 2, 9),
    (2016, 2, 10),
    (2016, 2, 11),
    (2016, 2, 12),
    (2016, 4, 4),
    (2016, 5, 2),
    (2016, 6, 9),
    (2016, 6, 10),
    (2016, 9, 15),
    (2016, 9, 16),
    (2016, 10, 3),
    (2016, 10, 4),
    (2016, 10, 5),
    (2016, 10, 6),
    (2016, 10, 7),
    (2017, 1, 2),
    (2017, 1, 27),
    (2017, 1, 30),
    (2017, 1, 31),
    (2017, 2, 1),
    (2017, 2, 2),
];

fn is_workday(day: Date) -> bool {
    weekday(day) < 5 && !HOLIDAYS.contains(&day.ymd())
}

fn next_workday(mut day: Date) -> Date {
    while !is_workday(day) {
        day = day.add_days(1);
    }
    day
}

fn year_end() -> Date {
    d(2016, 12, 31)
}

/// No event of the demo is dated later: the log ends in the last week of March 2017.
fn last_event_day() -> Date {
    d(2017, 3, 24)
}

fn seal_at() -> Timestamp {
    at(d(2017, 1, 16), 10, 0, 0)
}

fn month(y: i32, m: u32) -> Month {
    Month::new(y, m).expect("a real month")
}

fn next_month(m: Month) -> Month {
    if m.number() == 12 {
        month(m.year() + 1, 1)
    } else {
        month(m.year(), m.number() + 1)
    }
}

/// 1 yuan is 100 fen; the interview counts in 万元 (10,000 yuan).
const FEN_PER_WAN: u64 = 1_000_000;
const FEN_PER_YUAN: u64 = 100;

// ---------------------------------------------------------------------------------------------
// The seeded PRNG

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever, unlike a crate's.
#[derive(Debug, Clone)]
struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `0..n` (multiply-shift; its bias is far below anything a demo shows).
    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "an empty range");
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn days(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo + 1) as u64) as i32
    }
    fn per_mille(&mut self, k: u64) -> bool {
        self.below(1000) < k
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// A day in `a..=b` (`a` when the range is empty).
    fn date(&mut self, a: Date, b: Date) -> Date {
        if b <= a {
            a
        } else {
            a.add_days(self.below(a.days_until(b) as u64 + 1) as i32)
        }
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
    /// One of `choices`, each with its weight.
    fn weighted<T: Copy>(&mut self, choices: &[(u64, T)]) -> T {
        let total: u64 = choices.iter().map(|c| c.0).sum();
        let mut x = self.below(total);
        for &(w, v) in choices {
            if x < w {
                return v;
            }
            x -= w;
        }
        choices[choices.len() - 1].1
    }
}

// ---------------------------------------------------------------------------------------------
// Geography and names

struct County {
    name: &'static str,
    code: &'static str,
    villages: usize,
    /// The county's ledger clerk, who appends the corrections and late entries of its villages.
    recorder: &'static str,
    townships: &'static [(&'static str, &'static str)],
}

/// The seven counties and districts with their poor villages: 52+38+36+28+13+7+5 = 179.
const COUNTIES: &[County] = &[
    County {
        name: "藤县",
        code: "TX",
        villages: 52,
        recorder: "tengxian.recorder",
        townships: &[
            ("藤州镇", "TZ"),
            ("塘步镇", "TB"),
            ("琅南镇", "LN"),
            ("同心镇", "TX"),
            ("金鸡镇", "JJ"),
            ("新庆镇", "XQ"),
            ("象棋镇", "XG"),
            ("岭景镇", "LJ"),
            ("天平镇", "TP"),
            ("蒙江镇", "MJ"),
            ("和平镇", "HP"),
            ("太平镇", "TA"),
            ("古龙镇", "GL"),
            ("东荣镇", "DR"),
            ("大黎镇", "DL"),
            ("平福乡", "PF"),
            ("宁康乡", "NK"),
        ],
    },
    County {
        name: "苍梧县",
        code: "CW",
        villages: 38,
        recorder: "cangwu.recorder",
        townships: &[
            ("石桥镇", "SQ"),
            ("沙头镇", "ST"),
            ("梨埠镇", "LF"),
            ("岭脚镇", "LJ"),
            ("京南镇", "JN"),
            ("狮寨镇", "SZ"),
            ("六堡镇", "LB"),
            ("旺甫镇", "WF"),
        ],
    },
    County {
        name: "岑溪市",
        code: "CX",
        villages: 36,
        recorder: "cenxi.recorder",
        townships: &[
            ("岑城镇", "CC"),
            ("糯垌镇", "ND"),
            ("诚谏镇", "CJ"),
            ("归义镇", "GY"),
            ("筋竹镇", "JZ"),
            ("大业镇", "DY"),
            ("梨木镇", "LM"),
            ("大隆镇", "DL"),
            ("南渡镇", "NA"),
            ("马路镇", "ML"),
            ("三堡镇", "SB"),
            ("波塘镇", "BT"),
            ("安平镇", "AP"),
            ("水汶镇", "SW"),
        ],
    },
    County {
        name: "蒙山县",
        code: "MS",
        villages: 28,
        recorder: "mengshan.recorder",
        townships: &[
            ("蒙山镇", "MS"),
            ("西河镇", "XH"),
            ("新圩镇", "XW"),
            ("文圩镇", "WW"),
            ("黄村镇", "HC"),
            ("陈塘镇", "CT"),
            ("汉豪乡", "HH"),
            ("长坪瑶族乡", "CP"),
            ("夏宜瑶族乡", "XY"),
        ],
    },
    County {
        name: "龙圩区",
        code: "LX",
        villages: 13,
        recorder: "longxu.recorder",
        townships: &[
            ("龙圩镇", "LX"),
            ("大坡镇", "DP"),
            ("广平镇", "GP"),
            ("新地镇", "XD"),
        ],
    },
    County {
        name: "万秀区",
        code: "WX",
        villages: 7,
        recorder: "wanxiu.recorder",
        townships: &[("城东镇", "CD"), ("夏郢镇", "XY"), ("龙湖镇", "LH")],
    },
    County {
        name: "长洲区",
        code: "CZ",
        villages: 5,
        recorder: "changzhou.recorder",
        townships: &[("倒水镇", "DS"), ("长洲镇", "CZ")],
    },
];

fn county_index(code: &str) -> usize {
    COUNTIES
        .iter()
        .position(|c| c.code == code)
        .expect("a county of the table")
}

/// Routine entries: the city's ledger office enters each day's paperwork in one batch.
const ROUTINE_ACTOR: &str = "wuzhou.ledger-office";
/// Corrections found by the city's supervision group.
const INSPECTOR_ACTOR: &str = "wuzhou.inspection-group";

const VILLAGE_FIRST: &[&str] = &[
    "大", "新", "上", "下", "石", "龙", "凤", "黄", "白", "古", "水", "竹", "松", "梅", "桂", "平",
    "福", "安", "和", "东", "南", "西", "北", "长", "高", "青", "田", "金", "银", "马", "牛", "鹤",
    "花", "茶", "六", "三", "双", "罗", "思", "富",
];
const VILLAGE_SECOND: &[&str] = &[
    "坪", "垌", "冲", "岭", "江", "田", "塘", "水", "口", "头", "坑", "寨", "岗", "洞", "湾", "埠",
    "圩", "桥", "林", "山", "庄", "河", "源", "溪", "岩", "楼", "屯", "石", "平", "坡",
];
const SURNAMES: &[&str] = &[
    "黄", "李", "陈", "梁", "莫", "覃", "韦", "蒙", "钟", "罗", "何", "刘", "张", "杨", "周", "吴",
    "林", "蔡", "苏", "邓", "冯", "廖", "卢", "谭", "潘", "甘", "庞", "黎", "唐", "麦", "植", "封",
    "龙", "欧", "严", "骆", "邱", "谢", "朱", "曾",
];
const GIVEN: &[&str] = &[
    "建", "国", "华", "明", "军", "伟", "强", "志", "文", "海", "波", "勇", "东", "平", "斌", "辉",
    "林", "峰", "俊", "杰", "宁", "涛", "鹏", "飞", "洪", "锋", "敏", "丽", "芳", "娟", "红", "燕",
    "霞", "玲", "婷", "琳", "静", "秀", "英", "桂", "春", "梅", "兰", "云", "晓", "新", "永", "德",
    "荣", "光", "耀", "宏", "思", "源", "锦", "坤", "家", "嘉", "泽", "雄", "康", "毅",
];
const CITY_UNITS: &[&str] = &[
    "市委办公室",
    "市人大常委会办公室",
    "市政府办公室",
    "市政协办公室",
    "市纪委",
    "市委组织部",
    "市委宣传部",
    "市委统战部",
    "市委政法委",
    "市委政策研究室",
    "市发展和改革委员会",
    "市教育局",
    "市科学技术局",
    "市工业和信息化委员会",
    "市公安局",
    "市民政局",
    "市司法局",
    "市财政局",
    "市人力资源和社会保障局",
    "市国土资源局",
    "市环境保护局",
    "市住房和城乡建设委员会",
    "市交通运输局",
    "市水利局",
    "市农业局",
    "市林业局",
    "市商务局",
    "市文化新闻出版广电局",
    "市卫生和计划生育委员会",
    "市审计局",
    "市统计局",
    "市工商行政管理局",
    "市质量技术监督局",
    "市食品药品监督管理局",
    "市旅游发展委员会",
    "市扶贫开发办公室",
    "市供销合作社",
    "市总工会",
    "团市委",
    "市妇联",
    "市残联",
    "市工商联",
    "梧州供电局",
    "市农村信用合作联社",
    "梧州学院",
    "市中级人民法院",
    "市人民检察院",
];
const COUNTY_UNITS: &[&str] = &[
    "委组织部",
    "财政局",
    "农业局",
    "交通运输局",
    "水利局",
    "教育局",
    "卫生和计划生育局",
    "民政局",
    "扶贫开发办公室",
    "林业局",
    "国土资源局",
    "人力资源和社会保障局",
    "住房和城乡建设局",
    "供销合作社",
];
const PRODUCTS: &[&str] = &[
    "六堡茶",
    "砂糖橘",
    "沃柑",
    "八角",
    "肉桂",
    "百香果",
    "香菇",
    "油茶",
    "黑山羊",
    "三黄鸡",
    "桑蚕",
    "淮山",
    "火龙果",
    "罗汉果",
    "蜂蜜",
    "竹鼠",
];
const ENTERPRISES: &[&str] = &[
    "梧州市兴达建材有限公司",
    "苍梧县茂源林业有限公司",
    "苍梧县六堡山茶业有限公司",
    "梧州市宏达松脂有限公司",
    "梧州市金泰陶瓷有限公司",
    "苍梧县恒丰食品有限公司",
    "梧州市顺发物流有限公司",
    "梧州市华星电子有限公司",
    "苍梧县绿源农业开发有限公司",
    "梧州市鑫源矿业有限公司",
    "苍梧县桂江水电有限公司",
    "苍梧县丰盛米业有限公司",
    "梧州市汇通建设工程有限公司",
    "梧州市新华纸业有限公司",
    "苍梧县龙腾木业有限公司",
    "梧州市天力化工有限公司",
    "苍梧县宝丰饲料有限公司",
    "梧州市盛世园林绿化有限公司",
    "梧州市永安建筑有限公司",
    "梧州市瑞达机械制造有限公司",
];
const HK_CHARITY: &str = "香港嘉惠慈善基金会";

// ---------------------------------------------------------------------------------------------
// The city's people and things

/// What the story needs of a village beyond the ordinary; at most one per village, so that
/// every case of the review and of domain.md §5 is found where the tests look for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ordinary,
    /// §5.1: secretary recalled on 2016-06-20 and replaced a week later.
    RecallJune,
    /// Recalled in September after more than 180 days: graded, capped by `recalled`.
    RecallSeptember,
    /// The sending unit replaced its secretary in April: the first posting is too short.
    ReplacedApril,
    /// Promoted away in August: the successor's posting is too short.
    ReplacedAugust,
    /// A demerit (记过): excluded for discipline.
    Demerit,
    /// A warning (警告): capped at competent.
    Warning,
    /// Unexcused absences found by spot checks.
    Absence(u8),
    /// Residents' satisfaction under 70%.
    LowSatisfaction,
    /// No residents' evaluation held in 2016.
    NoEvaluation,
    /// The whole village is being relocated: projects cancelled, commitments withdrawn, no
    /// evaluation; the posting has nothing to judge (`no_evidence`).
    Relocation,
    /// §5.4: the year-end evaluation entered twice, the second retracted.
    DuplicateEvaluation,
    /// §5.3: a deadline extended before it fell due.
    ExtensionApplied,
    /// §5.3: a deadline "extended" after it had passed.
    ExtensionIgnored,
    /// §5.6: November's attendance report entered after the seal.
    LateAttendance,
    /// §5.6: a December spot check (an unexcused absence) entered after the seal.
    LateSpotCheck,
    /// §5.6: a fulfilment backdated to December, entered after the seal.
    LateFulfilment,
    /// §5.5: the Hong Kong charity's kindergarten (68万元 typed as 680万元).
    Kindergarten,
    /// The Cenxi village whose advisers raised 600万元 for a school and a flood wall.
    AdviserSchool,
}

/// How well a posting works; drives the odds of every outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quality {
    Star,
    Good,
    Fair,
    Weak,
}

struct Village {
    id: String,
    name: String,
    county: usize,
    township: &'static str,
    obstacle: Obstacle,
    role: Role,
    postings: Vec<usize>,
}

struct Posting {
    id: String,
    person_id: String,
    person_name: String,
    village: usize,
    unit: String,
    first: Date,
    last: Option<Date>,
    quality: Quality,
}

impl Posting {
    fn serves_on(&self, day: Date) -> bool {
        self.first <= day && self.last.is_none_or(|l| day <= l)
    }
    /// Last day on which events naming the posting may be dated.
    fn last_or(&self, day: Date) -> Date {
        self.last.map_or(day, |l| l.min(day))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    OnTime,
    Late,
    /// Done in 2017: no credit in the 2016 review.
    VeryLate,
    /// Never done (commitments) or started and not finished (projects).
    Never,
    /// Withdrawn (commitments) or cancelled (projects), with approval.
    Withdrawn,
    /// Completed but failed its acceptance inspection (projects).
    FailedAcceptance,
}

struct Entry {
    record_day: Date,
    occurred_on: Date,
    seq: u64,
    event: ProposedEvent,
}

struct Special {
    recorded_at: Timestamp,
    actor: String,
    events: Vec<ProposedEvent>,
}

fn id(s: impl Into<String>) -> Id {
    Id::new(s).expect("the demo makes valid ids")
}

struct City {
    seed: u64,
    rng: Rng,
    seq: u64,
    routine: Vec<Entry>,
    specials: Vec<Special>,
    villages: Vec<Village>,
    postings: Vec<Posting>,
    people: BTreeSet<String>,
    receipt_no: u64,
    /// The finding whose rectification is entered late (§5.6), once chosen.
    late_rectification_done: bool,
    /// The road completion typed ten times too long, once chosen.
    typo_done: bool,
}

impl City {
    fn new(seed: u64) -> City {
        City {
            seed,
            rng: Rng(mix(seed ^ 0x7A1_2016)),
            seq: 0,
            routine: Vec::new(),
            specials: Vec::new(),
            villages: Vec::new(),
            postings: Vec::new(),
            people: BTreeSet::new(),
            receipt_no: 0,
            late_rectification_done: false,
            typo_done: false,
        }
    }

    // --- making events -----------------------------------------------------------------------

    /// An event with the next serial number and its UUIDv5.
    fn make(&mut self, on: Date, payload: Payload) -> (u64, ProposedEvent) {
        assert!(
            on <= last_event_day(),
            "the demo dated an event after its end"
        );
        self.seq += 1;
        let name = format!("taizhang-demo/{}/{}", self.seed, self.seq);
        let event_id = EventId(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            name.as_bytes(),
        ));
        (
            self.seq,
            ProposedEvent {
                occurred_on: on,
                payload,
                event_id: Some(event_id),
                expected_version: None,
            },
        )
    }

    /// The day the ledger office records paperwork dated `on`: that day or the next (four times
    /// in ten, decided per date, not per event, so that the function never decreases), moved
    /// past weekends and public holidays.
    fn record_day(&self, on: Date) -> Date {
        let lag = i32::from(mix(self.seed ^ 0xDA7E ^ (on.days() as u64)) % 10 < 4);
        next_workday(on.add_days(lag))
    }

    /// A routine entry; returns its event id.
    fn emit(&mut self, on: Date, payload: Payload) -> EventId {
        let (seq, event) = self.make(on, payload);
        let event_id = event.event_id.expect("make gives every event an id");
        self.routine.push(Entry {
            record_day: self.record_day(on),
            occurred_on: on,
            seq,
            event,
        });
        event_id
    }

    /// A batch of its own at a given moment (corrections, late entries).
    fn special(&mut self, recorded_at: Timestamp, actor: &str, events: Vec<ProposedEvent>) {
        self.specials.push(Special {
            recorded_at,
            actor: actor.to_string(),
            events,
        });
    }

    // --- names -------------------------------------------------------------------------------

    fn person_name(&mut self) -> String {
        let surname = *self.rng.pick(SURNAMES);
        let mut name = surname.to_string();
        let len = if self.rng.per_mille(700) { 2 } else { 1 };
        for _ in 0..len {
            let given = *self.rng.pick(GIVEN);
            name.push_str(given);
        }
        name
    }

    fn new_person_id(&mut self, prefix: &str) -> String {
        loop {
            let candidate = format!("{prefix}-{:05}", self.rng.below(100_000));
            if self.people.insert(candidate.clone()) {
                return candidate;
            }
        }
    }

    fn county_of(&self, v: usize) -> &'static County {
        &COUNTIES[self.villages[v].county]
    }

    fn next_receipt(&mut self, v: usize) -> String {
        self.receipt_no += 1;
        format!("{}-2016-{:04}", self.county_of(v).code, self.receipt_no)
    }

    // --- the story ---------------------------------------------------------------------------

    fn build(&mut self) {
        self.adopt_policy();
        self.register_villages();
        self.assign_roles();
        self.post_secretaries();
        self.change_postings();
        self.discipline();
        self.teams();
        self.contracts();
        for posting in 0..self.postings.len() {
            self.commitments(posting);
        }
        self.projects();
        self.donations();
        for posting in 0..self.postings.len() {
            self.evaluations(posting);
            self.spot_checks(posting);
            self.attendance(posting);
        }
        self.inspections();
        self.year_2017();
    }

    fn adopt_policy(&mut self) {
        // Wuzhou counts half a year of service as 180 days (six months of 30), not 183.
        let policy = Policy {
            min_service_days: 180,
            ..Policy::DEFAULT_V1
        };
        self.emit(
            d(2016, 1, 6),
            Payload::PolicyAdopted(p::PolicyAdopted {
                policy_id: id(POLICY_ID),
                effective_from: d(2016, 1, 1),
                policy,
            }),
        );
    }

    fn register_villages(&mut self) {
        let mut names = BTreeSet::new();
        for (ci, county) in COUNTIES.iter().enumerate() {
            let mut per_township = vec![0u32; county.townships.len()];
            for k in 0..county.villages {
                // Every township gets villages round the table, a few get one more.
                let t = (k + self.rng.below(2) as usize) % county.townships.len();
                per_township[t] += 1;
                let (township, tcode) = county.townships[t];
                let name = loop {
                    let a = *self.rng.pick(VILLAGE_FIRST);
                    let b = *self.rng.pick(VILLAGE_SECOND);
                    let n = format!("{a}{b}村");
                    if a != b && names.insert(n.clone()) {
                        break n;
                    }
                };
                let obstacle = self.rng.weighted(&[
                    (36, Obstacle::Infrastructure),
                    (30, Obstacle::Industry),
                    (12, Obstacle::Labour),
                    (10, Obstacle::Health),
                    (8, Obstacle::Education),
                    (4, Obstacle::Other),
                ]);
                self.villages.push(Village {
                    id: format!("{}-{}-{:02}", county.code, tcode, per_township[t]),
                    name,
                    county: ci,
                    township,
                    obstacle,
                    role: Role::Ordinary,
                    postings: Vec::new(),
                });
            }
        }
        assert_eq!(self.villages.len(), VILLAGES);
        for v in 0..self.villages.len() {
            let village = &self.villages[v];
            let payload = Payload::VillageRegistered(p::VillageRegistered {
                village_id: id(&village.id),
                name: village.name.clone(),
                county: COUNTIES[village.county].name.to_string(),
                township: village.township.to_string(),
            });
            self.emit(d(2016, 1, 4), payload);
        }
        for v in 0..self.villages.len() {
            let on = self.rng.date(d(2016, 1, 5), d(2016, 1, 8));
            let payload = Payload::VillageClassified(p::VillageClassified {
                village_id: id(&self.villages[v].id),
                year: 2016,
                obstacle: self.villages[v].obstacle,
            });
            self.emit(on, payload);
        }
    }

    fn assign_roles(&mut self) {
        let mut order: Vec<usize> = (0..self.villages.len()).collect();
        self.rng.shuffle(&mut order);
        let wanted: &[(Role, Option<&str>)] = &[
            (Role::AdviserSchool, Some("CX")),
            (Role::Kindergarten, Some("TX")),
            (Role::RecallJune, Some("CW")),
            (Role::RecallSeptember, None),
            (Role::ReplacedApril, None),
            (Role::ReplacedAugust, None),
            (Role::Demerit, None),
            (Role::Warning, None),
            (Role::Absence(1), None),
            (Role::Absence(1), None),
            (Role::Absence(1), None),
            (Role::Absence(1), None),
            (Role::Absence(2), None),
            (Role::Absence(3), None),
            (Role::LowSatisfaction, None),
            (Role::LowSatisfaction, None),
            (Role::NoEvaluation, None),
            (Role::Relocation, Some("MS")),
            (Role::DuplicateEvaluation, None),
            (Role::ExtensionApplied, None),
            (Role::ExtensionIgnored, None),
            (Role::LateAttendance, None),
            (Role::LateAttendance, None),
            (Role::LateSpotCheck, None),
            (Role::LateFulfilment, None),
        ];
        for &(role, county) in wanted {
            let v = *order
                .iter()
                .find(|&&v| {
                    self.villages[v].role == Role::Ordinary
                        && county.is_none_or(|c| COUNTIES[self.villages[v].county].code == c)
                })
                .expect("enough villages for every role");
            self.villages[v].role = role;
        }
    }

    fn quality_for(&mut self, role: Role) -> Quality {
        match role {
            Role::Absence(3) => Quality::Weak,
            Role::LowSatisfaction | Role::Warning => Quality::Fair,
            Role::Kindergarten | Role::AdviserSchool => Quality::Star,
            _ => self.rng.weighted(&[
                (18, Quality::Star),
                (50, Quality::Good),
                (25, Quality::Fair),
                (7, Quality::Weak),
            ]),
        }
    }

    fn new_posting(&mut self, v: usize, first: Date, suffix: &str) -> usize {
        let county = self.county_of(v);
        let unit = if self.rng.per_mille(450) {
            self.rng.pick(CITY_UNITS).to_string()
        } else {
            format!("{}{}", county.name, self.rng.pick(COUNTY_UNITS))
        };
        let role = self.villages[v].role;
        let quality = self.quality_for(role);
        let person_id = self.new_person_id("FS");
        let person_name = self.person_name();
        let posting = Posting {
            id: format!("P16-{}{suffix}", self.villages[v].id),
            person_id,
            person_name,
            village: v,
            unit,
            first,
            last: None,
            quality,
        };
        self.postings.push(posting);
        let index = self.postings.len() - 1;
        self.villages[v].postings.push(index);
        let probation = self.rng.per_mille(120);
        let pp = &self.postings[index];
        let payload = Payload::SecretaryPosted(p::SecretaryPosted {
            posting_id: id(&pp.id),
            person_id: id(&pp.person_id),
            person_name: pp.person_name.clone(),
            village_id: id(&self.villages[v].id),
            sending_unit: pp.unit.clone(),
            probation,
        });
        self.emit(first, payload);
        index
    }

    fn post_secretaries(&mut self) {
        for v in 0..self.villages.len() {
            let first = self.rng.date(d(2016, 1, 4), d(2016, 1, 8));
            self.new_posting(v, first, "");
        }
    }

    fn change_postings(&mut self) {
        for v in 0..self.villages.len() {
            let (last, reason, note, successor) = match self.villages[v].role {
                Role::RecallJune => (
                    d(2016, 6, 20),
                    EndReason::Recalled,
                    "驻村工作不实、群众反映较多，经市委组织部考察后召回",
                    d(2016, 6, 27),
                ),
                Role::RecallSeptember => (
                    d(2016, 9, 12),
                    EndReason::Recalled,
                    "因健康原因无法坚持驻村，派出单位申请召回",
                    d(2016, 9, 19),
                ),
                Role::ReplacedApril => (
                    d(2016, 4, 15),
                    EndReason::Replaced,
                    "派出单位工作调整，另行选派第一书记",
                    d(2016, 4, 20),
                ),
                Role::ReplacedAugust => (
                    d(2016, 8, 5),
                    EndReason::Replaced,
                    "提拔任职，派出单位另行选派",
                    d(2016, 8, 11),
                ),
                _ => continue,
            };
            let first = self.villages[v].postings[0];
            self.postings[first].last = Some(last);
            let payload = Payload::PostingEnded(p::PostingEnded {
                posting_id: id(&self.postings[first].id),
                reason,
                note: note.to_string(),
            });
            self.emit(last, payload);
            self.new_posting(v, successor, "-2");
        }
    }

    fn discipline(&mut self) {
        for v in 0..self.villages.len() {
            let (kind, on, reason) = match self.villages[v].role {
                Role::Demerit => (
                    DisciplineKind::Demerit,
                    d(2016, 10, 18),
                    "虚报驻村考勤，弄虚作假，给予记过处分",
                ),
                Role::Warning => (
                    DisciplineKind::Warning,
                    d(2016, 8, 23),
                    "未经批准擅自离村，给予警告处分",
                ),
                _ => continue,
            };
            let payload = Payload::DisciplineRecorded(p::DisciplineRecorded {
                posting_id: id(&self.postings[self.villages[v].postings[0]].id),
                kind,
                reason: reason.to_string(),
            });
            self.emit(on, payload);
        }
    }

    fn teams(&mut self) {
        for v in 0..self.villages.len() {
            let mut roles = vec![TeamRole::Instructor, TeamRole::ContactCadre];
            if self.rng.per_mille(450) {
                roles.push(TeamRole::ContactCadre);
            }
            if self.rng.per_mille(600) {
                roles.push(TeamRole::Commissioner);
            }
            if self.rng.per_mille(500) {
                roles.push(TeamRole::GraduateOfficial);
            }
            if self.rng.per_mille(100) {
                roles.push(TeamRole::Other);
            }
            for role in roles {
                let joined = self.rng.date(d(2016, 1, 11), d(2016, 3, 15));
                let member = self.join(v, role, joined);
                // A few leave: a graduate official takes an exam post, a cadre is transferred.
                if self.rng.per_mille(45) {
                    let left = self.rng.date(d(2016, 6, 1), d(2016, 11, 30));
                    let payload = Payload::TeamMemberLeft(p::TeamMemberLeft {
                        village_id: id(&self.villages[v].id),
                        person_id: id(&member),
                    });
                    self.emit(left, payload);
                    if self.rng.per_mille(600) {
                        let joined = left.add_days(self.rng.days(7, 30));
                        self.join(v, role, joined);
                    }
                }
            }
        }
    }

    fn join(&mut self, v: usize, role: TeamRole, on: Date) -> String {
        let person = self.new_person_id("TM");
        let name = self.person_name();
        let payload = Payload::TeamMemberJoined(p::TeamMemberJoined {
            village_id: id(&self.villages[v].id),
            person_id: id(&person),
            name,
            role,
        });
        self.emit(on, payload);
        person
    }

    fn contracts(&mut self) {
        const ITEMS: &[&str] = &[
            "协助申报产业扶持项目并完成立项",
            "为村级专业合作社办理注册登记",
            "完成村道硬化项目申报及招投标",
            "组织贫困户参加实用技术培训",
            "代办贫困户小额扶贫信贷",
            "为村特色农产品注册商标",
            "落实后盾单位帮扶资金",
            "完成贫困户危房改造申报",
        ];
        for v in 0..self.villages.len() {
            let signed = self.rng.date(d(2016, 2, 15), d(2016, 3, 10));
            let posting = &self.postings[self.villages[v].postings[0]];
            let lead_unit = posting.unit.clone();
            let quality = posting.quality;
            let n = self.rng.int(3, 5) as usize;
            let mut texts: Vec<&str> = ITEMS.to_vec();
            self.rng.shuffle(&mut texts);
            let mut items = Vec::new();
            for (k, text) in texts.iter().take(n).enumerate() {
                let due = *self.rng.pick(&[
                    d(2016, 6, 30),
                    d(2016, 9, 30),
                    d(2016, 11, 30),
                    d(2016, 12, 31),
                ]);
                items.push(p::ContractItem {
                    item_id: id(format!("I{}", k + 1)),
                    text: text.to_string(),
                    due,
                });
            }
            let contract_id = format!("ZRZ-{}-2016", self.villages[v].id);
            let payload = Payload::ContractSigned(p::ContractSigned {
                contract_id: id(&contract_id),
                station: format!("{}扶贫攻坚服务站", self.villages[v].township),
                lead_unit,
                village_id: id(&self.villages[v].id),
                items: items.clone(),
            });
            self.emit(signed, payload);
            let done_odds = match quality {
                Quality::Star | Quality::Good => 950,
                Quality::Fair => 850,
                Quality::Weak => 700,
            };
            for item in items {
                if self.rng.per_mille(done_odds) {
                    let on = self.rng.date(
                        signed.add_days(20).max(item.due.add_days(-90)),
                        item.due.add_days(10),
                    );
                    let payload = Payload::ContractItemCompleted(p::ContractItemCompleted {
                        contract_id: id(&contract_id),
                        item_id: item.item_id,
                    });
                    self.emit(on, payload);
                }
            }
        }
    }

    fn commitment_outcome(&mut self, quality: Quality) -> Outcome {
        let odds: &[(u64, Outcome)] = match quality {
            Quality::Star => &[(960, Outcome::OnTime), (40, Outcome::Late)],
            Quality::Good => &[
                (760, Outcome::OnTime),
                (225, Outcome::Late),
                (5, Outcome::Never),
                (10, Outcome::Withdrawn),
            ],
            Quality::Fair => &[
                (700, Outcome::OnTime),
                (275, Outcome::Late),
                (10, Outcome::Never),
                (15, Outcome::Withdrawn),
            ],
            Quality::Weak => &[
                (600, Outcome::OnTime),
                (365, Outcome::Late),
                (20, Outcome::Never),
                (15, Outcome::Withdrawn),
            ],
        };
        self.rng.weighted(odds)
    }

    fn commitment_content(&mut self, v: usize, kind: CommitmentKind) -> String {
        let village = self.villages[v].name.clone();
        let township = self.villages[v].township;
        let product = *self.rng.pick(PRODUCTS);
        let n = self.rng.int(2, 60);
        match kind {
            CommitmentKind::Common => self
                .rng
                .pick(&[
                    "每月驻村工作不少于20天，吃住在村，严格执行请销假制度".to_string(),
                    "建立健全驻村工作台账，做到日有记录、月有小结".to_string(),
                    "落实“三会一课”制度，每季度为村党员上一次党课".to_string(),
                    format!("全面走访{village}贫困户，做到户户见面、精准识别、建档立卡"),
                ])
                .clone(),
            CommitmentKind::Post => self
                .rng
                .pick(&[
                    format!("帮助{village}村两委健全议事规则，推行“四议两公开”工作法"),
                    format!("发展培养入党积极分子{}名，充实村级后备干部队伍", n % 4 + 1),
                    format!("规范{village}村务公开栏，按季度公开财务和项目资金"),
                    "为每户贫困户制定“一户一策”帮扶计划".to_string(),
                    format!("协助{township}扶贫攻坚服务站为{n}户贫困户办理小额扶贫信贷"),
                    format!("完善{village}村规民约，组织开展文明家庭评选"),
                ])
                .clone(),
            CommitmentKind::Practical => self
                .rng
                .pick(&[
                    format!(
                        "争取资金硬化{village}至{township}道路{}.{}公里",
                        n / 10 + 1,
                        n % 10
                    ),
                    format!("建设{village}集中供水工程，解决{}户群众饮水难问题", n * 3),
                    format!("引进{product}种植项目，带动贫困户{n}户增收"),
                    format!("牵头成立{product}专业合作社，吸纳贫困户入社"),
                    format!("修建{village}便民桥{}座，解决群众雨季出行难", n % 3 + 1),
                    format!(
                        "开展{product}实用技术培训{}期，培训农民{}人次",
                        n % 4 + 2,
                        n * 5
                    ),
                    format!("建设{village}垃圾集中处理池，开展村屯绿化美化"),
                    format!("协调资金建设{village}村级活动场所"),
                    format!("推动{village}电商服务站建设，帮助群众销售{product}"),
                ])
                .clone(),
        }
    }

    fn commitments(&mut self, posting: usize) {
        let v = self.postings[posting].village;
        let role = self.villages[v].role;
        let first_posting = self.villages[v].postings[0] == posting;
        let (first, last, quality) = {
            let pp = &self.postings[posting];
            (pp.first, pp.last, pp.quality)
        };
        let made = if first_posting {
            self.rng.date(d(2016, 1, 20), d(2016, 2, 26))
        } else {
            first.add_days(self.rng.days(8, 20))
        };
        let mut plan: Vec<(CommitmentKind, Date)> = Vec::new();
        if first_posting {
            plan.push((CommitmentKind::Common, d(2016, 12, 20)));
            for _ in 0..self.rng.int(1, 2) {
                let m = self.rng.int(6, 11) as u32;
                plan.push((CommitmentKind::Post, month(2016, m).last_day()));
            }
            for _ in 0..self.rng.int(2, 4) {
                let due = self.rng.date(d(2016, 5, 31), d(2016, 12, 20));
                plan.push((CommitmentKind::Practical, due));
            }
        } else {
            plan.push((CommitmentKind::Post, d(2016, 12, 20)));
            for _ in 0..self.rng.int(2, 3) {
                let due = self.rng.date(made.add_days(60), d(2016, 12, 20));
                plan.push((CommitmentKind::Practical, due));
            }
        }
        let posting_id = self.postings[posting].id.clone();
        let approver = format!("{}扶贫开发领导小组办公室", self.county_of(v).name);
        let mut special_done = false;
        for (k, (kind, due)) in plan.into_iter().enumerate() {
            let commitment_id = format!("K-{posting_id}-{:02}", k + 1);
            let content = self.commitment_content(v, kind);
            let payload = Payload::CommitmentMade(p::CommitmentMade {
                commitment_id: id(&commitment_id),
                posting_id: id(&posting_id),
                village_id: id(&self.villages[v].id),
                kind,
                content,
                due,
            });
            self.emit(made, payload);
            let practical = kind == CommitmentKind::Practical;
            let cid = || id(&commitment_id);

            // The §5 cases take the posting's first practical commitment.
            if practical && !special_done && first_posting {
                match role {
                    Role::ExtensionApplied => {
                        special_done = true;
                        let due = d(2016, 8, 31);
                        self.commitment_with_due(&commitment_id, due);
                        self.emit(
                            d(2016, 8, 19),
                            Payload::CommitmentDeadlineExtended(p::CommitmentDeadlineExtended {
                                commitment_id: cid(),
                                new_due: d(2016, 10, 31),
                                reason: "受持续强降雨影响，施工队无法进场，申请延期两个月".into(),
                                approved_by: approver.clone(),
                            }),
                        );
                        self.emit(
                            d(2016, 10, 20),
                            Payload::CommitmentFulfilled(p::CommitmentFulfilled {
                                commitment_id: cid(),
                                evidence: "项目竣工验收报告及现场照片存档".into(),
                            }),
                        );
                        continue;
                    }
                    Role::ExtensionIgnored => {
                        special_done = true;
                        let due = d(2016, 6, 30);
                        self.commitment_with_due(&commitment_id, due);
                        self.emit(
                            d(2016, 7, 12),
                            Payload::CommitmentDeadlineExtended(p::CommitmentDeadlineExtended {
                                commitment_id: cid(),
                                new_due: d(2016, 9, 30),
                                reason: "逾期后补办延期手续".into(),
                                approved_by: approver.clone(),
                            }),
                        );
                        self.emit(
                            d(2016, 9, 9),
                            Payload::CommitmentFulfilled(p::CommitmentFulfilled {
                                commitment_id: cid(),
                                evidence: "群众签字确认表".into(),
                            }),
                        );
                        continue;
                    }
                    Role::LateFulfilment => {
                        special_done = true;
                        self.commitment_with_due(&commitment_id, d(2016, 11, 30));
                        self.emit(
                            d(2016, 11, 21),
                            Payload::CommitmentProgressed(p::CommitmentProgressed {
                                commitment_id: cid(),
                                percent: 80,
                                note: "主体工程完工，附属设施未完成".into(),
                            }),
                        );
                        // Entered after the seal, backdated to December (§5.6).
                        let (_, late) = self.make(
                            d(2016, 12, 28),
                            Payload::CommitmentFulfilled(p::CommitmentFulfilled {
                                commitment_id: cid(),
                                evidence: "补录：附属设施已于2016年12月完工".into(),
                            }),
                        );
                        let recorder = self.county_of(v).recorder;
                        self.special(at(d(2017, 3, 6), 15, 12, 40), recorder, vec![late]);
                        continue;
                    }
                    _ => {}
                }
            }

            // What falls due after a posting ends stays open under it (§5.1).
            let outcome = if role == Role::Relocation {
                Outcome::Withdrawn
            } else if last.is_some_and(|l| due > l) {
                Outcome::Never
            } else {
                self.commitment_outcome(quality)
            };
            // A few ordinary commitments get a deadline extension in time.
            let extended = outcome == Outcome::Late
                && role == Role::Ordinary
                && due <= d(2016, 10, 31)
                && self.rng.per_mille(120);
            let due_in_force = if extended {
                let new_due = due.add_days(self.rng.days(30, 60));
                let asked = due.add_days(-self.rng.days(3, 15)).max(made);
                self.emit(
                    asked,
                    Payload::CommitmentDeadlineExtended(p::CommitmentDeadlineExtended {
                        commitment_id: cid(),
                        new_due,
                        reason: "项目资金未及时到位，申请延期".into(),
                        approved_by: approver.clone(),
                    }),
                );
                new_due
            } else {
                due
            };
            let serve_end = last.unwrap_or(year_end());
            let fulfilled = match outcome {
                Outcome::OnTime => Some(self.rng.date(
                    made.add_days(14).max(due_in_force.add_days(-45)),
                    due_in_force,
                )),
                Outcome::Late if extended => Some(self.rng.date(
                    due.add_days(1).max(due_in_force.add_days(-20)),
                    due_in_force,
                )),
                // Late, but within the service when there is room (a Dec 20 due is met by Dec 31).
                Outcome::Late if due < serve_end => Some(
                    due.add_days(self.rng.days(3, 40))
                        .min(serve_end)
                        .max(due.add_days(1)),
                ),
                Outcome::Late => Some(self.rng.date(d(2017, 1, 9), d(2017, 2, 24))),
                Outcome::VeryLate => Some(self.rng.date(d(2017, 1, 9), d(2017, 2, 24))),
                _ => None,
            };
            if outcome == Outcome::Withdrawn {
                let on = self.rng.date(made.add_days(30), due.add_days(-10));
                let on = on.min(last.unwrap_or(on));
                self.emit(
                    on.max(made),
                    Payload::CommitmentWithdrawn(p::CommitmentWithdrawn {
                        commitment_id: cid(),
                        reason: if role == Role::Relocation {
                            "全村纳入易地扶贫搬迁，原承诺事项不再实施".into()
                        } else {
                            "上级规划调整，改由县级统筹实施".into()
                        },
                        approved_by: approver.clone(),
                    }),
                );
                continue;
            }
            // Progress notes before the fulfilment (or before the posting left).
            let progress_until = fulfilled.unwrap_or(serve_end.min(d(2016, 12, 20)));
            if made.days_until(progress_until) > 30 {
                let steps = if practical {
                    self.rng.int(1, 3)
                } else {
                    self.rng.int(0, 1)
                };
                let mut percent = 0;
                let mut on = made;
                for _ in 0..steps {
                    percent += self.rng.int(20, 30);
                    let lo = on.add_days(7);
                    let hi = progress_until.add_days(-3);
                    if hi <= lo {
                        break;
                    }
                    on = self.rng.date(lo, hi);
                    let note = *self.rng.pick(&[
                        "已完成项目申报",
                        "资金已落实",
                        "已开工建设",
                        "完成工程量过半",
                        "正在组织实施",
                    ]);
                    self.emit(
                        on,
                        Payload::CommitmentProgressed(p::CommitmentProgressed {
                            commitment_id: cid(),
                            percent,
                            note: note.into(),
                        }),
                    );
                }
            }
            if let Some(on) = fulfilled {
                let evidence = *self.rng.pick(&[
                    "验收单及现场照片存档",
                    "群众签字确认表",
                    "会议记录及照片",
                    "项目竣工验收报告",
                    "台账资料已归档",
                    "培训签到表及照片",
                ]);
                self.emit(
                    on,
                    Payload::CommitmentFulfilled(p::CommitmentFulfilled {
                        commitment_id: cid(),
                        evidence: evidence.into(),
                    }),
                );
            }
        }
    }

    /// Rewrites the due date of the commitment just made (the §5 cases need exact dates).
    fn commitment_with_due(&mut self, commitment_id: &str, due: Date) {
        let entry = self
            .routine
            .iter_mut()
            .rev()
            .find(|e| {
                matches!(&e.event.payload, Payload::CommitmentMade(c) if c.commitment_id.as_str() == commitment_id)
            })
            .expect("the commitment was just made");
        if let Payload::CommitmentMade(c) = &mut entry.event.payload {
            c.due = due;
        }
    }

    fn project_outcome(&mut self, quality: Quality) -> Outcome {
        let odds: &[(u64, Outcome)] = match quality {
            Quality::Star => &[(960, Outcome::OnTime), (40, Outcome::Late)],
            Quality::Good => &[
                (760, Outcome::OnTime),
                (220, Outcome::Late),
                (10, Outcome::VeryLate),
                (10, Outcome::FailedAcceptance),
            ],
            Quality::Fair => &[
                (700, Outcome::OnTime),
                (280, Outcome::Late),
                (10, Outcome::VeryLate),
                (10, Outcome::FailedAcceptance),
            ],
            Quality::Weak => &[
                (600, Outcome::OnTime),
                (370, Outcome::Late),
                (20, Outcome::VeryLate),
                (10, Outcome::FailedAcceptance),
            ],
        };
        self.rng.weighted(odds)
    }

    /// Plans every project of the city and follows each to its end.
    fn projects(&mut self) {
        struct Spec {
            kind: ProjectKind,
            village: usize,
            quantity: u64,
            fixed: Option<Outcome>,
        }
        let eligible: Vec<usize> = (0..self.villages.len())
            .filter(|&v| self.villages[v].role != Role::Relocation)
            .collect();
        let mut specs: Vec<Spec> = Vec::new();
        // (kind, number planned, cancelled, left unfinished): the interview's magnitudes once
        // the cancelled and unfinished are taken off.
        let plan: &[(ProjectKind, usize, usize, usize)] = &[
            (ProjectKind::Road, 260, 4, 5),
            (ProjectKind::Bridge, 210, 3, 4),
            (ProjectKind::DrinkingWater, 222, 4, 4),
            (ProjectKind::Sanitation, 340, 4, 6),
            (ProjectKind::Greening, 205, 3, 3),
            (ProjectKind::Other, 48, 2, 2),
            (ProjectKind::School, 8, 0, 0),
        ];
        for &(kind, n, cancelled, unfinished) in plan {
            // Dealt from a shuffled deck, not drawn, so that every village gets its share and
            // a posting's work score does not hang on one or two projects; villages whose key
            // obstacle is infrastructure are in the deck twice for roads, bridges and water.
            let mut deck: Vec<usize> = Vec::new();
            let start = specs.len();
            for k in 0..n {
                if deck.is_empty() {
                    for &v in &eligible {
                        deck.push(v);
                        let infrastructure = self.villages[v].obstacle == Obstacle::Infrastructure
                            && matches!(
                                kind,
                                ProjectKind::Road
                                    | ProjectKind::Bridge
                                    | ProjectKind::DrinkingWater
                            );
                        if infrastructure {
                            deck.push(v);
                        }
                    }
                    self.rng.shuffle(&mut deck);
                }
                let village = deck.pop().expect("a refilled deck");
                let quantity = if kind == ProjectKind::Road {
                    // Pairs summing to 7,500 m keep the planned length fixed for every seed.
                    if k % 2 == 0 {
                        self.rng.int(200, 550) * 10
                    } else {
                        7_500 - specs[specs.len() - 1].quantity
                    }
                } else {
                    1
                };
                specs.push(Spec {
                    kind,
                    village,
                    quantity,
                    fixed: None,
                });
            }
            let mut picks: Vec<usize> = (start..specs.len()).collect();
            self.rng.shuffle(&mut picks);
            for &i in picks.iter().take(cancelled) {
                specs[i].fixed = Some(Outcome::Withdrawn);
            }
            for &i in picks.iter().skip(cancelled).take(unfinished) {
                specs[i].fixed = Some(Outcome::Never);
            }
        }
        // Mengshan's "five ones" pilot: 21 cooperatives and 19 demonstration bases, all built.
        let mut mengshan: Vec<usize> = eligible
            .iter()
            .copied()
            .filter(|&v| COUNTIES[self.villages[v].county].code == "MS")
            .collect();
        for (kind, n) in [
            (ProjectKind::Cooperative, 21),
            (ProjectKind::DemonstrationBase, 19),
        ] {
            self.rng.shuffle(&mut mengshan);
            for &village in mengshan.iter().take(n) {
                let fixed = Some(if self.rng.per_mille(850) {
                    Outcome::OnTime
                } else {
                    Outcome::Late
                });
                specs.push(Spec {
                    kind,
                    village,
                    quantity: 1,
                    fixed,
                });
            }
        }
        // The relocated village planned a road and a water work before the move was decided.
        for v in 0..self.villages.len() {
            if self.villages[v].role == Role::Relocation {
                for (kind, quantity) in
                    [(ProjectKind::Road, 1_800), (ProjectKind::DrinkingWater, 1)]
                {
                    specs.push(Spec {
                        kind,
                        village: v,
                        quantity,
                        fixed: Some(Outcome::Withdrawn),
                    });
                }
            }
        }
        // Group by village so that ids are numbered per village in planning order.
        specs.sort_by_key(|s| s.village);
        let mut numbers: BTreeMap<usize, u32> = BTreeMap::new();
        for spec in specs {
            let n = numbers.entry(spec.village).or_insert(0);
            *n += 1;
            let project_id = format!("XM-{}-{:02}", self.villages[spec.village].id, n);
            self.project(
                project_id,
                spec.kind,
                spec.village,
                spec.quantity,
                spec.fixed,
            );
        }
        self.special_projects();
    }

    fn budget_fen(&mut self, kind: ProjectKind, quantity: u64) -> u64 {
        match kind {
            // About 45万元 a kilometre of hardened village road.
            ProjectKind::Road => quantity * self.rng.int(350, 550) * FEN_PER_YUAN,
            ProjectKind::Bridge => self.rng.int(15, 60) * FEN_PER_WAN,
            ProjectKind::DrinkingWater => self.rng.int(8, 45) * FEN_PER_WAN,
            ProjectKind::Sanitation => self.rng.int(2, 12) * FEN_PER_WAN,
            ProjectKind::Greening => self.rng.int(1, 6) * FEN_PER_WAN,
            ProjectKind::School => self.rng.int(40, 120) * FEN_PER_WAN,
            ProjectKind::Cooperative => self.rng.int(5, 20) * FEN_PER_WAN,
            ProjectKind::DemonstrationBase => self.rng.int(10, 40) * FEN_PER_WAN,
            ProjectKind::Other => self.rng.int(8, 40) * FEN_PER_WAN,
        }
    }

    fn acceptance_inspector(&self, v: usize, kind: ProjectKind) -> String {
        let bureau = match kind {
            ProjectKind::Road | ProjectKind::Bridge => "交通运输局",
            ProjectKind::DrinkingWater => "水利局",
            ProjectKind::Sanitation | ProjectKind::Greening | ProjectKind::Other => {
                "住房和城乡建设局"
            }
            ProjectKind::School => "教育局",
            ProjectKind::Cooperative | ProjectKind::DemonstrationBase => "农业局",
        };
        format!("{}{bureau}", self.county_of(v).name)
    }

    /// Which posting plans a project of village `v`: the first, or (a third of the time, when
    /// there is one that arrived in time) the successor; and the planning date.
    fn planner(&mut self, v: usize) -> (usize, Date) {
        let postings = self.villages[v].postings.clone();
        let first = postings[0];
        if let Some(&second) = postings.get(1) {
            let arrived = self.postings[second].first;
            let early_end = self.postings[first].last.expect("a replaced posting ended");
            if early_end < d(2016, 5, 1) || (arrived < d(2016, 10, 1) && self.rng.per_mille(350)) {
                let on = self.rng.date(arrived.add_days(7), arrived.add_days(30));
                return (second, on);
            }
            let on = self
                .rng
                .date(d(2016, 2, 15), d(2016, 4, 10).min(early_end.add_days(-5)));
            return (first, on);
        }
        (first, self.rng.date(d(2016, 2, 15), d(2016, 4, 30)))
    }

    fn project(
        &mut self,
        project_id: String,
        kind: ProjectKind,
        v: usize,
        quantity: u64,
        fixed: Option<Outcome>,
    ) {
        let (posting, planned) = self.planner(v);
        let due = if planned >= d(2016, 6, 1) {
            self.rng
                .date(planned.add_days(60), planned.add_days(100))
                .min(d(2016, 12, 20))
        } else {
            self.rng
                .date(planned.add_days(90), planned.add_days(240))
                .min(d(2016, 12, 20))
        };
        let quality = self.postings[posting].quality;
        let outcome = match fixed {
            Some(o) => o,
            None => self.project_outcome(quality),
        };
        self.follow_project(ProjectRun {
            project_id,
            kind,
            village: v,
            posting,
            quantity,
            planned,
            due,
            outcome,
        });
    }

    fn follow_project(&mut self, run: ProjectRun) {
        let ProjectRun {
            project_id,
            kind,
            village: v,
            posting,
            quantity,
            planned,
            due,
            outcome,
        } = run;
        let unit = if kind == ProjectKind::Road || (kind == ProjectKind::Other && quantity > 1) {
            Unit::Metre
        } else {
            Unit::Item
        };
        let budget_fen = self.budget_fen(kind, quantity);
        let pid = || id(&project_id);
        self.emit(
            planned,
            Payload::ProjectPlanned(p::ProjectPlanned {
                project_id: pid(),
                village_id: id(&self.villages[v].id),
                posting_id: id(&self.postings[posting].id),
                kind,
                planned_quantity: quantity,
                unit,
                budget_fen,
                due,
            }),
        );
        let started = planned.add_days(self.rng.days(7, 30));
        if outcome == Outcome::Withdrawn {
            let on = planned.add_days(self.rng.days(20, 80));
            if on > started {
                self.emit(
                    started,
                    Payload::ProjectStarted(p::ProjectStarted { project_id: pid() }),
                );
            }
            let reason = if self.villages[v].role == Role::Relocation {
                "全村纳入易地扶贫搬迁，项目取消"
            } else {
                *self.rng.pick(&[
                    "与县级交通规划项目重复，取消立项",
                    "选址涉及基本农田，无法实施",
                    "群众意见不统一，经村民代表会议决定取消",
                ])
            };
            self.emit(
                on,
                Payload::ProjectCancelled(p::ProjectCancelled {
                    project_id: pid(),
                    reason: reason.into(),
                    approved_by: format!("{}扶贫开发领导小组办公室", self.county_of(v).name),
                }),
            );
            return;
        }
        self.emit(
            started,
            Payload::ProjectStarted(p::ProjectStarted { project_id: pid() }),
        );
        let completed = match outcome {
            Outcome::OnTime | Outcome::FailedAcceptance => Some(
                self.rng
                    .date(started.add_days(15).max(due.add_days(-40)), due),
            ),
            Outcome::Late => Some(
                (due.add_days(self.rng.days(5, 40)))
                    .min(d(2016, 12, 30))
                    .max(due),
            ),
            Outcome::VeryLate => Some(self.rng.date(d(2017, 1, 9), d(2017, 3, 10))),
            _ => None,
        };
        let Some(completed) = completed else {
            return;
        };
        let actual = if unit == Unit::Metre {
            // Measured on completion: within a few percent of the plan, to the 10 m.
            (quantity * self.rng.int(970, 1_020) / 1_000) / 10 * 10
        } else {
            quantity
        };
        let cost_fen = budget_fen / 1_000 * self.rng.int(920, 1_040);
        let inspector = self.acceptance_inspector(v, kind);
        let completion = Payload::ProjectCompleted(p::ProjectCompleted {
            project_id: pid(),
            quantity: actual,
            cost_fen,
        });
        let typo = kind == ProjectKind::Road
            && outcome == Outcome::OnTime
            && !self.typo_done
            && self.villages[v].role == Role::Ordinary
            && completed <= d(2016, 11, 15);
        if typo {
            // Typed ten times too long; found by the county three working days later and
            // corrected by a retraction and the right completion in one batch.
            self.typo_done = true;
            let wrong = self.emit(
                completed,
                Payload::ProjectCompleted(p::ProjectCompleted {
                    project_id: pid(),
                    quantity: actual * 10,
                    cost_fen,
                }),
            );
            let fix_day = next_workday(self.record_day(completed).add_days(3));
            let (_, retraction) = self.make(
                fix_day,
                Payload::Retracted(p::Retracted {
                    target_event_id: wrong,
                    reason: format!("完成里程误录为{}米，应为{}米", actual * 10, actual),
                    approved_by: format!("{}交通运输局", self.county_of(v).name),
                }),
            );
            let (_, right) = self.make(completed, completion);
            let recorder = self.county_of(v).recorder;
            self.special(at(fix_day, 9, 40, 0), recorder, vec![retraction, right]);
        } else {
            self.emit(completed, completion);
        }
        let accepted = completed.add_days(self.rng.days(12, 30));
        if accepted > last_event_day() {
            return;
        }
        let passed = outcome != Outcome::FailedAcceptance;
        let note = if passed {
            (*self.rng.pick(&["", "质量合格", "资料齐全，同意验收"])).to_string()
        } else {
            (*self.rng.pick(&[
                "路面厚度不达标，责令返工",
                "管网试压不合格，限期整改",
                "护栏未按设计施工，整改后复验",
            ]))
            .to_string()
        };
        self.emit(
            accepted,
            Payload::ProjectAccepted(p::ProjectAccepted {
                project_id: pid(),
                passed,
                inspector: inspector.clone(),
                note,
            }),
        );
        if !passed {
            let again = accepted.add_days(self.rng.days(40, 80));
            if again <= last_event_day() {
                self.emit(
                    again,
                    Payload::ProjectAccepted(p::ProjectAccepted {
                        project_id: pid(),
                        passed: true,
                        inspector,
                        note: "整改后复验合格".into(),
                    }),
                );
            }
        }
    }

    /// The kindergarten of the Hong Kong charity and the Cenxi advisers' school and flood wall.
    fn special_projects(&mut self) {
        for v in 0..self.villages.len() {
            let posting = self.villages[v].postings[0];
            let village_id = self.villages[v].id.clone();
            match self.villages[v].role {
                Role::Kindergarten => self.follow_project(ProjectRun {
                    project_id: format!("XM-{village_id}-YEY"),
                    kind: ProjectKind::School,
                    village: v,
                    posting,
                    quantity: 1,
                    planned: d(2016, 5, 3),
                    due: d(2016, 8, 31),
                    outcome: Outcome::OnTime,
                }),
                Role::AdviserSchool => {
                    // The primary school is built over two years: started, not due in 2016.
                    self.follow_project(ProjectRun {
                        project_id: format!("XM-{village_id}-XX"),
                        kind: ProjectKind::School,
                        village: v,
                        posting,
                        quantity: 1,
                        planned: d(2016, 4, 8),
                        due: d(2017, 8, 31),
                        outcome: Outcome::Never,
                    });
                    self.follow_project(ProjectRun {
                        project_id: format!("XM-{village_id}-FHD"),
                        kind: ProjectKind::Other,
                        village: v,
                        posting,
                        quantity: 1_260,
                        planned: d(2016, 4, 8),
                        due: d(2016, 11, 30),
                        outcome: Outcome::OnTime,
                    });
                }
                _ => {}
            }
        }
    }

    fn pledge(&mut self, pledge: PledgePlan) {
        let PledgePlan {
            pledge_id,
            donor_id,
            donor_name,
            donor_kind,
            village: v,
            amount_fen,
            purpose,
            pledged,
            due,
            receipts,
            released,
        } = pledge;
        let payload = Payload::DonationPledged(p::DonationPledged {
            pledge_id: id(&pledge_id),
            donor_id: id(&donor_id),
            donor_name,
            donor_kind,
            village_id: id(&self.villages[v].id),
            amount_fen,
            purpose: purpose.clone(),
            due,
        });
        self.emit(pledged, payload);
        let mut received_total = 0;
        let mut last_receipt = pledged;
        for (on, amount_fen) in receipts {
            let receipt_no = self.next_receipt(v);
            self.emit(
                on,
                Payload::DonationReceived(p::DonationReceived {
                    pledge_id: id(&pledge_id),
                    amount_fen,
                    receipt_no,
                }),
            );
            received_total += amount_fen;
            last_receipt = on;
        }
        if let Some((on, reason)) = released {
            self.emit(
                on,
                Payload::PledgeReleased(p::PledgeReleased {
                    pledge_id: id(&pledge_id),
                    reason,
                }),
            );
        }
        // The village spends what arrived, in one or two payments after the last receipt.
        if received_total > 0 {
            let first = self
                .rng
                .date(last_receipt.add_days(5), last_receipt.add_days(40));
            if first <= last_event_day() {
                let part = if self.rng.per_mille(500) {
                    received_total
                } else {
                    received_total / 100 * self.rng.int(40, 70)
                };
                self.emit(
                    first,
                    Payload::FundsDisbursed(p::FundsDisbursed {
                        village_id: id(&self.villages[v].id),
                        pledge_id: Some(id(&pledge_id)),
                        amount_fen: part,
                        purpose: format!("拨付{purpose}款项"),
                    }),
                );
                let rest = received_total - part;
                let second = first.add_days(self.rng.days(20, 60));
                if rest > 0 && second <= last_event_day() {
                    self.emit(
                        second,
                        Payload::FundsDisbursed(p::FundsDisbursed {
                            village_id: id(&self.villages[v].id),
                            pledge_id: Some(id(&pledge_id)),
                            amount_fen: rest,
                            purpose: format!("拨付{purpose}尾款"),
                        }),
                    );
                }
            }
        }
    }

    /// Receipts paying `amount_fen` in one or two parts between `from` and `to`.
    fn instalments(&mut self, amount_fen: u64, from: Date, to: Date) -> Vec<(Date, u64)> {
        if amount_fen == 0 {
            return Vec::new();
        }
        let first = self.rng.date(from, to);
        if self.rng.per_mille(600) || first >= to {
            return vec![(first, amount_fen)];
        }
        let part = amount_fen / 100 * self.rng.int(40, 60);
        let second = self.rng.date(first.add_days(1), to);
        vec![(first, part), (second, amount_fen - part)]
    }

    fn donations(&mut self) {
        let cangwu = county_index("CW");
        let cenxi = county_index("CX");
        let mut cw: Vec<usize> = (0..self.villages.len())
            .filter(|&v| self.villages[v].county == cangwu)
            .collect();
        self.rng.shuffle(&mut cw);
        // 村企连心: twenty enterprises, each paired with one Cangwu village.
        for (k, &v) in cw.iter().take(ENTERPRISES.len()).enumerate() {
            let amount_yuan = self.rng.int(10, 30) * 5_000;
            let amount_fen = amount_yuan * FEN_PER_YUAN;
            let pledged = self.rng.date(d(2016, 3, 1), d(2016, 5, 31));
            let due = pledged
                .add_days(self.rng.days(120, 200))
                .min(d(2016, 12, 31));
            let purpose =
                (*self.rng.pick(&["硬化村道", "修建便民桥", "建设村部办公楼"])).to_string();
            // The first three pairings go wrong in the three ways a ledger must show.
            let (receipts, released, due) = match k {
                // Never paid: overdue, never counted as money received (§5.2).
                0 => (Vec::new(), None, d(2016, 10, 31)),
                // Paid 40%, then released when the enterprise ran into trouble.
                1 => {
                    let paid = amount_fen / 100 * 40;
                    (
                        vec![(pledged.add_days(30), paid)],
                        Some((
                            d(2016, 11, 15),
                            "企业经营困难，经村企双方协商解除剩余捐赠".to_string(),
                        )),
                        due,
                    )
                }
                // Half paid, the rest due mid-2017: open.
                2 => (
                    vec![(pledged.add_days(25), amount_fen / 2)],
                    None,
                    d(2017, 6, 30),
                ),
                _ => {
                    let r = self.instalments(amount_fen, pledged.add_days(10), due);
                    (r, None, due)
                }
            };
            self.pledge(PledgePlan {
                pledge_id: format!("JZ-{}-QY", self.villages[v].id),
                donor_id: format!("QY-CW-{:02}", k + 1),
                donor_name: ENTERPRISES[k].to_string(),
                donor_kind: DonorKind::Enterprise,
                village: v,
                amount_fen,
                purpose,
                pledged,
                due,
                receipts,
                released,
            });
        }
        // 理村顾问: advisers in fifteen Cenxi villages; the big one raises 600万元.
        let mut cx: Vec<usize> = (0..self.villages.len())
            .filter(|&v| {
                self.villages[v].county == cenxi && self.villages[v].role != Role::AdviserSchool
            })
            .collect();
        self.rng.shuffle(&mut cx);
        for (k, &v) in cx.iter().take(14).enumerate() {
            let amount_fen = self.rng.int(6, 16) * 5_000 * FEN_PER_YUAN;
            let pledged = self.rng.date(d(2016, 3, 10), d(2016, 6, 30));
            let due = pledged.add_days(self.rng.days(90, 180));
            let purpose = (*self.rng.pick(&[
                "修建村级文化活动室",
                "安装村道路灯",
                "资助贫困学生",
                "修缮村小学校舍",
            ]))
            .to_string();
            let receipts = if k == 0 {
                // Two thirds paid; the rest is still owed and past due.
                vec![(pledged.add_days(20), amount_fen / 3 * 2)]
            } else {
                self.instalments(amount_fen, pledged.add_days(7), due)
            };
            let donor_name = self.person_name();
            self.pledge(PledgePlan {
                pledge_id: format!("JZ-{}-GW", self.villages[v].id),
                donor_id: format!("GW-CX-{:02}", k + 1),
                donor_name,
                donor_kind: DonorKind::Adviser,
                village: v,
                amount_fen,
                purpose,
                pledged,
                due,
                receipts,
                released: None,
            });
        }
        for v in 0..self.villages.len() {
            match self.villages[v].role {
                Role::AdviserSchool => self.adviser_school(v),
                Role::Kindergarten => self.kindergarten(v),
                _ => {}
            }
        }
        // The city charity federation and a few individuals.
        let mut others: Vec<usize> = (0..self.villages.len()).collect();
        self.rng.shuffle(&mut others);
        for (k, &v) in others.iter().take(8).enumerate() {
            let (kind, name, amount_yuan, prefix) = if k < 3 {
                (
                    DonorKind::Organisation,
                    "梧州市慈善总会".to_string(),
                    50_000,
                    "ORG-CSZH",
                )
            } else {
                let name = self.person_name();
                (
                    DonorKind::Individual,
                    name,
                    self.rng.int(10, 30) * 1_000,
                    "GR",
                )
            };
            let amount_fen = amount_yuan * FEN_PER_YUAN;
            let pledged = self.rng.date(d(2016, 4, 1), d(2016, 10, 31));
            let due = pledged.add_days(60);
            let receipts = vec![(self.rng.date(pledged, due), amount_fen)];
            let donor_id = if k < 3 {
                prefix.to_string()
            } else {
                format!("{prefix}-{:03}", k)
            };
            let purpose = (*self
                .rng
                .pick(&["慰问贫困户", "资助贫困学生", "修建村卫生室"]))
            .to_string();
            self.pledge(PledgePlan {
                pledge_id: format!("JZ-{}-{}{}", self.villages[v].id, &prefix[..2], k + 1),
                donor_id,
                donor_name: name,
                donor_kind: kind,
                village: v,
                amount_fen,
                purpose,
                pledged,
                due,
                receipts,
                released: None,
            });
        }
        // Money the villages spend from their own collective income, not from a pledge.
        for _ in 0..30 {
            let v = self.rng.below(self.villages.len() as u64) as usize;
            let on = self.rng.date(d(2016, 3, 1), d(2016, 12, 20));
            let amount_fen = self.rng.int(5, 40) * 1_000 * FEN_PER_YUAN;
            let purpose =
                (*self
                    .rng
                    .pick(&["村集体经济收益分红", "村道日常养护", "村级活动场所水电费"]))
                .to_string();
            self.emit(
                on,
                Payload::FundsDisbursed(p::FundsDisbursed {
                    village_id: id(&self.villages[v].id),
                    pledge_id: None,
                    amount_fen,
                    purpose,
                }),
            );
        }
    }

    fn adviser_school(&mut self, v: usize) {
        let village_id = self.villages[v].id.clone();
        let name = self.villages[v].name.clone();
        // 600万元 pledged by three advisers and the natives' association in Shenzhen; what has
        // arrived by March 2017 is what counts.
        let pledges: [(&str, DonorKind, u64, &str, u64); 4] = [
            ("GW-CX-D1", DonorKind::Adviser, 300, "新建村小学教学楼", 80),
            ("GW-CX-D2", DonorKind::Adviser, 150, "修建防洪堤", 100),
            ("GW-CX-D3", DonorKind::Adviser, 80, "硬化村道及安装路灯", 40),
            (
                "ORG-LSXX",
                DonorKind::Organisation,
                70,
                "文化广场、篮球场等十余项公益项目",
                30,
            ),
        ];
        for (k, (donor_id, kind, pledged_wan, purpose, received_wan)) in
            pledges.into_iter().enumerate()
        {
            let donor_name = if kind == DonorKind::Organisation {
                format!("旅深{}乡贤联谊会", name.trim_end_matches('村'))
            } else {
                self.person_name()
            };
            let pledged = d(2016, 3, 18).add_days(k as i32 * 3);
            let receipts =
                self.instalments(received_wan * FEN_PER_WAN, d(2016, 4, 20), d(2016, 12, 15));
            self.pledge(PledgePlan {
                pledge_id: format!("JZ-{village_id}-{:02}", k + 1),
                donor_id: donor_id.to_string(),
                donor_name,
                donor_kind: kind,
                village: v,
                amount_fen: pledged_wan * FEN_PER_WAN,
                purpose: purpose.to_string(),
                pledged,
                due: d(2017, 12, 31),
                receipts,
                released: None,
            });
        }
    }

    /// §5.5: the charity's 68万元 typed as 680万元 in April 2016, corrected after the seal.
    fn kindergarten(&mut self, v: usize) {
        let village_id = self.villages[v].id.clone();
        let pledge_id = format!("JZ-{village_id}-HK");
        let pledged_on = d(2016, 4, 12);
        let right = |amount_fen| {
            Payload::DonationPledged(p::DonationPledged {
                pledge_id: id(&pledge_id),
                donor_id: id("HK-CHARITY-01"),
                donor_name: HK_CHARITY.to_string(),
                donor_kind: DonorKind::Charity,
                village_id: id(&village_id),
                amount_fen,
                purpose: "新建村幼儿园，解决100余名儿童入园难".to_string(),
                due: d(2016, 8, 31),
            })
        };
        let wrong = self.emit(pledged_on, right(680 * FEN_PER_WAN));
        for (on, wan) in [(d(2016, 5, 18), 40), (d(2016, 8, 25), 28)] {
            let receipt_no = self.next_receipt(v);
            self.emit(
                on,
                Payload::DonationReceived(p::DonationReceived {
                    pledge_id: id(&pledge_id),
                    amount_fen: wan * FEN_PER_WAN,
                    receipt_no,
                }),
            );
        }
        for (on, wan, purpose) in [
            (d(2016, 6, 2), 30, "拨付幼儿园主体工程进度款"),
            (d(2016, 9, 8), 38, "拨付幼儿园装修及设备款"),
        ] {
            self.emit(
                on,
                Payload::FundsDisbursed(p::FundsDisbursed {
                    village_id: id(&village_id),
                    pledge_id: Some(id(&pledge_id)),
                    amount_fen: wan * FEN_PER_WAN,
                    purpose: purpose.to_string(),
                }),
            );
        }
        let fix_day = d(2017, 1, 23);
        let (_, retraction) = self.make(
            fix_day,
            Payload::Retracted(p::Retracted {
                target_event_id: wrong,
                reason: "捐赠金额录入错误：捐赠协议为68万元，误录为680万元".to_string(),
                approved_by: "藤县扶贫开发领导小组办公室".to_string(),
            }),
        );
        let (_, reentry) = self.make(pledged_on, right(68 * FEN_PER_WAN));
        let recorder = self.county_of(v).recorder;
        self.special(at(fix_day, 10, 40, 0), recorder, vec![retraction, reentry]);
    }

    /// One session's votes for a posting of this quality, as the village's ballot sheet gives
    /// them: (electorate, satisfied, basically satisfied, dissatisfied, invalid).
    fn votes(&mut self, quality: Quality, role: Role) -> (u64, u64, u64, u64, u64) {
        let electorate = self.rng.int(60, 220);
        let invalid = self.rng.int(0, 3);
        let absent = self.rng.int(0, electorate / 10);
        let voted = electorate - invalid - absent;
        // Per mille of the valid votes: (satisfied range, dissatisfied range).
        let ((s_lo, s_hi), (d_lo, d_hi)) = match (role, quality) {
            (Role::LowSatisfaction, _) => ((350, 450), (330, 400)),
            (_, Quality::Star) => ((880, 950), (0, 20)),
            (_, Quality::Good) => ((700, 820), (10, 40)),
            (_, Quality::Fair) => ((620, 740), (30, 80)),
            (_, Quality::Weak) => ((500, 620), (60, 140)),
        };
        let satisfied = voted * self.rng.int(s_lo, s_hi) / 1000;
        let dissatisfied = (voted * self.rng.int(d_lo, d_hi) / 1000).min(voted - satisfied);
        let basically = voted - satisfied - dissatisfied;
        (electorate, satisfied, basically, dissatisfied, invalid)
    }

    fn evaluations(&mut self, posting: usize) {
        let v = self.postings[posting].village;
        let role = self.villages[v].role;
        if matches!(role, Role::NoEvaluation | Role::Relocation)
            && self.villages[v].postings[0] == posting
        {
            return;
        }
        let (first, quality, posting_id) = {
            let pp = &self.postings[posting];
            (pp.first, pp.quality, pp.id.clone())
        };
        let last = self.postings[posting].last_or(year_end());
        let mut sessions = Vec::new();
        if first < d(2016, 5, 1) {
            // Mid-year session, held before a posting that ends early leaves.
            let on = self
                .rng
                .date(d(2016, 6, 6), d(2016, 7, 15))
                .min(last.add_days(-3));
            sessions.push((on, "1"));
        }
        if last >= d(2016, 12, 5) {
            sessions.push((self.rng.date(d(2016, 12, 5), d(2016, 12, 23)), "2"));
        }
        for (on, n) in sessions {
            let (electorate, satisfied, basically_satisfied, dissatisfied, invalid) =
                self.votes(quality, role);
            let e = p::EvaluationHeld {
                evaluation_id: id(format!("PY-{posting_id}-{n}")),
                posting_id: id(&posting_id),
                village_id: id(&self.villages[v].id),
                electorate,
                satisfied,
                basically_satisfied,
                dissatisfied,
                invalid,
            };
            let twice = role == Role::DuplicateEvaluation && n == "2";
            let copy = e.clone();
            self.emit(on, Payload::EvaluationHeld(e));
            if twice {
                // §5.4: the same session entered again under a new id the same day; the city
                // finds the repeated counts and retracts the second entry two weeks later.
                let mut again = copy;
                again.evaluation_id = id(format!("PY-{posting_id}-{n}B"));
                let duplicate = self.emit(on, Payload::EvaluationHeld(again));
                let found = next_workday(self.record_day(on).add_days(12));
                let (_, retraction) = self.make(
                    found,
                    Payload::Retracted(p::Retracted {
                        target_event_id: duplicate,
                        reason: "同一场群众评议重复录入".to_string(),
                        approved_by: "市委组织部干部科".to_string(),
                    }),
                );
                self.special(at(found, 11, 5, 0), INSPECTOR_ACTOR, vec![retraction]);
            }
        }
    }

    fn spot_checks(&mut self, posting: usize) {
        let v = self.postings[posting].village;
        let role = self.villages[v].role;
        let is_first = self.villages[v].postings[0] == posting;
        let first = self.postings[posting].first;
        let last = self.postings[posting].last_or(last_event_day());
        let posting_id = self.postings[posting].id.clone();
        let county = self.county_of(v).name;
        let inspectors = [
            format!("{county}委组织部"),
            "市委组织部督查组".to_string(),
            "市扶贫开发办公室".to_string(),
        ];
        let lo = first.add_days(7);
        let hi = last.add_days(-1);
        if hi <= lo {
            return;
        }
        let months = lo.days_until(hi) / 30;
        let mut checks: Vec<(Date, bool, bool)> = Vec::new();
        for _ in 0..(months * 2 / 3).max(1) {
            let on = self.rng.date(lo, hi);
            let present = self.rng.per_mille(920);
            checks.push((on, present, !present));
        }
        if is_first {
            let absences = match role {
                Role::Absence(n) => n,
                _ => 0,
            };
            for _ in 0..absences {
                let on = self.rng.date(d(2016, 3, 1), d(2016, 11, 30));
                checks.push((on, false, false));
            }
            if role == Role::LateSpotCheck {
                // §5.6: found absent in December, entered after the seal.
                let (_, late) = self.make(
                    d(2016, 12, 14),
                    Payload::SpotCheckRecorded(p::SpotCheckRecorded {
                        posting_id: id(&posting_id),
                        present: false,
                        excused: false,
                        inspector: inspectors[0].clone(),
                    }),
                );
                let recorder = self.county_of(v).recorder;
                self.special(at(d(2017, 2, 20), 15, 30, 0), recorder, vec![late]);
            }
        }
        // An unexcused absence is only ever put in where the story wants one.
        for (on, present, excused) in checks {
            let inspector = self.rng.pick(&inspectors).clone();
            self.emit(
                on,
                Payload::SpotCheckRecorded(p::SpotCheckRecorded {
                    posting_id: id(&posting_id),
                    present,
                    excused,
                    inspector,
                }),
            );
        }
    }

    fn attendance(&mut self, posting: usize) {
        let v = self.postings[posting].village;
        let role = self.villages[v].role;
        let (first, last, posting_id) = {
            let pp = &self.postings[posting];
            (pp.first, pp.last, pp.id.clone())
        };
        let final_month = last.map_or(month(2017, 2), |l| l.month());
        let mut m = first.month();
        loop {
            let in_service = {
                let a = first.max(m.first_day());
                let b = last.map_or(m.last_day(), |l| l.min(m.last_day()));
                (a.days_until(b) + 1) as u64
            };
            let base = match role {
                Role::Absence(3) => self.rng.int(13, 17),
                Role::Absence(_) | Role::Warning | Role::Demerit => self.rng.int(17, 21),
                _ => self.rng.int(20, 24),
            };
            let days_in_village = base.min(in_service);
            let room = u64::from(m.days()) - days_in_village;
            let spring_festival = m == month(2016, 2) || m == month(2017, 1);
            let leave_days = if spring_festival {
                self.rng.int(3, 6)
            } else {
                self.rng.int(0, 3)
            }
            .min(room);
            let report = Payload::AttendanceReported(p::AttendanceReported {
                posting_id: id(&posting_id),
                month: m,
                days_in_village,
                leave_days,
            });
            let on = next_workday(next_month(m).first_day().add_days(self.rng.days(0, 2)));
            if role == Role::LateAttendance && m == month(2016, 11) {
                // §5.6: November's report was mislaid and entered in February.
                let (_, late) = self.make(on, report);
                let recorder = self.county_of(v).recorder;
                let minute = 5 + (v % 50) as i64;
                self.special(at(d(2017, 2, 14), 16, minute, 0), recorder, vec![late]);
            } else {
                self.emit(on, report);
            }
            if m == final_month {
                break;
            }
            m = next_month(m);
        }
    }

    fn inspections(&mut self) {
        const MINOR: &[&str] = &[
            "驻村工作台账记录不完整",
            "驻村日志未及时填写",
            "贫困户档案信息与实际不符",
            "项目资金公示不及时",
            "村务公开栏内容未按季度更新",
            "承诺事项进度滞后，未说明原因",
            "“三会一课”记录不规范",
        ];
        const SERIOUS: &[&str] = &[
            "扶贫项目资金未专账核算",
            "考勤记录与实际驻村天数不符",
            "贫困户识别程序不规范，存在优亲厚友",
        ];
        let rounds = [
            (d(2016, 4, 11), d(2016, 4, 29)),
            (d(2016, 7, 11), d(2016, 7, 29)),
            (d(2016, 10, 17), d(2016, 11, 11)),
            (d(2017, 3, 1), d(2017, 3, 17)),
        ];
        for v in 0..self.villages.len() {
            let village_id = self.villages[v].id.clone();
            let county = self.county_of(v).name;
            for (round, &(lo, hi)) in rounds.iter().enumerate() {
                // Every village in the 2016 rounds; a third of them again in March 2017.
                if round == 3 && !self.rng.per_mille(330) {
                    continue;
                }
                let on = self.rng.date(lo, hi);
                let posting = self.villages[v]
                    .postings
                    .iter()
                    .copied()
                    .find(|&pi| self.postings[pi].serves_on(on));
                let posting = if self.rng.per_mille(150) {
                    None
                } else {
                    posting
                };
                let quality = posting.map_or(Quality::Good, |pi| self.postings[pi].quality);
                let n = self.rng.weighted(&[(35, 0u32), (35, 1), (22, 2), (8, 3)]);
                let mut findings = Vec::new();
                for k in 0..n {
                    let serious = self.rng.per_mille(60);
                    let text = if serious {
                        self.rng.pick(SERIOUS)
                    } else {
                        self.rng.pick(MINOR)
                    };
                    findings.push(p::Finding {
                        finding_id: id(format!("F{}", k + 1)),
                        severity: if serious {
                            Severity::Serious
                        } else {
                            Severity::Minor
                        },
                        text: text.to_string(),
                    });
                }
                let inspection_id = format!("DC-{village_id}-{}", round + 1);
                let inspector = (*self.rng.pick(&[
                    "市委组织部督查组",
                    "市扶贫开发办公室督查组",
                    "市纪委驻村工作督查组",
                ]))
                .to_string();
                let inspector = if self.rng.per_mille(300) {
                    format!("{county}委组织部")
                } else {
                    inspector
                };
                self.emit(
                    on,
                    Payload::InspectionRecorded(p::InspectionRecorded {
                        inspection_id: id(&inspection_id),
                        village_id: id(&village_id),
                        posting_id: posting.map(|pi| id(&self.postings[pi].id)),
                        inspector,
                        findings: findings.clone(),
                    }),
                );
                let rectify_odds = match quality {
                    Quality::Star => 980,
                    Quality::Good => 940,
                    Quality::Fair => 900,
                    Quality::Weak => 750,
                };
                for f in findings {
                    let rectify = |inspection_id: &str, evidence: &str| {
                        Payload::FindingRectified(p::FindingRectified {
                            inspection_id: id(inspection_id),
                            finding_id: f.finding_id.clone(),
                            evidence: evidence.to_string(),
                        })
                    };
                    if self.rng.per_mille(rectify_odds) {
                        let fixed = on.add_days(self.rng.days(7, 40));
                        if fixed <= last_event_day() {
                            let evidence = *self.rng.pick(&[
                                "已补齐台账并报镇党委审核",
                                "整改报告及佐证材料已报送",
                                "已召开整改专题会议并完成整改",
                            ]);
                            self.emit(fixed, rectify(&inspection_id, evidence));
                        }
                    } else if !self.late_rectification_done
                        && round == 2
                        && posting.is_some()
                        && self.villages[v].role == Role::Ordinary
                    {
                        // §5.6: a rectification backdated to December, entered after the seal.
                        self.late_rectification_done = true;
                        let (_, late) = self.make(
                            d(2016, 12, 23),
                            rectify(&inspection_id, "补录：已于2016年12月完成整改"),
                        );
                        let recorder = self.county_of(v).recorder;
                        self.special(at(d(2017, 2, 27), 14, 20, 0), recorder, vec![late]);
                    }
                }
            }
        }
    }

    /// January to March 2017: the new year's classification and commitments.
    fn year_2017(&mut self) {
        for v in 0..self.villages.len() {
            let on = self.rng.date(d(2017, 1, 18), d(2017, 1, 26));
            let obstacle = if self.rng.per_mille(300) {
                self.rng.weighted(&[
                    (20, Obstacle::Infrastructure),
                    (40, Obstacle::Industry),
                    (20, Obstacle::Labour),
                    (12, Obstacle::Health),
                    (8, Obstacle::Education),
                ])
            } else {
                self.villages[v].obstacle
            };
            let payload = Payload::VillageClassified(p::VillageClassified {
                village_id: id(&self.villages[v].id),
                year: 2017,
                obstacle,
            });
            self.emit(on, payload);
        }
        for posting in 0..self.postings.len() {
            if self.postings[posting].last.is_some() {
                continue;
            }
            let v = self.postings[posting].village;
            let posting_id = self.postings[posting].id.clone();
            let made = self.rng.date(d(2017, 2, 6), d(2017, 2, 24));
            for (k, due) in [(1, d(2017, 6, 30)), (2, d(2017, 12, 20))] {
                let commitment_id = format!("K17-{posting_id}-{k:02}");
                let content = self.commitment_content(v, CommitmentKind::Practical);
                self.emit(
                    made,
                    Payload::CommitmentMade(p::CommitmentMade {
                        commitment_id: id(&commitment_id),
                        posting_id: id(&posting_id),
                        village_id: id(&self.villages[v].id),
                        kind: CommitmentKind::Practical,
                        content,
                        due,
                    }),
                );
                if self.rng.per_mille(400) {
                    let on = self.rng.date(d(2017, 3, 1), last_event_day());
                    let percent = self.rng.int(10, 30);
                    self.emit(
                        on,
                        Payload::CommitmentProgressed(p::CommitmentProgressed {
                            commitment_id: id(&commitment_id),
                            percent,
                            note: "已完成项目申报".into(),
                        }),
                    );
                }
            }
        }
    }

    // --- assembling the steps ----------------------------------------------------------------

    fn into_steps(mut self) -> Vec<DemoStep> {
        let mut days: BTreeMap<Date, Vec<Entry>> = BTreeMap::new();
        for e in std::mem::take(&mut self.routine) {
            days.entry(e.record_day).or_default().push(e);
        }
        let mut timed: Vec<(Timestamp, u8, DemoStep)> = Vec::new();
        for (day, mut entries) in days {
            entries.sort_by_key(|e| (e.occurred_on, e.seq));
            // The day's entries go in at the end of office hours.
            let recorded_at = at(
                day,
                17,
                self.rng.int(0, 40) as i64,
                self.rng.int(0, 59) as i64,
            );
            timed.push((
                recorded_at,
                1,
                DemoStep::Append(DemoBatch {
                    recorded_at,
                    actor: ROUTINE_ACTOR.to_string(),
                    events: entries.into_iter().map(|e| e.event).collect(),
                }),
            ));
        }
        for s in std::mem::take(&mut self.specials) {
            timed.push((
                s.recorded_at,
                0,
                DemoStep::Append(DemoBatch {
                    recorded_at: s.recorded_at,
                    actor: s.actor,
                    events: s.events,
                }),
            ));
        }
        timed.push((
            seal_at(),
            0,
            DemoStep::SealReview {
                review_id: REVIEW_ID.to_string(),
                start: d(2016, 1, 1),
                end: year_end(),
                recorded_at: seal_at(),
            },
        ));
        timed.sort_by_key(|t| (t.0, t.1));
        timed.into_iter().map(|t| t.2).collect()
    }
}

struct ProjectRun {
    project_id: String,
    kind: ProjectKind,
    village: usize,
    posting: usize,
    quantity: u64,
    planned: Date,
    due: Date,
    outcome: Outcome,
}

struct PledgePlan {
    pledge_id: String,
    donor_id: String,
    donor_name: String,
    donor_kind: DonorKind,
    village: usize,
    amount_fen: u64,
    purpose: String,
    pledged: Date,
    due: Date,
    receipts: Vec<(Date, u64)>,
    released: Option<(Date, String)>,
}
