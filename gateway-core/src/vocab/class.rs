//! Why a request or one of its attempts did not end in an answer: the one
//! list of error classes, written as the strings telemetry stores (the
//! request log's `error`, attempt records, metric labels), with what each
//! means for fallback, target health and the client's error code. A leaf
//! module: it imports nothing of the crate.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    // An attempt failed: a fallback signal.
    /// No answer (or no content from a stream) within the provider's timeout, or an upstream 408.
    Timeout,
    /// No connection could be made (refused, TLS, DNS, the SSRF guard).
    Connect,
    /// The request or the body broke off.
    Network,
    /// An upstream 429.
    RateLimited,
    /// An upstream 5xx.
    Upstream5xx,
    /// A stream that broke (before its first content frame: fallback;
    /// after: an error event to the client).
    StreamBroken,
    /// An upstream error event before the first content frame.
    StreamError,
    /// A flowing stream fell silent.
    StreamIdleTimeout,
    /// A 2xx that is not an answer of the endpoint.
    BadUpstreamBody,
    /// An answer, or a stream's preamble, over its cap.
    UpstreamBodyTooLarge,
    /// An upstream 3xx (never followed).
    UpstreamRedirect,
    /// The provider's key could not be resolved.
    KeyMissing,
    /// The upstream refused the provider's key on live traffic in a way
    /// other than a plain 401/403 (Gemini: 400 `API_KEY_INVALID`, 403
    /// `PERMISSION_DENIED`): the key cools, the next target is tried, and
    /// the client gets a 401 when none is left.
    KeyRefused,
    /// The provider's credential could not be obtained: its token endpoint
    /// refused the grant or failed (Vertex AI's OAuth token).
    AuthFailed,
    // A target that cannot take the request: skipped, its health untouched.
    /// The fallback test's preferred target, failed without being called.
    Forced,
    /// The provider does not serve the endpoint.
    Unsupported,
    /// The request cannot be expressed in the provider's protocol.
    Untranslatable,
    /// The provider forwards the client's own credential (`api_key =
    /// "client"`) and the request carried none.
    NoClientCredential,
    /// An upstream 4xx a route's `retry_on_status` / `retry_on_message`
    /// makes a fallback signal (counts against the target's health).
    RetryRule,
    // An upstream 4xx the route's `fallback_on` names: the request, not the
    // target, was the problem (health-neutral); another target may take it.
    /// The prompt is longer than the model's context window.
    ContextLengthExceeded,
    /// The provider's content filter refused the request.
    ContentFilter,
    // The request was answered, not with success.
    /// An upstream 4xx other than 408/429, returned as it is.
    ClientError,
    /// The same, as the request's outcome.
    UpstreamClientError,
    /// A committed stream that carried an upstream error event.
    UpstreamErrorEvent,
    /// The client went away mid-stream.
    ClientCancelled,
    // Refused by the gateway before any attempt.
    Unauthorized,
    Paused,
    IngressRateLimited,
    BadRequest,
    ModelNotFound,
    ProviderRateLimited,
    /// The request named a provider that is `enabled = false`, or every
    /// target of its route is one.
    ProviderDisabled,
    /// Its virtual key's budget for the period is spent.
    BudgetExceeded,
    /// Its virtual key may not use the requested model.
    ModelNotAllowed,
}

impl ErrorClass {
    /// The name telemetry stores.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Network => "network",
            Self::RateLimited => "rate_limited",
            Self::Upstream5xx => "upstream_5xx",
            Self::StreamBroken => "stream_broken",
            Self::StreamError => "stream_error",
            Self::StreamIdleTimeout => "stream_idle_timeout",
            Self::BadUpstreamBody => "bad_upstream_body",
            Self::UpstreamBodyTooLarge => "upstream_body_too_large",
            Self::UpstreamRedirect => "upstream_redirect",
            Self::KeyMissing => "key_missing",
            Self::KeyRefused => "key_refused",
            Self::AuthFailed => "auth_failed",
            Self::Forced => "forced",
            Self::Unsupported => "unsupported",
            Self::Untranslatable => "untranslatable",
            Self::NoClientCredential => "no_client_credential",
            Self::RetryRule => "retry_rule",
            Self::ContextLengthExceeded => "context_length_exceeded",
            Self::ContentFilter => "content_filter",
            Self::ClientError => "client_error",
            Self::UpstreamClientError => "upstream_client_error",
            Self::UpstreamErrorEvent => "upstream_error_event",
            Self::ClientCancelled => "client_cancelled",
            Self::Unauthorized => "unauthorized",
            Self::Paused => "paused",
            Self::IngressRateLimited => "ingress_rate_limited",
            Self::BadRequest => "bad_request",
            Self::ModelNotFound => "model_not_found",
            Self::ProviderRateLimited => "provider_rate_limited",
            Self::ProviderDisabled => "provider_disabled",
            Self::BudgetExceeded => "budget_exceeded",
            Self::ModelNotAllowed => "model_not_allowed",
        }
    }

    /// The target could not take the request: nothing about its health.
    pub const fn is_health_neutral(self) -> bool {
        matches!(
            self,
            Self::Forced
                | Self::Unsupported
                | Self::Untranslatable
                | Self::NoClientCredential
                | Self::ContextLengthExceeded
                | Self::ContentFilter
        )
    }

    /// The classes a route's `fallback_on` can name: upstream client errors
    /// read from their bodies (`routing::classify`).
    pub const FALLBACK_ON: [ErrorClass; 2] = [Self::ContextLengthExceeded, Self::ContentFilter];

    /// The [`ErrorClass::FALLBACK_ON`] class named `name`.
    pub fn fallback_class(name: &str) -> Option<ErrorClass> {
        Self::FALLBACK_ON.into_iter().find(|c| c.as_str() == name)
    }

    /// The `code` of the 502 a client gets when this was the last failure
    /// and no upstream answer can be relayed.
    pub const fn bad_gateway_code(self) -> &'static str {
        match self {
            Self::BadUpstreamBody | Self::UpstreamBodyTooLarge | Self::UpstreamRedirect => {
                self.as_str()
            }
            _ => "upstream_error",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_named_in_the_product_contract() {
        assert_eq!(
            ErrorClass::BadUpstreamBody.bad_gateway_code(),
            "bad_upstream_body"
        );
        assert_eq!(
            ErrorClass::UpstreamBodyTooLarge.bad_gateway_code(),
            "upstream_body_too_large"
        );
        assert_eq!(
            ErrorClass::UpstreamRedirect.bad_gateway_code(),
            "upstream_redirect"
        );
        assert_eq!(ErrorClass::Connect.bad_gateway_code(), "upstream_error");
        assert_eq!(ErrorClass::Upstream5xx.to_string(), "upstream_5xx");
        assert!(ErrorClass::Forced.is_health_neutral());
        assert!(!ErrorClass::Timeout.is_health_neutral());
        assert!(ErrorClass::NoClientCredential.is_health_neutral());
    }
}
