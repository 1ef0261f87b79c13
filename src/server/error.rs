//! The API's error body, `{"error": {"code", "message", "field", "index", …}}`, and how the
//! library's errors map to it: the message is the error's `Display`, the same text the command
//! line prints, so a refusal reads the same whichever way it was sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::store::{AppendError, ProofError, ReadError};

/// An error answered to a client. Internal errors are logged with their detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`refused`, `forbidden`, `batch_too_large`…).
    pub code: &'static str,
    /// The human text, as the command line prints it.
    pub message: String,
    /// The field at fault, as a path (`payload.village_id`, `expected_version`, `from`).
    pub field: Option<String>,
    /// The index of the event at fault in the request's batch.
    pub index: Option<usize>,
    /// For 401/403: the rule that refused.
    pub rule: Option<&'static str>,
    /// Variant-specific details (enough for a client to rebuild the library's error); boxed
    /// to keep the error small on the success path.
    pub detail: Option<Box<Value>>,
}

/// The response extension that tells the metrics layer why a request was refused.
#[derive(Debug, Clone, Copy)]
pub struct RefusalCode(pub &'static str);

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            index: None,
            rule: None,
            detail: None,
        }
    }

    /// 400: a request that does not parse; `field` names what is wrong.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message).field(field)
    }

    /// 401: no token, or one the server does not know.
    pub fn unauthenticated(rule: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            rule: Some(rule),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
        }
    }

    /// 403: the token's role or villages do not allow this.
    pub fn forbidden(rule: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            rule: Some(rule),
            ..ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500: logged with its detail (paths, store internals); the client gets only a short
    /// message.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server's log has the details",
        )
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// Names the event at fault.
    pub fn index(mut self, index: usize) -> ApiError {
        self.index = Some(index);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut e = json!({
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "index": self.index,
        });
        if let Some(rule) = self.rule {
            e["rule"] = json!(rule);
        }
        if let Some(d) = &self.detail {
            e["detail"] = (**d).clone();
        }
        json!({ "error": e })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS
            || self.status == StatusCode::SERVICE_UNAVAILABLE
        {
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        r.extensions_mut().insert(RefusalCode(self.code));
        r
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match &e {
            AppendError::Refused { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            AppendError::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            AppendError::EventIdConflict { .. } => (StatusCode::CONFLICT, "event_id_conflict"),
            AppendError::BatchSize { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"),
            AppendError::Clock(_) => (StatusCode::UNPROCESSABLE_ENTITY, "clock"),
            AppendError::Io(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_failed"),
            AppendError::Unreadable(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_unreadable"),
            AppendError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "closed"),
            AppendError::Remote(_) => (StatusCode::BAD_GATEWAY, "upstream"),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "append failed");
        }
        let mut err = ApiError::new(status, code, message);
        match e {
            AppendError::Refused {
                index,
                event_type,
                field,
                reason,
            } => {
                err.index = Some(index);
                err.field = Some(field);
                err.detail = Some(Box::new(
                    json!({"event_type": event_type.as_str(), "reason": reason}),
                ));
            }
            AppendError::VersionConflict {
                index,
                stream,
                expected,
                actual,
            } => {
                err.index = Some(index);
                err.field = Some("expected_version".into());
                err.detail = Some(Box::new(
                    json!({"stream": stream, "expected": expected, "actual": actual}),
                ));
            }
            AppendError::EventIdConflict { index, event_id } => {
                err.index = Some(index);
                err.field = Some("event_id".into());
                err.detail = Some(Box::new(json!({"event_id": event_id.to_string()})));
            }
            AppendError::BatchSize { events } => {
                err.detail = Some(Box::new(json!({"events": events})))
            }
            AppendError::Clock(reason)
            | AppendError::Io(reason)
            | AppendError::Unreadable(reason) => {
                err.detail = Some(Box::new(json!({"reason": reason})))
            }
            _ => {}
        }
        err
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        match e {
            ReadError::Range(m) => ApiError::new(StatusCode::BAD_REQUEST, "range", m),
            e => ApiError::internal(e),
        }
    }
}

impl From<ProofError> for ApiError {
    fn from(e: ProofError) -> ApiError {
        match e {
            ProofError::Range(m) => ApiError::new(StatusCode::BAD_REQUEST, "range", m),
            ProofError::Inconsistent(_) => {
                ApiError::new(StatusCode::CONFLICT, "inconsistent", e.to_string())
            }
            e => ApiError::internal(e),
        }
    }
}

/// A failure of the command-line operations (`reviews`, `ops`): their messages are for the
/// user, so they are answered as 422 with the same text (sizes beyond the log, unknown
/// review ids, periods that end before they start…).
pub fn unprocessable(e: anyhow::Error) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        format!("{e:#}"),
    )
}
