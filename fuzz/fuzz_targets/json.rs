//! The hand-written JSON reader (`leadgate_core::json`): any text either parses or gives an
//! error that names its place, never a panic; it accepts exactly what serde_json accepts and
//! reads the same values (numbers within the reader's documented precision); what serde_json
//! writes back reads again to the same tree; and the typed reads on every node of the tree
//! (`string`, `int`, `count`, `number`, `object`, `one_of`, ...) answer without panicking.
#![no_main]

use leadgate_core::json::{parse, Json, Node};
use leadgate_fuzz::same_value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ours = parse(text);
    let theirs = serde_json::from_str::<serde_json::Value>(text);
    match (&ours, &theirs) {
        (Ok(ours), Ok(theirs)) => {
            assert!(same_value(&ours.to_value(), theirs), "{text:?}: {ours:?} vs {theirs}");
            // What serde_json writes (its escapes, its number forms) reads back the same.
            let written = theirs.to_string();
            let again = parse(&written).unwrap_or_else(|e| panic!("{written:?}: {e}"));
            assert!(same_value(&again.to_value(), theirs), "{written:?}: {again:?}");
            reads(Node::root(ours));
        }
        (Err(e), Err(_)) => {
            // The error renders, with its place.
            let _ = e.to_string();
        }
        (Ok(_), Err(e)) => panic!("{text:?}: only serde_json refuses it ({e})"),
        (Err(e), Ok(_)) => panic!("{text:?}: only leadgate refuses it ({e})"),
    }
});

/// Every typed read on `node` and below; each gives a value or an error.
fn reads(node: Node) {
    let _ = (node.string(), node.boolean(), node.int(), node.count(), node.unsigned());
    let _ = (node.number(), node.strings(), node.string_map(), node.one_of(&["a", "b"]));
    let _ = node.object(&["form_id", "fields", "op", "value"]).map(|obj| obj.only(&["op"], ""));
    match node.json() {
        Json::Array(_) => {
            let _ = node.list(|item| {
                reads(item);
                Ok(())
            });
        }
        Json::Object(_) => {
            if let Ok(obj) = node.any_object() {
                let _ = (obj.need("op").map(|n| n.string()), obj.opt_string("value"));
                for (_, value) in obj.entries() {
                    reads(value);
                }
            }
        }
        _ => {}
    }
}
