//! Checkpoint tensor names → module paths.

use regex::Regex;

/// LayerNorm parameters as the checkpoints name them (`weight`, `bias`) → burn's
/// (`gamma`, `beta`), for modules whose field name ends in `norm` (`norm`, `norm1`, `attn_norm`).
pub const LAYER_NORM_RENAMES: &[(&str, &str)] =
    &[(r"(norm\d?)\.weight$", "$1.gamma"), (r"(norm\d?)\.bias$", "$1.beta")];

/// What a name no placing rule matches becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Not read (an unused pooler, a position-id buffer).
    Skip,
    /// Kept as named: the checkpoint's name is already the module path.
    Keep,
}

/// Regex rules: the first matching *placing* rule says where a tensor goes (`$1` captures a
/// layer index), then every *rename* rule is applied to the result.
#[derive(Debug)]
pub struct KeyMap {
    placing: Vec<(Regex, &'static str)>,
    renames: Vec<(Regex, &'static str)>,
    unmatched: Unmatched,
}

impl KeyMap {
    /// Panics on an invalid pattern: the rules are constants of the architecture files,
    /// and every one is compiled by their tests.
    pub fn new(placing: &[(&str, &'static str)], renames: &[(&str, &'static str)], unmatched: Unmatched) -> Self {
        let compile = |rules: &[(&str, &'static str)]| -> Vec<(Regex, &'static str)> {
            rules.iter().map(|(from, to)| (Regex::new(from).expect("key map patterns are valid"), *to)).collect()
        };
        Self { placing: compile(placing), renames: compile(renames), unmatched }
    }

    /// The module path of checkpoint tensor `name`, or `None` for one the network does not use.
    pub fn path(&self, name: &str) -> Option<String> {
        let mut path = match self.placing.iter().find(|(re, _)| re.is_match(name)) {
            Some((re, to)) => re.replace(name, *to).into_owned(),
            None if self.unmatched == Unmatched::Keep => name.to_string(),
            None => return None,
        };
        for (re, to) in &self.renames {
            path = re.replace(&path, *to).into_owned();
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_placing_rule_then_every_rename() {
        let map = KeyMap::new(
            &[(r"^enc\.(\d+)\.ln\.", "layers.$1.norm."), (r"^enc\.(\d+)\.", "layers.$1.")],
            LAYER_NORM_RENAMES,
            Unmatched::Skip,
        );
        assert_eq!(map.path("enc.3.ln.weight").as_deref(), Some("layers.3.norm.gamma"));
        assert_eq!(map.path("enc.3.fc.weight").as_deref(), Some("layers.3.fc.weight"));
        assert_eq!(map.path("pooler.weight"), None);
        let keep = KeyMap::new(&[], LAYER_NORM_RENAMES, Unmatched::Keep);
        assert_eq!(keep.path("norm.bias").as_deref(), Some("norm.beta"));
    }
}
