//! The SAT command vocabulary, loaded from data, and the resolution of
//! abbreviated command words by unique prefix (`cha sys feat` is
//! `change system-parameters features`).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::error_code::ErrorKind;

const DEFAULT_VOCABULARY: &str = include_str!("../data/sat-vocabulary.toml");

#[derive(Debug, Deserialize)]
struct File {
    verbs: Vec<String>,
    data_verbs: Vec<String>,
    object: Vec<ObjectFile>,
}

#[derive(Debug, Deserialize)]
struct ObjectFile {
    words: String,
    verbs: Vec<String>,
}

/// An object phrase such as `coverage path`.
#[derive(Debug, Clone)]
pub struct ObjectPhrase {
    words: Vec<String>,
    verbs: Vec<String>,
}

impl ObjectPhrase {
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The object type: the words joined by `-` (`coverage-path`).
    pub fn object_type(&self) -> String {
        self.words.join("-")
    }
}

/// The verbs and object phrases of the SAT.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    verbs: Vec<String>,
    data_verbs: Vec<String>,
    objects: Vec<ObjectPhrase>,
}

/// A command with every word resolved to its full form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub verb: String,
    /// The object phrase's words, in full (`["system-parameters", "features"]`).
    pub object: Vec<String>,
    /// The words after the object phrase, as typed.
    pub qualifiers: Vec<String>,
}

impl Resolved {
    /// The object type, `-`-joined (`system-parameters-features`).
    pub fn object_type(&self) -> String {
        self.object.join("-")
    }

    /// The qualifiers joined by single spaces (usually the object's key).
    pub fn qualifier(&self) -> String {
        self.qualifiers.join(" ")
    }
}

/// Why a command could not be resolved; the text is what a CM shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no command entered")]
    Empty,
    #[error("'{word}' is not a valid command word")]
    Unknown { word: String },
    #[error("'{word}' is ambiguous: {}", candidates.join(", "))]
    Ambiguous {
        word: String,
        candidates: Vec<String>,
    },
    #[error("'{verb}' needs an object")]
    MissingObject { verb: String },
}

impl ResolveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ResolveError::Ambiguous { .. } => ErrorKind::AmbiguousWord,
            _ => ErrorKind::UnknownWord,
        }
    }
}

/// Replaces the Unicode hyphens that documents use (U+2010 and kin) by `-`.
pub fn normalize_hyphens(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}'
            | '\u{fe63}' | '\u{ff0d}' => '-',
            c => c,
        })
        .collect()
}

/// Picks the word `typed` abbreviates among `words`: an exact match wins,
/// otherwise the only word it is a prefix of.
fn pick<'a>(typed: &str, words: impl Iterator<Item = &'a str>) -> Result<&'a str, Vec<&'a str>> {
    let t = typed.to_ascii_lowercase();
    let mut found: Vec<&str> = Vec::new();
    for w in words {
        let lw = w.to_ascii_lowercase();
        if lw == t {
            return Ok(w);
        }
        if lw.starts_with(&t) && !found.contains(&w) {
            found.push(w);
        }
    }
    if found.len() == 1 {
        Ok(found[0])
    } else {
        Err(found)
    }
}

impl Vocabulary {
    /// The vocabulary shipped with ucsync.
    pub fn builtin() -> &'static Vocabulary {
        static V: OnceLock<Vocabulary> = OnceLock::new();
        V.get_or_init(|| {
            Vocabulary::from_toml(DEFAULT_VOCABULARY).expect("the built-in vocabulary parses")
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let objects = f
            .object
            .into_iter()
            .map(|o| ObjectPhrase {
                words: o.words.split_whitespace().map(str::to_string).collect(),
                verbs: o.verbs,
            })
            .collect::<Vec<_>>();
        for o in &objects {
            if o.words.is_empty() {
                return Err("an object phrase has no words".into());
            }
            if let Some(v) = o.verbs.iter().find(|v| !f.verbs.contains(v)) {
                return Err(format!(
                    "object '{}' names unknown verb '{v}'",
                    o.words.join(" ")
                ));
            }
        }
        Ok(Vocabulary {
            verbs: f.verbs,
            data_verbs: f.data_verbs,
            objects,
        })
    }

    /// Whether commands with this (full) verb change data and are logged in the history.
    pub fn is_data_verb(&self, verb: &str) -> bool {
        self.data_verbs.iter().any(|v| v == verb)
    }

    pub fn objects(&self) -> &[ObjectPhrase] {
        &self.objects
    }

    /// Resolves a verb alone (`cha` -> `change`).
    pub fn resolve_verb(&self, typed: &str) -> Result<&str, ResolveError> {
        let typed = normalize_hyphens(typed);
        pick(&typed, self.verbs.iter().map(String::as_str))
            .map_err(|c| unknown_or_ambiguous(&typed, c))
    }

    /// Resolves a whole command line.
    pub fn resolve(&self, command: &str) -> Result<Resolved, ResolveError> {
        let command = normalize_hyphens(command);
        let tokens: Vec<&str> = command.split_whitespace().collect();
        let Some((first, rest)) = tokens.split_first() else {
            return Err(ResolveError::Empty);
        };
        let verb = self.resolve_verb(first)?.to_string();
        let mut candidates: Vec<&ObjectPhrase> = self
            .objects
            .iter()
            .filter(|o| o.verbs.contains(&verb))
            .collect();
        if candidates.is_empty() {
            // A verb that takes no object (e.g. `logoff`).
            return Ok(Resolved {
                verb,
                object: Vec::new(),
                qualifiers: rest.iter().map(|s| s.to_string()).collect(),
            });
        }
        let mut object: Vec<String> = Vec::new();
        let mut used = 0;
        loop {
            let pos = object.len();
            // Phrases that end here are complete; longer ones may go on.
            let complete = candidates.iter().find(|o| o.words.len() == pos).copied();
            let longer: Vec<&ObjectPhrase> = candidates
                .iter()
                .copied()
                .filter(|o| o.words.len() > pos)
                .collect();
            let Some(token) = rest.get(used) else {
                return match complete {
                    Some(o) => Ok(Resolved {
                        verb,
                        object: o.words.clone(),
                        qualifiers: Vec::new(),
                    }),
                    None if pos == 0 => Err(ResolveError::MissingObject { verb }),
                    None => Err(ResolveError::MissingObject {
                        verb: format!("{verb} {}", object.join(" ")),
                    }),
                };
            };
            if longer.is_empty() {
                let o = complete.expect("a candidate phrase either ends here or goes on");
                return Ok(self.finish(verb, o, &rest[used..]));
            }
            match pick(token, longer.iter().map(|o| o.words[pos].as_str())) {
                Ok(word) => {
                    let word = word.to_string();
                    candidates = longer
                        .into_iter()
                        .filter(|o| o.words[pos] == word)
                        .collect();
                    object.push(word);
                    used += 1;
                }
                Err(found) => {
                    if let Some(o) = complete {
                        // The phrase is complete; the token is a qualifier.
                        return Ok(self.finish(verb, o, &rest[used..]));
                    }
                    return Err(unknown_or_ambiguous(token, found));
                }
            }
        }
    }

    fn finish(&self, verb: String, o: &ObjectPhrase, rest: &[&str]) -> Resolved {
        Resolved {
            verb,
            object: o.words.clone(),
            qualifiers: rest.iter().map(|s| s.to_string()).collect(),
        }
    }
}

fn unknown_or_ambiguous(word: &str, found: Vec<&str>) -> ResolveError {
    if found.is_empty() {
        ResolveError::Unknown {
            word: word.to_string(),
        }
    } else {
        ResolveError::Ambiguous {
            word: word.to_string(),
            candidates: found.into_iter().map(str::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cmd: &str, expect: &str) {
        let got = match Vocabulary::builtin().resolve(cmd) {
            Ok(r) => format!("{} {} | {}", r.verb, r.object.join(" "), r.qualifier()),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{cmd}");
    }

    #[test]
    fn resolves_abbreviations() {
        check("cha stat 1001", "change station | 1001");
        check("cha sys feat", "change system-parameters features | ");
        check(
            "dis sys spec",
            "display system-parameters special-applications | ",
        );
        check(
            "display system-parameters cust",
            "display system-parameters customer-options | ",
        );
        check("li hi", "list history | ");
        check("display time", "display time | ");
        check("cha cov p 5", "change coverage path | 5");
        check("add agent-loginid 5000", "add agent-loginID | 5000");
        check(
            "duplicate station 1001 start 2001 count 3",
            "duplicate station | 1001 start 2001 count 3",
        );
        check("list station", "list station | ");
        check("ch dialplan an", "change dialplan analysis | ");
        check("save tr", "save translation | ");
    }

    #[test]
    fn unicode_hyphen_is_a_hyphen() {
        check(
            "change system\u{2010}param features",
            "change system-parameters features | ",
        );
        check("list trunk\u{2013}group", "list trunk-group | ");
    }

    #[test]
    fn ambiguous_and_unknown_words_are_errors() {
        check(
            "c station 1001",
            "error: 'c' is ambiguous: campon-busyout, cancel, change, clear",
        );
        check(
            "d station 1001",
            "error: 'd' is ambiguous: display, duplicate",
        );
        check(
            "cha sys co",
            "error: 'co' is ambiguous: country-options, coverage-forwarding",
        );
        check(
            "frobnicate station",
            "error: 'frobnicate' is not a valid command word",
        );
        check(
            "change widget 1",
            "error: 'widget' is not a valid command word",
        );
        check("change", "error: 'change' needs an object");
        check(
            "change system-parameters",
            "error: 'change system-parameters' needs an object",
        );
        check("", "error: no command entered");
    }
}
