//! The catalogues in effect: what every connector and every key check of
//! one service reads — the CM catalogue (built in, or with the site's file
//! of the `cm_catalog` setting applied), the messaging products' and IP
//! Office's (built in). Nothing looks a built-in catalogue up on its own.

use std::sync::Arc;

use ucsync_core::ElementKind;

use crate::ConnectError;
use crate::key::KeyGrammar;

/// The catalogues in effect; clones share them.
#[derive(Debug, Clone)]
pub struct Catalogs {
    pub cm: Arc<crate::cm::catalog::Catalog>,
    pub messaging: Arc<crate::messaging::catalog::Catalog>,
}

impl Catalogs {
    /// The built-in catalogues.
    pub fn builtin() -> Catalogs {
        Catalogs::with_cm(crate::cm::catalog::Catalog::builtin())
    }

    /// The built-in catalogues but the CM's, which is `cm`.
    pub fn with_cm(cm: crate::cm::catalog::Catalog) -> Catalogs {
        Catalogs {
            cm: Arc::new(cm),
            messaging: Arc::new(crate::messaging::catalog::Catalog::builtin()),
        }
    }

    /// Checks the key of an object of an element of `kind` by its object
    /// type's grammar; a type the kind does not know is `UnknownType`. The
    /// API and the runner call it before connecting, the connectors before
    /// building a command.
    pub fn check(
        &self,
        kind: ElementKind,
        object_type: &str,
        key: &str,
    ) -> Result<(), ConnectError> {
        self.grammar(kind, object_type)?.check(object_type, key)
    }

    /// The grammar of an object type's key on an element of `kind`.
    pub fn grammar(
        &self,
        kind: ElementKind,
        object_type: &str,
    ) -> Result<KeyGrammar, ConnectError> {
        let unknown = || ConnectError::UnknownType(object_type.to_string());
        match kind {
            ElementKind::Cm => self
                .cm
                .by_type(object_type)
                .map(|t| t.key_grammar())
                .ok_or_else(unknown),
            ElementKind::IpOffice => crate::ipo::catalog::by_type(object_type)
                .map(|t| t.key_grammar)
                .ok_or_else(unknown),
            ElementKind::Messaging | ElementKind::CmMessaging | ElementKind::ModularMessaging => {
                if object_type != crate::messaging::SUBSCRIBER {
                    return Err(unknown());
                }
                self.messaging
                    .by_kind(kind)
                    .map(|p| p.key_grammar())
                    .ok_or_else(unknown)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_catalogue_is_the_one_keys_are_checked_by() {
        let site = crate::cm::catalog::Catalog::builtin()
            .with_site(
                "site.toml",
                "[[type]]\nobject = \"board\"\nkey_kind = \"number\"\n",
            )
            .unwrap();
        let builtin = Catalogs::builtin();
        let ours = Catalogs::with_cm(site);
        assert!(builtin.check(ElementKind::Cm, "board", "01A05").is_ok());
        assert!(builtin.check(ElementKind::Cm, "board", "12").is_err());
        assert!(ours.check(ElementKind::Cm, "board", "12").is_ok());
        assert!(ours.check(ElementKind::Cm, "board", "01A05").is_err());
        assert!(
            ours.check(ElementKind::Messaging, "subscriber", "2001")
                .is_ok()
        );
    }
}
