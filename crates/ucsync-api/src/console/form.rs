//! What every form of the console shares: a refused form's errors, by the
//! names of the form's inputs — each shown beside its input and named by
//! the input's `aria-describedby` (the `field_error` and `described` macros
//! of `macros.html`), an error that is no input's above the form — and the
//! page that asks before an action that removes something.

use std::collections::BTreeMap;

use askama::Template;

use super::Frame;
use crate::ApiError;

/// A page that asks before an action: the question, what follows from it,
/// what it deletes per type (when it deletes objects), its button, and the
/// way back without acting.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub frame: Frame,
    pub question: String,
    pub detail: String,
    pub deleted: Vec<(String, u64)>,
    /// Where the button posts.
    pub action: String,
    pub button: String,
    pub back: String,
}

#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    /// By input name.
    inputs: BTreeMap<String, String>,
    /// The error of no input.
    general: Option<String>,
}

impl FormErrors {
    /// `message` beside the input named `input`, or above the form.
    pub(crate) fn one(input: Option<&str>, message: impl Into<String>) -> FormErrors {
        let message = message.into();
        match input {
            Some(name) => FormErrors {
                inputs: BTreeMap::from([(name.to_string(), message)]),
                general: None,
            },
            None => FormErrors {
                inputs: BTreeMap::new(),
                general: Some(message),
            },
        }
    }

    /// An API error beside the input `input` finds for its field (the
    /// field as the API names it, such as `target.elements[1]`), or above
    /// the form when the error names no field or no input is found.
    pub(crate) fn of_api(
        e: &ApiError,
        input: impl for<'a> Fn(&'a str) -> Option<&'a str>,
    ) -> FormErrors {
        FormErrors::one(e.field.as_deref().and_then(input), e.message.clone())
    }

    /// The error beside the input named `input`.
    pub(crate) fn on(&self, input: &str) -> Option<&str> {
        self.inputs.get(input).map(String::as_str)
    }

    /// The error above the form.
    pub(crate) fn general(&self) -> Option<&str> {
        self.general.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldError;

    #[test]
    fn an_api_error_goes_beside_its_input_or_above_the_form() {
        let e: ApiError = FieldError::new("target.elements[1]", "no element cm9").into();
        let beside = FormErrors::of_api(&e, |f| f.starts_with("target").then_some("elements"));
        assert_eq!(beside.on("elements"), Some("no element cm9"));
        assert_eq!(beside.general(), None);

        let above = FormErrors::of_api(&e, |_| None);
        assert_eq!(above.on("elements"), None);
        assert_eq!(above.general(), Some("no element cm9"));

        let typed = FormErrors::one(Some("cron"), "five fields");
        assert_eq!(
            (typed.on("cron"), typed.on("name")),
            (Some("five fields"), None)
        );
    }
}
