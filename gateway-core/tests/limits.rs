//! Issue 18 item 1 as an operator meets it: local limits survive config
//! changes (a changed limit is resized, keeping what was spent), providers
//! on one upstream account share one budget, and the ingress has a TPM
//! and per-model limits beside its RPM — each answering 429 in the OpenAI
//! shape with `Retry-After`.

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

async fn gateway(toml: &str) -> TestGateway {
    TestGateway::builder(toml)
        .config_file()
        .watch_interval(Duration::from_millis(100))
        .start()
        .await
}

impl TestGateway {
    async fn publish(&self, toml: &str, message: &str) {
        let (s, p) = self
            .admin_post("/config/publish", json!({"toml": toml, "message": message}))
            .await;
        assert_eq!(s, 200, "{p}");
    }

    /// A chat for `model` answered 200.
    async fn served(&self, model: &str) {
        assert_eq!(self.chat(&chat_body(model, false)).await.status(), 200);
    }

    /// A chat for `model` refused by a limit: see [`assert_limited`].
    async fn limited(&self, model: &str, code: &str, says: &str) {
        assert_limited(self.chat(&chat_body(model, false)).await, code, says).await;
    }
}

/// A 429 of the gateway's own: OpenAI shape, `Retry-After`, this code.
async fn assert_limited(r: reqwest::Response, code: &str, says: &str) {
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry >= 1, "{retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(says), "{msg}");
}

/// Raising the client limit from 2 to 3 after 2 requests gives one more,
/// not a fresh 3; lowering it to 1 leaves the client limited.
#[tokio::test]
async fn a_changed_ingress_limit_is_resized_keeping_what_was_spent() {
    let a = FakeUpstream::start("a").await;
    let v1 = format!(
        "[limits]\ningress_rpm = 2\n{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    );
    let gw = gateway(&v1).await;
    for _ in 0..2 {
        gw.served("m").await;
    }
    gw.limited("m", "rate_limit_exceeded", "2 requests per minute")
        .await;

    gw.publish(&v1.replace("ingress_rpm = 2", "ingress_rpm = 3"), "raise")
        .await;
    assert_eq!(
        gw.chat(&chat_body("m", false)).await.status(),
        200,
        "one left of 3"
    );
    gw.limited("m", "rate_limit_exceeded", "3 requests per minute")
        .await;

    gw.publish(&v1.replace("ingress_rpm = 2", "ingress_rpm = 1"), "lower")
        .await;
    gw.limited("m", "rate_limit_exceeded", "1 requests per minute")
        .await;
    assert_eq!(a.proxied_requests().len(), 3);
}

/// Two providers on the same upstream account (`share_limits`, the same
/// base URL up to a trailing slash) draw on one RPM budget; a third on
/// another URL keeps its own. The shared budget survives a publish and is
/// resized when both raise their limit.
#[tokio::test]
async fn providers_on_one_base_url_share_one_budget() {
    let up = FakeUpstream::start("up").await;
    let other = FakeUpstream::start("other").await;
    let shared = |name: &str, url: &str, rpm: u32| {
        format!(
            "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{url}\"\nrpm = {rpm}\nshare_limits = true\n"
        )
    };
    let toml = |rpm: u32| {
        format!(
            "{}{}{}{}{}{}",
            shared("p1", &up.base_url(), rpm),
            shared("p2", &format!("{}/", up.base_url()), rpm),
            shared("p3", &other.base_url(), 1),
            route("m1", "", &[("p1", None)]),
            route("m2", "", &[("p2", None)]),
            route("m3", "", &[("p3", None)]),
        )
    };
    let gw = gateway(&toml(1)).await;
    gw.served("m1").await;
    gw.limited("m2", "provider_rate_limited", "local provider rate limit")
        .await;
    assert_eq!(
        gw.chat(&chat_body("m3", false)).await.status(),
        200,
        "another URL, another budget"
    );

    // an unrelated edit keeps the shared budget spent
    gw.publish(&format!("{}\n# edited\n", toml(1)), "comment")
        .await;
    assert_eq!(gw.chat(&chat_body("m2", false)).await.status(), 429);

    // both raise to 2: one request left in the shared window
    gw.publish(&toml(2), "raise").await;
    gw.served("m2").await;
    assert_eq!(gw.chat(&chat_body("m1", false)).await.status(), 429);
    assert_eq!(up.proxied_requests().len(), 2);
}

/// Sharing providers must agree on the budget: a clear validation error.
#[tokio::test]
async fn sharing_providers_with_different_limits_are_refused() {
    let up = FakeUpstream::start("up").await;
    let p = |name: &str, rpm: u32| {
        format!(
            "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{}\"\nrpm = {rpm}\nshare_limits = true\n",
            up.base_url()
        )
    };
    let v1 = format!("{}{}", p("p1", 1), route("m", "", &[("p1", None)]));
    let gw = gateway(&v1).await;
    let bad = format!("{v1}{}", p("p2", 2));
    let (s, body) = gw
        .admin_post("/config/publish", json!({"toml": bad, "message": "x"}))
        .await;
    assert_eq!(s, 422, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("providers[1].share_limits") && text.contains("different rpm/tpm"),
        "{text}"
    );
}

fn usage_reply(total: u64) -> Behavior {
    Behavior::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": total - 1, "completion_tokens": 1, "total_tokens": total}
    }))
}

/// `ingress_tpm`: the estimate (body size and `max_tokens`) is charged on
/// admission and replaced by the reported usage; a client over its tokens
/// gets 429, also after a publish.
#[tokio::test]
async fn ingress_tpm_charges_estimates_and_settles_by_usage() {
    let a = FakeUpstream::start("a").await;
    let v1 = format!(
        "[limits]\ningress_tpm = 1000\n{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    );
    let gw = gateway(&v1).await;
    let mut big = chat_body("m", false);
    big["max_tokens"] = json!(900);
    // ~920 estimated each; the upstream reports 13: both fit in 1000 a minute
    assert_eq!(gw.chat(&big).await.status(), 200);
    assert_eq!(
        gw.chat(&big).await.status(),
        200,
        "the first was settled at its usage"
    );
    // an answer that used 5000 tokens puts the client in debt
    a.push(usage_reply(5000));
    gw.served("m").await;
    gw.limited("m", "rate_limit_exceeded", "1000 tokens per minute")
        .await;
    gw.publish(&format!("{v1}\n# edited\n"), "comment").await;
    gw.limited("m", "rate_limit_exceeded", "tokens per minute")
        .await;
    assert_eq!(a.proxied_requests().len(), 3);
}

/// `[[limits.models]]`: a pattern's RPM is shared by every name it matches
/// and all clients; another model passes; the budget survives a publish.
#[tokio::test]
async fn a_model_over_its_rpm_is_refused_while_another_passes() {
    let a = FakeUpstream::start("a").await;
    let v1 = format!(
        "[[limits.models]]\nmodel = \"gpt-5*\"\nrpm = 1\n{}{}{}",
        provider(&a, ""),
        route("gpt-5*", "", &[("a", None)]),
        route("other", "", &[("a", None)])
    );
    let gw = gateway(&v1).await;
    gw.served("gpt-5-mini").await;
    gw.limited("gpt-5", "rate_limit_exceeded", "limits.models \"gpt-5*\"")
        .await;
    for _ in 0..3 {
        gw.served("other").await;
    }
    gw.publish(&format!("{v1}\n# edited\n"), "comment").await;
    assert_eq!(gw.chat(&chat_body("gpt-5.1", false)).await.status(), 429);
    gw.served("other").await;
    assert_eq!(a.proxied_requests().len(), 5);
}

/// A streamed answer settles the client's tokens when it ends: two streams
/// each estimated at ~920 of 1000 tokens a minute both pass; one cut
/// before its usage keeps its estimate, so the next does not fit.
#[tokio::test]
async fn a_streamed_answer_settles_ingress_tpm_when_it_ends() {
    let a = FakeUpstream::start("a").await;
    let v1 = format!(
        "[limits]\ningress_tpm = 1000\n{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    );
    let gw = gateway(&v1).await;
    let mut big = chat_body("m", true);
    big["max_tokens"] = json!(900);
    for _ in 0..2 {
        let r = gw.chat(&big).await;
        assert_eq!(r.status(), 200);
        let text = streamed_text(&r.text().await.unwrap());
        assert_eq!(text, "Hello from a");
    }
    // a stream cut before its usage keeps its estimate charged
    a.push(Behavior::StreamDieAfterContent { after: 1 });
    let r = gw.chat(&big).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    assert_limited(
        gw.chat(&big).await,
        "rate_limit_exceeded",
        "tokens per minute",
    )
    .await;
}
