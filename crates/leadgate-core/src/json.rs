//! Reading JSON: the marketer's config, and what the widget keeps in `localStorage`. A small
//! parser to a tree, and typed reads from the tree whose errors name the place
//! (`fields[2].type`) and say what was expected there.
//!
//! Written by hand rather than derived with serde: derived readers are one instance per type
//! and per deserializer, and made up a fifth of the widget's wasm. Config types get their
//! [`FromJson`] from `#[derive(leadgate_derive::FromJson)]`, which reads their serde
//! attributes and writes a small reader on the functions here (one key check with "did you
//! mean", then one loop over the keys); a condition's reader is in `scoring/read.rs`.
//!
//! A leaf module: its errors are its own ([`JsonError`]); the config wraps them in
//! [`crate::ConfigError`], storage readers in theirs.

use std::fmt;

/// Why a JSON text could not be read as what was expected, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    /// Where, e.g. `fields[2].type`; empty for the whole document.
    pub path: String,
    /// What is wrong there.
    pub kind: JsonErrorKind,
}

/// What is wrong with a JSON value. `Display` writes the message a marketer reads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not JSON: what the parser met (`EOF while parsing a value`, ``expected `:` ``), and
    /// where in the text.
    Syntax {
        /// What went wrong.
        problem: String,
        /// The line, from 1.
        line: usize,
        /// The column, in characters from 1.
        column: usize,
    },
    /// A value of another type or form than the key takes.
    WrongType {
        /// What was expected, e.g. "a whole number".
        expected: &'static str,
        /// What was there, as written (`2.5`, `"high"`, `a list`).
        found: String,
    },
    /// A key the object does not take.
    UnknownKey {
        /// The key as written.
        key: String,
        /// Said after the key, e.g. `` for op `equals` ``; often empty.
        context: String,
        /// The keys the object takes.
        known: Vec<&'static str>,
        /// The known key one typo away, if any.
        suggestion: Option<&'static str>,
    },
    /// A key the object needs is missing.
    MissingKey(String),
    /// A key is written twice in one object.
    DuplicateKey(String),
    /// A name that is not one of those allowed (an op, a field type...).
    UnknownVariant {
        /// The name as written.
        name: String,
        /// The names allowed.
        expected: Vec<&'static str>,
    },
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonErrorKind::Syntax { problem, line, column } => {
                f.write_str(problem)?;
                f.write_str(" at line ")?;
                f.write_str(&line.to_string())?;
                f.write_str(" column ")?;
                f.write_str(&column.to_string())
            }
            JsonErrorKind::WrongType { expected, found } => {
                f.write_str("expected ")?;
                f.write_str(expected)?;
                f.write_str(", found ")?;
                f.write_str(found)
            }
            JsonErrorKind::UnknownKey { key, context, known, suggestion } => {
                f.write_str("unknown field `")?;
                f.write_str(key)?;
                f.write_str("`")?;
                f.write_str(context)?;
                if known.is_empty() {
                    f.write_str(", there are no fields")?;
                } else {
                    f.write_str(", expected one of ")?;
                    f.write_str(&quoted_list(known.iter().copied()))?;
                }
                if let Some(near) = suggestion {
                    f.write_str(" (did you mean `")?;
                    f.write_str(near)?;
                    f.write_str("`?)")?;
                }
                Ok(())
            }
            JsonErrorKind::MissingKey(key) => {
                f.write_str("missing field `")?;
                f.write_str(key)?;
                f.write_str("`")
            }
            JsonErrorKind::DuplicateKey(key) => {
                f.write_str("duplicate field `")?;
                f.write_str(key)?;
                f.write_str("`")
            }
            JsonErrorKind::UnknownVariant { name, expected } => {
                f.write_str("unknown variant `")?;
                f.write_str(name)?;
                f.write_str("`, expected one of ")?;
                f.write_str(&quoted_list(expected.iter().copied()))
            }
        }
    }
}

impl JsonError {
    /// What is wrong, without the place.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            f.write_str("at `")?;
            f.write_str(&self.path)?;
            f.write_str("`: ")?;
        }
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for JsonError {}

/// A parsed JSON value. Numbers keep their text, so that points read as exact integers and
/// days as floats, each with its own error.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// A list.
    Array(Vec<Json>),
    /// An object's keys and values, in the document's order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The same value as a `serde_json::Value` (a repeated key: the last one wins): the tests
    /// and the fuzz targets compare the reader with serde_json through it.
    #[allow(clippy::disallowed_types, reason = "tests and fuzzing; nothing in the widget")]
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            // As serde_json reads them: integers as integers (`-0` is a float there).
            Json::Number(n) => match (n.parse::<i64>(), n.parse::<u64>()) {
                (Ok(i), _) if n != "-0" => Value::from(i),
                (_, Ok(u)) => Value::from(u),
                _ => parse_number(n).map_or(Value::Null, Value::from),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(entries) => {
                let mut map = serde_json::Map::new();
                map.extend(entries.iter().map(|(k, v)| (k.clone(), v.to_value())));
                Value::Object(map)
            }
        }
    }
}

/// The value of a decimal number (`12`, `-2.5`, `1e3`, also `007` and `.5`); `None` for
/// anything else or a value beyond `f64`. Correctly rounded up to 15 significant digits and
/// exponents up to ±22 (every number a config or a visitor types), within ~1e-14 beyond
/// (values right at `f64`'s limits may read as out of range). Written out because `str::parse::<f64>` brings ~17 KB of tables to the wasm.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digits, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], exponent(&rest[at + 1..])?),
        None => (rest, 0),
    };
    let (mut mantissa, mut exponent, mut any, mut dot) = (0u64, exponent, false, false);
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => {
                any = true;
                if mantissa < 100_000_000_000_000_000 {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    exponent = exponent.saturating_sub(i32::from(dot));
                } else {
                    // Digits beyond the 18th only scale the value.
                    exponent = exponent.saturating_add(i32::from(!dot));
                }
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if !any {
        return None;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    if mantissa == 0 {
        return Some(sign * 0.0);
    }
    // Powers of ten up to 10^22 are exact, and so is one rounding step with them. Very small
    // values are scaled in two steps, so they do not round to zero on the way.
    let power = |e: i32| 10f64.powi(e.min(400));
    let value = match exponent {
        e if e >= 0 => mantissa as f64 * power(e),
        e if e >= -300 => mantissa as f64 / power(-e),
        e => mantissa as f64 / 1e300 / power(-e.saturating_add(300)),
    };
    let value = sign * value;
    value.is_finite().then_some(value)
}

/// An exponent (`5`, `+5`, `-12`); a longer one than an `i32` holds is held at its ends, where
/// every value is zero or out of range anyway (as serde_json reads them).
fn exponent(text: &str) -> Option<i32> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value =
        digits.bytes().fold(0i32, |n, d| n.saturating_mul(10).saturating_add(i32::from(d - b'0')));
    Some(if negative { -value } else { value })
}

/// Deeper nesting than this is refused (no config needs it; it would exhaust the stack).
const MAX_DEPTH: usize = 127;

/// Parses `text`; a syntax error names the place and the line and column.
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut parser = Parser { text, bytes: text.as_bytes(), pos: 0, path: Vec::new() };
    parser.skip_space();
    let value = parser.value()?;
    parser.skip_space();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

enum Step {
    Key(String),
    Index(usize),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Where the value being read is, for errors.
    path: Vec<Step>,
}

impl Parser<'_> {
    #[cold]
    fn error(&self, message: &str) -> JsonError {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // Characters, not bytes: UTF-8 continuation bytes do not count.
        let column = before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
        let mut path = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) => join(&mut path, key),
                Step::Index(i) => index(&mut path, *i),
            }
        }
        JsonError { path, kind: JsonErrorKind::Syntax { problem: message.into(), line, column } }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Json, JsonError> {
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        if self.path.len() >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.pos += 1;
        self.skip_space();
        Ok(())
    }

    /// After a member: `,` (more follow) or the closing byte (done).
    fn more(&mut self, close: u8, what: &str) -> Result<bool, JsonError> {
        self.skip_space();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_space();
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            None => Err(self.error(&(String::from("EOF while parsing ") + what))),
            Some(_) => Err(self.error(if close == b'}' {
                "expected `,` or `}`"
            } else {
                "expected `,` or `]`"
            })),
        }
    }

    fn object(&mut self) -> Result<Json, JsonError> {
        self.enter()?;
        let mut entries = Vec::new();
        if self.eat(b'}') {
            return Ok(Json::Object(entries));
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("EOF while parsing an object")),
                Some(_) => return Err(self.error("key must be a string")),
            }
            let key = self.string()?;
            self.skip_space();
            if !self.eat(b':') {
                return Err(self.error(match self.peek() {
                    None => "EOF while parsing an object",
                    Some(_) => "expected `:`",
                }));
            }
            self.skip_space();
            self.path.push(Step::Key(key));
            let value = self.value()?;
            if let Some(Step::Key(key)) = self.path.pop() {
                entries.push((key, value));
            }
            if !self.more(b'}', "an object")? {
                return Ok(Json::Object(entries));
            }
        }
    }

    fn array(&mut self) -> Result<Json, JsonError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Json::Array(items));
        }
        loop {
            self.path.push(Step::Index(items.len()));
            items.push(self.value()?);
            self.path.pop();
            if !self.more(b']', "a list")? {
                return Ok(Json::Array(items));
            }
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected value"))
        }
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("invalid number"));
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        let text = &self.text[start..self.pos];
        if parse_number(text).is_none() {
            return Err(self.error("number out of range"));
        }
        Ok(Json::Number(text.to_string()))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // Both ends sit on ASCII bytes (or the end), so on character boundaries.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(_) => {
                    return Err(self
                        .error("control character (\\u0000-\\u001F) found while parsing a string"))
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(byte) = self.peek() else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error("lone leading surrogate in hex escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.error("lone leading surrogate in hex escape"));
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?
            }
            _ => return Err(self.error("invalid escape")),
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error("invalid escape"))?;
        let value = digits.iter().fold(0, |n, &d| n * 16 + (d as char).to_digit(16).unwrap_or(0));
        self.pos += 4;
        Ok(value)
    }
}

fn join(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// `prefix[i]suffix`, e.g. `fields[2].label`: a place in the config, for an error. (One
/// function for every check's paths, rather than the same concatenation at each.)
pub(crate) fn indexed(prefix: &str, i: usize, suffix: &str) -> String {
    let mut path = String::from(prefix);
    index(&mut path, i);
    path.push_str(suffix);
    path
}

fn index(path: &mut String, i: usize) {
    path.push('[');
    path.push_str(&i.to_string());
    path.push(']');
}

/// `` `a`, `b`, `c` ``
pub fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for item in items {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(item);
        out.push('`');
    }
    out
}

/// A type read from a JSON value at its place. Config types derive it
/// (`#[derive(leadgate_derive::FromJson)]`) from their own serde attributes, so a type, its
/// keys, its defaults and its JSON Schema are described once; the few types with a shape of
/// their own (a condition, tagged by `op`) implement it by hand.
pub trait FromJson: Sized {
    /// Reads the value at `node`; the error names the place and what was expected.
    fn read(node: &Node) -> Read<Self>;
}

impl FromJson for String {
    fn read(node: &Node) -> Read<String> {
        node.string()
    }
}

impl FromJson for bool {
    fn read(node: &Node) -> Read<bool> {
        node.boolean()
    }
}

impl FromJson for i64 {
    fn read(node: &Node) -> Read<i64> {
        node.int()
    }
}

impl FromJson for u32 {
    fn read(node: &Node) -> Read<u32> {
        node.count()
    }
}

impl FromJson for u64 {
    fn read(node: &Node) -> Read<u64> {
        node.unsigned()
    }
}

/// A length or a count: a whole number from 0 to `u32::MAX`.
impl FromJson for usize {
    fn read(node: &Node) -> Read<usize> {
        node.count().map(|n| n as usize)
    }
}

impl FromJson for f64 {
    fn read(node: &Node) -> Read<f64> {
        node.number()
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn read(node: &Node) -> Read<Vec<T>> {
        node.list(|item| T::read(&item))
    }
}

/// An object whose keys are names the marketer chooses (`"groups": {"fit": {...}}`).
impl<T: FromJson> FromJson for crate::Map<T> {
    fn read(node: &Node) -> Read<crate::Map<T>> {
        let mut map = crate::Map::new();
        for (key, value) in node.any_object()?.entries() {
            map.insert(key.to_string(), T::read(&value)?);
        }
        Ok(map)
    }
}

impl<T: FromJson> FromJson for Box<T> {
    fn read(node: &Node) -> Read<Box<T>> {
        T::read(node).map(Box::new)
    }
}

/// The value, as `Some`. (Whether a missing key or `null` is `None` is for the object's
/// reader to say: [`Obj::get`] and [`Obj::fill`] leave both out.)
impl<T: FromJson> FromJson for Option<T> {
    fn read(node: &Node) -> Read<Option<T>> {
        T::read(node).map(Some)
    }
}

/// A place in a value being read that one key fills: a field of a struct, read by its type's
/// [`FromJson`]. Derived readers hand their optional keys to [`Obj::fill`] as slots, so the
/// code per key is one pointer, and the code per field *type* is shared by every struct.
pub trait Slot {
    /// Replaces the value with the one read at `node`.
    fn set(&mut self, node: &Node) -> Read<()>;
}

impl<T: FromJson> Slot for T {
    fn set(&mut self, node: &Node) -> Read<()> {
        *self = T::read(node)?;
        Ok(())
    }
}

/// A value at its place in the config.
pub struct Node<'a> {
    value: &'a Json,
    path: String,
}

/// What a read gives: the value, or an error naming its place.
pub type Read<T> = Result<T, JsonError>;

impl<'a> Node<'a> {
    /// The whole document.
    pub fn root(value: &'a Json) -> Self {
        Node { value, path: String::new() }
    }

    #[cold]
    fn wrong(&self, kind: JsonErrorKind) -> JsonError {
        JsonError { path: self.path.clone(), kind }
    }

    /// "expected `what`, found 3".
    #[cold]
    fn expected(&self, what: &'static str) -> JsonError {
        let found = match self.value {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => n.clone(),
            Json::String(s) => String::from("\"") + s + "\"",
            Json::Array(_) => "a list".into(),
            Json::Object(_) => "an object".into(),
        };
        self.wrong(JsonErrorKind::WrongType { expected: what, found })
    }

    /// This value as an object with only the `keys` given (an unknown key is an error that
    /// names it and the known ones).
    pub fn object(&self, keys: &[&'static str]) -> Read<Obj<'a>> {
        let obj = self.any_object()?;
        obj.only(keys, "")?;
        Ok(obj)
    }

    /// This value as an object with any keys (a map).
    pub fn any_object(&self) -> Read<Obj<'a>> {
        let Json::Object(entries) = self.value else {
            return Err(self.expected("an object"));
        };
        for (i, (key, _)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(k, _)| k == key) {
                let mut path = self.path.clone();
                join(&mut path, key);
                return Err(Node { value: self.value, path }
                    .wrong(JsonErrorKind::DuplicateKey(key.clone())));
            }
        }
        Ok(Obj { entries, path: self.path.clone() })
    }

    /// A string.
    pub fn string(&self) -> Read<String> {
        match self.value {
            Json::String(s) => Ok(s.clone()),
            _ => Err(self.expected("a string")),
        }
    }

    /// `true` or `false`.
    pub fn boolean(&self) -> Read<bool> {
        match self.value {
            Json::Bool(b) => Ok(*b),
            _ => Err(self.expected("true or false")),
        }
    }

    /// A whole number (`3`, `-20`; not `2.5`).
    pub fn int(&self) -> Read<i64> {
        match self.value {
            Json::Number(n) => n.parse().map_err(|_| self.expected("a whole number")),
            _ => Err(self.expected("a whole number")),
        }
    }

    /// A whole number from 0 to `u32::MAX`.
    pub fn count(&self) -> Read<u32> {
        let n = self.int()?;
        u32::try_from(n).map_err(|_| self.expected("a whole number from 0 to 4294967295"))
    }

    /// A whole number from 0 up.
    pub fn unsigned(&self) -> Read<u64> {
        match self.value {
            Json::Number(n) => n.parse().map_err(|_| self.expected("a whole number from 0 up")),
            _ => Err(self.expected("a whole number from 0 up")),
        }
    }

    /// Any number (`2.5`, `1e3`).
    pub fn number(&self) -> Read<f64> {
        match self.value {
            Json::Number(n) => parse_number(n).ok_or_else(|| self.expected("a number")),
            _ => Err(self.expected("a number")),
        }
    }

    /// A list, each item read by `read`.
    pub fn list<T>(&self, mut read: impl FnMut(Node<'a>) -> Read<T>) -> Read<Vec<T>> {
        // The walk is shared by every `T` (`each`); what is per `T` is the read and the push.
        let mut out = Vec::with_capacity(match self.value {
            Json::Array(items) => items.len(),
            _ => 0,
        });
        self.each(&mut |item| {
            out.push(read(item)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `read` with each item of this list, at its place, in order; the first error
    /// ends it.
    pub fn each(&self, read: &mut dyn FnMut(Node<'a>) -> Read<()>) -> Read<()> {
        let Json::Array(items) = self.value else {
            return Err(self.expected("a list"));
        };
        for (i, value) in items.iter().enumerate() {
            read(self.item(i, value))?;
        }
        Ok(())
    }

    /// Item `i` of this list, at its place.
    fn item(&self, i: usize, value: &'a Json) -> Node<'a> {
        let mut path = self.path.clone();
        index(&mut path, i);
        Node { value, path }
    }

    /// A list of strings.
    pub fn strings(&self) -> Read<Vec<String>> {
        self.list(|item| item.string())
    }

    /// An object of strings (`{"utm_source": "google"}`).
    pub fn string_map(&self) -> Read<crate::Map<String>> {
        let mut map = crate::Map::new();
        for (key, value) in self.any_object()?.entries() {
            map.insert(key.to_string(), value.string()?);
        }
        Ok(map)
    }

    /// The value as it is.
    pub fn json(&self) -> &'a Json {
        self.value
    }

    /// The error for a string that is not one of `names`.
    #[cold]
    pub fn unknown_variant(&self, names: &[&'static str]) -> JsonError {
        let name = match self.value {
            Json::String(s) => s.clone(),
            _ => String::new(),
        };
        self.wrong(JsonErrorKind::UnknownVariant { name, expected: names.to_vec() })
    }

    /// One of the `names` (a string), as its index.
    pub fn one_of(&self, names: &[&'static str]) -> Read<usize> {
        let name = self.string()?;
        names.iter().position(|n| *n == name).ok_or_else(|| self.unknown_variant(names))
    }
}

/// An object at its place in the config.
pub struct Obj<'a> {
    entries: &'a [(String, Json)],
    path: String,
}

impl<'a> Obj<'a> {
    fn at(&self, key: &str, value: &'a Json) -> Node<'a> {
        let mut path = self.path.clone();
        join(&mut path, key);
        Node { value, path }
    }

    /// Fails on the first key that is not in `keys`; `context` follows the key in the message
    /// (e.g. `` for op `equals` ``).
    pub fn only(&self, keys: &[&'static str], context: &str) -> Read<()> {
        match self.entries.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            None => Ok(()),
            Some((key, value)) => Err(self.at(key, value).wrong(JsonErrorKind::UnknownKey {
                key: key.clone(),
                context: context.into(),
                known: keys.to_vec(),
                suggestion: keys.iter().find(|k| close(k, key)).copied(),
            })),
        }
    }

    /// The value of `key`, unless it is missing or `null`.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.entries
            .iter()
            .find(|(k, v)| k == key && *v != Json::Null)
            .map(|(_, value)| self.at(key, value))
    }

    /// The value of `key`; missing is an error at this object.
    /// (`null` is a value here: the read that follows says what was expected instead.)
    pub fn need(&self, key: &str) -> Read<Node<'a>> {
        match self.entries.iter().find(|(k, _)| k == key) {
            Some((_, value)) => Ok(self.at(key, value)),
            None => Err(JsonError {
                path: self.path.clone(),
                kind: JsonErrorKind::MissingKey(key.into()),
            }),
        }
    }

    /// `key` read by `read`, or `None` when it is missing or `null`.
    pub fn opt<T>(&self, key: &str, read: impl FnOnce(&Node<'a>) -> Read<T>) -> Read<Option<T>> {
        self.get(key).map(|node| read(&node)).transpose()
    }

    /// A string `key`, or `None`.
    pub fn opt_string(&self, key: &str) -> Read<Option<String>> {
        self.opt(key, Node::string)
    }

    /// Reads each of `keys` that is present and not `null` into the slot at the same place
    /// in `slots`, in the order of `keys`; the others keep their value. The first error ends
    /// it.
    pub fn fill(&self, keys: &[&str], slots: &mut [&mut dyn Slot]) -> Read<()> {
        for (key, slot) in keys.iter().zip(slots) {
            if let Some(node) = self.get(key) {
                slot.set(&node)?;
            }
        }
        Ok(())
    }

    /// Every key with its value, in the document's order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, Node<'a>)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), self.at(k, v)))
    }
}

/// Whether `typed` looks like a typo of `known`: one edit (a letter wrong, missing, extra, or
/// two swapped) apart.
fn close(known: &str, typed: &str) -> bool {
    let (a, b) = (known.as_bytes(), typed.as_bytes());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let start = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[start..], &b[start..]);
    let same = |x: &[u8], y: &[u8]| x == y;
    same(&a[a.len().min(1)..], &b[b.len().min(1)..]) // one letter replaced
        || same(a, &b[b.len().min(1)..]) // one letter extra
        || same(&a[a.len().min(1)..], b) // one letter missing
        || (a.len() >= 2 && b.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_json_allows() {
        let json = parse(r#" {"a": [1, -2.5e3, true, false, null], "b\u00e9\n": "x\"\\\/\ud83d\ude00", "c": {}} "#)
            .unwrap();
        let Json::Object(entries) = &json else { panic!("{json:?}") };
        assert_eq!(entries[0].0, "a");
        assert_eq!(
            entries[0].1,
            Json::Array(vec![
                Json::Number("1".into()),
                Json::Number("-2.5e3".into()),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ])
        );
        assert_eq!(entries[1].0, "bé\n");
        assert_eq!(entries[1].1, Json::String("x\"\\/😀".into()));
        assert_eq!(entries[2].1, Json::Object(vec![]));
    }

    #[test]
    fn syntax_errors_name_the_place_line_and_column() {
        let cases = [
            ("", "", "EOF while parsing a value at line 1 column 1"),
            ("{", "", "EOF while parsing an object"),
            ("{\"a\": [1, 2,\n  x]}", "a[2]", "expected value at line 2 column 3"),
            (r#"{"a": {"b": 01}}"#, "a", "expected `,` or `}`"),
            (r#"{"a" 1}"#, "", "expected `:`"),
            (r#"{a: 1}"#, "", "key must be a string"),
            (r#"[1] x"#, "", "trailing characters"),
            (r#"["\q"]"#, "[0]", "invalid escape"),
            (r#"["\ud800"]"#, "[0]", "lone leading surrogate"),
            ("[\"a\u{1}\"]", "[0]", "control character"),
            (r#"[1.]"#, "[0]", "invalid number"),
            (r#"[-]"#, "[0]", "invalid number"),
            (r#"[tru]"#, "[0]", "expected value"),
        ];
        for (text, path, message) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.path, path, "{text}: {err}");
            assert!(err.message().contains(message), "{text}: {err}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).unwrap_err().message().contains("recursion limit"));
        // As deep as serde_json goes, and no deeper.
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(&nested(127)).is_ok() && parse(&nested(128)).is_err());
        assert!(parse("[1e400]").unwrap_err().message().contains("number out of range"));
    }

    #[test]
    fn reads_say_what_was_expected_and_where() {
        let json = parse(r#"{"n": 2.5, "s": 3, "l": {}, "k": "x", "big": -1, "form": 1}"#).unwrap();
        let root = Node::root(&json);
        let obj = root.any_object().unwrap();
        let err = |r: Read<()>| r.unwrap_err().to_string();
        assert_eq!(
            err(obj.need("n").unwrap().int().map(drop)),
            "at `n`: expected a whole number, found 2.5"
        );
        // Tests compare kinds; the texts above are their `Display`.
        let kind = |r: Read<()>| r.unwrap_err().kind;
        assert_eq!(
            kind(obj.need("n").unwrap().int().map(drop)),
            JsonErrorKind::WrongType { expected: "a whole number", found: "2.5".into() }
        );
        assert_eq!(kind(obj.need("zz").map(drop)), JsonErrorKind::MissingKey("zz".into()));
        assert!(matches!(
            kind(obj.only(&["n", "from"], "").map(drop)),
            JsonErrorKind::UnknownKey { key, suggestion: Some(near), .. } if key == "s" || (key == "form" && near == "from")
        ));
        assert!(matches!(
            parse("{").unwrap_err().kind,
            JsonErrorKind::Syntax { line: 1, column: 2, .. }
        ));
        assert!(
            err(obj.need("s").unwrap().string().map(drop)).ends_with("expected a string, found 3")
        );
        assert!(err(obj.need("l").unwrap().strings().map(drop))
            .ends_with("expected a list, found an object"));
        assert!(err(obj.need("k").unwrap().one_of(&["a", "b"]).map(drop))
            .ends_with("at `k`: unknown variant `x`, expected one of `a`, `b`"));
        assert!(err(obj.need("big").unwrap().count().map(drop)).contains("from 0 to 4294967295"));
        assert!(err(obj.need("zz").map(drop)).ends_with("missing field `zz`"));
        assert!(err(obj.only(&["n", "s", "l", "k", "big", "from"], "").map(drop))
            .ends_with("at `form`: unknown field `form`, expected one of `n`, `s`, `l`, `k`, `big`, `from` (did you mean `from`?)"));
        let dup = parse(r#"{"a": 1, "a": 2}"#).unwrap();
        assert!(err(Node::root(&dup).any_object().map(drop)).contains("duplicate field `a`"));
    }

    #[test]
    fn numbers_read_exactly() {
        for text in [
            "0",
            "-0",
            "1",
            "12.5",
            "-2.5e3",
            "1E-7",
            "0.1",
            "0.3",
            "123456789012345",
            "9007199254740993",
            "1e22",
            "1e-22",
            "00012",
            ".5",
            "2.",
        ] {
            let want: f64 = text.parse().unwrap();
            let got = parse_number(text).unwrap_or_else(|| panic!("{text}"));
            let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 1, "{text}: {got} vs {want}");
        }
        // Far from where people type numbers: close, not exact.
        for text in ["1e300", "-4.2e-300", "123456789012345678901234567890"] {
            let want: f64 = text.parse().unwrap();
            let got = parse_number(text).unwrap_or_else(|| panic!("{text}"));
            assert!(((got - want) / want).abs() < 1e-14, "{text}: {got} vs {want}");
        }
        for text in ["0e400", "-0e999", "1e-310", "5e-324", "1.5e-2147483648"] {
            let want: f64 = text.parse().unwrap();
            assert_eq!(parse_number(text), Some(want), "{text}");
        }
        // Exponents that overflow an i32 while reading: no panic.
        assert_eq!(parse_number("10000000000000000000e2147483647"), None);
        for text in ["", "-", ".", "1.2.3", "1e", "e5", "1e999", "--1", "1x", "NaN", "inf"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    proptest::proptest! {
        /// Correctly rounded where people type numbers.
        #[test]
        fn numbers_agree_with_the_standard_library(m in 0u64..(1 << 53), e in -22i32..=22) {
            let text = m.to_string() + "e" + &e.to_string();
            proptest::prop_assert_eq!(parse_number(&text), Some(text.parse::<f64>().unwrap()));
        }
    }

    proptest::proptest! {
        /// Accepts exactly what serde_json accepts, and reads the same values.
        #[test]
        fn agrees_with_serde_json(text in proptest::prop_oneof![
            r#"[\[\]{}:,"\\a-z0-9.eE+\- \n]{0,24}"#,
            r#"\{("[a-z]{0,3}": ?(-?[0-9]{1,3}(\.[0-9])?|"[a-z\\"]{0,4}"|true|null|\[[0-9, ]{0,6}\]),? ?){0,4}\}"#,
            proptest::prelude::any::<String>(),
        ]) {
            let ours = parse(&text);
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: {:?}", text, ours);
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                // (A repeated key: the last one wins in both.)
                proptest::prop_assert_eq!(ours.to_value(), theirs);
            }
        }
    }

    #[test]
    fn exponents_beyond_i32_read_like_serde_json() {
        // Found by `fuzz/fuzz_targets/json.rs`: an exponent too long for an `i32` refused
        // the number, where serde_json (and JSON) take it: zero, or out of range.
        let cases = [
            ("66e-6688844444444444444444444444444", Some(0.0)),
            ("1e-99999999999", Some(0.0)),
            ("-1.5E-99999999999", Some(-0.0)),
            ("0e99999999999", Some(0.0)),
            ("0.000e+99999999999", Some(0.0)),
            ("1e99999999999", None),
            ("1e+99999999999", None),
        ];
        let mut failures = Vec::new();
        for (text, want) in cases {
            let got = parse_number(text);
            let json = String::from("[") + text + "]";
            let serde = serde_json::from_str::<serde_json::Value>(&json).is_ok();
            if got.map(f64::to_bits) != want.map(f64::to_bits) || parse(&json).is_ok() != serde {
                failures.push((text, got, want, serde));
            }
        }
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn typos_are_one_edit_away() {
        for (known, typed) in [
            ("fields", "fileds"),
            ("fields", "field"),
            ("fields", "fieldss"),
            ("label", "lable"),
            ("type", "typo"),
        ] {
            assert!(close(known, typed), "{known} / {typed}");
        }
        for (known, typed) in
            [("fields", "fields"), ("fields", "files"), ("min", "max"), ("op", "value")]
        {
            assert!(!close(known, typed), "{known} / {typed}");
        }
    }
}
