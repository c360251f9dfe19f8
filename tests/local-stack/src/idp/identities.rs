//! The demo identities one can log in as. Subjects and emails match the Elasticsearch and
//! Elastic Cloud emulators' demo seeds (alice owns `logs-*` and `prod-search`, bob is the Cloud
//! member `bob-1`). Two identities exist only to show the security rules at work.

/// A person the development identity provider can issue tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// What one picks on the login page.
    pub login: &'static str,
    pub sub: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub email_verified: bool,
    /// Issued as a JSON array, exactly as listed.
    pub groups: &'static [&'static str],
    /// One line for the login page and the demo's summary.
    pub role: &'static str,
}

pub const ADMIN: Identity = Identity {
    login: "admin",
    sub: "5f1c2d3e-admin",
    name: "Ada Admin",
    email: "admin@example.com",
    email_verified: true,
    groups: &["jit-admins", "platform"],
    role: "administrator (group jit-admins): manages integrations and access flows",
};

pub const ALICE: Identity = Identity {
    login: "alice",
    sub: "1b2c3d4e-alice",
    name: "Alice Owner",
    email: "alice@example.com",
    email_verified: true,
    groups: &["search-platform", "leads"],
    role: "resource owner of logs-* and of the Cloud deployment prod-search: approves",
};

pub const DEV: Identity = Identity {
    login: "dev",
    sub: "8a7b6c5d-dev",
    name: "Dana Developer",
    email: "dev@example.com",
    email_verified: true,
    groups: &["developers"],
    role: "requester (group developers)",
};

pub const BOB: Identity = Identity {
    login: "bob",
    sub: "3c4d5e6f-bob",
    name: "Bob Builder",
    email: "bob@example.com",
    email_verified: true,
    groups: &["developers"],
    role: "requester (group developers), member bob-1 of the Elastic Cloud organization",
};

/// Claims alice's email without having verified it: must never count as alice (no approving
/// alice's resources, no alice-named accounts, no Cloud membership).
pub const EVE: Identity = Identity {
    login: "eve",
    sub: "9e8d7c6b-eve",
    name: "Eve Unverified",
    email: "alice@example.com",
    email_verified: false,
    groups: &["developers"],
    role: "requester whose email (alice@example.com) is NOT verified: it must count for nothing",
};

/// One group whose name contains a space. API Gateway flattens it to `"[developers jit-admins]"`,
/// the same text as two groups `developers` and `jit-admins`: she must never pass as an admin.
pub const CAROL: Identity = Identity {
    login: "carol",
    sub: "2d3e4f5a-carol",
    name: "Carol Spaces",
    email: "carol@example.com",
    email_verified: true,
    groups: &["developers jit-admins"],
    role: "member of ONE group named \"developers jit-admins\" (a space in the name): not an admin",
};

pub const IDENTITIES: [Identity; 6] = [ADMIN, ALICE, DEV, BOB, EVE, CAROL];

pub fn by_login(login: &str) -> Option<Identity> {
    IDENTITIES.iter().copied().find(|i| i.login == login)
}
