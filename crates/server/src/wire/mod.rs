//! What the all-in-one service and the gateway both speak, so the two
//! cannot drift apart: the error contract, the OCR response, upload
//! reading and its checks, request options, route and header names, the
//! access guard, the middleware every request passes (request id, HTTP
//! metrics, header limit), the serve-until-signal loop and the Prometheus
//! recorder.
//! Nothing here knows about models or workers.

pub mod access;
pub mod binary_tensor;
pub mod error;
pub mod metrics;
pub mod observe;
pub mod options;
pub mod response;
pub mod serve;
pub mod upload;

/// OCR endpoints: the receipt route and its aliases.
pub const OCR_ROUTES: [&str; 3] = ["/v1/ocr/receipt", "/v1/ocr", "/v1/parse"];

/// Many images in one multipart form.
pub const BATCH_ROUTE: &str = "/v1/ocr/batch";

/// Asynchronous jobs: `POST` submits, `GET` lists; `/{id}` reads or cancels one.
pub const JOBS_ROUTE: &str = "/v1/jobs";

/// Header naming the service's stable error code (docs/errors.md) next to
/// the KServe protocols' `{"error": "..."}` body, so a gateway can pass it on.
pub const ERROR_CODE_HEADER: &str = "x-error-code";

/// Header naming the engine that read the image (`paddle`, `tesseract`).
pub const ENGINE_HEADER: &str = "x-ocr-engine";

/// Header saying whether the result cache answered: `hit`, `miss`, `bypass`.
pub const CACHE_HEADER: &str = "x-cache";

/// The Open Inference Protocol's binary-data header: the JSON part's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// The served model's one input (a BYTES tensor of images) and one output
/// (a BYTES tensor of OCR responses as JSON) in the V2 protocol.
pub const V2_INPUT: &str = "image";
pub const V2_OUTPUT: &str = "result";
