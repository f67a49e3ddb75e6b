//! The fixed probe suite (versioned: a baseline is only compared with runs
//! of the same [`SUITE_VERSION`]) and its deterministic checks.

use serde_json::{Value, json};

/// Bump when a probe's prompt, parameters or check changes: baselines of
/// another version are refused (record a new one).
pub const SUITE_VERSION: u32 = 1;

/// One fixed prompt and what a faithful model answers.
pub struct Probe {
    pub name: &'static str,
    pub about: &'static str,
    pub stream: bool,
    pub max_tokens: u32,
    system: Option<&'static str>,
    prompt: &'static str,
    tools: bool,
    check: Check,
}

enum Check {
    /// The answer, without thousands separators and spaces, contains this.
    Number(&'static str),
    /// The answer, trimmed of quotes, backticks and a final period, is this.
    Exactly(&'static str),
    /// Like `Exactly`, ignoring ASCII case.
    Word(&'static str),
    /// The answer ends with this word (case-insensitive, punctuation ignored).
    EndsWith(&'static str),
    /// The answer, whitespace collapsed, contains this.
    Contains(&'static str),
    /// A JSON object (fences allowed) with `city` Paris and `country` France.
    JsonCity,
    /// A `get_weather` tool call whose `city` argument is Paris.
    WeatherToolCall,
    /// Output tokens reported ≤ the probe's `max_tokens`.
    MaxTokens,
}

/// A fixed paragraph for the token-count probe: its input token count is
/// a property of the model's tokenizer, so a substituted model shows up.
const PARAGRAPH: &str = "Lighthouses were once kept by families who lived at the foot of the tower. \
Every evening the keeper climbed the spiral stairs, trimmed the wick, polished the great lens and \
wound the clockwork that turned it. Ships counted the flashes to know which light they saw: three \
short and one long for one headland, two long for the next. In fog the keeper rang a bell every \
thirty seconds until dawn. Today most lights are automatic, watched from far away, and the \
keepers' cottages are museums, guest houses or simply empty.";

pub static SUITE: &[Probe] = &[
    Probe {
        name: "arithmetic",
        about: "exact multiplication",
        stream: false,
        max_tokens: 32,
        system: None,
        prompt: "What is 1234 * 5678? Reply with the number only.",
        tools: false,
        check: Check::Number("7006652"),
    },
    Probe {
        name: "reverse",
        about: "reverse a string character by character",
        stream: false,
        max_tokens: 32,
        system: None,
        prompt: "Reverse the string gateway-7x character by character. Reply with the reversed string only.",
        tools: false,
        check: Check::Exactly("x7-yawetag"),
    },
    Probe {
        name: "json",
        about: "answer in a given JSON shape",
        stream: false,
        max_tokens: 64,
        system: None,
        prompt: "Reply with a JSON object only, no prose, with two keys: \"city\" set to \"Paris\" and \"country\" set to the country Paris is in.",
        tools: false,
        check: Check::JsonCity,
    },
    Probe {
        name: "tool_call",
        about: "call the offered tool with the right arguments",
        stream: false,
        max_tokens: 64,
        system: None,
        prompt: "What is the weather in Paris right now? Use the get_weather tool.",
        tools: true,
        check: Check::WeatherToolCall,
    },
    Probe {
        name: "token_count",
        about: "input tokens of a fixed paragraph (the tokenizer's fingerprint)",
        stream: false,
        max_tokens: 8,
        system: None,
        prompt: PARAGRAPH,
        tools: false,
        check: Check::Word("OK"),
    },
    Probe {
        name: "max_tokens",
        about: "stop at max_tokens",
        stream: false,
        max_tokens: 5,
        system: None,
        prompt: "Write a long story about a lighthouse keeper.",
        tools: false,
        check: Check::MaxTokens,
    },
    Probe {
        name: "system_prompt",
        about: "obey the system prompt",
        stream: false,
        max_tokens: 32,
        system: Some("You are a pirate. End every answer with the word ARR."),
        prompt: "Say hello in five words or fewer.",
        tools: false,
        check: Check::EndsWith("ARR"),
    },
    Probe {
        name: "stream_count",
        about: "a streamed answer (time to first token)",
        stream: true,
        max_tokens: 32,
        system: None,
        prompt: "Count from 1 to 5, separated by spaces. Reply with the numbers only.",
        tools: false,
        check: Check::Contains("1 2 3 4 5"),
    },
];

/// What the checks read from an answer.
#[derive(Debug, Default)]
pub struct Answer {
    pub text: String,
    /// `(name, arguments)` of each tool call.
    pub tool_calls: Vec<(String, String)>,
}

impl Probe {
    /// The chat completions body sent to `model`.
    pub fn body(&self, model: &str) -> Value {
        let mut messages = Vec::new();
        if let Some(s) = self.system {
            messages.push(json!({"role": "system", "content": s}));
        }
        let prompt = if self.name == "token_count" {
            format!("{}\n\nReply with the single word OK.", self.prompt)
        } else {
            self.prompt.to_string()
        };
        messages.push(json!({"role": "user", "content": prompt}));
        let mut b = json!({
            "model": model, "max_tokens": self.max_tokens, "temperature": 0,
            "stream": self.stream, "messages": messages,
        });
        if self.stream {
            b["stream_options"] = json!({"include_usage": true});
        }
        if self.tools {
            b["tools"] = json!([{"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }}]);
        }
        b
    }

    /// `Ok(())` when the answer passes, else why not.
    pub fn check(&self, a: &Answer, tokens_out: Option<u64>) -> Result<(), String> {
        let shown = || short(&a.text);
        match self.check {
            Check::Number(n) => {
                let digits: String = a.text.chars().filter(|c| !matches!(c, ',' | ' ')).collect();
                ok_if(digits.contains(n), || {
                    format!("expected {n}, got {}", shown())
                })
            }
            Check::Exactly(want) => {
                let got = trim_answer(&a.text);
                ok_if(got == want, || {
                    format!("expected {want:?}, got {}", shown())
                })
            }
            Check::Word(want) => {
                let got = trim_answer(&a.text);
                ok_if(got.eq_ignore_ascii_case(want), || {
                    format!("expected {want:?}, got {}", shown())
                })
            }
            Check::EndsWith(w) => {
                let t = a.text.trim_end_matches(|c: char| !c.is_alphanumeric());
                let last = t
                    .rsplit(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("");
                ok_if(last.eq_ignore_ascii_case(w), || {
                    format!("expected the answer to end with {w:?}, got {}", shown())
                })
            }
            Check::Contains(s) => {
                let squashed = a
                    .text
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                ok_if(squashed.contains(s), || {
                    format!("expected {s:?}, got {}", shown())
                })
            }
            Check::JsonCity => {
                let t = trim_answer(&a.text);
                let t = t.trim_start_matches("json").trim();
                let v: Value = serde_json::from_str(t)
                    .map_err(|_| format!("not a JSON object: {}", shown()))?;
                let city = v.get("city").and_then(Value::as_str).unwrap_or("");
                let country = v.get("country").and_then(Value::as_str).unwrap_or("");
                ok_if(
                    city == "Paris" && country.eq_ignore_ascii_case("france"),
                    || format!("wrong JSON: {}", shown()),
                )
            }
            Check::WeatherToolCall => {
                let Some((name, args)) = a.tool_calls.first() else {
                    return Err(format!("no tool call; answered {}", shown()));
                };
                let city = serde_json::from_str::<Value>(args)
                    .ok()
                    .and_then(|v| v.get("city").and_then(Value::as_str).map(str::to_lowercase));
                ok_if(
                    name == "get_weather" && city.is_some_and(|c| c.contains("paris")),
                    || format!("wrong tool call {name}({})", short(args)),
                )
            }
            Check::MaxTokens => match tokens_out {
                Some(n) => ok_if(n <= u64::from(self.max_tokens), || {
                    format!("{n} output tokens for max_tokens {}", self.max_tokens)
                }),
                None => Err("no output token count reported".into()),
            },
        }
    }
}

fn ok_if(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// Quotes, backticks, code fences, whitespace and a final period off.
fn trim_answer(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("```").unwrap_or(s);
    let s = s.strip_suffix("```").unwrap_or(s);
    s.trim()
        .trim_end_matches('.')
        .trim_matches(|c| matches!(c, '"' | '\'' | '`'))
        .trim()
}

/// At most 80 characters, quoted.
fn short(s: &str) -> String {
    let t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        format!("{t:?}…")
    } else {
        format!("{t:?}")
    }
}

/// Text and tool calls of a chat completions answer: a JSON body, or the
/// SSE of a stream (content deltas joined).
pub fn parse_answer(response: &str, stream: bool) -> Answer {
    let mut a = Answer::default();
    if !stream {
        let Ok(v) = serde_json::from_str::<Value>(response) else {
            return a;
        };
        let msg = v.pointer("/choices/0/message");
        if let Some(t) = msg.and_then(|m| m.get("content")).and_then(Value::as_str) {
            a.text = t.to_string();
        }
        for c in msg
            .and_then(|m| m.get("tool_calls"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = c.get("function");
            let s = |k: &str| {
                f.and_then(|f| f.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            a.tool_calls.push((s("name"), s("arguments")));
        }
        return a;
    }
    for line in response.lines() {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(t) = v
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
        {
            a.text.push_str(t);
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(name: &str) -> &'static Probe {
        SUITE.iter().find(|p| p.name == name).expect("probe")
    }
    fn text(t: &str) -> Answer {
        Answer {
            text: t.into(),
            tool_calls: vec![],
        }
    }

    #[test]
    fn checks_accept_faithful_and_refuse_wrong_answers() {
        assert!(probe("arithmetic").check(&text("7,006,652"), None).is_ok());
        assert!(probe("arithmetic").check(&text("7006650"), None).is_err());
        assert!(probe("reverse").check(&text("`x7-yawetag`"), None).is_ok());
        assert!(probe("reverse").check(&text("X7-YAWETAG"), None).is_err());
        assert!(
            probe("json")
                .check(
                    &text("```json\n{\"city\":\"Paris\",\"country\":\"France\"}\n```"),
                    None
                )
                .is_ok()
        );
        assert!(
            probe("json")
                .check(&text("Paris is in France"), None)
                .is_err()
        );
        assert!(
            probe("system_prompt")
                .check(&text("Ahoy matey, ARR!"), None)
                .is_ok()
        );
        assert!(
            probe("system_prompt")
                .check(&text("Hello there!"), None)
                .is_err()
        );
        assert!(
            probe("stream_count")
                .check(&text("1, 2, 3, 4, 5"), None)
                .is_ok()
        );
        assert!(probe("max_tokens").check(&text("Once"), Some(5)).is_ok());
        assert!(probe("max_tokens").check(&text("Once"), Some(40)).is_err());
        let call = Answer {
            text: String::new(),
            tool_calls: vec![("get_weather".into(), "{\"city\":\"Paris, FR\"}".into())],
        };
        assert!(probe("tool_call").check(&call, None).is_ok());
        assert!(
            probe("tool_call")
                .check(&text("It is sunny"), None)
                .is_err()
        );
    }

    #[test]
    fn parses_streams_and_bodies() {
        let sse = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\"1 2\"}}]}\n\n\
                   data: {\"choices\":[{\"delta\":{\"content\":\" 3\"}}]}\n\ndata: [DONE]\n\n";
        assert_eq!(parse_answer(sse, true).text, "1 2 3");
        let body = r#"{"choices":[{"message":{"content":null,"tool_calls":[{"function":{"name":"get_weather","arguments":"{}"}}]}}]}"#;
        let a = parse_answer(body, false);
        assert_eq!(
            a.tool_calls,
            vec![("get_weather".to_string(), "{}".to_string())]
        );
    }
}
