//! The supervision under which work is done: none, indirect (a registered colleague on duty nearby, named), or
//! direct (that colleague present and countersigning). Ordered least first.

/// The supervision in place for a request, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Supervision {
    None,
    Indirect,
    Direct,
}

impl Supervision {
    pub const ALL: [Supervision; 3] = [Supervision::None, Supervision::Indirect, Supervision::Direct];

    pub fn as_str(self) -> &'static str {
        match self {
            Supervision::None => "none",
            Supervision::Indirect => "indirect",
            Supervision::Direct => "direct",
        }
    }

    pub fn parse(s: &str) -> Result<Self, crate::InvalidValue> {
        Self::ALL.into_iter().find(|v| v.as_str() == s.trim()).ok_or_else(|| {
            crate::InvalidValue::new("supervision", format!("`{s}` is not one of none, indirect, direct"))
        })
    }
}
