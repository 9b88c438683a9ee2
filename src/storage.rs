//! The widget's persistent memory: `localStorage` behind one small type. Every key is
//! prefixed with `leadgate:`; a browser that refuses storage (private mode, quota, disabled
//! cookies) gives `None`/`Err`, never a panic, and the caller decides what that means.

use leadgate_core::json::{parse, Node, Read};
use serde::Serialize;

/// Why a value could not be stored. (No storage at all is [`Store::local`] giving `None`.)
#[derive(Debug, Clone, PartialEq)]
pub enum StorageError {
    /// The browser refused the write (usually the quota).
    Refused(String),
    /// The value could not be encoded as JSON. (serde_json's own words are not kept: writing
    /// them links std's I/O error texts into the wasm, and none of our types can fail here.)
    Encode,
}

impl StorageError {
    /// What went wrong, for the console.
    pub fn message(&self) -> &str {
        match self {
            StorageError::Refused(m) => m,
            StorageError::Encode => "the value could not be encoded as JSON",
        }
    }
}

/// `localStorage`, under the `leadgate:` prefix.
#[derive(Debug, Clone)]
pub struct Store {
    inner: web_sys::Storage,
}

impl Store {
    /// The page's local storage, if the browser allows it.
    pub fn local() -> Option<Store> {
        let inner = web_sys::window()?.local_storage().ok()??;
        Some(Store { inner })
    }

    fn key(name: &str) -> String {
        String::from("leadgate:") + name
    }

    /// Reads `name` and decodes it with `read`; a missing or unreadable value is `None`.
    pub fn get<T>(&self, name: &str, read: impl FnOnce(&Node) -> Read<T>) -> Option<T> {
        let text = self.inner.get_item(&Store::key(name)).ok()??;
        read(&Node::root(&parse(&text).ok()?)).ok()
    }

    /// Encodes and writes `value` under `name`.
    pub fn set<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StorageError> {
        let text = serde_json::to_string(value).map_err(|_| StorageError::Encode)?;
        self.inner.set_item(&Store::key(name), &text).map_err(|e| {
            StorageError::Refused(
                e.as_string()
                    .or_else(|| {
                        wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(&e)
                            .map(|e| String::from(e.message()))
                    })
                    .unwrap_or_else(|| "storage refused the write".into()),
            )
        })
    }

    /// Removes `name`.
    pub fn remove(&self, name: &str) {
        // Removing can only fail when storage is gone, and then the value is gone too.
        let _ = self.inner.remove_item(&Store::key(name));
    }
}
