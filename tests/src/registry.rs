//! The schema registry in-process for tests: a real [`App`] on a fresh schemas topic (or a given
//! one, to restart or run a second instance), on free ports, with a small HTTP client.

use std::time::Duration;

use anyhow::{bail, Context as _};
use dsync_schema_registry::{App, RegistryError, Settings};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::TestEnv;

/// The content type clients send.
pub const SR_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A running registry instance.
#[derive(Debug)]
pub struct TestRegistry {
    /// Its HTTP client (also reachable through `Deref`).
    pub client: RegistryClient,
    /// `http://<admin addr>`.
    pub admin_url: String,
    /// The schemas topic it stores into.
    pub topic: String,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), RegistryError>>>,
}

impl std::ops::Deref for TestRegistry {
    type Target = RegistryClient;

    fn deref(&self) -> &RegistryClient {
        &self.client
    }
}

impl TestRegistry {
    /// A registry on a fresh schemas topic.
    pub async fn start(env: &TestEnv) -> anyhow::Result<Self> {
        let topic = env.unique("schemas");
        Self::start_on(env, &topic).await
    }

    /// A registry on `topic` (which may already hold another instance's records).
    pub async fn start_on(env: &TestEnv, topic: &str) -> anyhow::Result<Self> {
        let settings = Settings {
            http_addr: "127.0.0.1:0".parse()?,
            schemas_topic: topic.to_owned(),
            kafka: env.settings.clone(),
            admin: dsync_telemetry::admin::AdminSettings {
                admin_addr: "127.0.0.1:0".parse()?,
            },
            ..Settings::default()
        };
        Self::start_with(settings).await
    }

    /// A registry with explicit settings.
    pub async fn start_with(settings: Settings) -> anyhow::Result<Self> {
        let topic = settings.schemas_topic.clone();
        let app = App::build(settings).await?;
        let url = app.url();
        let admin_url = format!("http://{}", app.admin_addr());
        let store = std::sync::Arc::clone(app.store());
        let stop = CancellationToken::new();
        let task = app.spawn(stop.clone());
        store
            .wait_loaded(Duration::from_secs(60))
            .await
            .context("registry did not load its topic")?;
        Ok(Self {
            client: RegistryClient::new(url),
            admin_url,
            topic,
            stop,
            task: Some(task),
        })
    }

    /// Stops the instance and waits until it has.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A minimal HTTP client for a registry's REST API.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    /// `http://host:port`.
    pub url: String,
    http: reqwest::Client,
}

/// Status and body of a response; the body is JSON when it parses, else a JSON string.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Value,
}

impl Reply {
    /// The Confluent `error_code`, if the body has one.
    pub fn error_code(&self) -> Option<i64> {
        self.body.get("error_code").and_then(Value::as_i64)
    }

    /// The error message, if any.
    pub fn message(&self) -> String {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// Fails unless the status is 200; returns the body.
    pub fn ok(self) -> anyhow::Result<Value> {
        if self.status != 200 {
            bail!("expected 200, got {} {}", self.status, self.body);
        }
        Ok(self.body)
    }
}

impl RegistryClient {
    /// A client for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request with an optional body and content type.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        content_type: &str,
    ) -> anyhow::Result<Reply> {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.request(reqwest::Method::GET, path, None, SR_CONTENT_TYPE)
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.request(
            reqwest::Method::POST,
            path,
            Some(body.to_string()),
            SR_CONTENT_TYPE,
        )
        .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.request(
            reqwest::Method::PUT,
            path,
            Some(body.to_string()),
            SR_CONTENT_TYPE,
        )
        .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.request(reqwest::Method::DELETE, path, None, SR_CONTENT_TYPE)
            .await
    }

    /// `POST /subjects/{subject}/versions` with `{"schema": schema}`; the full reply.
    pub async fn try_register(&self, subject: &str, schema: &str) -> anyhow::Result<Reply> {
        self.post(
            &format!("/subjects/{subject}/versions"),
            &serde_json::json!({ "schema": schema }),
        )
        .await
    }

    /// Registers `schema` under `subject`; its id (fails unless 200).
    pub async fn register(&self, subject: &str, schema: &str) -> anyhow::Result<i64> {
        let body = self.try_register(subject, schema).await?.ok()?;
        body.get("id")
            .and_then(Value::as_i64)
            .with_context(|| format!("no id in {body}"))
    }
}
