//! The most calls each operation may make. The counts are exact (the emulators' request logs
//! and the counting proxy in front of moto), so they are asserted, not sampled: the suite's
//! budget test and `bash tests/bench.sh` both fail when one is exceeded.

use serde::Serialize;

/// What one operation may cost. `None`: not bounded here.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Budget {
    pub op: &'static str,
    /// DynamoDB calls of any kind.
    pub dynamodb: Option<usize>,
    /// `GetSecretValue` calls (a warm function reads the connector secret from its cache).
    pub secret_reads: Option<usize>,
    /// Elasticsearch or Elastic Cloud requests.
    pub target: Option<usize>,
    /// `GetItem` calls: a sweep reads what it works on in batches, never one item at a time.
    pub single_reads: Option<usize>,
}

const fn budget(op: &'static str, dynamodb: usize, secret_reads: usize, target: usize) -> Budget {
    Budget {
        op,
        dynamodb: Some(dynamodb),
        secret_reads: Some(secret_reads),
        target: Some(target),
        single_reads: None,
    }
}

/// Approve + provision: read the request (1), read the integration, flow and account together
/// (1), record the approval and take the account's lease in one transaction (1), record the
/// grant and release the lease in one transaction (1).
/// Target requests for a new account: look it up (never take over an existing user), create
/// the grant's role, create the user (+ grant the API key).
pub const APPROVE_USER: Budget = budget("approve+provision (user)", 4, 0, 3);
pub const APPROVE_API_KEY: Budget = budget("approve+provision (api_key)", 4, 0, 4);
/// Revoke: read the request (1) and the integration (1), take the lease with the update that
/// returns the account (1), record the outcome and release the lease together (1).
pub const REVOKE_USER: Budget = budget("revoke (user)", 4, 0, 2);
pub const REVOKE_API_KEY: Budget = budget("revoke (api_key)", 4, 0, 3);

/// A sweep of `n` overdue grants over `integrations` integrations: two writes per grant (the
/// lease that returns the account, the outcome that releases it), one due-index page and at
/// most one batch read of their integrations per 100, one query per other phase; no
/// `GetItem`, and each connector secret read at most once per run.
pub fn sweep(n: usize, integrations: usize) -> Budget {
    // A full page of the due index answers with a next-page key, so 100 grants take 2 pages.
    let pages = n / 100 + 1;
    Budget {
        op: "sweep",
        dynamodb: Some(2 * n + 2 * pages + SWEEP_PHASES),
        secret_reads: Some(integrations),
        target: None,
        single_reads: Some(0),
    }
}

/// Queries the sweep's other phases make when they find nothing to do: the expiry warning's
/// look-ahead, failed revocations, stale pending (and escalations), revoked bundles to settle,
/// scheduled starts to arm again, stuck approved, failed provisions to settle, the
/// integrations (listed once per run), idle accounts, and the orphan sweep's record reads
/// (accounts, approved, active and failed grants).
pub const SWEEP_PHASES: usize = 13;

/// Counts measured for one operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub dynamodb: usize,
    pub secret_reads: usize,
    pub target: usize,
    pub single_reads: usize,
}

/// Every way `counts` exceeds `budget`, as readable lines.
pub fn over(budget: &Budget, counts: &Counts) -> Vec<String> {
    let checks = [
        ("DynamoDB calls", budget.dynamodb, counts.dynamodb),
        (
            "Secrets Manager reads",
            budget.secret_reads,
            counts.secret_reads,
        ),
        ("target requests", budget.target, counts.target),
        (
            "single-item reads",
            budget.single_reads,
            counts.single_reads,
        ),
    ];
    checks
        .iter()
        .filter_map(|(what, max, got)| {
            max.filter(|m| got > m)
                .map(|m| format!("{}: {got} {what}, budget {m}", budget.op))
        })
        .collect()
}
