# Independent derivation of the golden event vectors frozen in events/tests/golden.rs,
# with nothing of ours: Python's json, hashlib and uuid, and the RFC 9162 tree written out below.
# Run from the repository root: python3 tests/independent/golden_events.py
# It prints the Rust constants (paste them into events/tests/golden.rs when a format changes on
# purpose) and asserts the escaping rules of formats.md section 1 on the strings used.
import datetime
import hashlib
import json
import uuid

# The fixed envelope of the golden vectors (events/tests/golden.rs says the same in Rust).
ACTOR = "golden"
SCHEMA = 1
CST = datetime.timezone(datetime.timedelta(hours=8))

# Stream of each event type: formats.md section 2 ("each event goes to its subject's stream").
STREAM_OF = {
    "VillageRegistered": ("village", "village_id"),
    "VillageClassified": ("village", "village_id"),
    "SecretaryPosted": ("posting", "posting_id"),
    "TeamMemberJoined": ("village", "village_id"),
    "CommitmentMade": ("commitment", "commitment_id"),
    "CommitmentProgressed": ("commitment", "commitment_id"),
    "CommitmentFulfilled": ("commitment", "commitment_id"),
    "ProjectPlanned": ("project", "project_id"),
    "ProjectStarted": ("project", "project_id"),
    "ProjectCompleted": ("project", "project_id"),
    "ProjectAccepted": ("project", "project_id"),
    "DonationPledged": ("pledge", "pledge_id"),
    "DonationReceived": ("pledge", "pledge_id"),
    "FundsDisbursed": ("village", "village_id"),
    "AttendanceReported": ("posting", "posting_id"),
    "EvaluationHeld": ("evaluation", "evaluation_id"),
    "InspectionRecorded": ("inspection", "inspection_id"),
    "FindingRectified": ("inspection", "inspection_id"),
}

# Two events beyond the example, for nulls and escaping: the same lines as EXTRA in golden.rs.
EXTRA = [
    r'{"type":"FundsDisbursed","occurred_on":"2016-11-02","payload":{"village_id":"CX-BT-LF","pledge_id":null,"amount_fen":3000000,"purpose":"村集体自筹：\"修缮\"祠堂\\戏台/门楼\n第二行\t\u0001\u001f\u007f\u2028结束"}}',
    r'{"type":"InspectionRecorded","occurred_on":"2016-11-20","payload":{"inspection_id":"I-CX-11","village_id":"CX-BT-LF","posting_id":null,"inspector":"县纪委\b督查组","findings":[{"finding_id":"F1","severity":"serious","text":"危房改造资金\r\n未公示"},{"finding_id":"F2","severity":"minor","text":""}]}}',
]


def jcs(value):
    # RFC 8785 for integer-only documents with ASCII keys (formats.md section 1).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(data):
    return hashlib.sha256(data).digest()


def mth(leaves):
    # RFC 9162 section 2.1.1: MTH({}) = SHA-256(), MTH({d0}) = SHA-256(0x00 || d0),
    # MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n.
    # `leaves` are the leaf hashes already (SHA-256(0x00 || leaf input)).
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def recorded_at(occurred_on, i):
    # Midnight China Standard Time of the business date, plus 9h30m, plus i seconds, in UTC.
    d = datetime.date.fromisoformat(occurred_on)
    t = datetime.datetime(d.year, d.month, d.day, tzinfo=CST)
    t += datetime.timedelta(hours=9, minutes=30, seconds=i)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(lines):
    versions = {}
    out = []
    for i, line in enumerate(lines):
        ev = json.loads(line)
        kind, field = STREAM_OF[ev["type"]]
        stream = f"{kind}/{ev['payload'][field]}"
        version = versions.get(stream, 0)
        versions[stream] = version + 1
        env = {
            "position": i,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"golden/{i}")),
            "stream": stream,
            "stream_version": version,
            "type": ev["type"],
            "schema": SCHEMA,
            "occurred_on": ev["occurred_on"],
            "recorded_at": recorded_at(ev["occurred_on"], i),
            "actor": ACTOR,
        }
        payload_sha256 = sha256(jcs(ev["payload"]).encode()).hex()
        leaf_input = jcs({**env, "payload_sha256": payload_sha256})
        leaf = sha256(b"\x00" + leaf_input.encode())
        export = jcs({**env, "payload": ev["payload"], "payload_sha256": payload_sha256, "leaf_sha256": leaf.hex()})
        out.append((env, payload_sha256, leaf, export))
    return out


# formats.md section 1 on the strings the vectors use: the short escapes, lower-case \u00xx for
# other controls, and nothing else escaped (not '/', not U+007F, not U+2028, not CJK).
assert jcs('"\\/\n\t\r\b\f\x01\x1f\x7f\u2028六') == '"\\"\\\\/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\u2028六"'

with open("examples/village.jsonl", encoding="utf-8") as f:
    example = [line for line in f.read().split("\n") if line.strip()]
assert len(example) == 18, len(example)
events = envelope(example + EXTRA)

print("const PAYLOAD_SHA256: [&str; 20] = [")
for _, p, _, _ in events:
    print(f'    "{p}",')
print("];")
print("const LEAF_SHA256: [&str; 20] = [")
for _, _, leaf, _ in events:
    print(f'    "{leaf.hex()}",')
print("];")
print(f'const ROOT_18: &str = "{mth([e[2] for e in events[:18]]).hex()}";')
print(f'const ROOT_20: &str = "{mth([e[2] for e in events]).hex()}";')


def rust_str(text):
    # A Rust string literal of `text`, with the invisible characters written as \u{..} escapes.
    out = []
    for c in text:
        if c in '\\"':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F or c in "\u2028\u2029":
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


for i in (0, 18, 19):
    print(f"const EXPORT_{i}: &str = {rust_str(events[i][3])};")
