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
