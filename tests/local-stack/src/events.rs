//! The sample events from `events/`.

use serde_json::Value;

use crate::StoryError;
use crate::stack::workspace_root;

/// A sample event from `events/<name>`.
pub fn sample(name: &str) -> Result<Value, StoryError> {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| StoryError::setup(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| StoryError::setup(format!("{}: not JSON: {e}", path.display())))
}
