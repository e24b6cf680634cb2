//! The field catalogue that the syntax-help panel renders: complete, consistent, unambiguous.

use std::collections::HashSet;

use rapport_query::{
    Expr, Field, HasTarget, SORT_KEYS, Scope, SubObject, TimeUnit, Value, ValueType, fields,
    fields_in, parse, value_type,
};

#[test]
fn every_scope_has_fields_and_names_are_unique_per_scope() {
    let scopes = std::iter::once(Scope::Lead).chain(SubObject::ALL.map(Scope::Sub));
    for scope in scopes {
        let mut seen = HashSet::new();
        assert!(fields_in(scope).count() > 3, "{scope:?}");
        for info in fields_in(scope) {
            assert!(!info.help.is_empty(), "{} needs help text", info.name);
            for name in std::iter::once(info.name).chain(info.aliases.iter().copied()) {
                assert!(seen.insert(name), "{name} twice in {scope:?}");
            }
        }
    }
}

#[test]
fn every_listed_field_parses_in_its_scope() {
    for info in fields() {
        let name = info.name.replace("<Name>", "X");
        let sample = match info.ty {
            ValueType::Text | ValueType::Label | ValueType::User | ValueType::Custom => "*",
            ValueType::Choice(options) => options[0],
            ValueType::Date => "today",
            ValueType::Count | ValueType::Number | ValueType::Occurrence => "1",
            ValueType::Bool => "yes",
        };
        let clause = format!("{name}:\"{sample}\"");
        let text = match info.scope {
            Scope::Lead => clause,
            Scope::Sub(object) => format!("{}({clause})", object.name()),
        };
        let query = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(query.expr.is_some(), "{text}");
        for alias in info.aliases {
            let text = text.replacen(info.name, alias, 1);
            assert_eq!(parse(&text), Ok(query.clone()), "alias {alias}");
        }
    }
}

#[test]
fn field_names_round_trip_and_types_are_known() {
    for info in fields_in(Scope::Lead) {
        assert_eq!(value_type(Scope::Lead, &info.field), Some(info.ty));
        if !matches!(info.field, Field::Custom(_)) {
            assert_eq!(info.field.name(), info.name);
        }
    }
    assert_eq!(
        Field::Custom("Lead Source".into()).to_string(),
        "custom.Lead Source"
    );
    assert_eq!(
        value_type(Scope::Sub(SubObject::Call), &Field::Duration),
        Some(ValueType::Number)
    );
    assert_eq!(value_type(Scope::Lead, &Field::Duration), None);
    assert!(
        SORT_KEYS
            .iter()
            .all(|f| value_type(Scope::Lead, f).is_some())
    );
}

#[test]
fn sub_query_help_examples_parse() {
    for object in SubObject::ALL {
        let example = object.help().rsplit(": ").next().unwrap();
        let query = parse(example).unwrap_or_else(|e| panic!("{example}: {e}"));
        assert!(
            matches!(query.expr, Some(Expr::Sub { object: o, .. }) if o == object),
            "{example}"
        );
    }
    for target in HasTarget::ALL {
        assert!(!target.help().is_empty());
        assert_eq!(
            parse(&format!("has:{}", target.name())).map(|q| q.expr.is_some()),
            Ok(true)
        );
    }
}

#[test]
fn custom_values_are_typed_by_the_planner() {
    let query =
        parse(r#"custom.Seats > 10 custom.Renewal < "3 days ago" custom.Tier:gold"#).unwrap();
    let Some(Expr::And(items)) = query.expr else {
        panic!("{query:?}")
    };
    let values: Vec<_> = items
        .iter()
        .map(|item| match item {
            Expr::Cmp { value, .. } => value.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        values[0].interpret(ValueType::Number),
        Ok(Value::Number(10.0))
    );
    assert_eq!(
        values[1].interpret(ValueType::Date),
        Ok(Value::Relative {
            amount: 3,
            unit: TimeUnit::Day
        })
    );
    assert_eq!(
        values[2].interpret(ValueType::Label),
        Ok(Value::Label("gold".into()))
    );
    let error = values[2].interpret(ValueType::Date).unwrap_err();
    assert_eq!(
        error.to_string(),
        "expected a date, found `gold` at 60..64; use `2024-01-31`, `2024-01-31T09:30`, `\"3 days ago\"`, `today`, `yesterday` or `never`"
    );
}
