//! [`Map`]: a map from names to values, kept as a `Vec` sorted by name.
//!
//! The lead's fields, the UTM parameters and click ids, the score's groups: a handful of
//! entries each. A sorted `Vec` answers them as fast as a B-tree, serializes to the same JSON
//! object (keys in order), and costs far less in the widget's wasm: every `BTreeMap<K, V>` type
//! instantiates its own copy of alloc's B-tree code (~29 KB of the wasm for the five map types
//! the widget had; measured with twiggy, see scripts/size-top.sh). The methods mirror
//! `BTreeMap`'s, so code written for one reads the same with the other.

use std::borrow::Borrow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map from `String` names to `V`, sorted by name, each name once.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Map<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map { entries: Vec::new() }
    }
}

impl<V> Map<V> {
    /// An empty map.
    pub const fn new() -> Self {
        Map { entries: Vec::new() }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value for `key`. A handful of entries (a lead's fields, a visit's UTM parameters)
    /// are scanned: `==` compares lengths first and the bytes of one or two names, where each
    /// step of a binary search compares bytes (scoring looks up a field per rule: this took 8%
    /// of a score's instructions, callgrind).
    pub fn get<Q: Borrow<str> + ?Sized>(&self, key: &Q) -> Option<&V> {
        let key = key.borrow();
        let at = match self.entries.len() {
            0..=16 => self.entries.iter().position(|(k, _)| k == key),
            _ => self.find(key).ok(),
        };
        at.map(|i| &self.entries[i].1)
    }

    /// The value for `key`, to change.
    pub fn get_mut<Q: Borrow<str> + ?Sized>(&mut self, key: &Q) -> Option<&mut V> {
        self.find(key.borrow()).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Borrow<str> + ?Sized>(&self, key: &Q) -> bool {
        self.find(key.borrow()).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q: Borrow<str> + ?Sized>(&mut self, key: &Q) -> Option<V> {
        self.find(key.borrow()).ok().map(|i| self.entries.remove(i).1)
    }

    /// The value for `key`, inserted with `default()` first when there is none.
    pub fn get_or_insert_with(&mut self, key: &str, default: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key.into(), default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, by name.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter(self.entries.iter())
    }

    /// The names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, by name.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, by name, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` says true.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

/// An iterator over a [`Map`]'s entries, by name.
#[derive(Debug, Clone)]
pub struct Iter<'a, V>(std::slice::Iter<'a, (String, V)>);

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a String, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> DoubleEndedIterator for Iter<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

impl<'a, V> IntoIterator for &'a Map<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

impl<V> IntoIterator for Map<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V> Extend<(String, V)> for Map<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, items: I) {
        for (k, v) in items {
            self.insert(k, v);
        }
    }
}

impl<V> FromIterator<(String, V)> for Map<V> {
    /// A name given twice keeps its last value, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (String, V)>>(items: I) -> Self {
        let mut map = Map::new();
        map.extend(items);
        map
    }
}

impl<V, const N: usize> From<[(String, V); N]> for Map<V> {
    fn from(items: [(String, V); N]) -> Self {
        items.into_iter().collect()
    }
}

impl<V> std::ops::Index<&str> for Map<V> {
    type Output = V;
    /// The value for `key`. Panics when there is none, like `BTreeMap`'s.
    #[allow(clippy::panic, reason = "the BTreeMap contract; for tests, use get() elsewhere")]
    fn index(&self, key: &str) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry for the key"),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for Map<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for Map<V> {
    /// A JSON object, keys in order: the same bytes as a `BTreeMap`'s.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Map<V> {
    /// From a JSON object; a repeated name keeps its last value, as in a `BTreeMap`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Map<V>, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry::<String, V>()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

#[cfg(feature = "schema")]
impl<V: schemars::JsonSchema> schemars::JsonSchema for Map<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <std::collections::BTreeMap<String, V> as schemars::JsonSchema>::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, V> as schemars::JsonSchema>::json_schema(generator)
    }
    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::Map;

    #[test]
    fn behaves_like_a_btreemap() {
        let ops: &[(&str, Option<i64>)] = &[
            ("b", Some(2)),
            ("a", Some(1)),
            ("c", Some(3)),
            ("b", Some(20)),
            ("a", None),
            ("z", None),
            ("d", Some(4)),
        ];
        let (mut ours, mut theirs) = (Map::new(), BTreeMap::new());
        for (key, op) in ops {
            match op {
                Some(v) => {
                    assert_eq!(ours.insert(key.to_string(), *v), theirs.insert(key.to_string(), *v))
                }
                None => assert_eq!(ours.remove(*key), theirs.remove(*key)),
            }
            assert!(ours.iter().eq(theirs.iter()), "{key}");
            assert_eq!(ours.len(), theirs.len());
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            );
        }
        assert_eq!(ours.get("b"), Some(&20));
        assert_eq!(ours["d"], 4);
        assert!(!ours.contains_key("a"));
        let back: Map<i64> = serde_json::from_str(r#"{"y": 1, "x": 2, "y": 3}"#).unwrap();
        let want: BTreeMap<String, i64> =
            serde_json::from_str(r#"{"y": 1, "x": 2, "y": 3}"#).unwrap();
        assert!(back.iter().eq(want.iter()));
    }
}
