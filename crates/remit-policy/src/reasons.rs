//! Filling in the placeholders of a policy's `@reason`, so that a refusal reads as a sentence about this person.

use chrono::NaiveDate;
use remit_domain::staff::StaffProfile;

/// The placeholders a reason may use.
const KNOWN: &[&str] = &[
    "actor",
    "level",
    "grade",
    "registrations",
    "place",
    "supervisor",
    "colleague",
    "exam_competency",
    "signoff_competency",
];

/// Checks that every `{…}` in a reason is one remit fills in.
pub(crate) fn check_placeholders(reason: &str) -> Result<(), String> {
    let mut rest = reason;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or("a `{` in the reason is never closed")?;
        let name = &after[..end];
        let ok = KNOWN.contains(&name)
            || name
                .strip_prefix("competency:")
                .is_some_and(|c| remit_domain::staff::CompetencyId::parse(c).is_ok());
        if !ok {
            return Err(format!(
                "the reason uses `{{{name}}}`, which remit does not fill in (known: {}, competency:ID)",
                KNOWN.join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// What the placeholders stand for in one decision.
pub(crate) struct Facts<'a> {
    pub actor: &'a StaffProfile,
    pub today: NaiveDate,
    pub place: Option<&'a str>,
    pub supervisor: Option<&'a str>,
    pub colleague: Option<&'a str>,
    /// The competency the examination's region needs, when an examination was named.
    pub exam_competency: Option<&'a str>,
    pub signoff_competency: Option<&'a str>,
}

impl Facts<'_> {
    pub(crate) fn render(&self, reason: &str) -> String {
        let mut out = String::with_capacity(reason.len() + 32);
        let mut rest = reason;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            out.push_str(&self.fill(&after[..end]));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn fill(&self, name: &str) -> String {
        let actor = self.actor.staff.name.as_str();
        match name {
            "actor" => actor.to_owned(),
            "level" => self
                .actor
                .staff
                .level
                .map_or_else(|| "none".to_owned(), |l| l.to_string()),
            "registrations" => registrations(self.actor, self.today),
            "grade" => self
                .actor
                .staff
                .grade
                .as_ref()
                .map_or_else(|| "of no grade the routes name".to_owned(), |g| format!("`{g}`")),
            "place" => self.place.unwrap_or("their ward or department").to_owned(),
            "supervisor" => self.supervisor.unwrap_or("The named supervisor").to_owned(),
            "colleague" => self.colleague.unwrap_or("the colleague").to_owned(),
            "exam_competency" => match self.exam_competency {
                Some(c) => competency_standing(self.actor, c, self.today),
                None => "no examination was named".to_owned(),
            },
            "signoff_competency" => match self.signoff_competency {
                Some(c) => competency_standing(self.actor, c, self.today),
                None => "no competency was named".to_owned(),
            },
            other => match other.strip_prefix("competency:") {
                Some(c) => competency_standing(self.actor, c, self.today),
                None => format!("{{{other}}}"),
            },
        }
    }
}

/// "holds no current registration", "holds a current NMC registration (annotated independent-prescriber)", with
/// lapsed ones named.
fn registrations(p: &StaffProfile, today: NaiveDate) -> String {
    let current: Vec<String> = p
        .registrations
        .iter()
        .filter(|r| r.is_current(today))
        .map(|r| {
            let ann: Vec<&str> = r.annotations.iter().map(|a| a.as_str()).collect();
            let regulator = match r.profession() {
                Some((_, title)) => format!("{} ({title})", r.regulator),
                None => r.regulator.to_string(),
            };
            if ann.is_empty() {
                regulator
            } else {
                format!("{regulator} (annotated {})", ann.join(", "))
            }
        })
        .collect();
    let lapsed: Vec<String> = p
        .registrations
        .iter()
        .filter(|r| !r.is_current(today))
        .map(|r| format!("{} lapsed on {}", r.regulator, r.expires_on))
        .collect();
    let mut s = match current.len() {
        0 => "holds no current registration".to_owned(),
        1 => format!("holds a current {} registration", current[0]),
        _ => format!("holds current {} registrations", current.join(" and ")),
    };
    if !lapsed.is_empty() {
        s.push_str(&format!(" ({})", lapsed.join("; ")));
    }
    s
}

/// How a person stands for one competency today, as a clause: "Alex Morgan's `catheterisation` competency expired on
/// 2026-09-26".
pub(crate) fn competency_standing(p: &StaffProfile, id: &str, today: NaiveDate) -> String {
    let name = p.staff.name.as_str();
    let records: Vec<_> = p
        .competencies
        .iter()
        .filter(|r| r.competency.as_str() == id && r.signed_off_on <= today)
        .collect();
    if let Some(valid) = records
        .iter()
        .filter(|r| r.is_valid_on(today))
        .max_by_key(|r| r.expires_on)
    {
        return format!("{name}'s `{id}` competency is valid until {}", valid.expires_on);
    }
    match records.iter().max_by_key(|r| r.signed_off_on) {
        None => format!("{name} holds no `{id}` sign-off"),
        Some(r) if r.revoked => format!("{name}'s `{id}` competency was revoked"),
        Some(r) => format!("{name}'s `{id}` competency expired on {}", r.expires_on),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_placeholders_are_refused() {
        assert!(check_placeholders("{actor} is level {level}; {competency:vital-signs}").is_ok());
        assert!(check_placeholders("{actr} is").unwrap_err().contains("`{actr}`"));
        assert!(check_placeholders("{competency:Bad Id}").is_err());
        assert!(check_placeholders("open {").is_err());
    }
}
