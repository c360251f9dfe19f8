//! Name rules shared by users and roles (`Validation.java`, `NativeRealmValidationUtil`).

/// The native realm's limit: the document id `user-<name>` must fit in 512 bytes.
pub const MAX_NAME_LENGTH: usize = 507;

pub const MIN_PASSWORD_LENGTH: usize = 6;

pub fn is_valid_name(name: &str) -> bool {
    let len = name.chars().count();
    (1..=MAX_NAME_LENGTH).contains(&len)
        && name.chars().all(|c| (' '..='~').contains(&c))
        && !name.starts_with(' ')
        && !name.ends_with(' ')
}

/// `subject` is "User names" or "Role names".
pub fn name_rule_message(subject: &str) -> String {
    format!(
        "{subject} must be at least 1 and no more than {MAX_NAME_LENGTH} characters. They can contain alphanumeric characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in the Basic Latin (ASCII) block. Leading or trailing whitespace is not allowed."
    )
}

pub fn password_too_short() -> String {
    format!("passwords must be at least [{MIN_PASSWORD_LENGTH}] characters long")
}
