//! A cache hit as what the pipeline would have answered: the stored body
//! (a replayed stream or the JSON answer), served by the target that made
//! it in route mode `cache`, with no upstream attempt, tokens or cost.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::Entry;
use crate::pipeline::{self, Answer, Handled, Inbound};
use crate::vocab::{RouteMode, Served, ms};

/// `store_bodies`: keep the request and the served body in the event, as
/// for an upstream answer (`telemetry.store_bodies`).
pub fn answer(inbound: &Inbound, entry: &Entry, store_bodies: bool) -> Handled {
    let req = &inbound.req;
    let mut ev = pipeline::event(
        &req.request_id,
        inbound.received,
        &req.client,
        req.endpoint,
        &req.peek.model,
        inbound.origin,
    );
    let served = Served {
        provider: entry.provider.clone(),
        model: entry.model.clone(),
        mode: RouteMode::Cache,
        route: entry.route.clone(),
    };
    ev.stream = req.peek.stream;
    ev.status = 200;
    ev.provider = Some(served.provider.clone());
    ev.forwarded_model = Some(served.model.clone());
    ev.route_mode = Some(RouteMode::Cache);
    ev.route = served.route.clone();
    ev.ttft_ms = Some(ev.latency_ms);
    // Nothing went upstream: no tokens used, nothing to pay.
    ev.tokens_in = Some(0);
    ev.tokens_out = Some(0);
    ev.cost_usd = Some(0.0);
    if store_bodies {
        ev.request_body = Some(req.body.clone());
        ev.response_body = Some(entry.body.clone());
    }
    let overhead = inbound.received.elapsed();
    ev.overhead_ms = ms(overhead);
    Handled {
        answer: Answer::Full {
            status: StatusCode::OK,
            content_type: entry.content_type.clone(),
            headers: HeaderMap::new(),
            retry_after: None::<Duration>,
            body: entry.body.clone(),
        },
        event: ev,
        served: Some(served),
        attempts: 0,
        overhead,
        failure: None,
    }
}
