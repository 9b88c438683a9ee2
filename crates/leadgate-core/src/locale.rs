//! Built-in visitor texts (English, German, French) and text direction.

use serde::Serialize;

use crate::config::Texts;

/// Text direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Left to right.
    Ltr,
    /// Right to left.
    Rtl,
}

impl Direction {
    /// The value of the HTML `dir` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ltr => "ltr",
            Direction::Rtl => "rtl",
        }
    }

    /// The usual direction of a language tag's script (`ar`, `he`, `fa`, `ur` are `rtl`).
    pub fn of_locale(locale: &str) -> Option<Direction> {
        let primary = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        matches!(primary.as_str(), "ar" | "he" | "fa" | "ur" | "yi" | "ps")
            .then_some(Direction::Rtl)
    }
}

/// The built-in locales, by primary language subtag.
pub const BUILT_IN: [&str; 3] = ["en", "de", "fr"];

impl Texts {
    /// All texts empty: each is taken from a locale by [`Texts::fill_from`].
    pub fn unset() -> Texts {
        Texts {
            submit: String::new(),
            sending: String::new(),
            success: String::new(),
            failed: String::new(),
            retry: String::new(),
            required: String::new(),
            invalid_email: String::new(),
            too_short: String::new(),
            too_long: String::new(),
            choose: String::new(),
            queued: String::new(),
            did_you_mean: String::new(),
            check_fields: String::new(),
            next: String::new(),
            back: String::new(),
            step_of: String::new(),
            remembered: String::new(),
            not_you: String::new(),
        }
    }

    /// Fills every empty text from `defaults`.
    pub fn fill_from(&mut self, defaults: &Texts) {
        let pairs = [
            (&mut self.submit, &defaults.submit),
            (&mut self.sending, &defaults.sending),
            (&mut self.success, &defaults.success),
            (&mut self.failed, &defaults.failed),
            (&mut self.retry, &defaults.retry),
            (&mut self.required, &defaults.required),
            (&mut self.invalid_email, &defaults.invalid_email),
            (&mut self.too_short, &defaults.too_short),
            (&mut self.too_long, &defaults.too_long),
            (&mut self.choose, &defaults.choose),
            (&mut self.queued, &defaults.queued),
            (&mut self.did_you_mean, &defaults.did_you_mean),
            (&mut self.check_fields, &defaults.check_fields),
            (&mut self.next, &defaults.next),
            (&mut self.back, &defaults.back),
            (&mut self.step_of, &defaults.step_of),
            (&mut self.remembered, &defaults.remembered),
            (&mut self.not_you, &defaults.not_you),
        ];
        for (text, default) in pairs {
            if text.trim().is_empty() {
                text.clone_from(default);
            }
        }
    }

    /// The built-in texts for a language tag (`de`, `de-AT`, `fr-CA`); English for others.
    pub fn for_locale(locale: &str) -> Texts {
        let primary = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "de" => Texts {
                submit: "Senden".into(),
                sending: "Wird gesendet…".into(),
                success: "Vielen Dank! Wir melden uns in Kürze.".into(),
                failed: "Wir konnten Ihre Angaben nicht senden. Sie bleiben hier gespeichert; \
                    bitte versuchen Sie es erneut."
                    .into(),
                retry: "Erneut versuchen".into(),
                required: "Bitte füllen Sie dieses Feld aus.".into(),
                invalid_email: "Bitte geben Sie eine gültige E-Mail-Adresse ein.".into(),
                too_short: "Bitte geben Sie mindestens {n} Zeichen ein.".into(),
                too_long: "Bitte geben Sie höchstens {n} Zeichen ein.".into(),
                choose: "Bitte wählen…".into(),
                queued: "Gespeichert. Wir senden Ihre Angaben, sobald die Verbindung wieder \
                    steht."
                    .into(),
                did_you_mean: "Meinten Sie {email}?".into(),
                check_fields: "Bitte prüfen Sie die markierten Felder.".into(),
                next: "Weiter".into(),
                back: "Zurück".into(),
                step_of: "Schritt {n} von {total}".into(),
                remembered: "Wir kennen bereits: {fields}.".into(),
                not_you: "Nicht Sie?".into(),
            },
            "fr" => Texts {
                submit: "Envoyer".into(),
                sending: "Envoi…".into(),
                success: "Merci ! Nous vous recontactons très vite.".into(),
                failed: "Nous n'avons pas pu envoyer vos informations. Elles sont conservées \
                    ici ; veuillez réessayer."
                    .into(),
                retry: "Réessayer".into(),
                required: "Ce champ est obligatoire.".into(),
                invalid_email: "Veuillez saisir une adresse e-mail valide.".into(),
                too_short: "Veuillez saisir au moins {n} caractères.".into(),
                too_long: "Veuillez saisir au plus {n} caractères.".into(),
                choose: "Choisir…".into(),
                queued: "Enregistré. Nous enverrons vos informations dès le retour de la \
                    connexion."
                    .into(),
                did_you_mean: "Vouliez-vous dire {email} ?".into(),
                check_fields: "Veuillez vérifier les champs signalés.".into(),
                next: "Suivant".into(),
                back: "Retour".into(),
                step_of: "Étape {n} sur {total}".into(),
                remembered: "Nous avons déjà : {fields}.".into(),
                not_you: "Ce n'est pas vous ?".into(),
            },
            _ => Texts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FormConfig;

    fn config(extra: &str) -> FormConfig {
        let json = String::from(
            r#"{"form_id": "f", "fields": [{"name": "a", "type": "text", "label": "A"}]"#,
        ) + extra
            + "}";
        FormConfig::from_json(&json).unwrap()
    }

    #[test]
    fn texts_come_from_the_locale_unless_given() {
        let cases = [
            ("", "Send", "This field is required."),
            (r#", "locale": "de""#, "Senden", "Bitte füllen Sie dieses Feld aus."),
            (r#", "locale": "de-AT""#, "Senden", "Bitte füllen Sie dieses Feld aus."),
            (r#", "locale": "fr-CA""#, "Envoyer", "Ce champ est obligatoire."),
            (r#", "locale": "es""#, "Send", "This field is required."),
            (
                r#", "locale": "de", "texts": {"submit": "Los!"}"#,
                "Los!",
                "Bitte füllen Sie dieses Feld aus.",
            ),
            (r#", "texts": {"required": "Pflicht"}"#, "Send", "Pflicht"),
        ];
        for (extra, submit, required) in cases {
            let c = config(extra);
            assert_eq!(
                (c.texts.submit.as_str(), c.texts.required.as_str()),
                (submit, required),
                "{extra}"
            );
        }
    }

    #[test]
    fn every_built_in_locale_has_every_text() {
        for locale in BUILT_IN {
            let mut texts = Texts::unset();
            texts.fill_from(&Texts::for_locale(locale));
            assert_eq!(texts, Texts::for_locale(locale));
            let t = Texts::for_locale(locale);
            assert!(t.too_short.contains("{n}") && t.too_long.contains("{n}"), "{locale}");
            assert!(t.did_you_mean.contains("{email}"), "{locale}");
            let all = [
                &t.submit,
                &t.sending,
                &t.success,
                &t.failed,
                &t.retry,
                &t.required,
                &t.invalid_email,
                &t.choose,
                &t.queued,
            ];
            assert!(all.iter().all(|s| !s.is_empty()), "{locale}");
        }
    }

    #[test]
    fn direction() {
        assert_eq!(Direction::of_locale("ar"), Some(Direction::Rtl));
        assert_eq!(Direction::of_locale("he-IL"), Some(Direction::Rtl));
        assert_eq!(Direction::of_locale("de"), None);
        let c = config(r#", "dir": "rtl""#);
        assert_eq!(c.dir, Some(Direction::Rtl));
        assert!(FormConfig::from_json(r#"{"form_id": "f", "dir": "up", "fields": []}"#).is_err());
    }
}
