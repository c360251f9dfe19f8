use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use proxy::config::{Settings, build, listen_addr, server_config};
use proxy::serve::audit::Stdout;
use shared::driver::http::HttpClients;
use shared::secrets::SecretsManager;
use shared::store::DynamoStore;

/// `proxy --serve` runs the standalone server; without it, the Lambda handler.
#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init_tracing();
    let settings = Settings::from_env()?;
    // Read before anything is built, so a bad limit fails at once, naming its variable.
    let server = if std::env::args().any(|a| a == "--serve") {
        Some(server_config()?)
    } else {
        None
    };
    let aws = shared::config::aws_sdk_config().await;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        shared::config::required("TABLE_NAME")?,
    ));
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        &aws,
    )));
    let proxy = Arc::new(
        build(
            &settings,
            store,
            secrets,
            Arc::new(HttpClients::new()?),
            Arc::new(Stdout),
            Arc::new(shared::SystemClock),
        )
        .await?,
    );
    if let Some(config) = server {
        proxy::server::run(proxy, listen_addr()?, config).await?;
        return Ok(());
    }
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let proxy = proxy.clone();
        async move { Ok::<_, Error>(proxy::lambda::handle(&proxy, event.payload).await) }
    }))
    .await
}
