//! The model server as the gateway sees it: one pooled HTTP client, the
//! request and answer of each protocol, a per-request timeout, and retries
//! for connections that could not be made (never for a request that may
//! have reached the server, so no image is read twice).

use std::time::Duration;

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::error::GatewayError;
use crate::config::{GatewayArgs, Protocol};
use crate::wire::binary_tensor::encode_bytes;
use crate::wire::observe::REQUEST_ID;
use crate::wire::options::Requested;
use crate::wire::response::OcrResponse;
use crate::wire::{ERROR_CODE_HEADER, HEADER_LENGTH};
use crate::wire::{V2_INPUT as INPUT, V2_OUTPUT as OUTPUT};

/// First pause before a retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait for a connection and for the readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Upstream {
    client: reqwest::Client,
    protocol: Protocol,
    /// The model server's address, without a trailing `/`.
    base: String,
    /// The model a request that names no engine goes to (`--model-name`).
    model_name: String,
    ready_url: String,
    api_key: Option<HeaderValue>,
    timeout: Duration,
    retries: u32,
}

impl Upstream {
    pub fn new(args: &GatewayArgs) -> anyhow::Result<Self> {
        let base = args.upstream.trim_end_matches('/');
        let url = reqwest::Url::parse(base).with_context(|| format!("--upstream {base}"))?;
        if url.scheme() != "http" {
            bail!("--upstream {base}: only plain http:// is supported (the model server is in the cluster)");
        }
        let name = &args.model_name;
        let ready_url = match args.protocol {
            Protocol::V1 => format!("{base}/v1/models/{name}"),
            Protocol::V2 => format!("{base}/v2/models/{name}/ready"),
        };
        let timeout = Duration::from_secs(args.upstream_timeout_secs.max(1));
        // In-cluster traffic goes straight to the service: proxies from the
        // environment are for the way out, not for this.
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(timeout.min(PROBE_TIMEOUT))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        let api_key = args.upstream_api_key.as_deref().map(HeaderValue::from_str).transpose();
        let mut api_key = api_key.context("--upstream-api-key is not a valid header value")?;
        if let Some(key) = &mut api_key {
            key.set_sensitive(true);
        }
        Ok(Self {
            client,
            protocol: args.protocol,
            base: base.to_owned(),
            model_name: name.clone(),
            ready_url,
            api_key,
            timeout,
            retries: args.upstream_retries,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "model server {} ({:?}), timeout {:?}, {} retries",
            self.infer_url(&self.model_name),
            self.protocol,
            self.timeout,
            self.retries
        )
    }

    /// The longest a request to the model server may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where images for model `name` go.
    fn infer_url(&self, name: &str) -> String {
        let base = &self.base;
        match self.protocol {
            Protocol::V1 => format!("{base}/v1/models/{name}:predict"),
            Protocol::V2 => format!("{base}/v2/models/{name}/infer"),
        }
    }

    /// OCRs one image on the model server: the model is the engine the
    /// request names (the model server serves each engine under its own
    /// name) or `--model-name`; `fields` and `pdf_text` go as request
    /// parameters; `request_id` goes along as `X-Request-ID`.
    pub async fn recognize(
        &self,
        image: &[u8],
        options: &Requested,
        request_id: Option<HeaderValue>,
    ) -> Result<OcrResponse, GatewayError> {
        let model = match &options.engine {
            Some(engine) if is_model_name(engine) => engine,
            Some(engine) => return Err(no_such_engine(engine)),
            None => &self.model_name,
        };
        let mut parameters = serde_json::Map::new();
        if let Some(fields) = options.fields {
            parameters.insert("fields".into(), fields.into());
        }
        if let Some(pdf_text) = &options.pdf_text {
            parameters.insert("pdf_text".into(), pdf_text.as_str().into());
        }
        let (body, header_len) = match self.protocol {
            Protocol::V1 => {
                let request = json!({
                    "instances": [{"image": {"b64": BASE64.encode(image)}}],
                    "parameters": parameters,
                });
                (serde_json::to_vec(&request).expect("serialisable"), None)
            }
            // Binary tensor data: the image travels as it is, not as base64 a
            // third larger, and the answer's JSON string as plain JSON.
            Protocol::V2 => {
                let data = encode_bytes([image]);
                let request = json!({
                    "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [1],
                                "parameters": {"binary_data_size": data.len()}}],
                    "outputs": [{"name": OUTPUT, "parameters": {"binary_data": false}}],
                    "parameters": parameters,
                });
                let mut body = serde_json::to_vec(&request).expect("serialisable");
                let header_len = body.len();
                body.extend_from_slice(&data);
                (body, Some(header_len))
            }
        };
        let url = self.infer_url(model);
        let response = self.send(&url, Bytes::from(body), header_len, request_id).await?;
        let (status, headers) = (response.status(), response.headers().clone());
        let answer = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            // An engine the client named and the model server says it does
            // not serve is the client's mistake; any other 404 (a wrong
            // `--upstream` path, a proxy) stays the gateway's configuration's.
            let no_model = headers.get(ERROR_CODE_HEADER).is_some_and(|code| code == "model_not_found");
            return Err(match options.engine.as_deref() {
                Some(engine) if status == StatusCode::NOT_FOUND && no_model => no_such_engine(engine),
                _ => refusal(status, &headers, &answer),
            });
        }
        self.decode(&answer).map_err(GatewayError::BadAnswer)
    }

    async fn send(
        &self,
        url: &str,
        body: Bytes,
        header_len: Option<usize>,
        request_id: Option<HeaderValue>,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        loop {
            let mut request = self.client.post(url).timeout(self.timeout).body(body.clone());
            request = match header_len {
                None => request.header(header::CONTENT_TYPE, "application/json"),
                Some(len) => {
                    request.header(header::CONTENT_TYPE, "application/octet-stream").header(HEADER_LENGTH, len)
                }
            };
            if let Some(id) = &request_id {
                request = request.header(REQUEST_ID, id.clone());
            }
            if let Some(key) = &self.api_key {
                request = request.header("x-api-key", key.clone());
            }
            match request.send().await {
                Ok(response) => return Ok(response),
                Err(e) if e.is_connect() && attempt < self.retries => {
                    attempt += 1;
                    metrics::counter!("gateway_upstream_retries_total").increment(1);
                    tracing::warn!(attempt, "model server unreachable ({}); retrying in {backoff:?}", chain(&e));
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(e) => return Err(self.transport_error(&e)),
            }
        }
    }

    fn transport_error(&self, err: &reqwest::Error) -> GatewayError {
        // A connect timeout is both; it means no connection, not a slow answer.
        if err.is_timeout() && !err.is_connect() {
            GatewayError::Timeout(self.timeout.as_secs())
        } else {
            tracing::warn!("model server request failed: {}", chain(err));
            GatewayError::Unavailable(chain(err))
        }
    }

    /// The one image's OCR response from a successful answer.
    fn decode(&self, answer: &[u8]) -> Result<OcrResponse, String> {
        let answer: Value = serde_json::from_slice(answer).map_err(|e| format!("not JSON: {e}"))?;
        let result = match self.protocol {
            Protocol::V1 => match answer.get("predictions").and_then(Value::as_array).map(Vec::as_slice) {
                Some([prediction]) => serde_json::from_value(prediction.clone()),
                _ => return Err("expected {\"predictions\": [one OCR response]}".into()),
            },
            Protocol::V2 => {
                let outputs = answer.get("outputs").and_then(Value::as_array).into_iter().flatten();
                let result = outputs.filter(|o| o["name"] == OUTPUT).find_map(|o| o.get("data")?.as_array());
                match result.map(Vec::as_slice) {
                    Some([Value::String(text)]) => serde_json::from_str(text),
                    _ => return Err(format!("expected output `{OUTPUT}` with one JSON string")),
                }
            }
        };
        result.map_err(|e| format!("not an OCR response: {e}"))
    }

    /// Whether the model server says the model is ready.
    pub async fn ready(&self) -> Result<(), String> {
        let mut request = self.client.get(&self.ready_url).timeout(self.timeout.min(PROBE_TIMEOUT));
        if let Some(key) = &self.api_key {
            request = request.header("x-api-key", key.clone());
        }
        let response = request.send().await.map_err(|e| chain(&e))?;
        let status = response.status();
        let body: Option<Value> = response.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok());
        // V1's status route must also say `"ready": true`; V2's status code is the answer.
        let ready = status == StatusCode::OK
            && (self.protocol == Protocol::V2
                || body.as_ref().and_then(|b| b.get("ready")) == Some(&Value::Bool(true)));
        if ready { Ok(()) } else { Err(format!("{} answered {status}", self.ready_url)) }
    }
}

/// Whether `name` can stand in a model route's path as it is.
fn is_model_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A request named an engine the model server does not serve.
fn no_such_engine(engine: &str) -> GatewayError {
    // Echo a bounded, printable name only: it came from the client.
    let shown: String = engine.chars().take(64).filter(|c| !c.is_control()).collect();
    GatewayError::Refused {
        status: StatusCode::BAD_REQUEST,
        code: "unknown_engine".to_owned(),
        message: format!("unknown engine `{shown}`: the model server has no model of that name"),
        retry_after: None,
    }
}

/// The gateway's answer to a model server's error status.
fn refusal(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GatewayError {
    let message = serde_json::from_slice::<Value>(body).ok().and_then(|v| Some(v.get("error")?.as_str()?.to_owned()));
    let message = message.unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    // The gateway sends one image, so "image 0: " says nothing to its client.
    let message = message.strip_prefix("image 0: ").map(str::to_owned).unwrap_or(message);
    let code = headers
        .get(ERROR_CODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.is_empty() && c.len() <= 40 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    match (status, code) {
        // The gateway's own configuration is wrong; its client can do nothing about it.
        (StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
            GatewayError::BadAnswer(format!("{status}: {message}"))
        }
        (_, Some(code)) => GatewayError::Refused {
            status,
            code: code.to_owned(),
            message,
            retry_after: headers.get(header::RETRY_AFTER).cloned(),
        },
        (StatusCode::SERVICE_UNAVAILABLE, None) => GatewayError::NotReady(message),
        (_, None) => GatewayError::BadAnswer(format!("{status}: {message}")),
    }
}

/// An error and its causes on one line ("connection refused" is a cause).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
