//! One request through the gateway, whoever sends it: a client through the
//! OpenAI, Anthropic or Responses ingress ([`crate::api`]), the fallback
//! test, replay and model benchmarks ([`crate::tools`]). [`handle`] routes
//! the request (or sends it to one pinned target) and returns what came of
//! it together with its telemetry event; callers map that to their answer
//! and record the event (a stream's when it ends, through [`finish`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::routing::{
    DispatchError, Failure, ProxyRequest, ProxyResponse, ResponseBody, Runtime, StreamOutcome,
    StreamRelay, Upstreams, direct, dispatch,
};
use crate::telemetry::{Origin, RequestEvent, cost};
use crate::vocab::{AttemptEvent, ErrorClass, RouteMode, Served, ms};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::time::Instant;

/// A request ready to route: read, peeked, its client known.
pub struct Inbound {
    pub req: ProxyRequest,
    pub origin: Origin,
    /// When it came in: latency, overhead and the event's time count from here.
    pub received: Instant,
}

/// Where a request goes.
pub enum Via {
    /// Its model's route, as clients get it.
    Route,
    /// Its model's route with the preferred target forced to fail without
    /// being called (the fallback test).
    RouteFirstFails,
    /// One provider (its index in the runtime) and model, outside routing:
    /// no fallback, retries, breakers or local limits (replay, benchmarks).
    Pinned { provider: usize, model: String },
}

/// An error the gateway makes when no upstream answer can be relayed;
/// [`crate::api::ApiError`] gives it a status and a wire shape.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub class: ErrorClass,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// 404 for an unknown model, 429 when local limits refuse, 504 after a
    /// timeout, else 502 (what [`crate::api::ApiError`] answers with).
    pub fn status(&self) -> StatusCode {
        match self.class {
            ErrorClass::ModelNotFound => StatusCode::NOT_FOUND,
            ErrorClass::ProviderDisabled => StatusCode::FORBIDDEN,
            ErrorClass::ProviderRateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorClass::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

pub fn model_not_found_message(model: &str) -> String {
    format!("the model '{model}' has no route and no configured provider lists it")
}

/// What the client gets.
// One per request, moved a few times: boxing the relay would cost an
// allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    /// An upstream's answer: a 2xx, a 4xx of the client's relayed as is, or
    /// the last failure's status and body when every attempt failed.
    Full {
        status: StatusCode,
        content_type: Option<HeaderValue>,
        /// Upstream headers for the client (request ids, rate limits).
        headers: HeaderMap,
        retry_after: Option<Duration>,
        body: Bytes,
    },
    /// A committed stream. Its event is complete only when it ends: give
    /// [`finish`] to [`StreamRelay::into_body`].
    Stream {
        status: StatusCode,
        content_type: Option<HeaderValue>,
        headers: HeaderMap,
        relay: StreamRelay,
    },
    Refused(Refusal),
}

/// What came of one request.
pub struct Handled {
    pub answer: Answer,
    pub event: RequestEvent,
    /// Which target served, or failed last; `None` when none was tried.
    pub served: Option<Served>,
    pub attempts: usize,
    /// Time not spent waiting on upstreams (or retry backoff): ours.
    pub overhead: Duration,
    /// The last failure's message, when the request failed.
    pub failure: Option<String>,
}

/// The event for a request, with what is known before it is routed.
pub fn event(
    request_id: &str,
    received: Instant,
    client: &str,
    endpoint: crate::vocab::Endpoint,
    model: &str,
    origin: Origin,
) -> RequestEvent {
    let elapsed = received.elapsed();
    let mut e = RequestEvent::new(
        request_id.to_string(),
        SystemTime::now()
            .checked_sub(elapsed)
            .unwrap_or_else(SystemTime::now),
        client.to_string(),
        endpoint.as_str(),
        model.to_string(),
        origin,
    );
    e.latency_ms = ms(elapsed);
    e.overhead_ms = e.latency_ms;
    e
}

/// Routes (or pins) one request and accounts for it.
/// The request is borrowed, not moved: it stays where the caller built it
/// (moving it into this future would copy it once more per request).
pub async fn handle(
    up: &Upstreams<'_>,
    rt: &Arc<Runtime>,
    inbound: &mut Inbound,
    via: Via,
) -> Handled {
    let Inbound {
        req,
        origin,
        received,
    } = inbound;
    let (origin, received) = (*origin, *received);
    let result = match via {
        Via::Route => dispatch(up, rt, req).await,
        Via::RouteFirstFails => {
            req.force_fail_first = true;
            dispatch(up, rt, req).await
        }
        Via::Pinned { provider, model } => direct(&up.client, rt, provider, &model, req)
            .await
            .map_err(|(last, latency)| {
                if last.class == ErrorClass::ProviderDisabled {
                    DispatchError::ProviderDisabled {
                        provider: rt.providers[provider].spec.name.clone(),
                    }
                } else {
                    pinned_failure(rt, provider, &model, last, latency)
                }
            }),
    };
    let mut ev = event(
        &req.request_id,
        received,
        &req.client,
        req.endpoint,
        &req.peek.model,
        origin,
    );
    ev.stream = req.peek.stream;
    let tcfg = &rt.config.telemetry;
    if tcfg.store_bodies {
        ev.request_body = Some(req.body.clone());
    }
    match result {
        Ok(resp) => answered(ev, rt, req, received, resp),
        Err(DispatchError::ModelNotFound { model }) => {
            let refusal = Refusal {
                class: ErrorClass::ModelNotFound,
                message: model_not_found_message(&model),
                retry_after: None,
            };
            refused(ev, refusal, None, Vec::new(), received.elapsed())
        }
        Err(DispatchError::ProviderDisabled { provider }) => {
            let refusal = Refusal {
                class: ErrorClass::ProviderDisabled,
                message: format!(
                    "provider {provider:?} is disabled (enabled = false in its [[providers]] entry)"
                ),
                retry_after: None,
            };
            refused(ev, refusal, None, Vec::new(), received.elapsed())
        }
        Err(DispatchError::LocalLimit { retry_after }) => {
            let refusal = Refusal {
                class: ErrorClass::ProviderRateLimited,
                message: "every target of this route is over its local provider rate limit".into(),
                retry_after: Some(retry_after),
            };
            refused(ev, refusal, None, Vec::new(), received.elapsed())
        }
        Err(DispatchError::Exhausted {
            last,
            target,
            attempts,
            upstream_time,
        }) => {
            let overhead = received.elapsed().saturating_sub(upstream_time);
            if tcfg.store_bodies {
                ev.response_body = last.body.clone();
            }
            exhausted(ev, last, target, attempts, overhead)
        }
    }
}

/// Every attempt failed: the last upstream's answer relayed when there is
/// one, else a refusal with the last failure's class.
fn exhausted(
    mut ev: RequestEvent,
    last: Failure,
    target: Served,
    attempts: Vec<AttemptEvent>,
    overhead: Duration,
) -> Handled {
    let (Some(status), Some(body)) = (last.status, last.body) else {
        let refusal = Refusal {
            class: last.class,
            message: format!(
                "all {} upstream attempt(s) failed; last: {}",
                attempts.len(),
                last.message
            ),
            retry_after: None,
        };
        return refused(ev, refusal, Some(target), attempts, overhead);
    };
    ev.status = status.as_u16();
    ev.error = Some(last.class.to_string());
    ev.provider = Some(target.provider.clone());
    ev.forwarded_model = Some(target.model.clone());
    ev.route_mode = Some(target.mode);
    ev.route = target.route.clone();
    ev.overhead_ms = ms(overhead);
    let n = attempts.len();
    ev.attempts = attempts;
    Handled {
        answer: Answer::Full {
            status,
            content_type: last.content_type,
            headers: last.headers,
            retry_after: last.retry_after,
            body,
        },
        event: ev,
        served: Some(target),
        attempts: n,
        overhead,
        failure: Some(last.message),
    }
}

/// A pinned call that got no usable answer, as an exhausted dispatch of
/// one attempt.
fn pinned_failure(
    rt: &Runtime,
    provider: usize,
    model: &str,
    last: Failure,
    latency: Duration,
) -> DispatchError {
    let name = rt.providers[provider].spec.name.clone();
    DispatchError::Exhausted {
        attempts: vec![AttemptEvent {
            provider: name.clone(),
            model: model.to_string(),
            status: last.status.map(|s| s.as_u16()),
            error: Some(last.class.to_string()),
            latency_ms: ms(latency),
            key: None,
        }],
        target: Served {
            provider: name,
            model: model.to_string(),
            mode: RouteMode::Direct,
            route: None,
        },
        last,
        upstream_time: latency,
    }
}

fn answered(
    mut ev: RequestEvent,
    rt: &Runtime,
    req: &ProxyRequest,
    received: Instant,
    resp: ProxyResponse,
) -> Handled {
    let overhead = received.elapsed().saturating_sub(resp.upstream_time);
    let tcfg = &rt.config.telemetry;
    ev.status = resp.status.as_u16();
    ev.provider = Some(resp.served.provider.clone());
    ev.forwarded_model = Some(resp.served.model.clone());
    ev.route_mode = Some(resp.served.mode);
    ev.route = resp.served.route.clone();
    ev.ttft_ms = resp.ttft.map(ms);
    ev.overhead_ms = ms(overhead);
    let attempts = resp.attempts.len();
    ev.attempts = resp.attempts;
    if !resp.status.is_success() {
        ev.error = Some(ErrorClass::UpstreamClientError.to_string());
    }
    let answer = match resp.body {
        ResponseBody::Full(body) => {
            if resp.status.is_success() {
                let b = &body;
                let text = || cost::answer_text_bytes(b);
                let ending = cost::Ending::Complete;
                cost::settle(
                    &mut ev,
                    resp.usage,
                    ending,
                    req.body.len(),
                    text,
                    &tcfg.prices,
                );
            }
            if tcfg.store_bodies {
                ev.response_body = Some(body.clone());
            }
            Answer::Full {
                status: resp.status,
                content_type: resp.content_type,
                headers: resp.headers,
                retry_after: None,
                body,
            }
        }
        ResponseBody::Stream(mut relay) => {
            if tcfg.store_bodies {
                relay = relay.capture_body(tcfg.max_body_bytes.saturating_add(1));
            }
            Answer::Stream {
                status: resp.status,
                content_type: resp.content_type,
                headers: resp.headers,
                relay,
            }
        }
    };
    Handled {
        answer,
        event: ev,
        served: Some(resp.served),
        attempts,
        overhead,
        failure: None,
    }
}

fn refused(
    mut ev: RequestEvent,
    refusal: Refusal,
    target: Option<Served>,
    attempts: Vec<AttemptEvent>,
    overhead: Duration,
) -> Handled {
    ev.status = refusal.status().as_u16();
    ev.error = Some(refusal.class.to_string());
    ev.overhead_ms = ms(overhead);
    if let Some(t) = &target {
        ev.provider = Some(t.provider.clone());
        ev.forwarded_model = Some(t.model.clone());
        ev.route_mode = Some(t.mode);
        ev.route = t.route.clone();
    }
    let n = attempts.len();
    ev.attempts = attempts;
    Handled {
        failure: Some(refusal.message.clone()),
        answer: Answer::Refused(refusal),
        event: ev,
        served: target,
        attempts: n,
        overhead,
    }
}

/// Completes a stream's event with how the stream ended: its duration,
/// tokens and cost, error, the relayed body when captured.
pub fn finish(ev: &mut RequestEvent, o: StreamOutcome, rt: &Runtime, request_bytes: usize) {
    ev.latency_ms += ms(o.duration);
    let prices = &rt.config.telemetry.prices;
    let ending = if o.completed {
        cost::Ending::Complete
    } else {
        cost::Ending::Cut
    };
    cost::settle(ev, o.usage, ending, request_bytes, || o.text_bytes, prices);
    ev.cancelled = o.cancelled;
    ev.error = o.error;
    ev.response_body = o.body;
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::api::ApiError;
    use crate::routing::Catalog;
    use crate::routing::health::HealthRegistry;
    use crate::routing::tests::{ABC, gateway, request};
    use crate::upstream::scripted::{CONTENT, DONE, OK, Script, json, never, refused, sse};

    async fn run(
        s: &Script,
        rt: &Arc<Runtime>,
        health: &HealthRegistry,
        model: &str,
        via: Via,
    ) -> Handled {
        let mut req = request(false);
        if model != "m" {
            req.body = Bytes::from(format!(r#"{{"model":"{model}","messages":[]}}"#));
            req.peek = crate::routing::body::peek(&req.body).unwrap();
        }
        run_req(s, rt, health, req, via).await
    }

    async fn run_req(
        s: &Script,
        rt: &Arc<Runtime>,
        health: &HealthRegistry,
        req: ProxyRequest,
        via: Via,
    ) -> Handled {
        let catalog = Catalog::default();
        let up = Upstreams {
            client: s.client(),
            catalog: &catalog,
            health,
            shared: None,
        };
        let mut inbound = Inbound {
            req,
            origin: Origin::Client,
            received: Instant::now(),
        };
        handle(&up, rt, &mut inbound, via).await
    }

    #[tokio::test]
    async fn a_fallback_answer_is_accounted_in_its_event() {
        let (rt, health) = gateway(ABC, "");
        let s = Script::default();
        s.on(1, || json(500, "{}")).on(2, || json(200, OK));
        let h = run(&s, &rt, &health, "m", Via::Route).await;
        let Answer::Full {
            status, ref body, ..
        } = h.answer
        else {
            panic!("not a full answer");
        };
        assert_eq!((status, body.as_ref()), (StatusCode::OK, OK.as_bytes()));
        let ev = &h.event;
        assert_eq!((ev.status, ev.provider.as_deref()), (200, Some("b")));
        assert_eq!(ev.route_mode, Some(RouteMode::ProviderFallback));
        assert_eq!((ev.attempts.len(), h.attempts), (2, 2));
        assert_eq!(
            (ev.tokens_in, ev.tokens_out, ev.tokens_estimated),
            (Some(3), Some(1), false)
        );
        assert_eq!(ev.error, None);
        assert!(h.failure.is_none());
    }

    #[tokio::test]
    async fn an_unknown_model_is_a_404_refusal_with_no_target() {
        let (rt, health) = gateway(ABC, "");
        let s = Script::default();
        for port in 1..=3 {
            s.on(port, || json(200, r#"{"object":"list","data":[]}"#));
        }
        let h = run(&s, &rt, &health, "nope", Via::Route).await;
        let Answer::Refused(r) = h.answer else {
            panic!("not refused");
        };
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::from(r).code(), "model_not_found");
        assert_eq!(
            (h.event.status, h.event.error.as_deref()),
            (404, Some("model_not_found"))
        );
        assert!(h.served.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn no_usable_answer_is_refused_with_the_last_failure_class() {
        let route = "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
        let (rt, health) = gateway(route, "");
        let s = Script::default();
        s.on(1, refused).on(2, never);
        let h = run(&s, &rt, &health, "m", Via::Route).await;
        let Answer::Refused(r) = h.answer else {
            panic!("not refused");
        };
        // The last failure was b's timeout: 504, and the API agrees.
        assert_eq!(r.class, ErrorClass::Timeout);
        assert_eq!(r.status(), StatusCode::GATEWAY_TIMEOUT);
        let e = ApiError::from(r);
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
        );
        assert_eq!(
            (h.event.status, h.event.error.as_deref()),
            (504, Some("timeout"))
        );
        assert_eq!(h.served.map(|t| t.provider), Some("b".to_string()));
        assert!(
            h.failure
                .unwrap()
                .starts_with("all 2 upstream attempt(s) failed")
        );
    }

    #[tokio::test]
    async fn the_last_upstream_answer_is_relayed_when_every_attempt_failed() {
        let route = "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
        let (rt, health) = gateway(route, "");
        let s = Script::default();
        s.on(1, || json(500, r#"{"error":"a"}"#))
            .on(2, || json(503, r#"{"error":"b"}"#));
        let h = run(&s, &rt, &health, "m", Via::Route).await;
        let Answer::Full { status, body, .. } = h.answer else {
            panic!("not relayed");
        };
        assert_eq!(
            (status, body.as_ref()),
            (StatusCode::SERVICE_UNAVAILABLE, &br#"{"error":"b"}"#[..])
        );
        assert_eq!(
            (h.event.status, h.event.error.as_deref()),
            (503, Some("upstream_5xx"))
        );
        assert!(h.failure.is_some());
    }

    #[tokio::test]
    async fn a_pinned_failure_is_one_direct_attempt() {
        let (rt, health) = gateway(ABC, "");
        let s = Script::default();
        s.on(3, || json(500, "{}"));
        let via = Via::Pinned {
            provider: 2,
            model: "x".into(),
        };
        let h = run(&s, &rt, &health, "m", via).await;
        assert_eq!(s.models(), ["x"]);
        let ev = &h.event;
        assert_eq!((ev.status, ev.attempts.len()), (500, 1));
        assert_eq!(ev.attempts[0].error.as_deref(), Some("upstream_5xx"));
        assert_eq!(ev.route_mode, Some(RouteMode::Direct));
        assert_eq!(ev.forwarded_model.as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn a_stream_event_is_completed_when_the_stream_ends() {
        let (rt, health) = gateway(ABC, "");
        let s = Script::default();
        s.on(1, || sse(vec![Ok(CONTENT), Ok(DONE)]));
        let h = run_req(&s, &rt, &health, request(true), Via::Route).await;
        let Answer::Stream { relay, .. } = h.answer else {
            panic!("not a stream");
        };
        let mut ev = h.event;
        // No usage before the end: the tokens are not known yet.
        assert_eq!(ev.tokens_out, None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let body = relay.into_body(move |o| {
            let _ = tx.send(o);
        });
        let bytes = body.collect().await.unwrap().to_bytes();
        assert!(bytes.ends_with(b"data: [DONE]\n\n"));
        finish(&mut ev, rx.await.unwrap(), &rt, 50);
        // The upstream reported no usage: both sides are estimated.
        assert!(ev.tokens_estimated);
        assert!(ev.tokens_in.is_some_and(|t| t > 0) && ev.tokens_out.is_some_and(|t| t > 0));
        assert_eq!(ev.error, None);
        assert!(!ev.cancelled);
    }

    #[test]
    fn refusal_statuses_are_the_api_s() {
        for class in [
            ErrorClass::ModelNotFound,
            ErrorClass::ProviderRateLimited,
            ErrorClass::Timeout,
            ErrorClass::Connect,
            ErrorClass::BadUpstreamBody,
            ErrorClass::UpstreamBodyTooLarge,
        ] {
            let r = Refusal {
                class,
                message: "m".into(),
                retry_after: None,
            };
            assert_eq!(ApiError::from(r.clone()).status(), r.status(), "{class}");
        }
    }
}
