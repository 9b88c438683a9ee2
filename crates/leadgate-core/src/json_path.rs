//! Where in a JSON text an error is: `scoring.rules[3].when`, from the line and column that
//! serde_json reports. A small scanner instead of tracking the path while deserializing, which
//! would double the deserialization code in the widget (~9 KB brotli).

enum Frame {
    Object { key: Option<String>, in_value: bool },
    Array { index: usize, has_value: bool },
}

/// The path of the value being read at `line`/`column` (1-based, as serde_json counts) in
/// `text`; empty for the document itself.
pub fn path_at(text: &str, line: usize, column: usize) -> String {
    let offset = offset_of(text, line, column);
    let mut stack: Vec<Frame> = Vec::new();
    let mut chars = text[..offset].char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '{' => {
                mark_value(&mut stack);
                stack.push(Frame::Object { key: None, in_value: false });
            }
            '[' => {
                mark_value(&mut stack);
                stack.push(Frame::Array { index: 0, has_value: false });
            }
            '}' | ']' => {
                stack.pop();
            }
            ':' => {
                if let Some(Frame::Object { in_value, .. }) = stack.last_mut() {
                    *in_value = true;
                }
            }
            ',' => match stack.last_mut() {
                Some(Frame::Object { key, in_value }) => {
                    *key = None;
                    *in_value = false;
                }
                Some(Frame::Array { index, has_value }) => {
                    *index += 1;
                    *has_value = false;
                }
                None => {}
            },
            '"' => {
                let mut string = String::new();
                let mut escaped = false;
                for (_, c) in chars.by_ref() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        (_, c) => {
                            escaped = false;
                            string.push(c);
                        }
                    }
                }
                match stack.last_mut() {
                    Some(Frame::Object { key, in_value: false }) => *key = Some(string),
                    _ => mark_value(&mut stack),
                }
            }
            c if c.is_whitespace() => {}
            _ => mark_value(&mut stack),
        }
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(key), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Array { index, has_value: true } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
            _ => {}
        }
    }
    path
}

fn mark_value(stack: &mut [Frame]) {
    if let Some(Frame::Array { has_value, .. }) = stack.last_mut() {
        *has_value = true;
    }
}

/// The byte offset of serde_json's 1-based line and column (a column counts bytes).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let mut end = (start + column).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let text = "{\"a\": {\"b\": [1, {\"c\": \"x\"}]},\n \"d\": [\"e\\\"\", 2]}";
        let cases = [
            (1, 1, ""),
            (1, 6, "a"),
            (1, 13, "a.b"),
            (1, 14, "a.b[0]"),
            (1, 15, "a.b"),
            (1, 22, "a.b[1].c"),
            (1, 25, "a.b[1].c"),
            (1, 26, "a.b[1]"),
            (1, 28, "a"),
            (1, 30, ""),
            (2, 6, "d"),
            (2, 11, "d[0]"),
            (2, 15, "d[1]"),
            (2, 16, "d"),
            (2, 18, ""),
        ];
        for (line, column, want) in cases {
            assert_eq!(path_at(text, line, column), want, "{line}:{column}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC*", line in 0usize..6, column in 0usize..300) {
            let _ = path_at(&text, line, column);
        }
    }
}
