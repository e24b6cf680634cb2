//! Note bodies: the line-based three-way merge the server runs when a body edit was typed over
//! an older revision (diff3, as git does), and the line containment the simulation's "no text
//! lost" invariant checks. Not a semilattice: the server runs it in `seq` order only.

/// The outcome of merging a client's body into the server's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteMerge {
    /// The edits did not overlap: the combined text.
    Clean(String),
    /// Overlapping edits: the server keeps `ours`; the client's text becomes a conflict record.
    Conflict,
}

/// Merges `theirs` (the pushed body) into `ours` (the server's current body), both edited from
/// `base`.
pub fn merge3(base: &str, ours: &str, theirs: &str) -> NoteMerge {
    if ours == theirs || base == theirs {
        return NoteMerge::Clean(ours.to_string());
    }
    if base == ours {
        return NoteMerge::Clean(theirs.to_string());
    }
    // diffy works on lines; a text without a final newline gets one for the merge and keeps
    // its own ending afterwards.
    let nl = |s: &str| {
        if s.ends_with('\n') {
            s.to_string()
        } else {
            format!("{s}\n")
        }
    };
    match diffy::merge(&nl(base), &nl(ours), &nl(theirs)) {
        Ok(mut merged) => {
            if !(ours.ends_with('\n') || theirs.ends_with('\n')) && merged.ends_with('\n') {
                merged.pop();
            }
            NoteMerge::Clean(merged)
        }
        Err(_) => NoteMerge::Conflict,
    }
}

/// Whether every line of `part` appears in `whole`, in order (a subsequence of lines).
pub fn contains_lines(whole: &str, part: &str) -> bool {
    let mut lines = whole.lines();
    part.lines().all(|p| lines.any(|w| w == p))
}
