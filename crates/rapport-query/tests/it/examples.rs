//! Every example of DESIGN §5, and the grammar's corners, as `check` one-liners.

use crate::support::{check, check_fmt};

#[test]
fn free_text() {
    check("onl", "onl");
    check("onl park", "(and onl park)");
    check(r#""menlo park""#, r#""menlo park""#);
    check(r#""park menlo""#, r#""park menlo""#);
    check(r#""say \"hi\" \\o/""#, r#""say \"hi\" \\o/""#);
    check("café Zürich", "(and café Zürich)");
    check("https://acme.com/pricing", "https://acme.com/pricing");
    check("acme.com -draft 42", "(and acme.com -draft 42)");
    check("in made in china", "(and in made in china)");
}

#[test]
fn all_leads() {
    check("", "*");
    check("   ", "*");
    check("*", "*");
    check("* sort:name", "* sort(name)");
    check_fmt("*", "");
}

#[test]
fn fields_and_values() {
    check("name:acme", "(name : acme)");
    check(r#"name:"acme corp""#, r#"(name : "acme corp")"#);
    check("url:*", "(url : *)");
    check("company:acme description:saas", "(and (company : acme) (description : saas))");
    check("city:paris state:ca zip:94025 country:fr", "(and (city : paris) (state : ca) (zip : 94025) (country : fr))");
    check("location:menlo contact:bob title:cto", "(and (location : menlo) (contact : bob) (title : cto))");
    check("phone:415", "(phone : 415)");
    check("phone_number:+1415", "(phone : +1415)");
    check("email:bob@acme.com", "(email : bob@acme.com)");
    check("email_address:bob", "(email : bob)");
    check("owner:me", "(owner : ME)");
    check(r#"owner:"Alice Smith""#, r#"(owner : "Alice Smith")"#);
    check("name:today", "(name : today)");
    check("name:or", "(name : or)");
    check("name = acme", "(name = acme)");
    check("url: //cdn.acme.com", "(url : //cdn.acme.com)");
    check("url:https://acme.com", "(url : https://acme.com)");
    check("NAME:acme Status:Customer", "(and (name : acme) (status : 'customer'))");
}

#[test]
fn status_labels_normalise() {
    check("status:bad_fit", "(status : 'bad fit')");
    check(r#"status:"Bad Fit""#, "(status : 'bad fit')");
    check_fmt("status:bad_fit", r#"status:"bad fit""#);
    check_fmt(r#"status:"BAD   fit""#, r#"status:"bad fit""#);
    check("status:customer", "(status : 'customer')");
    check("opportunity:won", "(opportunity : 'won')");
    check(r#"status in ("Potential", bad_fit)"#, "(status in 'potential' 'bad fit')");
    check_fmt(r#"status in ("Potential",bad_fit)"#, r#"status in (potential, "bad fit")"#);
}

#[test]
fn dates() {
    check(r#"last_called < "3 days ago""#, "(last_called < ago(3 day))");
    check("created > 30 days ago", "(created > ago(30 day))");
    check_fmt("created > 30 days ago", r#"created > "30 days ago""#);
    check_fmt(r#"last_called<"1 Day AGO""#, r#"last_called < "1 day ago""#);
    check("updated < 5 mins ago", "(updated < ago(5 minute))");
    check("updated < 1 min ago", "(updated < ago(1 minute))");
    check("updated < 90 minutes ago", "(updated < ago(90 minute))");
    check("updated < 2 hour ago", "(updated < ago(2 hour))");
    check("updated <= 2 weeks ago", "(updated <= ago(2 week))");
    check("updated >= 6 months ago", "(updated >= ago(6 month))");
    check("updated > 1 year ago", "(updated > ago(1 year))");
    check("created:2024-01-31", "(created : @2024-01-31)");
    check("created >= 2024-01-31T09:30", "(created >= @2024-01-31T09:30)");
    check(r#"created < "2024-01-31 09:30""#, "(created < @2024-01-31T09:30)");
    check("created:2024-02-29", "(created : @2024-02-29)");
    check("last_called:today last_emailed:yesterday", "(and (last_called : TODAY) (last_emailed : YESTERDAY))");
    check("last_called:never", "(last_called : NEVER)");
    check("email_opened:yes last_activity > 2 days ago", "(and (email_opened : YES) (last_activity > ago(2 day)))");
    check("date_created:today date_updated:today", "(and (created : TODAY) (updated : TODAY))");
    check("last_call:never last_email:never", "(and (last_called : NEVER) (last_emailed : NEVER))");
    check("created < today", "(created < TODAY)");
}

#[test]
fn counts_and_numbers() {
    check("calls:0", "(calls : #0)");
    check("contacts > 2 emails >= 1 notes < 3 tasks:1", "(and (contacts > #2) (emails >= #1) (notes < #3) (tasks : #1))");
    check("opportunities:1 addresses:2 activities > 10", "(and (opportunities : #1) (addresses : #2) (activities > #10))");
    check(r#"calls:"3""#, "(calls : #3)");
    check("called:never emailed:yes", "(and (called : NEVER) (emailed : YES))");
    check("called > 3", "(called > #3)");
    check("opportunity_value >= 1000.50", "(opportunity_value >= #1000.5)");
    check("opportunity_user:me", "(opportunity_user : ME)");
}

#[test]
fn sub_queries() {
    check("call(date >= 2024-01-01 date < 2024-02-01 duration > 60)", "(call (and (date >= @2024-01-01) (date < @2024-02-01) (duration > #60)))");
    check("contact(email(opened:yes))", "(contact (email (opened : YES)))");
    check("contact (name:bob title:cto)", "(contact (and (name : bob) (title : cto)))");
    check_fmt("contact (name:bob)", "contact(name:bob)");
    check("call(direction:inbound disposition:vm-left)", "(call (and (direction : 'inbound') (disposition : 'vm-left')))");
    check("call(phone:415 user:me note:pricing)", "(call (and (remote_phone : 415) (user : ME) (note : pricing)))");
    check(r#"email(subject:"renewal" body:price opened:never)"#, r#"(email (and (subject : "renewal") (body : price) (opened : NEVER)))"#);
    check("note(text:pricing pinned:yes)", "(note (and (body : pricing) (pinned : YES)))");
    check("task(done:no due < today assignee:me)", "(task (and (done : NO) (due < TODAY) (assignee : ME)))");
    check("task(is_complete:true date:today)", "(task (and (done : YES) (due : TODAY)))");
    check("opportunity(status:won value > 1000 confidence >= 50 close_date < 2024-12-31)", "(opportunity (and (status : 'won') (value > #1000) (confidence >= #50) (close_date < @2024-12-31)))");
    check("opportunity(period:one_time user:me)", "(opportunity (and (period : 'one time') (user : ME)))");
    check("meeting(title:demo start:today end < 2024-01-01)", "(meeting (and (title : demo) (date : TODAY) (end < @2024-01-01)))");
    check("note(pricing)", "(note pricing)");
    check("not call(duration > 60)", "(not (call (duration > #60)))");
    check("contact(custom.Role:buyer)", "(contact (custom.Role : buyer))");
}

#[test]
fn custom_fields() {
    check(r#""custom.Lead Source":web"#, "(custom.Lead Source : web)");
    check_fmt(r#""custom.Lead Source":web"#, r#""custom.Lead Source":web"#);
    check("custom.Tier:gold", "(custom.Tier : gold)");
    check("CUSTOM.Tier:gold", "(custom.Tier : gold)");
    check("custom.Seats > 10", "(custom.Seats > 10)");
    check(r#"custom.Renewal < "30 days ago""#, r#"(custom.Renewal < "30 days ago")"#);
}

#[test]
fn has_in_and_lists() {
    check("has:calls", "has:calls");
    check("has:calls has:emails has:notes has:tasks", "(and has:calls has:emails has:notes has:tasks)");
    check("has:opportunities has:contacts has:phone has:email has:address", "(and has:opportunities has:contacts has:phone has:email has:address)");
    check("contact(has:phone)", "(contact has:phone)");
    check(r#"in:"My Hot Leads""#, r#"in:"My Hot Leads""#);
    check("in:hot", r#"in:"hot""#);
    check(r#"status in ("a", "b")"#, "(status in 'a' 'b')");
    check(r#"name in ("a" , b)"#, r#"(name in "a" b)"#);
    check("created in (today, yesterday)", "(created in TODAY YESTERDAY)");
    check(r#""custom.Lead Source" in (web, ads)"#, "(custom.Lead Source in web ads)");
}

#[test]
fn boolean_structure() {
    check("a and b", "(and a b)");
    check("a AND b Or c", "(or (and a b) c)");
    check("a or b c", "(or a (and b c))");
    check("not a b", "(and (not a) b)");
    check("NOT a OR b AND c", "(or (not a) (and b c))");
    check("not not a", "(not (not a))");
    check("(a or b) c", "(and (or a b) c)");
    check("a (b c)", "(and a (and b c))");
    check("((a))", "a");
    check("a or (b or c)", "(or a (or b c))");
    check("not (a or b)", "(not (or a b))");
    check("not status:cold", "(not (status : 'cold'))");
    check_fmt("a AND (b OR c)", "a and (b or c)");
    check_fmt("(a b) (c or d)", "(a b) (c or d)");
    check_fmt("x in and (a or b)", "x in and (a or b)");
    check_fmt("call and (a or b)", "call and (a or b)");
}

#[test]
fn spacing_is_free() {
    check(r#"last_called   <   "3 days ago""#, "(last_called < ago(3 day))");
    check("name : acme", "(name : acme)");
    check("calls>6", "(calls > #6)");
    check_fmt("  name :acme   onl  ", "name:acme onl");
    check_fmt("call(duration>60)", "call(duration > 60)");
}

#[test]
fn sort_and_slice_anywhere() {
    check("sort:-created,name", "* sort(-created name)");
    check("sort:-created, name", "* sort(-created name)");
    check("slice:2/8", "* slice(2/8)");
    check("sort:name onl slice:0/2 park", "(and onl park) sort(name) slice(0/2)");
    check("sort:updated sort:-calls", "* sort(updated -calls)");
    check("(a sort:name)", "a sort(name)");
    check("sort:date_created,last_call", "* sort(created last_called)");
    check("sort:last_emailed,last_activity,contacts,opportunities,activities", "* sort(last_emailed last_activity contacts opportunities activities)");
    check(r#"sort:-"custom.Lead Source",custom.Tier"#, "* sort(-custom.Lead Source custom.Tier)");
    check_fmt("slice:2/8 sort:-created,name onl", "onl sort:-created,name slice:2/8");
}
