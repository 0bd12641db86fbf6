//! Places where staff are on duty and patients are cared for: wards and departments.

use serde::Serialize;

use crate::error::{parse_slug, string_newtype};
use crate::staff::named_enum;

string_newtype!(
    /// A place's short code, such as `ward-7` or `xray`.
    PlaceCode,
    |s| parse_slug("place", s, 64)
);

named_enum!(
    PlaceKind, "kind", {
        Ward => "ward",
        Department => "department",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub code: PlaceCode,
    pub name: String,
    pub kind: PlaceKind,
}
