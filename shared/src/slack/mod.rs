//! Slack: the Web API calls elastic-jit makes with its bot token ([`client`]), the check of the
//! interactivity requests Slack signs with the app's signing secret ([`signature`]), and the
//! approve/reject buttons those requests carry ([`interactions`]).

pub mod client;
pub mod interactions;
pub mod signature;

pub use client::{SlackClient, SlackError, SlackUser};

/// Text as Slack shows it literally: `&`, `<` and `>` escaped, as Slack's message formatting
/// requires, so text a requester wrote (a justification) cannot mention `<!channel>`, a user
/// or a disguised link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack refuses a section block whose text is longer than this (a bundle of ten items, each
/// with many resources, can say more): the message would never arrive.
pub const SECTION_TEXT_MAX: usize = 3000;

/// `text` (escaped) cut to fit a section block, never inside an entity, saying so at its end.
pub fn fit_section(text: String) -> String {
    const MORE: &str = "\n… (cut here: the portal shows it all)";
    if text.chars().count() <= SECTION_TEXT_MAX {
        return text;
    }
    let keep = SECTION_TEXT_MAX - MORE.chars().count();
    let mut cut: String = text.chars().take(keep).collect();
    // `&amp;`, `&lt;`, `&gt;` are whole or absent.
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push_str(MORE);
    cut
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn mentions_and_links_are_shown_not_acted_on() {
        assert_eq!(
            super::escape("INC-1 <!channel> <https://evil.example|docs> & more"),
            "INC-1 &lt;!channel&gt; &lt;https://evil.example|docs&gt; &amp; more"
        );
    }
}
