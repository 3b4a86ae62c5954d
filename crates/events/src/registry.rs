//! A Confluent-compatible schema registry client: register, look up, fetch by id; cached, so a
//! service in its steady state makes no HTTP calls.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use clap::Args;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::event::fingerprint_of;
use crate::EventsError;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5";

/// Schema registry settings (flags and environment variables), shared by every service.
#[derive(Clone, Args)]
pub struct RegistrySettings {
    /// Base URL of the Confluent-compatible schema registry. User info in the URL
    /// (`https://user:pass@host`) is taken as basic-auth credentials.
    #[arg(
        long = "schema-registry-url",
        env = "SCHEMA_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub url: String,

    /// Basic-auth credentials `user:password` (managed registries: API key and secret; never
    /// logged).
    #[arg(
        long = "schema-registry-basic-auth",
        env = "SCHEMA_REGISTRY_BASIC_AUTH",
        hide_env_values = true
    )]
    pub basic_auth: Option<BasicAuth>,

    /// Register a producer's schema under its subject when missing (true: local stack); false
    /// only looks it up, and encoding fails when the schema was not registered beforehand (the
    /// deploy gate of a governed registry).
    #[arg(
        long = "schema-registry-auto-register",
        env = "SCHEMA_REGISTRY_AUTO_REGISTER",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub auto_register: bool,

    /// Timeout of one registry request, connecting included (e.g. `10s`, `500ms`).
    #[arg(
        long = "schema-registry-timeout",
        env = "SCHEMA_REGISTRY_TIMEOUT",
        default_value = "10s",
        value_parser = dsync_bus::parse_duration
    )]
    pub timeout: Duration,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8081".into(),
            basic_auth: None,
            auto_register: true,
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("url", &redact_url(&self.url))
            .field("basic_auth", &self.basic_auth)
            .field("auto_register", &self.auto_register)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The URL with any password replaced by `***`.
fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// Basic-auth credentials. `Debug` never shows the password, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    username: String,
    password: String,
}

impl BasicAuth {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name (an API key for managed registries).
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl FromStr for BasicAuth {
    type Err = std::convert::Infallible;

    /// Parses `user:password` (the password may contain `:`). Never fails, so that a malformed
    /// value is not echoed in a command-line parse error: a value without `:` is kept whole as
    /// the password, and [`SchemaRegistryClient::new`] rejects it without printing it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.split_once(':') {
            Some((u, p)) => Self::new(u, p),
            None => Self::new("", s),
        })
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A schema known to the registry by id, parsed.
pub struct RegisteredSchema {
    id: u32,
    json: String,
    schema: &'static apache_avro::Schema,
    full_name: Option<String>,
    fingerprint: u64,
    /// Named types of the schema, to validate bodies on the resolution path.
    names: HashMap<apache_avro::schema::Name, &'static apache_avro::Schema>,
}

impl RegisteredSchema {
    fn parse(id: u32, json: &str) -> Result<Self, String> {
        let parsed = apache_avro::Schema::parse_str(json).map_err(|e| e.to_string())?;
        let full_name = match &parsed {
            apache_avro::Schema::Record(r) => Some(r.name.fullname(None)),
            _ => None,
        };
        let fingerprint = fingerprint_of(&parsed);
        let schema = intern(parsed);
        let mut names = HashMap::new();
        collect_names(schema, &mut names);
        Ok(Self {
            id,
            json: json.to_owned(),
            schema,
            full_name,
            fingerprint,
            names,
        })
    }

    /// The registry's id of the schema.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The schema text as the registry returned it.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The parsed schema. Schemas are interned by Parsing Canonical Form for the life of the
    /// process (bounded by the number of distinct schemas), so resolutions can be cached.
    pub fn schema(&self) -> &'static apache_avro::Schema {
        self.schema
    }

    /// The full name of the top-level record, `None` when the schema is not a record.
    pub fn full_name(&self) -> Option<&str> {
        self.full_name.as_deref()
    }

    /// CRC-64-AVRO fingerprint of the Parsing Canonical Form.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn names(
        &self,
    ) -> &HashMap<apache_avro::schema::Name, &'static apache_avro::Schema> {
        &self.names
    }
}

fn collect_names(
    schema: &'static apache_avro::Schema,
    names: &mut HashMap<apache_avro::schema::Name, &'static apache_avro::Schema>,
) {
    use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, UuidSchema};
    use apache_avro::Schema as S;
    match schema {
        S::Record(r) => {
            names.insert(r.name.clone(), schema);
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        S::Enum(e) => {
            names.insert(e.name.clone(), schema);
        }
        S::Fixed(f)
        | S::Duration(f)
        | S::Uuid(UuidSchema::Fixed(f))
        | S::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        }) => {
            names.insert(f.name.clone(), schema);
        }
        S::Array(a) => collect_names(&a.items, names),
        S::Map(m) => collect_names(&m.types, names),
        S::Union(u) => {
            for v in u.variants() {
                collect_names(v, names);
            }
        }
        _ => {}
    }
}

impl fmt::Debug for RegisteredSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredSchema")
            .field("id", &self.id)
            .field("full_name", &self.full_name)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish_non_exhaustive()
    }
}

/// Hasher for schema ids (small integers chosen by the registry, not by an attacker).
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// Process-wide interner of parsed writer schemas, keyed by Parsing Canonical Form.
fn intern(schema: apache_avro::Schema) -> &'static apache_avro::Schema {
    static INTERNED: OnceLock<Mutex<HashMap<String, &'static apache_avro::Schema>>> =
        OnceLock::new();
    let canonical = schema.canonical_form();
    let mut map = INTERNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    map.entry(canonical)
        .or_insert_with(|| Box::leak(Box::new(schema)))
}

/// Confluent-compatible schema registry client. Cheap to clone (the caches are shared).
///
/// Caches schemas by id and ids by `(subject, schema)`; entries never expire (ids are immutable
/// in a registry). Only Avro schemas without references are supported (distsync's are
/// self-contained).
#[derive(Clone)]
pub struct SchemaRegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    auth: Option<BasicAuth>,
    auto_register: bool,
    http: reqwest::Client,
    by_id: RwLock<HashMap<u32, Arc<RegisteredSchema>, IdHash>>,
    ids: RwLock<HashMap<(String, String), u32>>,
}

impl fmt::Debug for SchemaRegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistryClient")
            .field("url", &self.inner.base.as_str())
            .field("basic_auth", &self.inner.auth)
            .field("auto_register", &self.inner.auto_register)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaResponse {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<u32>,
    message: Option<String>,
}

/// An HTTP answer other than 2xx.
struct Failure {
    status: StatusCode,
    error_code: Option<u32>,
    message: String,
}

impl SchemaRegistryClient {
    /// A client for the registry the settings name. Makes no request.
    pub fn new(settings: &RegistrySettings) -> Result<Self, EventsError> {
        let mut base = Url::parse(settings.url.trim()).map_err(|e| {
            EventsError::Config(format!(
                "--schema-registry-url {}: {e}",
                redact_url(&settings.url)
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(EventsError::Config(format!(
                "--schema-registry-url must be http or https, not {}",
                base.scheme()
            )));
        }
        if settings
            .basic_auth
            .as_ref()
            .is_some_and(|a| a.username.is_empty())
        {
            return Err(EventsError::Config(
                "--schema-registry-basic-auth must be user:password".into(),
            ));
        }
        let mut auth = settings.basic_auth.clone();
        if !base.username().is_empty() {
            let user = percent_decode(base.username());
            let pass = percent_decode(base.password().unwrap_or(""));
            if auth.is_none() {
                auth = Some(BasicAuth::new(user, pass));
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        if settings.timeout.is_zero() {
            return Err(EventsError::Config(
                "--schema-registry-timeout (SCHEMA_REGISTRY_TIMEOUT) must be positive".into(),
            ));
        }
        let timeout = settings.timeout;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| EventsError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                auth,
                auto_register: settings.auto_register,
                http,
                by_id: RwLock::new(HashMap::default()),
                ids: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The registry's base URL (without credentials).
    pub fn url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Whether encoders register missing schemas (else they only look them up).
    pub fn auto_register(&self) -> bool {
        self.inner.auto_register
    }

    /// Puts a schema into the id cache, as if fetched (tests, tools, offline decoding).
    pub fn preload(&self, id: u32, schema_json: &str) -> Result<(), EventsError> {
        let parsed = RegisteredSchema::parse(id, schema_json)
            .map_err(|e| EventsError::Config(format!("schema {id}: {e}")))?;
        write(&self.inner.by_id).insert(id, Arc::new(parsed));
        Ok(())
    }

    /// Puts a schema into both caches, as if registered under `subject` with `id`.
    pub fn preload_subject(
        &self,
        subject: &str,
        id: u32,
        schema_json: &str,
    ) -> Result<(), EventsError> {
        self.preload(id, schema_json)?;
        write(&self.inner.ids).insert((subject.to_owned(), schema_json.to_owned()), id);
        Ok(())
    }

    /// The schema of `id` if cached (no request).
    pub fn cached_schema(&self, id: u32) -> Option<Arc<RegisteredSchema>> {
        read(&self.inner.by_id).get(&id).cloned()
    }

    /// Calls `f` with the schema of `id` if cached (no request, no reference counting: the
    /// decoder's steady-state path).
    pub(crate) fn with_cached_schema<R>(
        &self,
        id: u32,
        f: impl FnOnce(&RegisteredSchema) -> R,
    ) -> Option<R> {
        read(&self.inner.by_id).get(&id).map(|s| f(s))
    }

    /// The id of `schema_json` under `subject` if cached (no request).
    pub fn cached_id(&self, subject: &str, schema_json: &str) -> Option<u32> {
        read(&self.inner.ids)
            .get(&(subject.to_owned(), schema_json.to_owned()))
            .copied()
    }

    /// The schema with `id` (`GET /schemas/ids/{id}`), from the cache when known.
    ///
    /// A 404 (error code 40403, or any Confluent 404 body) is [`EventsError::UnknownSchemaId`].
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>, EventsError> {
        if let Some(s) = self.cached_schema(id) {
            return Ok(s);
        }
        let url = self.url_for(&["schemas", "ids", &id.to_string()]);
        let what = format!("GET /schemas/ids/{id}");
        tracing::debug!(id, "fetching schema from the registry");
        let req = self.inner.http.get(url);
        let resp: SchemaResponse = match self.send(req, &what).await? {
            Ok(body) => parse_body(&body, &what)?,
            Err(f) if f.status == StatusCode::NOT_FOUND && f.error_code.is_some() => {
                return Err(EventsError::UnknownSchemaId(id))
            }
            Err(f) => return Err(failure_error(f, &what)),
        };
        if let Some(t) = resp.schema_type.as_deref() {
            if !t.eq_ignore_ascii_case("AVRO") {
                return Err(EventsError::SchemaMismatch(format!(
                    "schema {id} is {t}, not Avro"
                )));
            }
        }
        if !resp.references.is_empty() {
            return Err(EventsError::SchemaMismatch(format!(
                "schema {id} has references, which are not supported"
            )));
        }
        let parsed = RegisteredSchema::parse(id, &resp.schema).map_err(|e| {
            EventsError::SchemaMismatch(format!("writer schema {id} does not parse: {e}"))
        })?;
        let parsed = Arc::new(parsed);
        write(&self.inner.by_id).insert(id, parsed.clone());
        Ok(parsed)
    }

    /// Registers `schema_json` under `subject` (`POST /subjects/{subject}/versions`); returns
    /// its id (the existing one when already registered). Cached.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, EventsError> {
        if let Some(id) = self.cached_id(subject, schema_json) {
            return Ok(id);
        }
        let url = self.url_for(&["subjects", subject, "versions"]);
        let what = format!("POST /subjects/{subject}/versions");
        tracing::info!(subject, "registering schema");
        let req = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(schema_request(schema_json));
        let id = match self.send(req, &what).await? {
            Ok(body) => parse_body::<IdResponse>(&body, &what)?.id,
            Err(f) => return Err(failure_error(f, &what)),
        };
        self.remember(subject, schema_json, id);
        Ok(id)
    }

    /// Looks `schema_json` up under `subject` (`POST /subjects/{subject}`); returns its id.
    /// Cached. A 404 (subject or schema not found) is [`EventsError::NotRegistered`].
    pub async fn lookup(&self, subject: &str, schema_json: &str) -> Result<u32, EventsError> {
        if let Some(id) = self.cached_id(subject, schema_json) {
            return Ok(id);
        }
        let url = self.url_for(&["subjects", subject]);
        let what = format!("POST /subjects/{subject}");
        tracing::debug!(subject, "looking schema up");
        let req = self
            .inner
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(schema_request(schema_json));
        let id = match self.send(req, &what).await? {
            Ok(body) => parse_body::<IdResponse>(&body, &what)?.id,
            Err(f) if f.status == StatusCode::NOT_FOUND && f.error_code.is_some() => {
                return Err(EventsError::NotRegistered {
                    subject: subject.to_owned(),
                })
            }
            Err(f) => return Err(failure_error(f, &what)),
        };
        self.remember(subject, schema_json, id);
        Ok(id)
    }

    /// The id of `schema_json` under `subject`: registered when auto-registration is on,
    /// looked up otherwise.
    pub async fn id_for(&self, subject: &str, schema_json: &str) -> Result<u32, EventsError> {
        if self.inner.auto_register {
            self.register(subject, schema_json).await
        } else {
            self.lookup(subject, schema_json).await
        }
    }

    fn remember(&self, subject: &str, schema_json: &str, id: u32) {
        write(&self.inner.ids).insert((subject.to_owned(), schema_json.to_owned()), id);
        // The id's schema is the one just sent: no need to fetch it when decoding.
        if self.cached_schema(id).is_none() {
            if let Ok(parsed) = RegisteredSchema::parse(id, schema_json) {
                write(&self.inner.by_id).insert(id, Arc::new(parsed));
            }
        }
    }

    fn url_for(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request; `Ok(Ok(body))` for 2xx, `Ok(Err(failure))` for another status,
    /// `Err` when the registry could not be reached.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Result<Vec<u8>, Failure>, EventsError> {
        let mut req = req.header(reqwest::header::ACCEPT, ACCEPT);
        if let Some(a) = &self.inner.auth {
            req = req.basic_auth(&a.username, Some(&a.password));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| EventsError::Registry(format!("{what}: {}", transport_message(&e))))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| EventsError::Registry(format!("{what}: {}", transport_message(&e))))?;
        if status.is_success() {
            return Ok(Ok(body.to_vec()));
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let (error_code, message) = match parsed {
            Some(b) => (
                b.error_code,
                b.message.unwrap_or_else(|| status.to_string()),
            ),
            None => (
                None,
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            ),
        };
        tracing::debug!(%status, ?error_code, %message, "{what} failed");
        Ok(Err(Failure {
            status,
            error_code,
            message,
        }))
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn schema_request(schema_json: &str) -> Vec<u8> {
    serde_json::json!({ "schema": schema_json })
        .to_string()
        .into_bytes()
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, EventsError> {
    serde_json::from_slice(body).map_err(|e| {
        EventsError::Registry(format!("{what}: unexpected answer from the registry: {e}"))
    })
}

/// Errors that retrying will not fix are `RegistryRejected` (fatal); the rest are transient.
fn failure_error(f: Failure, what: &str) -> EventsError {
    let s = f.status;
    let transient = s.is_server_error()
        || s == StatusCode::REQUEST_TIMEOUT
        || s == StatusCode::TOO_MANY_REQUESTS
        || !s.is_client_error()
        // a 404 without a Confluent error body: wrong URL or a proxy, not an answer
        || (s == StatusCode::NOT_FOUND && f.error_code.is_none());
    if transient {
        EventsError::Registry(format!(
            "{what}: HTTP {}{}: {}",
            s.as_u16(),
            f.error_code
                .map(|c| format!(" (error {c})"))
                .unwrap_or_default(),
            f.message
        ))
    } else {
        EventsError::RegistryRejected {
            request: what.to_owned(),
            status: s.as_u16(),
            error_code: f.error_code,
            message: f.message,
        }
    }
}

/// The transport error with its causes (reqwest's top-level message alone says little); URLs
/// carry no credentials (they are moved out of the URL at construction).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        registry: RegistrySettings,
    }

    #[test]
    fn defaults_and_flags() {
        let cli = Cli::try_parse_from(["x"]).expect("parse");
        assert_eq!(cli.registry.url, "http://127.0.0.1:8081");
        assert!(cli.registry.auto_register);
        assert!(cli.registry.basic_auth.is_none());
        let cli = Cli::try_parse_from([
            "x",
            "--schema-registry-url",
            "https://sr.example:443",
            "--schema-registry-basic-auth",
            "KEY:se:cret",
            "--schema-registry-auto-register",
            "false",
        ])
        .expect("parse");
        assert!(!cli.registry.auto_register);
        let auth = cli.registry.basic_auth.clone().expect("auth");
        assert_eq!(auth.username(), "KEY");
        assert_eq!(auth.password, "se:cret");
        let cli = Cli::try_parse_from(["x", "--schema-registry-auto-register"]).expect("parse");
        assert!(cli.registry.auto_register);
    }

    #[test]
    fn secrets_are_not_printed() {
        let settings = RegistrySettings {
            url: "https://u:hunter2@sr.example/".into(),
            basic_auth: Some("KEY:topsecret".parse().expect("auth")),
            ..Default::default()
        };
        let dbg = format!("{settings:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("topsecret"),
            "{dbg}"
        );
        let client = SchemaRegistryClient::new(&settings).expect("client");
        let dbg = format!("{client:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("topsecret"),
            "{dbg}"
        );
        assert_eq!(client.url(), "https://sr.example/");
    }

    #[test]
    fn credentials_in_the_url_become_basic_auth() {
        let settings = RegistrySettings {
            url: "http://us%40er:p%3Ass@127.0.0.1:8081".into(),
            ..Default::default()
        };
        let client = SchemaRegistryClient::new(&settings).expect("client");
        let auth = client.inner.auth.clone().expect("auth");
        assert_eq!(auth.username(), "us@er");
        assert_eq!(auth.password, "p:ss");
        assert_eq!(client.url(), "http://127.0.0.1:8081/");
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for url in ["not a url", "ftp://host/"] {
            let settings = RegistrySettings {
                url: url.into(),
                ..Default::default()
            };
            assert!(matches!(
                SchemaRegistryClient::new(&settings),
                Err(EventsError::Config(_))
            ));
        }
        let settings = RegistrySettings {
            basic_auth: Some("hunter2".parse().expect("parses")),
            ..Default::default()
        };
        match SchemaRegistryClient::new(&settings) {
            Err(EventsError::Config(m)) => assert!(!m.contains("hunter2"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_keep_a_base_path_and_escape_subjects() {
        let settings = RegistrySettings {
            url: "http://h:1/registry/".into(),
            ..Default::default()
        };
        let client = SchemaRegistryClient::new(&settings).expect("client");
        assert_eq!(
            client.url_for(&["subjects", "a/b c", "versions"]).as_str(),
            "http://h:1/registry/subjects/a%2Fb%20c/versions"
        );
    }

    #[test]
    fn failures_are_classified() {
        let f = |status: u16, code: Option<u32>| Failure {
            status: StatusCode::from_u16(status).expect("status"),
            error_code: code,
            message: "m".into(),
        };
        assert!(failure_error(f(503, None), "x").is_transient());
        assert!(failure_error(f(500, Some(50001)), "x").is_transient());
        assert!(failure_error(f(429, None), "x").is_transient());
        assert!(failure_error(f(404, None), "x").is_transient());
        assert!(matches!(
            failure_error(f(409, Some(409)), "x"),
            EventsError::RegistryRejected { status: 409, .. }
        ));
        assert!(matches!(
            failure_error(f(401, None), "x"),
            EventsError::RegistryRejected { status: 401, .. }
        ));
    }
}
