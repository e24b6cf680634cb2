//! Safe Markdown: note bodies rendered with pulldown-cmark and sanitised by ammonia, so no
//! script, event handler or `javascript:` link from a note ever reaches the page.

use pulldown_cmark::{Options, Parser, html};

/// Renders Markdown to sanitised HTML. Links open outside the app (`rel="noopener noreferrer"`).
pub fn to_safe_html(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, opts));
    SANITISER.clean(&raw).to_string()
}

/// Built once: the sanitiser's tag and attribute tables are the same for every note.
static SANITISER: std::sync::LazyLock<ammonia::Builder<'static>> = std::sync::LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.link_rel(Some("noopener noreferrer"));
    b
});

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn renders_markdown() {
        let h = to_safe_html("# Call notes\n\n**Budget** approved, see [site](https://acme.com)");
        assert!(h.contains("<h1>Call notes</h1>"), "{h}");
        assert!(h.contains("<strong>Budget</strong>"), "{h}");
        assert!(h.contains(r#"href="https://acme.com""#), "{h}");
    }

    #[test]
    fn strips_scripts_and_handlers() {
        for evil in [
            "<script>alert(1)</script>hi",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil\"></iframe>",
            "<div onclick=\"alert(1)\">x</div>",
        ] {
            let h = to_safe_html(evil).to_lowercase();
            assert!(!h.contains("<script"), "{evil} -> {h}");
            assert!(
                !h.contains("onerror") && !h.contains("onclick"),
                "{evil} -> {h}"
            );
            assert!(!h.contains("javascript:"), "{evil} -> {h}");
            assert!(!h.contains("<iframe"), "{evil} -> {h}");
        }
    }
}
