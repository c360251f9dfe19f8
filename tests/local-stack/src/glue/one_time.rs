//! EventBridge Scheduler one-time schedules: `at(yyyy-mm-ddThh:mm:ss)` in the schedule's time
//! zone (UTC is the only one the stack creates; others are skipped with a warning). A due,
//! enabled schedule invokes its target with its `Input` (parsed as JSON, as Scheduler delivers
//! a JSON input to Lambda); after a success, `ActionAfterCompletion: DELETE` deletes it, and
//! a schedule that stays is never fired twice. A failed delivery is retried on the next polls,
//! at most [`MAX_ATTEMPTS`] times (Scheduler retries too, with its own policy).

use std::collections::{HashMap, HashSet};

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{ActionAfterCompletion, ScheduleState};
use chrono::{NaiveDateTime, Utc};
use serde_json::Value;

use super::{Fired, FiredLog, Trigger};
use crate::invoke::Invoker;

pub const MAX_ATTEMPTS: u32 = 3;

/// Parse `at(2026-11-23T18:00:00)`.
pub fn parse_at(expr: &str) -> Option<NaiveDateTime> {
    let inner = expr.trim().strip_prefix("at(")?.strip_suffix(')')?;
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()
}

#[derive(Default)]
pub struct OneTime {
    done: HashSet<String>,
    attempts: HashMap<String, u32>,
    warned: HashSet<String>,
}

impl OneTime {
    fn warn_once(&mut self, name: &str, why: &str) {
        if self.warned.insert(name.to_string()) {
            tracing::warn!(schedule = name, why, "one-time schedule not fired");
        }
    }

    pub async fn tick(
        &mut self,
        scheduler: &Client,
        group: &str,
        targets: &HashMap<String, String>,
        invoker: &dyn Invoker,
        log: &FiredLog,
    ) {
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let listed = scheduler
                .list_schedules()
                .group_name(group)
                .set_next_token(next.clone())
                .send()
                .await;
            let page = match listed {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_scheduler::error::DisplayErrorContext(e), "listing schedules");
                    return;
                }
            };
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_string)),
            );
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        let now = Utc::now().naive_utc();
        for name in names {
            if self.done.contains(&name) {
                continue;
            }
            let Ok(s) = scheduler
                .get_schedule()
                .group_name(group)
                .name(&name)
                .send()
                .await
            else {
                // Deleted between list and get (e.g. revoked by hand): nothing to fire.
                continue;
            };
            if s.state() == Some(&ScheduleState::Disabled) {
                continue;
            }
            let Some(expr) = s.schedule_expression() else {
                continue;
            };
            let Some(at) = parse_at(expr) else {
                // rate()/cron() schedules in the group are not one-time schedules.
                continue;
            };
            let tz = s.schedule_expression_timezone().unwrap_or("UTC");
            if tz != "UTC" && tz != "Etc/UTC" {
                self.warn_once(&name, "only UTC schedules are fired locally");
                continue;
            }
            if at > now {
                continue;
            }
            let Some(target) = s.target() else {
                continue;
            };
            let Some(function) = targets.get(target.arn()) else {
                self.warn_once(&name, "its target is not a function of this stack");
                continue;
            };
            let input = target
                .input()
                .map(|i| serde_json::from_str(i).unwrap_or_else(|_| Value::String(i.into())))
                .unwrap_or_else(|| Value::Object(Default::default()));
            let outcome = invoker
                .invoke(function, &input)
                .await
                .map_err(|e| e.to_string());
            let ok = outcome.is_ok();
            log.push(Fired {
                at: Utc::now(),
                trigger: Trigger::OneTime {
                    schedule: name.clone(),
                },
                function: function.clone(),
                outcome,
            });
            if ok {
                self.done.insert(name.clone());
                if s.action_after_completion() == Some(&ActionAfterCompletion::Delete) {
                    let _ = scheduler
                        .delete_schedule()
                        .group_name(group)
                        .name(&name)
                        .send()
                        .await;
                }
            } else {
                let n = self.attempts.entry(name.clone()).or_default();
                *n += 1;
                if *n >= MAX_ATTEMPTS {
                    tracing::warn!(schedule = %name, "one-time schedule failed {MAX_ATTEMPTS} times; giving up");
                    self.done.insert(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_expressions_parse() {
        let t = parse_at("at(2026-11-23T18:00:00)").unwrap();
        assert_eq!(t.to_string(), "2026-11-23 18:00:00");
        assert!(parse_at("rate(5 minutes)").is_none());
        assert!(parse_at("at(tomorrow)").is_none());
    }
}
