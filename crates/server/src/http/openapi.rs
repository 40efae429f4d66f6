//! The API description: an OpenAPI 3.1 document generated from the handlers'
//! annotations and the response types (`utoipa`), served at `/openapi.json`,
//! and Swagger UI at `/docs` with its assets compiled into the binary, so
//! the page works with no network.
//!
//! The error contract is read from docs/errors.md at build time: the table
//! there is the one list of codes, and every inference route documents its
//! statuses and codes from it.

use std::collections::BTreeMap;

use axum::Router;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::{OCR_ROUTES, batch, jobs, ocr, probes};
use crate::jobs::{CallbackView, JobList, JobView, Submission};
use crate::state::SharedState;
use crate::wire::response::{BatchItem, BatchResponse, ErrorBody, Line, OcrResponse};
use crate::wire::{BATCH_ROUTE, JOBS_ROUTE};

const ERRORS_MD: &str = include_str!("../../../../docs/errors.md");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "inference-hub",
        description = "Receipt and document OCR (PP-OCR on ONNX Runtime, and Tesseract). Errors always have the shape \
                       `{\"error\": {\"code\", \"type\", \"message\"}}`; match on `code` (docs/errors.md)."
    ),
    paths(
        probes::live,
        probes::ready,
        probes::health,
        ocr::recognize,
        batch::recognize_batch,
        jobs::submit,
        jobs::list,
        jobs::get,
        jobs::cancel,
        crate::metrics::render
    ),
    components(schemas(
        OcrResponse,
        Line,
        BatchResponse,
        BatchItem,
        ErrorBody,
        Submission,
        JobView,
        JobList,
        CallbackView
    ))
)]
struct ApiDoc;

/// `/openapi.json` and `/docs`.
pub fn routes() -> Router<SharedState> {
    // No validator: Swagger UI would otherwise send the spec to an online one.
    let config = Config::from("/openapi.json").validator_url("none");
    SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", document()).config(config).into()
}

/// The generated document, completed with what the annotations cannot say:
/// the multipart upload, the error contract, and the OCR route aliases.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    let errors = contract();
    let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
    doc["components"]["schemas"]["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "type", "message"],
            "properties": {
                "code": {"type": "string", "enum": codes, "description": "stable: match on it"},
                "type": {"type": "string", "enum": ["invalid_request", "server"],
                         "description": "invalid_request for 4xx (fix the request), server for 5xx (retry or alert)"},
                "message": {"type": "string", "description": "for people; may change"},
            },
        }},
    });
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (route, body) in [(OCR_ROUTES[0], upload()), (BATCH_ROUTE, batch_upload()), (JOBS_ROUTE, job_upload())] {
        let operation = paths.get_mut(route).and_then(|item| item.get_mut("post")).expect("the OCR operations");
        operation["requestBody"] = body;
        let responses = operation["responses"].as_object_mut().expect("responses");
        for (status, description) in error_responses(&errors) {
            responses.insert(
                status.to_owned(),
                json!({
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }),
            );
        }
    }
    let item = paths[OCR_ROUTES[0]].clone();
    for alias in &OCR_ROUTES[1..] {
        let mut item = item.clone();
        item["post"]["operationId"] = json!(format!("recognize{}", alias.replace('/', "_")));
        item["post"]["summary"] = json!(format!("Alias of {}", OCR_ROUTES[0]));
        paths.insert((*alias).to_owned(), item);
    }
    doc["components"]["schemas"]["ProtocolError"] =
        json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}});
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, method, tag, summary) in PROTOCOL_ROUTES {
        let operation = json!({
            "tags": [tag],
            "summary": summary,
            "externalDocs": {"description": "request and tensor layout", "url": KSERVE_DOC},
            "parameters": if path.contains("{name}") {
                json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"},
                        "description": "the served model: `ocr` (`--model-name`) for the default engine, \
                                        or an engine's name (`paddle`, `tesseract`)"}])
            } else {
                json!([])
            },
            "responses": {
                "200": {"description": "as the protocol specifies", "content": {"application/json": {}}},
                "default": {"description": "the protocol's error shape",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProtocolError"}}}},
            },
        });
        paths.entry(path.to_owned()).or_insert_with(|| json!({}))[method] = operation;
    }
    doc
}

/// Where the protocol routes are described in full.
const KSERVE_DOC: &str = "https://github.com/kserve/kserve/tree/master/docs/predict-api";

/// The KServe V1 and Open Inference Protocol V2 routes (http/kserve_v1.rs,
/// http/oip_v2.rs): their bodies are the protocols' own, documented in
/// docs/kserve.md, so the document names them rather than restating them.
const PROTOCOL_ROUTES: [(&str, &str, &str, &str); 9] = [
    ("/v1/models", "get", "kserve-v1", "Served models"),
    ("/v1/models/{name}", "get", "kserve-v1", "Model readiness"),
    ("/v1/models/{name}:predict", "post", "kserve-v1", "OCR of `{\"instances\":[{\"image\":{\"b64\":...}}]}`"),
    ("/v2", "get", "oip-v2", "Server metadata"),
    ("/v2/health/live", "get", "oip-v2", "Server liveness"),
    ("/v2/health/ready", "get", "oip-v2", "Server readiness"),
    ("/v2/models/{name}", "get", "oip-v2", "Model metadata: BYTES input `image` [-1], BYTES output `result` [-1]"),
    ("/v2/models/{name}/ready", "get", "oip-v2", "Model readiness"),
    ("/v2/models/{name}/infer", "post", "oip-v2", "OCR of N images (JSON or binary tensor data)"),
];

fn upload() -> Value {
    let image = |what: &str| json!({"type": "string", "format": "binary", "description": what});
    json!({
        "required": true,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "description": "exactly one image part, `file` or `image_file`; unknown text fields are ignored",
            "properties": {
                "file": image("JPEG, PNG, WEBP or BMP image, or a PDF of up to --max-pdf-pages pages"),
                "image_file": image("the same, under the other accepted name"),
                "engine": {"type": "string", "description": "the engine to read with (`paddle`, `tesseract`; \
                           /health lists the loaded ones); the same as the query parameter"},
                "fields": {"type": "string", "enum": ["true", "false"], "description": "add the receipt's fields \
                           (company, address, date, total, ...) to the answer [default: --fields]"},
                "pdf_text": {"type": "string", "enum": ["auto", "off"], "description": "PDFs: `auto` reads a \
                             page's text layer when it has real text, `off` runs OCR on every page [default: auto]"},
            },
        }}},
    })
}

/// `/v1/ocr/batch`'s multipart form.
fn batch_upload() -> Value {
    json!({
        "required": true,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "description": "up to --max-batch image parts (`file`, repeated, or `files`), each within the \
                            upload limit, the whole body within --max-batch-mb",
            "properties": {
                "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "engine": {"type": "string", "description": "the engine for every image; as on /v1/ocr/receipt"},
            },
        }}},
    })
}

/// `/v1/jobs`'s multipart form: the batch form and a callback.
fn job_upload() -> Value {
    let mut form = batch_upload();
    let schema = &mut form["content"]["multipart/form-data"]["schema"];
    schema["description"] = json!("the batch form: up to --max-batch image parts, each checked when submitted");
    schema["properties"]["fields"] = json!({"type": "string", "enum": ["true", "false"]});
    schema["properties"]["callback_url"] = json!({"type": "string", "description": "POSTed the job when it ends, \
        signed (`X-Hub-Signature-256: sha256=HMAC`); its host must be on --callback-hosts"});
    form
}

/// One row of docs/errors.md's table.
struct ErrorRow<'a> {
    status: &'a str,
    code: &'a str,
    when: &'a str,
}

/// The rows `| 400 | `code` | when |` of the error table.
fn contract() -> Vec<ErrorRow<'static>> {
    ERRORS_MD
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            let [status, code, when] = cells[..] else { return None };
            status.parse::<u16>().ok()?;
            Some(ErrorRow { status, code: code.trim_matches('`'), when })
        })
        .collect()
}

/// One description per error status, listing its codes, for the OCR routes
/// (route-level 404 and 405 included: a typo in the path lands there).
fn error_responses<'a>(rows: &[ErrorRow<'a>]) -> BTreeMap<&'a str, String> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for row in rows {
        out.entry(row.status).or_default().push(format!("`{}`: {}", row.code, row.when));
    }
    out.into_iter().map(|(status, codes)| (status, codes.join("; "))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::ApiError;

    #[test]
    fn the_error_table_lists_every_code_the_service_sends() {
        let documented: Vec<&str> = contract().iter().map(|row| row.code).collect();
        let sent = [
            ApiError::MissingFile,
            ApiError::BadMultipart(String::new()),
            ApiError::EmptyFile,
            ApiError::FileTooLarge(1),
            ApiError::TooManyImages { limit: 16 },
            ApiError::UnsupportedFormat,
            ApiError::ContentTypeMismatch { declared: String::new(), actual: "image/png" },
            ApiError::InvalidImage(String::new()),
            ApiError::ImageTooLarge(String::new()),
            ApiError::from(hub_pdf::PdfError::Encrypted("")),
            ApiError::from(hub_pdf::PdfError::Malformed(String::new())),
            ApiError::from(hub_pdf::PdfError::NoPages),
            ApiError::from(hub_pdf::PdfError::TooManyPages { count: 11, max: 10 }),
            ApiError::from(hub_pdf::PdfError::PageTooLarge { page: 1, width_pt: 1.0, height_pt: 1.0, max_pt: 1.0 }),
            ApiError::from(hub_pdf::PdfError::TooComplex(String::new())),
            ApiError::InvalidParameter(String::new()),
            ApiError::UnknownEngine { name: String::new(), known: vec![] },
            ApiError::EngineNotReady { name: "tesseract", why: String::new() },
            ApiError::NotReady,
            ApiError::ModelsUnavailable(String::new()),
            ApiError::Overloaded,
            ApiError::Unauthorized,
            ApiError::Forbidden,
            ApiError::RateLimited(1),
            ApiError::BodyTimeout,
            ApiError::HeadersTooLarge,
            ApiError::DeadlineExceeded,
            ApiError::CapabilityDisabled("OCR"),
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::Internal,
            ApiError::JobNotFound,
            ApiError::JobNotCancellable("running"),
            ApiError::JobsUnavailable,
            ApiError::JobQueueFull(1),
            ApiError::JobStorageFull(1),
            ApiError::IdempotencyMismatch,
            ApiError::CallbackRefused(String::new()),
        ];
        // Every documented code is one the service sends, and the other way round.
        assert_eq!(documented.len(), sent.len(), "{documented:?}");
        for error in sent {
            let row = contract().into_iter().find(|row| row.code == error.code());
            let row = row.unwrap_or_else(|| panic!("{} is not in docs/errors.md: {documented:?}", error.code()));
            assert_eq!(row.status, error.status().as_str(), "{}", error.code());
        }
    }

    #[test]
    fn the_document_describes_every_route_and_the_contract() {
        let doc = document();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        for path in ["/live", "/ready", "/health", "/metrics"] {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
        for (path, method, _, _) in PROTOCOL_ROUTES {
            assert!(doc["paths"][path][method]["responses"]["default"].is_object(), "{path}");
        }
        for path in OCR_ROUTES {
            let post = &doc["paths"][path]["post"];
            assert!(post["requestBody"]["content"]["multipart/form-data"].is_object(), "{path}");
            assert!(post["responses"]["200"]["content"]["application/json"].is_object(), "{path}");
            for status in ["400", "401", "413", "415", "429", "503"] {
                let response = &post["responses"][status];
                assert_eq!(response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error");
            }
        }
        let description = doc["paths"]["/v1/ocr"]["post"]["responses"]["415"]["description"].as_str().unwrap();
        assert!(description.contains("content_type_mismatch"), "{description}");
        assert!(doc["components"]["schemas"]["OcrResponse"]["properties"]["lines"].is_object(), "{doc}");
    }
}
