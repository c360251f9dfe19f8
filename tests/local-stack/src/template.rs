//! What the local stack reads from `infra/template.yaml`, so there is no second list to keep in
//! step: the HTTP API's routes and CORS configuration, and the functions' schedule triggers.

use std::path::Path;

use serde_yaml_ng::Value;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing the template: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    #[error("the template's {0}")]
    Shape(String),
}

/// One `HttpApi` event of a function: `METHOD /path/{param}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// The binary `cargo lambda watch` serves (the function's `BuildProperties.Binary`).
    pub function: String,
    pub payload_format: String,
    /// Whether the JWT authorizer guards the route: every route but those whose event says
    /// `Auth: { Authorizer: NONE }` (the portal's pages).
    pub authorized: bool,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /requests/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One `Schedule` event of a function (an EventBridge rule with `rate(...)` or `cron(...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRule {
    /// The event's logical name in the template (e.g. `Sweep`).
    pub name: String,
    pub function: String,
    pub expression: String,
}

/// The HTTP API's `CorsConfiguration` (absent in the template today: no CORS headers then).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Template {
    pub routes: Vec<Route>,
    pub schedules: Vec<ScheduleRule>,
    pub cors: Option<Cors>,
    /// Functions subscribed to the table's stream (`Type: DynamoDB` events).
    pub streams: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml_ng::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Shape("Resources section is missing".into()))?;
        let mut out = Template::default();
        for (logical, res) in resources {
            let logical = logical.as_str().unwrap_or_default();
            match res.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::HttpApi") => {
                    if let Some(c) = res
                        .get("Properties")
                        .and_then(|p| p.get("CorsConfiguration"))
                    {
                        out.cors = Some(cors(c));
                    }
                }
                Some("AWS::Serverless::Function") => {
                    let function = res
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            TemplateError::Shape(format!(
                                "function {logical} has no Metadata.BuildProperties.Binary"
                            ))
                        })?
                        .to_string();
                    let events = res
                        .get("Properties")
                        .and_then(|p| p.get("Events"))
                        .and_then(Value::as_mapping);
                    for (name, ev) in events.into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default().to_string();
                        let props = ev.get("Properties");
                        let prop = |k: &str| {
                            props
                                .and_then(|p| p.get(k))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        };
                        match ev.get("Type").and_then(Value::as_str) {
                            Some("HttpApi") => {
                                let (Some(method), Some(path)) = (prop("Method"), prop("Path"))
                                else {
                                    return Err(TemplateError::Shape(format!(
                                        "HttpApi event {name} of {logical} needs Method and Path"
                                    )));
                                };
                                out.routes.push(Route {
                                    method: method.to_ascii_uppercase(),
                                    path,
                                    function: function.clone(),
                                    payload_format: prop("PayloadFormatVersion")
                                        .unwrap_or_else(|| "2.0".into()),
                                    authorized: props
                                        .and_then(|p| p.get("Auth"))
                                        .and_then(|a| a.get("Authorizer"))
                                        .and_then(Value::as_str)
                                        != Some("NONE"),
                                });
                            }
                            Some("DynamoDB") => out.streams.push(function.clone()),
                            Some("Schedule") | Some("ScheduleV2") => {
                                let expression = prop("Schedule")
                                    .or_else(|| prop("ScheduleExpression"))
                                    .ok_or_else(|| {
                                        TemplateError::Shape(format!(
                                            "Schedule event {name} of {logical} has no expression"
                                        ))
                                    })?;
                                out.schedules.push(ScheduleRule {
                                    name,
                                    function: function.clone(),
                                    expression,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if out.routes.is_empty() {
            return Err(TemplateError::Shape("HTTP API has no routes".into()));
        }
        Ok(out)
    }
}

fn cors(c: &Value) -> Cors {
    let get = |k: &str| c.get(k).map(strings).unwrap_or_default();
    Cors {
        allow_origins: get("AllowOrigins"),
        allow_methods: get("AllowMethods")
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        allow_headers: get("AllowHeaders")
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: get("ExposeHeaders"),
        allow_credentials: c
            .get("AllowCredentials")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_age: c.get("MaxAge").and_then(Value::as_u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_template_routes_every_function() {
        let t = Template::load(&crate::stack::workspace_root().join("infra/template.yaml"))
            .expect("template");
        let keys: Vec<String> = t.routes.iter().map(Route::key).collect();
        assert!(keys.contains(&"POST /requests".to_string()), "{keys:?}");
        assert!(
            keys.contains(&"POST /requests/{id}/revoke".to_string()),
            "{keys:?}"
        );
        let revoke = t
            .routes
            .iter()
            .find(|r| r.key() == "POST /requests/{id}/revoke")
            .expect("revoke route");
        assert_eq!(revoke.function, "revoke");
        assert!(t.routes.iter().all(|r| r.payload_format == "2.0"));
        // Only the portal's pages and Slack's signed interactivity requests are served without
        // a token.
        let open: Vec<String> = t
            .routes
            .iter()
            .filter(|r| !r.authorized)
            .map(|r| format!("{} -> {}", r.key(), r.function))
            .collect();
        assert_eq!(
            open,
            [
                "POST /slack/interactions -> provision",
                "GET /portal -> portal",
                "GET /portal/{proxy+} -> portal",
            ]
        );
        let sweep = t
            .schedules
            .iter()
            .find(|s| s.function == "cleanup")
            .expect("cleanup schedule");
        assert_eq!(sweep.expression, "rate(5 minutes)");
        assert!(t.schedules.iter().any(|s| s.function == "discover"));
        assert!(t.schedules.iter().any(|s| s.function == "rotate"));
    }

    #[test]
    fn cors_is_read_when_configured() {
        let t = Template::parse(
            r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["http://127.0.0.1:3000"]
        AllowMethods: [get, post]
        AllowHeaders: [Authorization, Content-Type]
        MaxAge: 600
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: f } }
    Properties:
      Events:
        E: { Type: HttpApi, Properties: { Method: get, Path: /x } }
"#,
        )
        .expect("parse");
        let c = t.cors.expect("cors");
        assert_eq!(c.allow_methods, ["GET", "POST"]);
        assert_eq!(c.allow_headers, ["authorization", "content-type"]);
        assert_eq!(c.max_age, Some(600));
        assert_eq!(t.routes[0].key(), "GET /x");
    }
}
