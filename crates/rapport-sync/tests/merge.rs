//! Property tests of the merge (SYNC.md §2.2 rows 1–3): per-field LWW is a semilattice
//! (commutative, associative, idempotent), equals an independent per-key max oracle over every
//! op, never lets a field edit resurrect a tombstone; the three-way note merge keeps both
//! sides' edits or reports a conflict.

use proptest::prelude::*;
use rapport_core::{Hlc, NodeId};
use rapport_sync::note::{NoteMerge, contains_lines, merge3};
use rapport_sync::state::{CREATED, DELETED, RecordState, ZERO, merge};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const KEYS: [&str; 6] = ["name", "url", "custom.a", "custom.b", DELETED, "custom"];

fn hlc() -> impl Strategy<Value = Hlc> {
    (1u64..6, 0u16..2, 1u64..4).prop_map(|(ms, counter, node)| Hlc {
        ms,
        counter,
        node: NodeId(node),
    })
}

/// One write: a key, a value (or a removal), a stamp.
#[derive(Debug, Clone)]
struct W {
    key: &'static str,
    value: Option<Value>,
    clock: Hlc,
}

fn write() -> impl Strategy<Value = W> {
    (
        prop::sample::select(KEYS.to_vec()),
        prop::option::of(0i64..3),
        hlc(),
    )
        .prop_map(|(key, v, clock)| W {
            key,
            value: if key == DELETED {
                Some(Value::Bool(v.unwrap_or(0) % 2 == 1))
            } else {
                v.map(|n| json!(format!("v{n}")))
            },
            clock,
        })
}

/// The state one write makes on its own (a partial state: no creation stamp). `custom`
/// alone stands for an old store's whole-map stamp: a removal of every key it did not set.
fn state_of(w: &W) -> RecordState {
    let mut s = RecordState::default();
    match w.key {
        DELETED => s.deleted = w.value == Some(Value::Bool(true)),
        "custom" => {
            s.fields.insert("custom".into(), json!({}));
        }
        k if k.starts_with("custom.") => {
            let mut m = serde_json::Map::new();
            if let Some(v) = &w.value {
                m.insert(k[7..].to_string(), v.clone());
            }
            s.fields.insert("custom".into(), Value::Object(m));
        }
        k => {
            if let Some(v) = &w.value {
                s.fields.insert(k.to_string(), v.clone());
            }
        }
    }
    s.clocks.insert(w.key.to_string(), w.clock);
    s
}

/// A creation: every field with the creation stamp.
fn created(clock: Hlc) -> RecordState {
    let mut s = RecordState::default();
    s.fields.insert("name".into(), json!("created"));
    s.fields.insert("url".into(), json!("u"));
    s.fields.insert("custom".into(), json!({"a": "ca"}));
    s.clocks.insert(CREATED.into(), clock);
    s
}

fn fold(states: &[RecordState]) -> RecordState {
    states
        .iter()
        .fold(RecordState::default(), |acc, s| merge(&acc, s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn merge_is_commutative_associative_idempotent(
        ws in prop::collection::vec(write(), 1..8),
        c in hlc(),
        with_create in any::<bool>(),
    ) {
        let mut states: Vec<RecordState> = ws.iter().map(state_of).collect();
        if with_create { states.push(created(c)); }
        let a = &states[0];
        let b = &states[states.len() / 2];
        let c = &states[states.len() - 1];
        prop_assert_eq!(merge(a, b), merge(b, a));
        prop_assert_eq!(merge(&merge(a, b), c), merge(a, &merge(b, c)));
        let ab = merge(a, b);
        prop_assert_eq!(merge(&ab, &ab), ab.clone());
        prop_assert_eq!(merge(&ab, a), ab.clone());
        // Any order, any duplication: one result.
        let mut rev = states.clone();
        rev.reverse();
        let mut dup = states.clone();
        dup.extend(states.iter().cloned());
        prop_assert_eq!(fold(&states), fold(&rev));
        prop_assert_eq!(fold(&states), fold(&dup));
    }

    /// I2 at unit level: each value key ends with the value of the write with the greatest
    /// stamp that decides it (its own, the `custom` whole-map stamp for custom keys, or the
    /// creation), computed here without the merge.
    #[test]
    fn merge_equals_the_per_key_max_oracle(
        ws in prop::collection::vec(write(), 1..10),
        c in hlc(),
        with_create in any::<bool>(),
    ) {
        let mut states: Vec<RecordState> = ws.iter().map(state_of).collect();
        if with_create { states.push(created(c)); }
        let merged = fold(&states);
        let creation = with_create.then(|| created(c));
        for key in ["name", "url", "custom.a", "custom.b", DELETED] {
            // Candidates: (clock, value) from every write that decides this key.
            let mut cands: Vec<(Hlc, Option<Value>)> = Vec::new();
            for w in &ws {
                if w.key == key {
                    cands.push((w.clock, w.value.clone()));
                } else if key.starts_with("custom.") && w.key == "custom" {
                    cands.push((w.clock, None));
                }
            }
            if let Some(cr) = &creation {
                cands.push((c, cr.value(key).or(if key == DELETED { Some(json!(false)) } else { None })));
            }
            let want = cands
                .into_iter()
                .max_by(|x, y| x.0.cmp(&y.0).then_with(|| {
                    let t = |v: &Option<Value>| v.as_ref().map(|v| v.to_string());
                    match (t(&x.1), t(&y.1)) {
                        (None, None) => std::cmp::Ordering::Equal,
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (Some(a), Some(b)) => a.cmp(&b),
                    }
                }))
                .map(|x| x.1)
                .unwrap_or(None);
            let got = merged.value(key);
            let want = if key == DELETED { Some(want.unwrap_or(json!(false))) } else { want };
            prop_assert_eq!(got, want, "key {}", key);
        }
    }

    /// Field edits never resurrect: a record is alive iff its `_deleted` winner says so.
    #[test]
    fn edits_do_not_resurrect(ws in prop::collection::vec(write(), 0..6), d in hlc()) {
        let mut states: Vec<RecordState> = ws.iter().filter(|w| w.key != DELETED).map(state_of).collect();
        let del = W { key: DELETED, value: Some(json!(true)), clock: d };
        states.push(state_of(&del));
        prop_assert!(fold(&states).deleted);
    }
}

#[test]
fn equal_states_have_one_representation() {
    let t = |ms| Hlc {
        ms,
        counter: 0,
        node: NodeId(1),
    };
    let mut a = created(t(5));
    a.clocks.insert("name".into(), t(5));
    let b = created(t(5));
    assert_eq!(merge(&a, &a), merge(&b, &b));
    assert!(!merge(&a, &a).clocks.contains_key("name"));
    // A newer creation of the same id (a re-import) keeps the older field edits that win.
    let mut edited = created(t(3));
    edited.fields.insert("url".into(), json!("edited"));
    edited.clocks.insert("url".into(), t(9));
    let m = merge(&edited, &created(t(7)));
    assert_eq!(m.fields["url"], json!("edited"));
    assert_eq!(m.fields["name"], json!("created"));
    assert_eq!(m.clocks[CREATED], t(7));
    assert_eq!(m.clocks["url"], t(9));
    assert_eq!(RecordState::default().effective("x"), ZERO);
}

#[test]
fn date_updated_is_the_newest_value() {
    let mut a = created(Hlc {
        ms: 9,
        counter: 0,
        node: NodeId(1),
    });
    a.fields
        .insert("date_updated".into(), json!("2026-01-01T00:00:00.000Z"));
    let mut b = RecordState::default();
    b.fields
        .insert("date_updated".into(), json!("2026-02-01T00:00:00.000Z"));
    b.clocks.insert(
        "date_updated".into(),
        Hlc {
            ms: 1,
            counter: 0,
            node: NodeId(2),
        },
    );
    let m = merge(&a, &b);
    assert_eq!(m.fields["date_updated"], json!("2026-02-01T00:00:00.000Z"));
    assert!(!m.clocks.contains_key("date_updated"));
}

// --- note bodies -------------------------------------------------------------------------

fn lines() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-d]{1,3}", 2..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn note_merge_identities(base in lines(), x in lines()) {
        let (b, x) = (base.join("\n"), x.join("\n"));
        prop_assert_eq!(merge3(&b, &x, &x), NoteMerge::Clean(x.clone()));
        prop_assert_eq!(merge3(&b, &b, &x), NoteMerge::Clean(x.clone()));
        prop_assert_eq!(merge3(&b, &x, &b), NoteMerge::Clean(x.clone()));
    }

    /// Edits at opposite ends of a document merge cleanly and keep both; any result is either
    /// clean with both sides' new lines or a conflict (never a silent loss).
    #[test]
    fn note_merge_keeps_both_sides(words in prop::collection::vec("[a-d]{1,3}", 4..10), top in "[x-z]{2}", tail in "[x-z]{3}") {
        // Distinct lines, as a note's lines mostly are (diff3 may align repeated lines either
        // way, and then reports a conflict: still no loss).
        let base: Vec<String> = words.iter().enumerate().map(|(i, w)| format!("{i} {w}")).collect();
        let b = base.join("\n");
        let mut ours = base.clone();
        ours[0] = top.clone();
        let mut theirs = base.clone();
        let n = theirs.len();
        theirs[n - 1] = tail.clone();
        match merge3(&b, &ours.join("\n"), &theirs.join("\n")) {
            NoteMerge::Clean(m) => {
                prop_assert!(contains_lines(&m, &top) && contains_lines(&m, &tail), "{}", m);
            }
            NoteMerge::Conflict => prop_assert!(false, "non-overlapping edits conflicted"),
        }
    }
}

#[test]
fn overlapping_note_edits_conflict() {
    let base = "one\ntwo\nthree";
    assert_eq!(
        merge3(base, "one\nTWO\nthree", "one\n2\nthree"),
        NoteMerge::Conflict
    );
    assert_eq!(
        merge3(base, "zero\none\ntwo\nthree", "one\ntwo\nthree\nfour"),
        NoteMerge::Clean("zero\none\ntwo\nthree\nfour".into())
    );
    let _ = BTreeMap::<u8, u8>::new();
}
