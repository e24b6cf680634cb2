//! Every error kind as `check_error` one-liners (code, message, span and hint), and lenient
//! parsing's best-effort AST.

use rapport_query::{ErrorCode, parse};

use crate::support::{check_error, check_lenient};

#[test]
fn unknown_fields_suggest_a_name() {
    check_error("last_caled:yesterday", "unknown_field: unknown field `last_caled` at 0..10; did you mean `last_called`?");
    check_error("onl stauts:cold", "unknown_field: unknown field `stauts` at 4..10; did you mean `status`?");
    check_error("emial_address:bob", "unknown_field: unknown field `emial_address` at 0..13; did you mean `email_address`?");
    check_error("srot:name", "unknown_field: unknown field `srot` at 0..4; did you mean `sort`?");
    check_error("custon.Tier:gold", "unknown_field: unknown field `custon.Tier` at 0..11; did you mean `custom.Tier`?");
    check_error("duration > 60", "unknown_field: unknown field `duration` at 0..8; `duration` is a field of call(...): use it inside, e.g. `call(duration:...)`");
    check_error("call(opened:yes)", "unknown_field: unknown field `opened` in call(...) at 5..11; `opened` is a field of email(...): use it inside, e.g. `email(opened:...)`");
    check_error("note(status:x)", "unknown_field: unknown field `status` in note(...) at 5..11; `status` is a lead field: move it outside note(...)");
    check_error("banana:1", "unknown_field: unknown field `banana` at 0..6");
    check_error("custom.:x", "unknown_field: missing custom field name at 0..7; write `custom.<Name>`, quoted if it has spaces: \"custom.Lead Source\":web");
    check_error("call(custom.X:y)", "unknown_field: custom fields can't be used in call(...) at 5..13; custom fields belong to leads and contacts");
    check_error("and:x", "unknown_field: unknown field `and` at 0..3");
    check_error(r#"bogus in ("a")"#, "unknown_field: unknown field `bogus` at 0..5");
}

#[test]
fn unknown_sub_queries_and_nesting() {
    check_error("foo(x)", "unknown_subquery: unknown sub-query `foo` at 0..3; sub-queries are contact, call, email, note, task, opportunity, meeting");
    check_error("calls(duration > 60)", "unknown_subquery: unknown sub-query `calls` at 0..5; did you mean `call`?");
    check_error("call(email(opened:yes))", "bad_nesting: `email(...)` can't be used inside call(...) at 5..10; only contact(...) can contain another sub-query");
    check_error("contact(task(done:no))", "bad_nesting: `task(...)` can't be used inside contact(...) at 8..12; inside contact(...) you can use call(...), email(...), note(...), opportunity(...), meeting(...)");
}

#[test]
fn bad_values() {
    check_error("created:2024-13-01", "bad_date: invalid date `2024-13-01`: there is no month 13 at 8..18; write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM");
    check_error("created:2024-02-30", "bad_date: invalid date `2024-02-30`: 2024-02 has only 29 days at 8..18; write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM");
    check_error("created:2024-01-31T25:00", "bad_date: invalid time in `2024-01-31T25:00`: 25:00 is not a time of day at 8..24; write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM");
    check_error("created:banana", "bad_date: expected a date, found `banana` at 8..14; use `2024-01-31`, `2024-01-31T09:30`, `\"3 days ago\"`, `today`, `yesterday` or `never`");
    check_error("created > 3 days", "bad_date: expected a date, found `3` at 10..11; did you mean \"3 days ago\"?");
    check_error(r#"created > "3 days""#, "bad_date: expected a date, found `3 days` at 10..18; relative dates end in `ago`: \"3 days ago\"");
    check_error("created > 3 fortnights ago", "bad_date: unknown time unit `fortnights` at 12..22; units: minutes, hours, days, weeks, months, years");
    check_error("created > 3 dyas ago", "bad_date: unknown time unit `dyas` at 12..16; did you mean `days`?");
    check_error(r#"calls:"foo""#, "bad_number: expected a whole number, found `foo` at 6..11; use `0`, `3` or `10`");
    check_error("calls:2.5", "bad_number: expected a whole number, found `2.5` at 6..9; use `0`, `3` or `10`");
    check_error("calls:*", "bad_number: `*` can't be used here: expected a whole number at 6..7; use `0`, `3` or `10`");
    check_error("calls:99999999999", "bad_number: `99999999999` is too large at 6..17");
    check_error("opportunity_value > lots", "bad_number: expected a number, found `lots` at 20..24; use `60` or `99.5`");
    check_error("call(direction:inbond)", "bad_value: unknown value `inbond` at 15..21; did you mean `inbound`?");
    check_error("call(direction:sideways)", "bad_value: unknown value `sideways` at 15..23; use one of: inbound, outbound");
    check_error("task(done:maybe)", "bad_value: expected yes or no, found `maybe` at 10..15; use `yes` or `no`");
    check_error("called:often", "bad_value: expected never, yes or a count, found `often` at 7..12; use `never`, `yes` or a count such as `3`");
    check_error("has:cals", "bad_value: unknown `has:` target `cals` at 4..8; did you mean `has:calls`?");
    check_error("contact(has:tasks)", "bad_value: unknown `has:` target `tasks` in contact(...) at 12..17; use one of: calls, emails, notes, opportunities, phone, email");
    check_error(r#"in:"""#, "bad_value: expected a Smart View name at 3..5; e.g. `in:\"My Hot Leads\"`");
    check_error(r#"status in (a, *)"#, "bad_value: `*` can't be in a list at 14..15; write `status:*`");
}

#[test]
fn bad_operators() {
    check_error("name > 3", "bad_operator: `>` can't compare text at 5..6; use `:` or `=`");
    check_error("status < x", "bad_operator: `<` can't compare a label at 7..8; use `:` or `=`");
    check_error("last_called > never", "bad_operator: `>` can't be used with `never` at 12..13; write `:never`");
    check_error("has=calls", "bad_operator: expected `:`, found `=` at 3..4; write `has:calls`");
    check_error("sort<name", "bad_operator: expected `:`, found `<` at 4..5; write `sort:-created`");
}

#[test]
fn sort_and_slice_errors() {
    check_error("sort:nmae", "unknown_sort_key: unknown sort key `nmae` at 5..9; did you mean `name`?");
    check_error("sort:status", "unknown_sort_key: can't sort by `status` at 5..11; sort keys: created, updated, name, last_called, last_emailed, last_activity, calls, contacts, opportunities, activities, custom.<Name>");
    check_error("sort:zzz", "unknown_sort_key: unknown sort key `zzz` at 5..8; sort keys: created, updated, name, last_called, last_emailed, last_activity, calls, contacts, opportunities, activities, custom.<Name>");
    check_error("sort:", "expected_value: expected a sort key at 4..5; e.g. `sort:-created,name`; keys: created, updated, name, last_called, last_emailed, last_activity, calls, contacts, opportunities, activities");
    check_error("sort:name,", "expected_value: expected a sort key at 9..10; e.g. `sort:-created,name`; keys: created, updated, name, last_called, last_emailed, last_activity, calls, contacts, opportunities, activities");
    check_error("slice:5/3", "bad_slice: slice 5 doesn't exist: slices of 3 are numbered 0 to 2 at 6..9; write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`");
    check_error("slice:3/3", "bad_slice: slice 3 doesn't exist: slices of 3 are numbered 0 to 2 at 6..9; write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`");
    check_error("slice:0/0", "bad_slice: a query can't be cut into 0 slices at 6..9; write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`");
    check_error("slice:half", "bad_slice: expected `i/n`, found `half` at 6..10; write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`");
    check_error("slice:-1/3", "bad_slice: expected `i/n`, found `-1/3` at 6..10; write `slice:i/n` with 0 ≤ i < n, e.g. `slice:0/4`");
    check_error("slice:0/2 slice:1/2", "bad_slice: only one `slice:` is allowed at 10..19; remove the extra `slice:`");
    check_error("call(sort:date)", "misplaced_clause: `sort:` can't be used inside call(...) at 5..14; move `sort:` outside the sub-query");
    check_error("not sort:name", "misplaced_clause: `sort:` can't be negated at 4..13; remove the `not` before `sort:`");
    check_error("note(slice:0/2)", "misplaced_clause: `slice:` can't be used inside note(...) at 5..14; move `slice:` outside the sub-query");
    check_error("call(has:phone)", "misplaced_clause: `has:` can't be used inside call(...) at 5..14; move `has:` outside the sub-query");
    check_error(r#"call(in:"x")"#, "misplaced_clause: `in:` can't be used inside call(...) at 5..11; move `in:` outside the sub-query");
}

#[test]
fn structure_errors() {
    check_error("(a or b", "unbalanced_paren: unclosed `(` at 0..1; add a `)` to close it");
    check_error("call(duration > 60", "unbalanced_paren: unclosed `call(` at 0..5; add a `)` to close it");
    check_error("a) b", "unbalanced_paren: unmatched `)` at 1..2; remove it, or add a `(` before it");
    check_error(r#"status in ("a", "b""#, "unbalanced_paren: unclosed `(` at 10..11; add a `)` after the last value");
    check_error(r#""abc"#, "unterminated_quote: unterminated quote at 0..4; add a closing `\"`");
    check_error(r#"name:"ab\"c"#, "unterminated_quote: unterminated quote at 5..11; add a closing `\"`");
    check_error("name:", "expected_value: expected a value after `name:` at 0..5; use `acme`, `\"menlo park\"` or `*`");
    check_error("name: (a b)", "expected_value: expected a value after `name:` at 0..5; to match one of several values, write `name in (\"a\", \"b\")`");
    check_error("created >", "expected_value: expected a value after `created >` at 0..9; use `2024-01-31`, `2024-01-31T09:30`, `\"3 days ago\"`, `today`, `yesterday` or `never`");
    check_error("has:", "expected_value: expected a value after `has:` at 0..4; e.g. `has:calls`");
    check_error("status in ()", "expected_value: empty list at 10..12; list values separated by commas: (\"a\", \"b\")");
    check_error("status in (a,)", "expected_value: expected a value before `)` at 13..14; list values separated by commas: (\"a\", \"b\")");
    check_error("status in (,a)", "expected_value: expected a value before `,` at 11..12; list values separated by commas: (\"a\", \"b\")");
    check_error("a or", "expected_expr: nothing after `or` at 2..4; put a condition on both sides of `or`");
    check_error("or a", "expected_expr: nothing before `or` at 0..2; put a condition on both sides of `or`");
    check_error("a and", "expected_expr: nothing after `and` at 2..5; put a condition on both sides of `and`");
    check_error("and a", "expected_expr: nothing before `and` at 0..3; put a condition on both sides of `and`");
    check_error("a not", "expected_expr: nothing after `not` at 2..5; write `not` before a condition, e.g. `not status:cold`");
    check_error("()", "expected_expr: empty parentheses at 0..2; put a condition inside, or remove them");
    check_error("call()", "expected_expr: empty `call()` at 0..6; put a condition inside, or remove them");
    check_error(r#"a """#, "expected_expr: empty quotes at 2..4; put a phrase between the quotes, or remove them");
    check_error(", a", "unexpected_token: unexpected `,` at 0..1; commas separate the values of `field in (...)` and `sort:` keys");
    check_error(": a", "unexpected_token: `:` needs a field name before it at 0..1; write `field:value`, e.g. `status:customer`");
    check_error("a *", "unexpected_token: `*` means all leads and must stand alone at 2..3; remove it, or write `field:*` for “has a value”");
    check_error("(*)", "unexpected_token: `*` means all leads and must stand alone at 1..2; remove it, or write `field:*` for “has a value”");
    check_error(r#"status in (a b)"#, "unexpected_token: missing `,` at 13..14; separate the values with commas");
}

#[test]
fn too_deep() {
    let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    check_error(&deep, "too_deep: the query nests too deeply at 64..65; use at most 64 levels of parentheses and `not`");
    let nots = format!("{}a", "not ".repeat(100));
    check_error(&nots, "too_deep: the query nests too deeply at 396..399; use at most 64 levels of parentheses and `not`");
    assert!(parse(&format!("{}a{}", "(".repeat(60), ")".repeat(60))).is_ok());
}

#[test]
fn strict_parse_reports_the_earliest_problem() {
    let error = parse(r#"x:1 (a or "b"#).unwrap_err();
    assert_eq!(error.code, ErrorCode::UnknownField);
    assert_eq!(error.span, 0..1);
    assert_eq!(error.hint, None);
    assert_eq!(error.message, "unknown field `x`");
}

#[test]
fn lenient_parsing_keeps_what_it_can() {
    check_lenient("last_caled:yesterday onl (a or b", "(and onl (or a b))", &["unknown_field", "unbalanced_paren"]);
    check_lenient(r#"name:acme "abc"#, r#"(and (name : acme) "abc")"#, &["unterminated_quote"]);
    check_lenient("a) b or", "(and a b)", &["unbalanced_paren", "expected_expr"]);
    check_lenient("foo(x) y sort:nmae,name slice:9/2", "y sort(name)", &["unknown_subquery", "unknown_sort_key", "bad_slice"]);
    check_lenient("created:banana calls:x status:ok", "(status : 'ok')", &["bad_date", "bad_number"]);
    check_lenient("call(email(opened:yes) duration > 60)", "(call (duration > #60))", &["bad_nesting"]);
    check_lenient("", "*", &[]);
    check_lenient("* (", "*", &["unbalanced_paren"]);
}

#[test]
fn codes_are_stable_snake_case() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        codes.join(" "),
        "unknown_field unknown_subquery unknown_sort_key bad_nesting misplaced_clause bad_date \
         bad_number bad_value bad_operator bad_slice unbalanced_paren unterminated_quote \
         expected_value expected_expr unexpected_token too_deep"
    );
}
