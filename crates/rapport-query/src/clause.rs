//! Parsing of field clauses: `field op value`, `field in (...)`, `has:`, `in:`, `sort:` and
//! `slice:`, including field-name resolution, value typing and their diagnostics.

use std::ops::Range;

use crate::ast::{CmpOp, Expr, HasTarget, Scope, Slice, SortKey, Spanned, SubObject, Value};
use crate::diag::{Diagnostic, ErrorCode, did_you_mean};
use crate::fields::{self, CUSTOM_PREFIX, Field, SORT_KEYS, ValueType};
use crate::lexer::{Token, TokenKind};
use crate::parser::{Ctx, Parser};
use crate::value::{Raw, check_op, interpret, parse_relative};

/// Clause words that look like fields at lead level.
const CLAUSES: [&str; 4] = ["has", "in", "sort", "slice"];

impl Parser<'_> {
    /// A word or quoted name followed by an operator: a clause or a comparison.
    pub(crate) fn parse_clause(&mut self, ctx: Ctx) -> Option<Expr> {
        let name = self.bump();
        let op_token = self.bump();
        let TokenKind::Op(op) = op_token.kind else {
            return None;
        };
        if name.kind == TokenKind::Word {
            match name.text.to_ascii_lowercase().as_str() {
                "sort" => return self.parse_sort(ctx, &name, &op_token, op),
                "slice" => return self.parse_slice(ctx, &name, &op_token, op),
                "has" => return self.parse_has(ctx, &name, &op_token, op),
                "in" => return self.parse_in_view(ctx, &name, &op_token, op),
                _ => {}
            }
        }
        let field = self.resolve_field(ctx.scope, &name);
        let ty = field.as_ref().ok().map(|(_, ty)| *ty);
        let value = self.read_value(ty);
        let field = field.map_err(|d| self.error(d)).ok();
        let Some(value) = value else {
            let hint = match (self.peek_kind(), ty) {
                (Some(TokenKind::LParen), _) => {
                    format!(
                        "to match one of several values, write `{} in (\"a\", \"b\")`",
                        name.text
                    )
                }
                (_, Some(ty)) => format!("use {}", ty.examples()),
                (_, None) => "add a value, e.g. `name:acme`".to_owned(),
            };
            self.error(
                Diagnostic::new(
                    ErrorCode::ExpectedValue,
                    name.span.start..op_token.span.end,
                    format!(
                        "expected a value after `{}`",
                        &self.src[name.span.start..op_token.span.end]
                    ),
                )
                .with_hint(hint),
            );
            return None;
        };
        let value = value.map_err(|d| self.error(d)).ok()?;
        let (field, ty) = field?;
        if let Err(problem) = check_op(ty, op, &value.node) {
            self.error(problem.at(op_token.span));
            return None;
        }
        Some(Expr::Cmp {
            field: Spanned::new(field, name.span),
            op,
            value,
        })
    }

    /// `field in (value, ...)`; the current token is the field name.
    pub(crate) fn parse_in_list(&mut self, ctx: Ctx) -> Option<Expr> {
        let name = self.bump();
        self.bump();
        let open = self.bump().span;
        let field = self
            .resolve_field(ctx.scope, &name)
            .map_err(|d| self.error(d))
            .ok();
        let ty = field.as_ref().map(|(_, ty)| *ty);
        let mut values = Vec::new();
        let mut ok = field.is_some();
        let mut expecting_value = true;
        loop {
            let Some(token) = self.peek() else {
                self.error(
                    Diagnostic::new(ErrorCode::UnbalancedParen, open, "unclosed `(`")
                        .with_hint("add a `)` after the last value"),
                );
                ok = false;
                break;
            };
            let span = token.span.clone();
            match token.kind {
                TokenKind::RParen => {
                    self.bump();
                    if expecting_value {
                        let (span, message) = match values.is_empty() && ok {
                            true => (open.start..span.end, "empty list"),
                            false => (span, "expected a value before `)`"),
                        };
                        self.error(
                            Diagnostic::new(ErrorCode::ExpectedValue, span, message)
                                .with_hint("list values separated by commas: (\"a\", \"b\")"),
                        );
                        ok = false;
                    }
                    break;
                }
                TokenKind::Word | TokenKind::Quoted => {
                    if !expecting_value {
                        self.error(
                            Diagnostic::new(
                                ErrorCode::UnexpectedToken,
                                span.clone(),
                                "missing `,`",
                            )
                            .with_hint("separate the values with commas"),
                        );
                        ok = false;
                    }
                    expecting_value = false;
                    match self.read_value(ty) {
                        Some(Ok(value)) if value.node == Value::Any => {
                            self.error(
                                Diagnostic::new(
                                    ErrorCode::BadValue,
                                    value.span,
                                    "`*` can't be in a list",
                                )
                                .with_hint(format!("write `{}:*`", name.text)),
                            );
                            ok = false;
                        }
                        Some(Ok(value)) => values.push(value),
                        Some(Err(d)) => {
                            self.error(d);
                            ok = false;
                        }
                        None => {}
                    }
                }
                TokenKind::Comma => {
                    self.bump();
                    if expecting_value {
                        self.error(
                            Diagnostic::new(
                                ErrorCode::ExpectedValue,
                                span,
                                "expected a value before `,`",
                            )
                            .with_hint("list values separated by commas: (\"a\", \"b\")"),
                        );
                        ok = false;
                    }
                    expecting_value = true;
                }
                TokenKind::LParen | TokenKind::Op(_) => {
                    self.bump();
                    self.error(
                        Diagnostic::new(ErrorCode::UnexpectedToken, span, "expected a value")
                            .with_hint("list values separated by commas: (\"a\", \"b\")"),
                    );
                    ok = false;
                }
            }
        }
        let (field, _) = field?;
        ok.then(|| Expr::In {
            field: Spanned::new(field, name.span),
            values,
        })
    }

    /// The value after an operator, typed as `ty` (`None`: the field is unknown, so the value
    /// is only consumed). `None` when there is no value token; for date fields an unquoted
    /// `3 days ago` is read as one value.
    fn read_value(&mut self, ty: Option<ValueType>) -> Option<Result<Spanned<Value>, Diagnostic>> {
        let token = self
            .peek()
            .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::Quoted))?
            .clone();
        if ty == Some(ValueType::Date)
            && token.kind == TokenKind::Word
            && token.text.bytes().all(|b| b.is_ascii_digit())
            && let (Some(unit), Some(ago)) = (self.peek_at(1).cloned(), self.peek_at(2))
            && unit.kind == TokenKind::Word
            && ago.kind == TokenKind::Word
            && ago.text.eq_ignore_ascii_case("ago")
        {
            let span = token.span.start..ago.span.end;
            self.pos += 3;
            return Some(match parse_relative(&token.text, &unit.text) {
                Ok(value) => Ok(Spanned::new(value, span)),
                Err((0, problem)) => Err(problem.at(token.span)),
                Err((_, problem)) => Err(problem.at(unit.span)),
            });
        }
        self.bump();
        let Some(ty) = ty else {
            return Some(Ok(Spanned::new(Value::Any, token.span)));
        };
        let raw = match token.kind {
            TokenKind::Word => Raw::Word(&token.text),
            _ => Raw::Quoted(&token.text),
        };
        Some(
            interpret(ty, raw)
                .map(|v| Spanned::new(v, token.span.clone()))
                .map_err(|p| p.at(token.span)),
        )
    }

    /// The field a (word or quoted) name means in `scope`, with its value type.
    fn resolve_field(&self, scope: Scope, name: &Token) -> Result<(Field, ValueType), Diagnostic> {
        let text = name.text.as_str();
        let span = name.span.clone();
        let suffix = in_scope(scope);
        if let Some(prefix) = text.get(..CUSTOM_PREFIX.len())
            && prefix.eq_ignore_ascii_case(CUSTOM_PREFIX)
        {
            let custom = &text[CUSTOM_PREFIX.len()..];
            if !fields::allows_custom(scope) {
                return Err(Diagnostic::new(
                    ErrorCode::UnknownField,
                    span,
                    format!("custom fields can't be used{suffix}"),
                )
                .with_hint("custom fields belong to leads and contacts"));
            }
            if custom.is_empty() {
                return Err(Diagnostic::new(
                    ErrorCode::UnknownField,
                    span,
                    "missing custom field name",
                )
                .with_hint(
                    "write `custom.<Name>`, quoted if it has spaces: \"custom.Lead Source\":web",
                ));
            }
            return Ok((Field::Custom(custom.to_owned()), ValueType::Custom));
        }
        if let Some(info) = fields::lookup(scope, text) {
            return Ok((info.field.clone(), info.ty));
        }
        let clauses = match scope {
            Scope::Lead => &CLAUSES[..],
            _ => &[],
        };
        let hint = did_you_mean(text, fields::names_in(scope).chain(clauses.iter().copied()))
            .map(|best| format!("did you mean `{best}`?"))
            .or_else(|| {
                let (head, rest) = text.split_once('.')?;
                (fields::allows_custom(scope) && did_you_mean(head, ["custom"]).is_some())
                    .then(|| format!("did you mean `custom.{rest}`?"))
            })
            .or_else(|| elsewhere_hint(scope, text))
            .or_else(|| {
                SubObject::from_name(text)
                    .map(|o| format!("`{0}` is a sub-query: write `{0}(...)`", o.name()))
            });
        Err(Diagnostic::new(
            ErrorCode::UnknownField,
            span,
            format!("unknown field `{text}`{suffix}"),
        )
        .with_hint_opt(hint))
    }

    fn parse_has(&mut self, ctx: Ctx, name: &Token, op_token: &Token, op: CmpOp) -> Option<Expr> {
        let value = self.clause_value(name, op_token, "e.g. `has:calls`")?;
        let allowed = ctx.scope.has_targets();
        if allowed.is_empty() {
            self.error(misplaced(
                name.span.start..value.span.end,
                "has:",
                ctx.scope,
            ));
            return None;
        }
        let Some(target) = HasTarget::from_name(&value.text).filter(|t| allowed.contains(t)) else {
            let names = allowed.iter().map(|t| t.name());
            let hint = match did_you_mean(&value.text, names.clone()) {
                Some(best) => format!("did you mean `has:{best}`?"),
                None => format!("use one of: {}", names.collect::<Vec<_>>().join(", ")),
            };
            let message = format!(
                "unknown `has:` target `{}`{}",
                value.text,
                in_scope(ctx.scope)
            );
            self.error(Diagnostic::new(ErrorCode::BadValue, value.span, message).with_hint(hint));
            return None;
        };
        self.colon_only(op, op_token, "has:calls")?;
        Some(Expr::Has(Spanned::new(target, value.span)))
    }

    fn parse_in_view(
        &mut self,
        ctx: Ctx,
        name: &Token,
        op_token: &Token,
        op: CmpOp,
    ) -> Option<Expr> {
        let value = self.clause_value(name, op_token, "e.g. `in:\"My Hot Leads\"`")?;
        if ctx.scope != Scope::Lead {
            self.error(misplaced(name.span.start..value.span.end, "in:", ctx.scope));
            return None;
        }
        if value.text.trim().is_empty() || (value.kind == TokenKind::Word && value.text == "*") {
            self.error(
                Diagnostic::new(
                    ErrorCode::BadValue,
                    value.span,
                    "expected a Smart View name",
                )
                .with_hint("e.g. `in:\"My Hot Leads\"`"),
            );
            return None;
        }
        self.colon_only(op, op_token, "in:\"My Hot Leads\"")?;
        Some(Expr::InView(Spanned::new(value.text, value.span)))
    }

    fn parse_slice(&mut self, ctx: Ctx, name: &Token, op_token: &Token, op: CmpOp) -> Option<Expr> {
        let value = self.clause_value(name, op_token, "e.g. `slice:0/4`")?;
        let span = name.span.start..value.span.end;
        if ctx.scope != Scope::Lead || ctx.negated {
            self.error(misplaced(span, "slice:", ctx.scope));
            return None;
        }
        self.colon_only(op, op_token, "slice:0/4")?;
        let bad = |message: String| {
            Diagnostic::new(ErrorCode::BadSlice, value.span.clone(), message)
                .with_hint("write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`")
        };
        let parsed = value.text.split_once('/').and_then(|(i, n)| {
            let number = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| s.parse::<u32>().ok())?
            };
            Some((number(i)?, number(n)?))
        });
        let error = match parsed {
            None => bad(format!("expected `i/n`, found `{}`", value.text)),
            Some((_, 0)) => bad("a query can't be cut into 0 slices".to_owned()),
            Some((index, count)) if index >= count => bad(format!(
                "slice {index} doesn't exist: slices of {count} are numbered 0 to {}",
                count - 1
            )),
            Some(_) if self.slice.is_some() => {
                Diagnostic::new(ErrorCode::BadSlice, span, "only one `slice:` is allowed")
                    .with_hint("remove the extra `slice:`")
            }
            Some((index, count)) => {
                self.slice = Some(Spanned::new(Slice { index, count }, span));
                return None;
            }
        };
        self.error(error);
        None
    }

    fn parse_sort(&mut self, ctx: Ctx, name: &Token, op_token: &Token, op: CmpOp) -> Option<Expr> {
        let mut keys = Vec::new();
        let mut after = op_token.span.clone();
        loop {
            let descending = self
                .peek()
                .is_some_and(|t| t.kind == TokenKind::Word && t.text.starts_with('-'));
            let minus_alone = self
                .peek()
                .is_some_and(|t| t.kind == TokenKind::Word && t.text == "-");
            let quoted_after_minus = self.peek_at(1).filter(|q| {
                q.kind == TokenKind::Quoted
                    && self.peek().is_some_and(|m| m.span.end == q.span.start)
            });
            let (text, span) = match self.peek() {
                Some(_) if minus_alone && quoted_after_minus.is_some() => {
                    let minus = self.bump().span;
                    let quoted = self.bump();
                    (quoted.text, minus.start..quoted.span.end)
                }
                Some(t) if matches!(t.kind, TokenKind::Word | TokenKind::Quoted) => {
                    let token = self.bump();
                    let text = match descending {
                        true => token.text[1..].to_owned(),
                        false => token.text,
                    };
                    (text, token.span)
                }
                _ => {
                    self.error(
                        Diagnostic::new(ErrorCode::ExpectedValue, after, "expected a sort key")
                            .with_hint(format!(
                                "e.g. `sort:-created,name`; keys: {}",
                                sort_key_names()
                            )),
                    );
                    break;
                }
            };
            match sort_field(&text) {
                Ok(field) => keys.push(SortKey {
                    field: Spanned::new(field, span),
                    descending,
                }),
                Err((message, hint)) => self.error(
                    Diagnostic::new(ErrorCode::UnknownSortKey, span, message).with_hint(hint),
                ),
            }
            if self.peek_kind() != Some(TokenKind::Comma) {
                break;
            }
            after = self.bump().span;
        }
        let end = self.tokens[self.pos - 1].span.end;
        if ctx.scope != Scope::Lead || ctx.negated {
            self.error(misplaced(name.span.start..end, "sort:", ctx.scope));
            return None;
        }
        self.colon_only(op, op_token, "sort:-created")?;
        self.sort.extend(keys);
        None
    }

    /// The word or quoted value of `has:`/`in:`/`slice:`, or an `expected_value` error.
    fn clause_value(&mut self, name: &Token, op_token: &Token, example: &str) -> Option<Token> {
        match self.peek() {
            Some(t) if matches!(t.kind, TokenKind::Word | TokenKind::Quoted) => Some(self.bump()),
            _ => {
                let span = name.span.start..op_token.span.end;
                let message = format!("expected a value after `{}`", &self.src[span.clone()]);
                self.error(
                    Diagnostic::new(ErrorCode::ExpectedValue, span, message).with_hint(example),
                );
                None
            }
        }
    }

    /// Clauses take `:` only.
    fn colon_only(&mut self, op: CmpOp, op_token: &Token, example: &str) -> Option<()> {
        if op == CmpOp::Match {
            return Some(());
        }
        self.error(
            Diagnostic::new(
                ErrorCode::BadOperator,
                op_token.span.clone(),
                format!("expected `:`, found `{}`", op.as_str()),
            )
            .with_hint(format!("write `{example}`")),
        );
        None
    }
}

/// The sort field for a key name, or the message and hint for `unknown_sort_key`.
fn sort_field(name: &str) -> Result<Field, (String, String)> {
    if let Some(prefix) = name.get(..CUSTOM_PREFIX.len())
        && prefix.eq_ignore_ascii_case(CUSTOM_PREFIX)
        && name.len() > CUSTOM_PREFIX.len()
    {
        return Ok(Field::Custom(name[CUSTOM_PREFIX.len()..].to_owned()));
    }
    if let Some(info) = fields::lookup(Scope::Lead, name)
        && SORT_KEYS.contains(&info.field)
    {
        return Ok(info.field.clone());
    }
    let names = fields::fields_in(Scope::Lead)
        .filter(|info| SORT_KEYS.contains(&info.field))
        .flat_map(|info| std::iter::once(info.name).chain(info.aliases.iter().copied()));
    let hint = match did_you_mean(name, names) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("sort keys: {}, custom.<Name>", sort_key_names()),
    };
    let message = match name {
        "" => "expected a sort key".to_owned(),
        _ if fields::lookup(Scope::Lead, name).is_some() => format!("can't sort by `{name}`"),
        _ => format!("unknown sort key `{name}`"),
    };
    Err((message, hint))
}

fn sort_key_names() -> String {
    SORT_KEYS
        .iter()
        .map(|f| f.name().into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn in_scope(scope: Scope) -> String {
    match scope {
        Scope::Lead => String::new(),
        _ => format!(" in {}", scope.describe()),
    }
}

fn misplaced(span: Range<usize>, clause: &str, scope: Scope) -> Diagnostic {
    let (message, hint) = match scope {
        Scope::Lead => (
            format!("`{clause}` can't be negated"),
            format!("remove the `not` before `{clause}`"),
        ),
        _ => (
            format!("`{clause}` can't be used inside {}", scope.describe()),
            format!("move `{clause}` outside the sub-query"),
        ),
    };
    Diagnostic::new(ErrorCode::MisplacedClause, span, message).with_hint(hint)
}

/// "`duration` is a field of call(...)" when the name is valid in other scopes.
fn elsewhere_hint(scope: Scope, name: &str) -> Option<String> {
    let scopes: Vec<Scope> = std::iter::once(Scope::Lead)
        .chain(SubObject::ALL.map(Scope::Sub))
        .filter(|s| *s != scope && fields::lookup(*s, name).is_some())
        .collect();
    let first = *scopes.first()?;
    if first == Scope::Lead {
        return Some(format!(
            "`{name}` is a lead field: move it outside {}",
            scope.describe()
        ));
    }
    let list = scopes
        .iter()
        .map(|s| s.describe())
        .collect::<Vec<_>>()
        .join(", ");
    let example = match first {
        Scope::Sub(object) => format!("{}({name}:...)", object.name()),
        Scope::Lead => String::new(),
    };
    Some(format!(
        "`{name}` is a field of {list}: use it inside, e.g. `{example}`"
    ))
}
