use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init_tracing();
    let app = cleanup::App::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let budget = cleanup::time_left(event.context.deadline, now_ms);
        app.handle(event.payload, Instant::now() + budget)
    }))
    .await
}
