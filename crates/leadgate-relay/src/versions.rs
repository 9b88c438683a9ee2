//! The forms the relay knows, every published version of each: the current one is what
//! `GET /v1/forms/{form_id}/config` serves and what scores a lead whose model the relay does
//! not know; a lead scored by an older version (a page cached with the old config) is
//! re-scored with that version, found by its `score.model`. Versions live in the database
//! (`config_versions`, `forms`); this is the relay's copy in memory, replaced whole when a
//! version is published or made current, so a request sees one consistent catalog.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use leadgate_core::FormConfig;

use crate::store::sales::ConfigVersion;

/// One form's versions.
#[derive(Debug, Clone)]
struct FormVersions {
    current: Arc<FormConfig>,
    current_version: i64,
    current_json: Arc<str>,
    by_model: HashMap<String, Arc<FormConfig>>,
}

/// Every form's versions.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    forms: BTreeMap<String, FormVersions>,
}

/// A stored version that no longer reads as a config (written by a relay whose core read it
/// differently): reported, never served.
#[derive(Debug, thiserror::Error)]
#[error("version {version} of form {form_id:?} is not a valid config: {message}")]
pub struct BadVersion {
    /// The form.
    pub form_id: String,
    /// The version.
    pub version: i64,
    /// What the reader said.
    pub message: String,
}

impl Catalog {
    /// The catalog of `versions` (every version of every form, as stored).
    pub fn load(versions: &[ConfigVersion]) -> Result<Catalog, BadVersion> {
        let mut forms: BTreeMap<String, FormVersions> = BTreeMap::new();
        let mut pending: BTreeMap<String, Vec<(&ConfigVersion, Arc<FormConfig>)>> = BTreeMap::new();
        for v in versions {
            let config = FormConfig::from_json(&v.config).map_err(|e| BadVersion {
                form_id: v.form_id.clone(),
                version: v.version,
                message: e.to_string(),
            })?;
            pending.entry(v.form_id.clone()).or_default().push((v, Arc::new(config)));
        }
        for (form_id, list) in pending {
            let Some((current, config)) = list.iter().find(|(v, _)| v.current).or(list.last())
            else {
                continue;
            };
            let by_model = list.iter().map(|(v, c)| (v.model.clone(), Arc::clone(c))).collect();
            forms.insert(
                form_id,
                FormVersions {
                    current: Arc::clone(config),
                    current_version: current.version,
                    current_json: Arc::from(current.config.as_str()),
                    by_model,
                },
            );
        }
        Ok(Catalog { forms })
    }

    /// Whether the relay knows no form (then it accepts any, and checks no score).
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Whether it knows `form_id`.
    pub fn knows(&self, form_id: &str) -> bool {
        self.forms.contains_key(form_id)
    }

    /// The forms it knows.
    pub fn form_ids(&self) -> Vec<String> {
        self.forms.keys().cloned().collect()
    }

    /// The config that scores a lead of `form_id` that says it was scored by `model`: the
    /// version with that model, else the current one.
    pub fn for_lead(&self, form_id: &str, model: &str) -> Option<Arc<FormConfig>> {
        let form = self.forms.get(form_id)?;
        Some(Arc::clone(form.by_model.get(model).unwrap_or(&form.current)))
    }

    /// Every version of `form_id` (the configs that may have scored its leads).
    pub fn versions(&self, form_id: &str) -> Vec<Arc<FormConfig>> {
        self.forms.get(form_id).map_or_else(Vec::new, |f| f.by_model.values().cloned().collect())
    }

    /// The current config of `form_id`, its version number and its JSON.
    pub fn current(&self, form_id: &str) -> Option<(Arc<FormConfig>, i64, Arc<str>)> {
        let f = self.forms.get(form_id)?;
        Some((Arc::clone(&f.current), f.current_version, Arc::clone(&f.current_json)))
    }
}

/// The catalog shared by the relay's handlers.
pub type SharedCatalog = Arc<RwLock<Catalog>>;

/// Reads the catalog (a poisoned lock still holds a whole catalog: it is only ever replaced).
pub fn read(catalog: &SharedCatalog) -> std::sync::RwLockReadGuard<'_, Catalog> {
    catalog.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Replaces the catalog.
pub fn replace(catalog: &SharedCatalog, new: Catalog) {
    *catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner) = new;
}
