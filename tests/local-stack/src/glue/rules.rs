//! The template's schedule triggers (EventBridge rules): `rate(N unit)` fires every N units
//! after the stack starts; `cron(min hour day-of-month month day-of-week year)` at its times
//! (UTC, AWS's six fields, `?` allowed). Both run on a clock `speedup` times faster than real
//! time, so a 5-minute sweep can fire every 30 seconds in a demo. The event is the one
//! EventBridge sends a Lambda target for a scheduled rule.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Fired, FiredLog, Trigger};
use crate::invoke::Invoker;
use crate::template::ScheduleRule;

#[derive(Debug, Clone, PartialEq)]
pub enum Every {
    Rate(Duration),
    Cron(Box<cron::Schedule>),
}

/// Parse `rate(5 minutes)`, `rate(1 hour)`, `cron(15 3 * * ? *)`.
pub fn parse(expr: &str) -> Option<Every> {
    let expr = expr.trim();
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let (n, unit) = inner.trim().split_once(' ')?;
        let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
        let secs = match unit.trim() {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            "day" | "days" => 86400,
            _ => return None,
        };
        return Some(Every::Rate(Duration::from_secs(n * secs)));
    }
    let inner = expr.strip_prefix("cron(")?.strip_suffix(')')?;
    if inner.split_whitespace().count() != 6 {
        return None;
    }
    // The cron crate wants seconds first: AWS expressions fire at second 0.
    cron::Schedule::from_str(&format!("0 {inner}"))
        .ok()
        .map(|s| Every::Cron(Box::new(s)))
}

struct Rule {
    rule: ScheduleRule,
    every: Every,
    /// The next firing, on the simulated clock.
    next: DateTime<Utc>,
}

/// The simulated clock and the rules' next firings.
pub struct RuleClock {
    real_start: Instant,
    sim_start: DateTime<Utc>,
    speedup: f64,
    rules: Vec<Rule>,
}

impl RuleClock {
    pub fn new(rules: &[ScheduleRule], speedup: f64) -> Self {
        let sim_start = Utc::now();
        let speedup = if speedup.is_finite() && speedup >= 1.0 {
            speedup
        } else {
            1.0
        };
        let rules = rules
            .iter()
            .filter_map(|r| match parse(&r.expression) {
                Some(every) => {
                    let next = next_after(&every, sim_start)?;
                    Some(Rule {
                        rule: r.clone(),
                        every,
                        next,
                    })
                }
                None => {
                    tracing::warn!(rule = %r.name, expression = %r.expression, "schedule expression not understood; it will not fire");
                    None
                }
            })
            .collect();
        Self {
            real_start: Instant::now(),
            sim_start,
            speedup,
            rules,
        }
    }

    /// Now, on the simulated clock.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.real_start.elapsed().mul_f64(self.speedup);
        self.sim_start + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    /// When each rule fires next (simulated time), for the demo's summary.
    pub fn next_firings(&self) -> Vec<(String, String, DateTime<Utc>)> {
        self.rules
            .iter()
            .map(|r| (r.rule.name.clone(), r.rule.function.clone(), r.next))
            .collect()
    }

    pub async fn tick(&mut self, invoker: &dyn Invoker, log: &FiredLog) {
        let now = self.now();
        for r in &mut self.rules {
            if r.next > now {
                continue;
            }
            let event = scheduled_event(&r.rule.name);
            let outcome = invoker
                .invoke(&r.rule.function, &event)
                .await
                .map_err(|e| e.to_string());
            log.push(Fired {
                at: Utc::now(),
                trigger: Trigger::Rule {
                    name: r.rule.name.clone(),
                },
                function: r.rule.function.clone(),
                outcome,
            });
            // Missed firings (a long invocation) collapse into one, as a rule does not queue.
            let mut next = next_after(&r.every, r.next);
            while let Some(n) = next.filter(|n| *n <= now) {
                next = next_after(&r.every, n);
            }
            r.next = next.unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
    }
}

fn next_after(every: &Every, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match every {
        Every::Rate(d) => Some(t + chrono::Duration::from_std(*d).ok()?),
        Every::Cron(s) => s.after(&t).next(),
    }
}

/// The event EventBridge delivers to a Lambda target of a scheduled rule.
pub fn scheduled_event(rule: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/elastic-jit-local-{rule}")],
        "detail": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_cron_expressions_parse() {
        assert_eq!(
            parse("rate(5 minutes)"),
            Some(Every::Rate(Duration::from_secs(300)))
        );
        assert_eq!(
            parse("rate(1 hour)"),
            Some(Every::Rate(Duration::from_secs(3600)))
        );
        assert!(parse("rate(0 minutes)").is_none());
        assert!(parse("rate(5 fortnights)").is_none());
        let Some(Every::Cron(c)) = parse("cron(15 3 * * ? *)") else {
            panic!("cron not parsed");
        };
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            c.after(&t).next().unwrap().to_rfc3339(),
            "2026-11-24T03:15:00+00:00"
        );
        assert!(parse("cron(15 3 * *)").is_none());
    }

    #[test]
    fn the_clock_runs_faster() {
        let c = RuleClock::new(&[], 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!((c.now() - c.sim_start).num_seconds() >= 19);
    }
}
