use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::services::invocation_deadline;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init_tracing();
    let app = discover::App::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let deadline = invocation_deadline(event.context.deadline);
        app.handle_within(event.payload, deadline)
    }))
    .await
}
