//! The tracing line format of hosts: tracing-subscriber's default (`Full`)
//! format, with one fast path. The per-request line ([`super::LogSink`],
//! target `aigw::request`) written without ANSI colours (stderr is a file or
//! a pipe) goes straight to the writer, byte for byte what the default
//! format writes, instead of through its styled `paint` wrappers, two per
//! field even when colours are off: about half the cost of the line.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The target of the per-request line.
pub const REQUEST_TARGET: &str = "aigw::request";

/// `fmt().event_format(LineFormat::default())`: see the module docs.
#[derive(Debug, Clone)]
pub struct LineFormat<T = SystemTime> {
    full: Format<Full, T>,
    timer: T,
}

impl Default for LineFormat {
    fn default() -> Self {
        Self::with_timer(SystemTime)
    }
}

impl<T: FormatTime + Clone> LineFormat<T> {
    /// The default format with another timer (tests use a fixed one).
    pub fn with_timer(timer: T) -> Self {
        Self {
            full: Format::default().with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for LineFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if writer.has_ansi_escapes()
            || meta.target() != REQUEST_TARGET
            || ctx.event_scope().is_some()
        {
            return self.full.format_event(ctx, writer, event);
        }
        // `Full`: "<time> <level, right-aligned to 5> <target>: <fields>\n".
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        write!(writer, " {:>5} {}: ", meta.level().as_str(), meta.target())?;
        let mut v = PlainFields {
            writer: writer.by_ref(),
            first: true,
            result: Ok(()),
        };
        event.record(&mut v);
        v.result?;
        writeln!(writer)
    }
}

thread_local! {
    /// Lines written on this thread inside [`batched`], not yet on stderr.
    static BATCH: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`; whatever this thread writes through [`Stderr`] meanwhile goes
/// to stderr in one write when it returns (or unwinds). Nested calls join
/// the outer batch.
pub fn batched(f: impl FnOnce()) {
    batched_to(
        |buf| {
            // As tracing-subscriber does with a failed write: dropped.
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), buf);
        },
        f,
    );
}

/// [`batched`], handing the batch to `out` instead of stderr.
fn batched_to(out: impl FnOnce(&[u8]), f: impl FnOnce()) {
    struct Flush<O: FnOnce(&[u8])>(Option<O>);
    impl<O: FnOnce(&[u8])> Drop for Flush<O> {
        fn drop(&mut self) {
            if let Some(buf) = BATCH.with_borrow_mut(Option::take)
                && !buf.is_empty()
                && let Some(out) = self.0.take()
            {
                out(&buf);
            }
        }
    }
    let outer = BATCH.with_borrow_mut(|b| {
        let outer = b.is_some();
        b.get_or_insert_with(Vec::new);
        outer
    });
    if outer {
        return f();
    }
    let _flush = Flush(Some(out));
    f();
}

/// stderr as a tracing writer that honours [`batched`]: `aigw`'s log
/// output (`.with_writer(logline::Stderr)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

/// Appends `b` to this thread's batch, if one is open.
fn held(b: &[u8]) -> bool {
    BATCH.with_borrow_mut(|buf| buf.as_mut().map(|buf| buf.extend_from_slice(b)).is_some())
}

impl std::io::Write for Stderr {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if held(b) {
            Ok(b.len())
        } else {
            std::io::stderr().write(b)
        }
    }

    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        // One line, one write outside a batch (as `io::stderr` is used).
        if held(b) {
            Ok(())
        } else {
            std::io::stderr().write_all(b)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

/// `DefaultFields` without styling: the message, then `name=value` with
/// the value's `Debug`, space-separated.
struct PlainFields<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl PlainFields<'_> {
    /// ` name=` (no space before the first field); `false` when the field
    /// is not written.
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return false;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = self
            .result
            .and_then(|()| self.writer.write_str(name))
            .and_then(|()| self.writer.write_char('='));
        self.result.is_ok()
    }

    /// A value written as is: what `Debug` writes for it, without `core::fmt`.
    fn raw(&mut self, field: &Field, value: &str) {
        if self.name(field) {
            self.result = self.writer.write_str(value);
        }
    }
}

impl Visit for PlainFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else if value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            // Printable ASCII without quotes or backslashes: `Debug` only
            // adds the quotes.
            if self.name(field) {
                self.result = self
                    .writer
                    .write_char('"')
                    .and_then(|()| self.writer.write_str(value))
                    .and_then(|()| self.writer.write_char('"'));
            }
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() != "message" {
            if self.name(field) {
                self.result = write!(self.writer, "{value:?}");
            }
            return;
        }
        if self.result.is_err() {
            return;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        self.result = self.result.and_then(|()| write!(self.writer, "{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime as Clock};

    use tracing_subscriber::fmt::MakeWriter;

    use tracing_subscriber::fmt::format::DefaultFields;

    use super::*;
    use crate::telemetry::{LogSink, Origin, RequestEvent, TelemetrySink};
    use crate::vocab::{AttemptEvent, RouteMode};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[derive(Clone)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-11-25T10:00:00.000001Z")
        }
    }

    fn event() -> RequestEvent {
        let mut e = RequestEvent::new(
            "req_0123".into(),
            Clock::UNIX_EPOCH + Duration::from_secs(1),
            "127.0.0.1".into(),
            "chat_completions",
            "gpt \"4\"\u{1b}[31m".into(),
            Origin::Client,
        );
        e.provider = Some("mock".into());
        e.forwarded_model = Some("m\u{e9}\n".into());
        e.route_mode = Some(RouteMode::ProviderFallback);
        e.attempts.push(AttemptEvent {
            provider: "mock".into(),
            model: "m".into(),
            status: Some(200),
            error: None,
            latency_ms: 1.25,
            key: None,
        });
        e.status = 200;
        e.latency_ms = 12.345;
        e.ttft_ms = Some(3.0);
        e.overhead_ms = 0.0456;
        e.tokens_in = Some(10);
        e.tokens_estimated = true;
        e.cost_usd = Some(0.000123);
        e
    }

    /// What a subscriber with `format` writes for one request line and one
    /// other line.
    fn lines<F>(format: F) -> String
    where
        F: for<'w> FormatEvent<tracing_subscriber::Registry, DefaultFields> + Send + Sync + 'static,
    {
        let buf = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_writer(buf.clone())
            .with_ansi(false)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(sub, || {
            LogSink.record(event());
            tracing::warn!(provider = "p", reason = %"r", "target cooling down");
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_batch_of_lines_is_one_write() {
        use std::io::Write;
        let mut writes: Vec<Vec<u8>> = Vec::new();
        batched_to(
            |b| writes.push(b.to_vec()),
            || {
                Stderr.write_all(b"one\n").unwrap();
                // a nested batch joins the outer one
                batched(|| Stderr.write_all(b"two\n").unwrap());
                Stderr.write_all(b"three\n").unwrap();
            },
        );
        assert_eq!(writes, [b"one\ntwo\nthree\n".to_vec()]);
        // the batch is over: nothing is held any more
        assert!(BATCH.with_borrow(Option::is_none));
        // an empty batch writes nothing
        batched_to(|b| writes.push(b.to_vec()), || {});
        assert_eq!(writes.len(), 1);
    }

    #[test]
    fn a_batch_is_written_when_it_unwinds() {
        use std::io::Write;
        let writes = Mutex::new(Vec::new());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batched_to(
                |b| writes.lock().unwrap().push(b.to_vec()),
                || {
                    Stderr.write_all(b"before\n").unwrap();
                    panic!("a sink failed");
                },
            )
        }));
        assert!(r.is_err());
        assert_eq!(*writes.lock().unwrap(), [b"before\n".to_vec()]);
        assert!(BATCH.with_borrow(Option::is_none));
    }

    #[test]
    fn the_request_line_is_the_default_format_byte_for_byte() {
        let fast = lines(LineFormat::with_timer(Fixed));
        let default = lines(Format::default().with_timer(Fixed));
        assert!(fast.contains("INFO aigw::request: request request_id=req_0123"));
        assert_eq!(fast, default);
    }
}
