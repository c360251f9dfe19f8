//! Index expressions as the REST layer accepts them: comma lists, `*` wildcards, exclusions
//! (`-foo*`, only after a wildcard), `_all`, and date math (`<logs-{now/d}>`).
//!
//! Sources: "Multi-target syntax" and "Date math support in index and index alias names" in the
//! Elasticsearch REST API conventions (api-conventions.html); index-name rules from the create
//! index API ("Index names must meet the following criteria").

use chrono::{DateTime, Datelike, Duration, Months, NaiveTime, TimeZone, Timelike, Utc};

/// One element of a comma-separated index expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexExpr {
    /// A concrete name (index, alias or data stream).
    Name(String),
    /// A pattern with `*`.
    Wildcard(String),
    /// `-pattern`: removes earlier wildcard matches.
    Exclude(String),
    /// `<static{now/d}>`: resolved against the catalog's clock at authorization time.
    DateMath(String),
    /// `_all`, `*` or an empty target: every index the caller may see.
    All,
}

impl IndexExpr {
    pub fn is_concrete(&self) -> bool {
        matches!(self, Self::Name(_) | Self::DateMath(_))
    }
}

/// Why an expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("invalid index name [{0}]")]
    InvalidName(String),
    #[error("remote cluster and selector expressions are not supported through the proxy: [{0}]")]
    Remote(String),
    #[error("exclusion [{0}] must follow a wildcard expression")]
    DanglingExclusion(String),
    #[error("unsupported date math expression [{0}]")]
    DateMath(String),
}

/// Parses a decoded, comma-separated expression list. An empty list means all indices.
pub fn parse_list(raw: &str) -> Result<Vec<IndexExpr>, ExprError> {
    if raw.is_empty() {
        return Ok(vec![IndexExpr::All]);
    }
    let mut out = Vec::with_capacity(raw.bytes().filter(|b| *b == b',').count() + 1);
    for part in split_top_level(raw) {
        out.push(parse_one(
            part,
            out.iter()
                .any(|e| matches!(e, IndexExpr::Wildcard(_) | IndexExpr::All)),
        )?);
    }
    Ok(out)
}

/// Splits on commas that are not inside a date-math `<...>` (whose format may hold commas).
fn split_top_level(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in raw.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&raw[start..]);
    parts
}

fn parse_one(part: &str, after_wildcard: bool) -> Result<IndexExpr, ExprError> {
    if part == "_all" || part == "*" {
        return Ok(IndexExpr::All);
    }
    if part.starts_with('<') && part.ends_with('>') && part.len() > 2 {
        return Ok(IndexExpr::DateMath(part[1..part.len() - 1].to_owned()));
    }
    if part.contains(':') {
        // `cluster:index` (cross-cluster search) and `index::failures` (selectors) reach beyond
        // what a grant names; never forward them.
        return Err(ExprError::Remote(part.to_owned()));
    }
    if let Some(rest) = part.strip_prefix('-') {
        // ES treats `-x` as an exclusion only after a wildcard; otherwise it is a (now invalid)
        // literal name.
        if !after_wildcard {
            return Err(ExprError::DanglingExclusion(part.to_owned()));
        }
        check_chars(rest, true)?;
        return Ok(IndexExpr::Exclude(rest.to_owned()));
    }
    check_chars(part, true)?;
    if part.contains('*') {
        Ok(IndexExpr::Wildcard(part.to_owned()))
    } else {
        if part.starts_with(['_', '+']) || part == "." || part == ".." {
            return Err(ExprError::InvalidName(part.to_owned()));
        }
        Ok(IndexExpr::Name(part.to_owned()))
    }
}

/// ES index names: lowercase, none of `\ / * ? " < > | space , #` (`*` allowed in patterns),
/// at most 255 bytes.
fn check_chars(name: &str, allow_star: bool) -> Result<(), ExprError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.chars().any(|c| {
            c.is_uppercase()
                || c.is_control()
                || matches!(
                    c,
                    '\\' | '/' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                )
                || (c == '*' && !allow_star)
        });
    if bad {
        Err(ExprError::InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
}

/// Resolves the inside of `<...>` at `now`: static text plus `{now[+-N unit][/unit][{format}]}`
/// blocks. Time zones (`|+01:00`) and escaped braces are refused rather than half-supported.
pub fn resolve_date_math(inner: &str, now: DateTime<Utc>) -> Result<String, ExprError> {
    let err = || ExprError::DateMath(inner.to_owned());
    let mut out = String::with_capacity(inner.len() + 8);
    let mut rest = inner;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let block = &rest[open + 1..];
        // The block ends at the `}` that closes it, skipping one nested `{format}`.
        let (math, format, consumed) = match (block.find('{'), block.find('}')) {
            (Some(f), Some(c)) if f < c => {
                let fmt_end = block[f..].find('}').ok_or_else(err)? + f;
                if block.as_bytes().get(fmt_end + 1) != Some(&b'}') {
                    return Err(err());
                }
                (&block[..f], Some(&block[f + 1..fmt_end]), fmt_end + 2)
            }
            (_, Some(c)) => (&block[..c], None, c + 1),
            _ => return Err(err()),
        };
        let at = eval_math(math, now).ok_or_else(err)?;
        out.push_str(&format_java(at, format.unwrap_or("yyyy.MM.dd")).ok_or_else(err)?);
        rest = &block[consumed..];
    }
    if rest.contains('}') || inner.contains('\\') {
        return Err(err());
    }
    out.push_str(rest);
    check_chars(&out, false).map_err(|_| err())?;
    Ok(out)
}

fn eval_math(math: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut expr = math.strip_prefix("now")?;
    let mut at = now;
    while !expr.is_empty() {
        let op = expr.as_bytes()[0];
        expr = &expr[1..];
        match op {
            b'+' | b'-' => {
                let digits = expr.bytes().take_while(u8::is_ascii_digit).count();
                let n: u32 = expr[..digits].parse().ok()?;
                let unit = *expr.as_bytes().get(digits)?;
                expr = &expr[digits + 1..];
                at = shift(at, n, unit, op == b'-')?;
            }
            b'/' => {
                let unit = *expr.as_bytes().first()?;
                expr = &expr[1..];
                at = round_down(at, unit)?;
            }
            _ => return None,
        }
    }
    Some(at)
}

fn shift(at: DateTime<Utc>, n: u32, unit: u8, minus: bool) -> Option<DateTime<Utc>> {
    if let b'y' | b'M' = unit {
        let months = Months::new(if unit == b'y' { n.checked_mul(12)? } else { n });
        return if minus {
            at.checked_sub_months(months)
        } else {
            at.checked_add_months(months)
        };
    }
    let d = match unit {
        b'w' => Duration::try_weeks(n.into())?,
        b'd' => Duration::try_days(n.into())?,
        b'h' | b'H' => Duration::try_hours(n.into())?,
        b'm' => Duration::try_minutes(n.into())?,
        b's' => Duration::try_seconds(n.into())?,
        _ => return None,
    };
    if minus {
        at.checked_sub_signed(d)
    } else {
        at.checked_add_signed(d)
    }
}

fn round_down(at: DateTime<Utc>, unit: u8) -> Option<DateTime<Utc>> {
    let date = at.date_naive();
    let (date, time) = match unit {
        b'y' => (date.with_day(1)?.with_month(1)?, NaiveTime::MIN),
        b'M' => (date.with_day(1)?, NaiveTime::MIN),
        b'w' => (
            date - Duration::days(date.weekday().num_days_from_monday().into()),
            NaiveTime::MIN,
        ),
        b'd' => (date, NaiveTime::MIN),
        b'h' | b'H' => (date, NaiveTime::from_hms_opt(at.hour(), 0, 0)?),
        b'm' => (date, NaiveTime::from_hms_opt(at.hour(), at.minute(), 0)?),
        b's' => (
            date,
            NaiveTime::from_hms_opt(at.hour(), at.minute(), at.second())?,
        ),
        _ => return None,
    };
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

/// The subset of Java date patterns index names use: `yyyy yy MM dd HH mm ss` and `. - _`.
fn format_java(at: DateTime<Utc>, pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 2);
    let mut rest = pattern;
    while !rest.is_empty() {
        let (text, len) = if rest.starts_with("yyyy") || rest.starts_with("uuuu") {
            (format!("{:04}", at.year()), 4)
        } else if rest.starts_with("yy") {
            (format!("{:02}", at.year() % 100), 2)
        } else if rest.starts_with("MM") {
            (format!("{:02}", at.month()), 2)
        } else if rest.starts_with("dd") {
            (format!("{:02}", at.day()), 2)
        } else if rest.starts_with("HH") {
            (format!("{:02}", at.hour()), 2)
        } else if rest.starts_with("mm") {
            (format!("{:02}", at.minute()), 2)
        } else if rest.starts_with("ss") {
            (format!("{:02}", at.second()), 2)
        } else if let Some(c @ ('.' | '-' | '_')) = rest.chars().next() {
            (c.to_string(), 1)
        } else {
            return None;
        };
        out.push_str(&text);
        rest = &rest[len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 7, 13, 45, 10).unwrap()
    }

    #[test]
    fn date_math_forms() {
        let cases = [
            ("logs-{now/d}", "logs-2026.03.07"),
            ("logs-{now/M{yyyy.MM}}", "logs-2026.03"),
            ("logs-{now-1d/d}", "logs-2026.03.06"),
            ("logs-{now-1M/d{yyyy.MM.dd}}", "logs-2026.02.07"),
            ("logs-{now/w}", "logs-2026.03.02"),
            ("logs-{now+1y/y{yyyy}}", "logs-2027"),
            ("static", "static"),
        ];
        for (inner, want) in cases {
            assert_eq!(
                resolve_date_math(inner, now()).as_deref(),
                Ok(want),
                "{inner}"
            );
        }
        for bad in [
            "logs-{now/d{yyyy.MM.dd|+01:00}}",
            "logs-{then}",
            "logs-{now/q}",
            "a{now/d}}",
            "L-{now/d}",
            "x-{now/d{EEE}}",
        ] {
            assert!(resolve_date_math(bad, now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("").unwrap(), vec![IndexExpr::All]);
        assert_eq!(
            parse_list("a*,-ab,b").unwrap(),
            vec![
                IndexExpr::Wildcard("a*".into()),
                IndexExpr::Exclude("ab".into()),
                IndexExpr::Name("b".into())
            ]
        );
        assert!(parse_list("-a").is_err());
        assert!(parse_list("remote:a").is_err());
        assert!(parse_list("A").is_err());
        assert_eq!(parse_list("<l-{now/d{yyyy,MM}}>,b").unwrap().len(), 2);
    }
}
