//! Property tests: `parse(format(q)) == q` for random well-typed ASTs, formatting is a fixpoint
//! for whatever parses, and no input string makes the parser panic or emit a bad span.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use rapport_query::{
    CmpOp, Date, Expr, Field, FieldInfo, HasTarget, Query, SORT_KEYS, Scope, Slice, SortKey,
    SubObject, TimeUnit, Value, ValueType, fields_in, format, normalize_label, parse,
    parse_lenient,
};

/// A bare word that reads back as itself in operand position.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9éü_.@+/-]{1,8}",
        1 => select(vec!["in", "call", "contact", "sort", "has", "slice", "-", "42", "2024-01-01"])
            .prop_map(str::to_owned),
    ]
    .prop_filter("keywords and * are not words", |w| {
        !matches!(w.as_str(), "and" | "or" | "not" | "*")
    })
}

/// Any text, quotes and backslashes included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,10}", "[a\"\\\\ ]{0,6}"]
}

fn date() -> impl Strategy<Value = Date> {
    (
        1u16..=9999,
        1u8..=12,
        1u8..=28,
        option::of((0u8..24, 0u8..60)),
    )
        .prop_map(|(y, m, d, time)| {
            let date = Date::new(y, m, d).expect("valid date");
            match time {
                Some((h, min)) => date.at(h, min).expect("valid time"),
                None => date,
            }
        })
}

fn count() -> impl Strategy<Value = Value> {
    any::<u32>().prop_map(|n| Value::Number(f64::from(n)))
}

/// A value the parser would produce for a field of type `ty`.
fn value(ty: ValueType) -> BoxedStrategy<Value> {
    let value_word = prop_oneof![
        word(),
        select(vec!["and", "or", "not", "today", "me"]).prop_map(str::to_owned)
    ];
    match ty {
        ValueType::Text | ValueType::Custom => prop_oneof![
            Just(Value::Any),
            value_word.prop_map(Value::Word),
            text().prop_map(Value::Phrase),
        ]
        .boxed(),
        ValueType::User => prop_oneof![
            Just(Value::Any),
            Just(Value::Me),
            word()
                .prop_filter("me is Me", |w| w != "me")
                .prop_map(Value::Word),
            text().prop_map(Value::Phrase),
        ]
        .boxed(),
        ValueType::Label => prop_oneof![
            Just(Value::Any),
            "[A-Za-z _*-]{0,10}".prop_map(|s| Value::Label(normalize_label(&s))),
        ]
        .boxed(),
        ValueType::Choice(options) => prop_oneof![
            Just(Value::Any),
            select(options.to_vec()).prop_map(|o| Value::Label(o.to_owned())),
        ]
        .boxed(),
        ValueType::Date => prop_oneof![
            date().prop_map(Value::Date),
            (0u32..10_000, select(TimeUnit::ALL.to_vec()))
                .prop_map(|(amount, unit)| Value::Relative { amount, unit }),
            select(vec![
                Value::Any,
                Value::Today,
                Value::Yesterday,
                Value::Never,
                Value::Yes
            ]),
        ]
        .boxed(),
        ValueType::Count => count().boxed(),
        ValueType::Number => prop_oneof![
            Just(Value::Any),
            any::<f64>()
                .prop_filter("finite", |n| n.is_finite())
                .prop_map(Value::Number),
            (-1000i32..1000).prop_map(|n| Value::Number(f64::from(n) / 4.0)),
        ]
        .boxed(),
        ValueType::Bool => select(vec![Value::Yes, Value::No]).boxed(),
        ValueType::Occurrence => {
            prop_oneof![select(vec![Value::Never, Value::Yes]), count()].boxed()
        }
    }
}

/// Operators that apply to `value` of type `ty`.
fn ops(ty: ValueType, value: &Value) -> Vec<CmpOp> {
    let unordered = matches!(
        value,
        Value::Any | Value::Never | Value::Yes | Value::No | Value::Me
    );
    if ty.is_ordered() && !unordered {
        vec![
            CmpOp::Match,
            CmpOp::Eq,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ]
    } else {
        vec![CmpOp::Match, CmpOp::Eq]
    }
}

/// A field valid in `scope`, with its type.
fn field(scope: Scope) -> BoxedStrategy<(Field, ValueType)> {
    let infos: Vec<&'static FieldInfo> = fields_in(scope).collect();
    let custom = infos.iter().any(|i| matches!(i.field, Field::Custom(_)));
    let known = select(
        infos
            .into_iter()
            .filter(|i| !matches!(i.field, Field::Custom(_)))
            .collect::<Vec<_>>(),
    )
    .prop_map(|info| (info.field.clone(), info.ty));
    if custom {
        let custom = "[A-Za-z][A-Za-z0-9 _.:\"\\\\-]{0,10}"
            .prop_map(|name| (Field::Custom(name), ValueType::Custom));
        prop_oneof![4 => known, 1 => custom].boxed()
    } else {
        known.boxed()
    }
}

fn leaf(scope: Scope) -> BoxedStrategy<Expr> {
    let cmp = field(scope)
        .prop_flat_map(|(field, ty)| (Just(field), Just(ty), value(ty)))
        .prop_flat_map(|(field, ty, value)| (Just(field), select(ops(ty, &value)), Just(value)))
        .prop_map(|(field, op, value)| Expr::Cmp {
            field: field.into(),
            op,
            value: value.into(),
        });
    let list = field(scope)
        .prop_flat_map(|(field, ty)| {
            let item = value(ty).prop_filter("no * in lists", |v| *v != Value::Any);
            (Just(field), vec(item, 1..4))
        })
        .prop_map(|(field, values)| Expr::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        });
    let mut leaves = vec![
        (4, cmp.boxed()),
        (1, list.boxed()),
        (3, word().prop_map(|w| Expr::Text(w.into())).boxed()),
        (
            1,
            text()
                .prop_filter("non-empty", |t| !t.is_empty())
                .prop_map(|t| Expr::Phrase(t.into()))
                .boxed(),
        ),
    ];
    let targets: Vec<HasTarget> = scope.has_targets().to_vec();
    if !targets.is_empty() {
        leaves.push((1, select(targets).prop_map(|t| Expr::Has(t.into())).boxed()));
    }
    if scope == Scope::Lead {
        let view = text().prop_filter("a name", |t| !t.trim().is_empty());
        leaves.push((1, view.prop_map(|v| Expr::InView(v.into())).boxed()));
    }
    proptest::strategy::Union::new_weighted(leaves).boxed()
}

fn expr(scope: Scope, depth: u32) -> BoxedStrategy<Expr> {
    if depth == 0 {
        return leaf(scope);
    }
    let inner = expr(scope, depth - 1);
    let objects: Vec<SubObject> = SubObject::ALL
        .into_iter()
        .filter(|o| scope.allows_sub(*o))
        .collect();
    let mut choices = vec![
        (3, leaf(scope)),
        (1, vec(inner.clone(), 2..4).prop_map(Expr::And).boxed()),
        (1, vec(inner.clone(), 2..4).prop_map(Expr::Or).boxed()),
        (1, inner.prop_map(|e| Expr::Not(Box::new(e))).boxed()),
    ];
    if !objects.is_empty() {
        let sub = select(objects).prop_flat_map(move |object| {
            expr(Scope::Sub(object), depth - 1).prop_map(move |e| Expr::Sub {
                object,
                expr: Box::new(e),
            })
        });
        choices.push((1, sub.boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

fn query() -> impl Strategy<Value = Query> {
    let key = prop_oneof![
        select(SORT_KEYS.to_vec()),
        "[A-Za-z][A-Za-z0-9 ,_-]{0,8}".prop_map(Field::Custom),
    ];
    let sort = vec((key, any::<bool>()), 0..3).prop_map(|keys| {
        keys.into_iter()
            .map(|(field, descending)| SortKey {
                field: field.into(),
                descending,
            })
            .collect()
    });
    let slice = option::of((1u32..64).prop_flat_map(|count| (0..count, Just(count))))
        .prop_map(|s| s.map(|(index, count)| Slice { index, count }));
    (option::of(expr(Scope::Lead, 3)), sort, slice).prop_map(|(expr, sort, slice)| Query {
        expr,
        sort,
        slice,
    })
}

/// Strings heavy in the language's own punctuation and keywords.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z]{1,4}",
        select(vec![
            "(",
            ")",
            "\"",
            "\\",
            ",",
            ":",
            "=",
            "<",
            ">=",
            "*",
            "-",
            "/",
            " ",
            "  ",
            "and ",
            "or ",
            "not ",
            "in ",
            "call(",
            "contact(",
            "email(",
            "sort:",
            "slice:",
            "has:",
            "in:",
            "status:",
            "created",
            "custom.",
            "2024-02-30",
            "T09:30",
            "3 days ago",
            "é",
            "\u{1F600}",
            "name",
            "in (",
            "\"custom.A B\"",
            "ago",
            "2024-01-31T09:30",
            "http://",
            "//",
            "sort:-",
            "slice:1/2",
            "yes",
            "never",
            "me",
            "today",
            "duration",
            "> 60",
            "status in (",
            "has:calls",
            "call",
            "1",
        ])
        .prop_map(str::to_owned),
    ];
    let gap = select(vec!["", " ", " ", " "]);
    vec((piece, gap), 0..24).prop_map(|pieces| {
        pieces
            .into_iter()
            .flat_map(|(p, g)| [p, g.to_owned()])
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn format_then_parse_gives_the_same_ast(q in query()) {
        let text = format(&q);
        prop_assert_eq!(parse(&text), Ok(q), "canonical text: {}", text);
    }

    #[test]
    fn best_effort_asts_format_and_read_back(input in query_like()) {
        let (q, _) = parse_lenient(&input);
        let text = format(&q);
        prop_assert_eq!(parse(&text), Ok(q), "{:?} formats as {:?}", input, text);
    }

    #[test]
    fn never_panics_and_spans_are_sound(input in prop_oneof![query_like(), any::<String>()]) {
        let (_, diagnostics) = parse_lenient(&input);
        for d in &diagnostics {
            prop_assert!(d.span.start <= d.span.end && d.span.end <= input.len(), "{:?}", d);
            prop_assert!(input.is_char_boundary(d.span.start) && input.is_char_boundary(d.span.end), "{:?}", d);
            prop_assert!(!d.message.is_empty());
        }
        prop_assert_eq!(parse(&input).err(), diagnostics.into_iter().next());
    }
}
