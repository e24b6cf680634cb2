//! The parser's skeleton: `or` / `and` / `not` / primaries, parentheses and sub-queries, with
//! error recovery so one pass yields a best-effort AST and every diagnostic. Field clauses
//! (`field op value`, `in (...)`, `has:`, `in:`, `sort:`, `slice:`) live in `clause`.

use std::ops::Range;

use crate::ast::{Expr, Query, Scope, Slice, SortKey, Spanned, SubObject};
use crate::diag::{Diagnostic, ErrorCode, did_you_mean};
use crate::lexer::{Token, TokenKind, lex};

/// How deeply parentheses, sub-queries and `not`s may nest; deeper input is rejected rather
/// than risking the stack.
const MAX_DEPTH: usize = 64;

/// Parses `src` into a best-effort query plus every diagnostic, sorted by position.
pub(crate) fn parse_lenient(src: &str) -> (Query, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let tokens = lex(src, &mut diags);
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        diags,
        sort: Vec::new(),
        slice: None,
        depth: 0,
        gave_up: false,
        stars: Vec::new(),
    };
    let expr = parser.parse_top();
    let query = Query {
        expr,
        sort: parser.sort,
        slice: parser.slice.map(|s| s.node),
    };
    let mut diags = parser.diags;
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (query, diags)
}

/// Where an expression is being parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// Which fields are valid.
    pub scope: Scope,
    /// Inside parentheses, a sub-query or after `not` (a lone `*` is not allowed there).
    pub nested: bool,
    /// Directly after `not` (clauses like `sort:` are not conditions and cannot be negated).
    pub negated: bool,
}

impl Ctx {
    fn inner(self, scope: Scope) -> Ctx {
        Ctx {
            scope,
            nested: true,
            negated: false,
        }
    }
}

pub(crate) struct Parser<'s> {
    pub src: &'s str,
    pub tokens: Vec<Token>,
    pub pos: usize,
    pub diags: Vec<Diagnostic>,
    pub sort: Vec<SortKey>,
    pub slice: Option<Spanned<Slice>>,
    depth: usize,
    /// Set once nesting went too deep; the rest of the input is skipped.
    gave_up: bool,
    /// Top-level `*`s: fine when it is the whole filter, an error otherwise.
    stars: Vec<Range<usize>>,
}

impl Parser<'_> {
    pub fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    pub fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.pos + offset)
    }

    pub fn peek_kind(&self) -> Option<TokenKind> {
        self.peek().map(|t| t.kind)
    }

    /// Consumes the current token. Callers check there is one.
    pub fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        self.pos += 1;
        token
    }

    pub fn error(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Whether the token at `offset` is the keyword `kw` (any case) rather than a field name
    /// (`and:x` names a field).
    fn keyword_at(&self, offset: usize, kw: &str) -> bool {
        self.peek_at(offset)
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(kw))
            && !matches!(
                self.peek_at(offset + 1).map(|t| t.kind),
                Some(TokenKind::Op(_))
            )
    }

    /// Whether the token at `offset` ends an `and` sequence: the end, `)`, `or` or `and`.
    fn ends_operand(&self, offset: usize) -> bool {
        match self.peek_at(offset).map(|t| t.kind) {
            None | Some(TokenKind::RParen) => true,
            _ => self.keyword_at(offset, "or") || self.keyword_at(offset, "and"),
        }
    }

    /// Enters one level of nesting, or reports `too_deep` and skips the rest of the input.
    fn enter(&mut self, span: Range<usize>) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep(span);
            return false;
        }
        self.depth += 1;
        true
    }

    fn too_deep(&mut self, span: Range<usize>) {
        if !self.gave_up {
            self.error(
                Diagnostic::new(ErrorCode::TooDeep, span, "the query nests too deeply").with_hint(
                    format!("use at most {MAX_DEPTH} levels of parentheses and `not`"),
                ),
            );
        }
        self.gave_up = true;
        self.pos = self.tokens.len();
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn parse_top(&mut self) -> Option<Expr> {
        let ctx = Ctx {
            scope: Scope::Lead,
            nested: false,
            negated: false,
        };
        let mut parts = Vec::new();
        loop {
            parts.extend(self.parse_or(ctx));
            let Some(token) = self.peek() else { break };
            let span = token.span.clone();
            self.bump();
            self.error(
                Diagnostic::new(ErrorCode::UnbalancedParen, span, "unmatched `)`")
                    .with_hint("remove it, or add a `(` before it"),
            );
        }
        let expr = and_of(parts);
        let allowed_stars = usize::from(expr.is_none());
        for span in self.stars.split_off(allowed_stars.min(self.stars.len())) {
            self.error(misplaced_star(span));
        }
        expr
    }

    /// `and ("or" and)*`
    pub fn parse_or(&mut self, ctx: Ctx) -> Option<Expr> {
        let start = self.pos;
        let mut arms: Vec<Expr> = self.parse_and(ctx).into_iter().collect();
        let mut first = true;
        while self.keyword_at(0, "or") {
            let or = self.bump().span;
            if first && self.pos - 1 == start {
                self.error(
                    Diagnostic::new(ErrorCode::ExpectedExpr, or.clone(), "nothing before `or`")
                        .with_hint("put a condition on both sides of `or`"),
                );
            }
            first = false;
            let before = self.pos;
            arms.extend(self.parse_and(ctx));
            if self.pos == before {
                self.error(
                    Diagnostic::new(ErrorCode::ExpectedExpr, or, "nothing after `or`")
                        .with_hint("put a condition on both sides of `or`"),
                );
            }
        }
        match arms.len() {
            0 | 1 => arms.pop(),
            _ => Some(Expr::Or(arms)),
        }
    }

    /// `unary (["and"] unary)*`
    fn parse_and(&mut self, ctx: Ctx) -> Option<Expr> {
        let start = self.pos;
        let mut items = Vec::new();
        while let Some(token) = self.peek() {
            let span = token.span.clone();
            match token.kind {
                TokenKind::RParen => break,
                _ if self.keyword_at(0, "or") => break,
                _ if self.keyword_at(0, "and") => {
                    self.bump();
                    if self.pos - 1 == start {
                        self.error(
                            Diagnostic::new(
                                ErrorCode::ExpectedExpr,
                                span.clone(),
                                "nothing before `and`",
                            )
                            .with_hint("put a condition on both sides of `and`"),
                        );
                    }
                    if self.ends_operand(0) {
                        self.error(
                            Diagnostic::new(ErrorCode::ExpectedExpr, span, "nothing after `and`")
                                .with_hint("put a condition on both sides of `and`"),
                        );
                    }
                }
                TokenKind::Comma => {
                    self.bump();
                    self.error(
                        Diagnostic::new(ErrorCode::UnexpectedToken, span, "unexpected `,`")
                            .with_hint(
                                "commas separate the values of `field in (...)` and `sort:` keys",
                            ),
                    );
                }
                TokenKind::Op(op) => {
                    self.bump();
                    self.error(
                        Diagnostic::new(
                            ErrorCode::UnexpectedToken,
                            span,
                            format!("`{}` needs a field name before it", op.as_str()),
                        )
                        .with_hint("write `field:value`, e.g. `status:customer`"),
                    );
                }
                _ => items.extend(self.parse_unary(ctx)),
            }
        }
        and_of(items)
    }

    /// `"not"* primary`
    fn parse_unary(&mut self, ctx: Ctx) -> Option<Expr> {
        let mut nots = Vec::new();
        while self.keyword_at(0, "not") {
            nots.push(self.bump().span);
        }
        let Some(last) = nots.last().cloned() else {
            return self.parse_primary(ctx);
        };
        if self.depth + nots.len() > MAX_DEPTH {
            self.too_deep(last);
            return None;
        }
        if self.ends_operand(0) {
            self.error(
                Diagnostic::new(ErrorCode::ExpectedExpr, last, "nothing after `not`")
                    .with_hint("write `not` before a condition, e.g. `not status:cold`"),
            );
            return None;
        }
        self.depth += nots.len();
        let inner = self.parse_primary(Ctx {
            nested: true,
            negated: true,
            ..ctx
        });
        self.depth -= nots.len();
        Some(
            nots.iter()
                .fold(inner?, |expr, _| Expr::Not(Box::new(expr))),
        )
    }

    fn parse_primary(&mut self, ctx: Ctx) -> Option<Expr> {
        let token = self.peek()?.clone();
        let next = self.peek_at(1).map(|t| t.kind);
        let list_follows = self
            .peek_at(1)
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case("in"))
            && self.peek_at(2).is_some_and(|t| t.kind == TokenKind::LParen);
        match token.kind {
            TokenKind::LParen => self.parse_group(ctx, None),
            TokenKind::Word | TokenKind::Quoted if matches!(next, Some(TokenKind::Op(_))) => {
                self.parse_clause(ctx)
            }
            TokenKind::Word | TokenKind::Quoted if list_follows => self.parse_in_list(ctx),
            TokenKind::Quoted => {
                self.bump();
                if token.text.is_empty() {
                    self.error(
                        Diagnostic::new(ErrorCode::ExpectedExpr, token.span, "empty quotes")
                            .with_hint("put a phrase between the quotes, or remove them"),
                    );
                    return None;
                }
                Some(Expr::Phrase(Spanned::new(token.text, token.span)))
            }
            TokenKind::Word if token.text == "*" => {
                self.bump();
                if ctx.nested {
                    self.error(misplaced_star(token.span));
                } else {
                    self.stars.push(token.span);
                }
                None
            }
            TokenKind::Word if next == Some(TokenKind::LParen) => {
                if let Some(object) = SubObject::from_name(&token.text) {
                    return self.parse_sub(ctx, object);
                }
                let open = self.peek_at(1).map_or(0, |t| t.span.start);
                if open != token.span.end {
                    self.bump();
                    return Some(Expr::Text(Spanned::new(token.text, token.span)));
                }
                let names = SubObject::ALL.map(SubObject::name);
                let hint = match did_you_mean(&token.text, names) {
                    Some(name) => format!("did you mean `{name}`?"),
                    None => format!("sub-queries are {}", names.join(", ")),
                };
                self.error(
                    Diagnostic::new(
                        ErrorCode::UnknownSubquery,
                        token.span.clone(),
                        format!("unknown sub-query `{}`", token.text),
                    )
                    .with_hint(hint),
                );
                self.bump();
                self.parse_group(ctx, None);
                None
            }
            TokenKind::Word => {
                self.bump();
                Some(Expr::Text(Spanned::new(token.text, token.span)))
            }
            TokenKind::RParen | TokenKind::Comma | TokenKind::Op(_) => {
                // Callers stop before these; consume so a caller bug cannot loop forever.
                self.bump();
                self.error(Diagnostic::new(
                    ErrorCode::UnexpectedToken,
                    token.span,
                    "unexpected token",
                ));
                None
            }
        }
    }

    /// `"(" expr ")"`, the `(` being the current token. With `object`, parses the inside of a
    /// sub-query in that object's scope and reports a missing `)` against `label`.
    fn parse_group(&mut self, ctx: Ctx, object: Option<(SubObject, Range<usize>)>) -> Option<Expr> {
        let open = self.bump().span;
        let (scope, opened) = match &object {
            Some((object, name)) => (Scope::Sub(*object), name.start..open.end),
            None => (ctx.scope, open.clone()),
        };
        if !self.enter(opened.clone()) {
            return None;
        }
        let before = self.pos;
        let inner = self.parse_or(ctx.inner(scope));
        self.leave();
        match self.peek() {
            Some(close) => {
                let close = close.span.clone();
                self.bump();
                if self.pos - 1 == before {
                    let message = match &object {
                        Some((object, _)) => format!("empty `{}()`", object.name()),
                        None => "empty parentheses".to_owned(),
                    };
                    self.error(
                        Diagnostic::new(ErrorCode::ExpectedExpr, opened.start..close.end, message)
                            .with_hint("put a condition inside, or remove them"),
                    );
                }
            }
            None if self.gave_up => {}
            None => {
                let what = match &object {
                    Some((object, _)) => format!("{}(", object.name()),
                    None => "(".to_owned(),
                };
                self.error(
                    Diagnostic::new(
                        ErrorCode::UnbalancedParen,
                        opened,
                        format!("unclosed `{what}`"),
                    )
                    .with_hint("add a `)` to close it"),
                );
            }
        }
        inner
    }

    /// `SUB "(" expr ")"`
    fn parse_sub(&mut self, ctx: Ctx, object: SubObject) -> Option<Expr> {
        let name = self.bump().span;
        let allowed = ctx.scope.allows_sub(object);
        if !allowed {
            let hint = match ctx.scope {
                Scope::Sub(SubObject::Contact) => format!(
                    "inside contact(...) you can use {}",
                    SubObject::ALL
                        .into_iter()
                        .filter(|o| ctx.scope.allows_sub(*o))
                        .map(|o| format!("{}(...)", o.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => "only contact(...) can contain another sub-query".to_owned(),
            };
            self.error(
                Diagnostic::new(
                    ErrorCode::BadNesting,
                    name.clone(),
                    format!(
                        "`{}(...)` can't be used inside {}",
                        object.name(),
                        ctx.scope.describe()
                    ),
                )
                .with_hint(hint),
            );
        }
        let inner = self.parse_group(ctx, Some((object, name)))?;
        allowed.then(|| Expr::Sub {
            object,
            expr: Box::new(inner),
        })
    }
}

/// `items` joined by AND: nothing, the one item, or an `And`.
fn and_of(mut items: Vec<Expr>) -> Option<Expr> {
    match items.len() {
        0 | 1 => items.pop(),
        _ => Some(Expr::And(items)),
    }
}

fn misplaced_star(span: Range<usize>) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::UnexpectedToken,
        span,
        "`*` means all leads and must stand alone",
    )
    .with_hint("remove it, or write `field:*` for “has a value”")
}
