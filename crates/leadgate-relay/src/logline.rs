//! Structured logs: one logfmt line per event on stderr (`ts=… level=info event=lead.stored
//! id=… form=demo status=201`), easy to grep and to ship to any log store.

use std::fmt::Display;
use std::io::Write;

use crate::clock::now;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something to look at (a retry, a refused request).
    Warn,
    /// Something failed (the database, a dead letter).
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Writes one line: `ts`, `level`, `event`, then `fields` in order.
pub fn log(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    let line = format_line(&now().to_rfc3339(), level, event, fields);
    // A log line that cannot be written is not worth failing a request for.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn format_line(ts: &str, level: Level, event: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut line = format!("ts={ts} level={} event={event}", level.as_str());
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        push_value(&mut line, &value.to_string());
    }
    line.push('\n');
    line
}

/// A bare value when it is plain, else a quoted one with `"`, `\` and control characters
/// escaped (a visitor's input cannot forge a second line or field).
fn push_value(line: &mut String, value: &str) {
    let plain = !value.is_empty()
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            c if c.is_control() => line.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => line.push(c),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_logfmt_and_cannot_be_forged() {
        let cases: [(&str, &str); 5] = [
            ("abc", "k=abc"),
            ("", "k=\"\""),
            ("two words", "k=\"two words\""),
            ("a\"b=c", "k=\"a\\\"b=c\""),
            ("x\nlevel=error", "k=\"x\\nlevel=error\""),
        ];
        for (value, want) in cases {
            let line = format_line("T", Level::Info, "e", &[("k", &value)]);
            assert_eq!(line, format!("ts=T level=info event=e {want}\n"), "{value:?}");
        }
        let line = format_line("T", Level::Warn, "lead.spam", &[("id", &"x"), ("ms", &12)]);
        assert_eq!(line, "ts=T level=warn event=lead.spam id=x ms=12\n");
    }
}
