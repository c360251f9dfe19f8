//! Duration strings as Elastic Cloud clients send them (`"3d"`, `"72h"`, `"1h30m"`).

use chrono::TimeDelta;

/// Parses one or more `<number><unit>` groups, units `s`, `m`, `h`, `d`, `w`.
pub fn parse(text: &str) -> Option<TimeDelta> {
    let mut total = TimeDelta::zero();
    let mut digits = String::new();
    let mut groups = 0;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let part = match c {
            's' => TimeDelta::try_seconds(n)?,
            'm' => TimeDelta::try_minutes(n)?,
            'h' => TimeDelta::try_hours(n)?,
            'd' => TimeDelta::try_days(n)?,
            'w' => TimeDelta::try_weeks(n)?,
            _ => return None,
        };
        total = total.checked_add(&part)?;
        groups += 1;
    }
    if !digits.is_empty() || groups == 0 || total <= TimeDelta::zero() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clients_send() {
        assert_eq!(parse("3d"), TimeDelta::try_days(3));
        assert_eq!(parse("72h"), TimeDelta::try_hours(72));
        assert_eq!(parse("1h30m"), TimeDelta::try_minutes(90));
        for bad in ["", "3", "d", "3x", "0d", "-1d", "3 d"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
