use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init_tracing();
    let app = portal::App::from_env()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let answer = app.handle(&event.payload);
        async move { Ok::<_, Error>(answer) }
    }))
    .await
}
