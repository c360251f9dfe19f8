//! Wildcard matching for index expressions, role index patterns, privilege action
//! patterns and control-endpoint paths.

/// Matches `text` against `pattern`, where `*` matches any run of characters and, when
/// `question_mark` is set, `?` matches exactly one character.
pub fn matches_with(pattern: &str, text: &str, question_mark: bool) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position of the last `*` seen and where in `text` it started matching, so a failed
    // literal match can backtrack by letting that star absorb one more character.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] || (question_mark && p[pi] == b'?')) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// `*`-only matching, as index expressions and control paths use.
pub fn matches(pattern: &str, text: &str) -> bool {
    matches_with(pattern, text, false)
}

/// Role index patterns are Lucene automatons: both `*` and `?` are wildcards.
pub fn role_pattern_matches(pattern: &str, name: &str) -> bool {
    matches_with(pattern, name, true)
}

pub fn has_wildcard(expr: &str) -> bool {
    expr.contains('*')
}

/// Whether every name the (possibly wildcarded) `requested` pattern can match is also
/// matched by `grant`. Treating the requested wildcards as literal characters that only a
/// grant's `*` can absorb gives the subset answer for the patterns roles use in practice.
pub fn covers(grant: &str, requested: &str) -> bool {
    let g = grant.as_bytes();
    let r = requested.as_bytes();
    let (mut gi, mut ri) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ri < r.len() {
        // A requested wildcard is only covered by the same wildcard or a grant `*`;
        // a grant `?` covers any single literal character.
        let requested_wild = r[ri] == b'*' || r[ri] == b'?';
        let literal_ok =
            gi < g.len() && g[gi] != b'*' && (g[gi] == r[ri] || (g[gi] == b'?' && !requested_wild));
        if literal_ok {
            gi += 1;
            ri += 1;
        } else if gi < g.len() && g[gi] == b'*' {
            star = Some((gi, ri));
            gi += 1;
        } else if let Some((sg, sr)) = star {
            gi = sg + 1;
            ri = sr + 1;
            star = Some((sg, sr + 1));
        } else {
            return false;
        }
    }
    while gi < g.len() && g[gi] == b'*' {
        gi += 1;
    }
    gi == g.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(matches("logs-*", "logs-2026.11"));
        assert!(!matches("logs-*", "secrets-1"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a?c", "abc"));
        assert!(role_pattern_matches("a?c", "abc"));
    }

    #[test]
    fn subset_of_patterns() {
        assert!(covers("*", "*"));
        assert!(covers("logs-*", "logs-2026*"));
        assert!(!covers("logs-*", "*"));
        assert!(!covers("index-a", "*"));
        assert!(covers("index-a", "index-a"));
        assert!(!covers("a?", "a*"));
    }
}
