//! The planner's custom fields: `custom.<Name>` conditions typed by the field's definition
//! (text, number, date, choice), with errors for unknown fields, wrong-typed values,
//! unknown choices and operators the type can't take.

use std::ops::Bound;

use rapport_core::FieldType;
use rapport_query::{CmpOp, Diagnostic, ErrorCode, Field, Scope, Spanned, Value, did_you_mean};

use super::{Node, Resolver, bounds_f, custom_type};
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
