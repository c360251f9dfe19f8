//! Validation errors for everything a user can configure. Each error carries a stable `code`
//! (clients match on it), the `field` it concerns (JSON path) and a readable `message`.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

/// All problems found in one input, so a user fixes them in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn push(&mut self, code: &'static str, field: impl Into<String>, msg: impl Into<String>) {
        self.0.push(FieldError::new(code, field, msg));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.code).collect()
    }

    pub fn has(&self, code: &str) -> bool {
        self.0.iter().any(|e| e.code == code)
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// Names of integrations and flows: letters, digits, `-`, `_`; 1–64 characters.
pub fn check_name(errors: &mut ValidationErrors, field: &str, value: &str) {
    let ok = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        errors.push(
            "invalid_name",
            field,
            format!(
                "{field} must be 1 to 64 characters of letters, digits, '-' or '_' (got {value:?})"
            ),
        );
    }
}

/// What a text field may hold besides printable characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Names, labels, identifiers: printable characters only.
    Label,
    /// Justifications and reasons: also line breaks and tabs, since people paste ticket text.
    /// Carriage returns stay out (they rewrite lines in terminals and text logs).
    FreeText,
}

/// The first character `kind` does not allow in `value`: control characters (NUL, escape,
/// DEL, C1 controls, …) and the bidirectional overrides that make text display as something
/// other than what it is.
pub fn forbidden_char(value: &str, kind: TextKind) -> Option<char> {
    value.chars().find(|&c| {
        let allowed_control = kind == TextKind::FreeText && (c == '\n' || c == '\t');
        (c.is_control() && !allowed_control)
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

/// Push a `control_character` error when `value` holds a character `kind` does not allow.
pub fn check_text(errors: &mut ValidationErrors, field: &str, value: &str, kind: TextKind) {
    if let Some(c) = forbidden_char(value, kind) {
        errors.push(
            "control_character",
            field,
            format!(
                "{field} contains the control or direction character U+{:04X}; {}",
                u32::from(c),
                match kind {
                    TextKind::Label => "only printable characters are allowed",
                    TextKind::FreeText =>
                        "only printable characters, line breaks and tabs are allowed",
                }
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_direction_characters_are_refused() {
        for bad in [
            "a\0b",
            "a\u{1b}[31m",
            "a\rb",
            "x\u{7f}",
            "a\u{85}",
            "evil\u{202E}txt.exe",
            "\u{2066}x",
        ] {
            for kind in [TextKind::Label, TextKind::FreeText] {
                let mut e = ValidationErrors::default();
                check_text(&mut e, "reason", bad, kind);
                assert_eq!(e.codes(), ["control_character"], "{bad:?} as {kind:?}");
            }
        }
        assert_eq!(
            forbidden_char("line 1\n\tline 2 – ünïcödé", TextKind::FreeText),
            None
        );
        assert_eq!(forbidden_char("a\nb", TextKind::Label), Some('\n'));
    }
}
