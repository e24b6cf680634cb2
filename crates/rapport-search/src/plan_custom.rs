//! The planner's custom fields and sort keys: `custom.<Name>` conditions typed by the
//! field's definition (text, number, date, choice), with errors for unknown fields,
//! wrong-typed values, unknown choices and operators the type can't take; `sort:` keys.

use std::ops::Bound;

use rapport_core::{CustomFieldDef, FieldTarget, FieldType};
use rapport_query::{
    CmpOp, Diagnostic, ErrorCode, Field, Scope, SortKey, Spanned, Value, ValueType, did_you_mean,
};

use super::{Node, Resolver, SortSource, SortSpec, bounds_f};
use crate::schema::{custom_key, norm, tokens};
use crate::time::DateCond;

impl Resolver<'_> {
    pub(super) fn custom(
        &self,
        scope: Scope,
        name: &str,
        field: &Spanned<Field>,
        op: CmpOp,
        value: &Spanned<Value>,
    ) -> Result<Node, Diagnostic> {
        let def = self.custom_def(scope, name, field)?;
        let key = custom_key(&def.name);
        let present = Node::Present(format!("custom.{key}"));
        let typed = value.interpret(custom_type(def.kind))?;
        if op.is_ordering() && matches!(def.kind, FieldType::Text | FieldType::Choice) {
            return Err(Diagnostic::new(
                ErrorCode::BadOperator,
                field.span.clone(),
                format!("`{}` can't compare text", op.as_str()),
            )
            .with_hint("use `:` or `=`"));
        }
        let exact = |s: &str| Node::Exact {
            key: format!("custom.{key}"),
            value: norm(s),
        };
        Ok(match (def.kind, typed) {
            (_, Value::Any) => present,
            (FieldType::Text, Value::Word(s) | Value::Phrase(s)) if op == CmpOp::Eq => exact(&s),
            (FieldType::Text, Value::Word(s)) => Node::CustomWords {
                key,
                tokens: tokens(&s),
                prefix: true,
            },
            (FieldType::Text, Value::Phrase(s)) => Node::CustomWords {
                key,
                tokens: tokens(&s),
                prefix: false,
            },
            (FieldType::Choice, Value::Label(label)) => {
                let wanted = norm(&label);
                if !def.choices.iter().any(|c| norm(c) == wanted) {
                    let hint = match did_you_mean(&label, def.choices.iter().map(String::as_str)) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("choices: {}", def.choices.join(", ")),
                    };
                    return Err(Diagnostic::new(
                        ErrorCode::BadValue,
                        value.span.clone(),
                        format!("`{label}` is not a choice of `custom.{}`", def.name),
                    )
                    .with_hint(hint));
                }
                exact(&label)
            }
            (FieldType::Number, Value::Number(n)) => {
                let (lo, hi) = bounds_f(op, n);
                Node::CustomRange {
                    key,
                    tag: 'n',
                    lo,
                    hi,
                }
            }
            (FieldType::Date, v) => match self.ctx.clock.cond(op, &v) {
                Some(DateCond::Exists) => present,
                Some(DateCond::Missing) => Node::Not(Box::new(present)),
                Some(DateCond::Range(lo, hi)) => {
                    let (lo, hi) = self.ctx.clock.day_range(lo, hi);
                    Node::CustomRange {
                        key,
                        tag: 'd',
                        lo: lo.map_or(Bound::Unbounded, |d| Bound::Included(d as f64)),
                        hi: hi.map_or(Bound::Unbounded, |d| Bound::Excluded(d as f64)),
                    }
                }
                None => return Err(wrong_type(value, "a date")),
            },
            (FieldType::Number, _) => return Err(wrong_type(value, "a number")),
            _ => return Err(wrong_type(value, "a value")),
        })
    }
}

fn wrong_type(value: &Spanned<Value>, expected: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::BadValue,
        value.span.clone(),
        format!("expected {expected}"),
    )
}

impl Resolver<'_> {
    pub(super) fn sort_key(&self, key: &SortKey) -> Result<SortSpec, Diagnostic> {
        let label = format!(
            "{}{}",
            if key.descending { "-" } else { "" },
            key.field.node
        );
        let i64 = |field, date| SortSource::I64 { field, date };
        let source = match &key.field.node {
            Field::Created => i64("created", true),
            Field::Updated => i64("updated", true),
            Field::LastCalled => i64("last_called", true),
            Field::LastEmailed => i64("last_emailed", true),
            Field::LastActivity => i64("last_activity", true),
            Field::Calls => i64("n_calls", false),
            Field::Contacts => i64("n_contacts", false),
            Field::Opportunities => i64("n_opportunities", false),
            Field::Activities => i64("n_activities", false),
            Field::Name => SortSource::Name,
            Field::Custom(name) => {
                let def = self.custom_def(Scope::Lead, name, &key.field)?;
                SortSource::Custom(custom_key(&def.name))
            }
            other => {
                return Err(Diagnostic::new(
                    ErrorCode::UnknownSortKey,
                    key.field.span.clone(),
                    format!("can't sort by `{other}`"),
                ));
            }
        };
        Ok(SortSpec {
            label,
            source,
            descending: key.descending,
        })
    }

    /// The definition of custom field `name` in `scope`, or an `unknown_field` diagnostic.
    pub(super) fn custom_def(
        &self,
        scope: Scope,
        name: &str,
        field: &Spanned<Field>,
    ) -> Result<&CustomFieldDef, Diagnostic> {
        let target = match scope {
            Scope::Lead => FieldTarget::Lead,
            _ => FieldTarget::Contact,
        };
        let defs = || {
            self.ctx
                .fields
                .iter()
                .filter(move |d| d.applies_to == target)
        };
        if let Some(def) = defs().find(|d| norm(&d.name) == norm(name)) {
            return Ok(def);
        }
        let hint = match did_you_mean(name, defs().map(|d| d.name.as_str())) {
            Some(best) if best.contains(' ') => format!("did you mean `\"custom.{best}\"`?"),
            Some(best) => format!("did you mean `custom.{best}`?"),
            None if defs().next().is_none() => "there are no custom fields here".to_owned(),
            None => format!(
                "custom fields: {}",
                defs()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Err(Diagnostic::new(
            ErrorCode::UnknownField,
            field.span.clone(),
            format!("unknown custom field `{name}`"),
        )
        .with_hint(hint))
    }
}

/// The value type a custom field's values are read as.
fn custom_type(kind: FieldType) -> ValueType {
    match kind {
        FieldType::Text => ValueType::Text,
        FieldType::Number => ValueType::Number,
        FieldType::Date => ValueType::Date,
        FieldType::Choice => ValueType::Label,
    }
}
