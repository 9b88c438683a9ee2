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
        let mut texts = Texts::unset();
        texts.fill_builtin(locale);
        texts
    }

    /// Fills every empty text from the built-in texts of `locale` (as [`Texts::for_locale`]).
    pub fn fill_builtin(&mut self, locale: &str) {
        let primary = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        let builtin = match primary.as_str() {
            "de" => &DE,
            "fr" => &FR,
            _ => &EN,
        };
        for (text, default) in self.each_mut().into_iter().zip(builtin) {
            if text.trim().is_empty() {
                text.clear();
                text.push_str(default);
            }
        }
    }

    /// Every text, in the order of the struct (and of the tables below).
    fn each_mut(&mut self) -> [&mut String; 18] {
        [
            &mut self.submit,
            &mut self.sending,
            &mut self.success,
            &mut self.failed,
            &mut self.retry,
            &mut self.required,
            &mut self.invalid_email,
            &mut self.too_short,
            &mut self.too_long,
            &mut self.choose,
            &mut self.queued,
            &mut self.check_fields,
            &mut self.did_you_mean,
            &mut self.next,
            &mut self.back,
            &mut self.step_of,
            &mut self.remembered,
            &mut self.not_you,
        ]
    }
}

// The built-in texts as tables in the order of `Texts::each_mut` (one loop fills a config's
// texts from any of them, instead of a struct literal per language).

/// English (also [`Texts::default`]).
const EN: [&str; 18] = [
    "Send",
    "Sending…",
    "Thank you! We'll be in touch soon.",
    "We couldn't send your details. They are kept here; please try again.",
    "Try again",
    "This field is required.",
    "Please enter a valid e-mail address.",
    "Please enter at least {n} characters.",
    "Please enter at most {n} characters.",
    "Choose…",
    "Saved. We'll send your details as soon as the connection is back.",
    "Please check the highlighted fields.",
    "Did you mean {email}?",
    "Next",
    "Back",
    "Step {n} of {total}",
    "We remember your {fields}.",
    "Not you?",
];

/// German.
const DE: [&str; 18] = [
    "Senden",
    "Wird gesendet…",
    "Vielen Dank! Wir melden uns in Kürze.",
    "Wir konnten Ihre Angaben nicht senden. Sie bleiben hier gespeichert; bitte versuchen Sie \
     es erneut.",
    "Erneut versuchen",
    "Bitte füllen Sie dieses Feld aus.",
    "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
    "Bitte geben Sie mindestens {n} Zeichen ein.",
    "Bitte geben Sie höchstens {n} Zeichen ein.",
    "Bitte wählen…",
    "Gespeichert. Wir senden Ihre Angaben, sobald die Verbindung wieder steht.",
    "Bitte prüfen Sie die markierten Felder.",
    "Meinten Sie {email}?",
    "Weiter",
    "Zurück",
    "Schritt {n} von {total}",
    "Wir kennen bereits: {fields}.",
    "Nicht Sie?",
];

/// French.
const FR: [&str; 18] = [
    "Envoyer",
    "Envoi…",
    "Merci ! Nous vous recontactons très vite.",
    "Nous n'avons pas pu envoyer vos informations. Elles sont conservées ici ; veuillez \
     réessayer.",
    "Réessayer",
    "Ce champ est obligatoire.",
    "Veuillez saisir une adresse e-mail valide.",
    "Veuillez saisir au moins {n} caractères.",
    "Veuillez saisir au plus {n} caractères.",
    "Choisir…",
    "Enregistré. Nous enverrons vos informations dès le retour de la connexion.",
    "Veuillez vérifier les champs signalés.",
    "Vouliez-vous dire {email} ?",
    "Suivant",
    "Retour",
    "Étape {n} sur {total}",
    "Nous avons déjà : {fields}.",
    "Ce n'est pas vous ?",
];

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
