//! Caller-controlled text cut to a bound before it is echoed or logged: a 400 KB request line
//! must make neither a 400 KB answer nor a 400 KB log line.

/// `s` cut to at most `max` bytes (on a character boundary), marked with `...` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(clip("/logs/_search", 256), "/logs/_search");
        let long = format!("/{}", "é".repeat(400));
        let cut = clip(&long, 256);
        assert!(cut.len() <= 256 + 3, "{}", cut.len());
        assert!(cut.ends_with("..."));
        assert!(long.starts_with(cut.trim_end_matches("...")));
    }
}
