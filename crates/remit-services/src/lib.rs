//! remit's clinical services, apart from any interface: every question put to the policy pack ([`scope`]) and every
//! clinical command — vital signs and escalation ([`obs`]), the IR(ME)R chain and the clinical line ([`imaging`]),
//! delegation ([`tasks`]), competency sign-off ([`competency`]), duty from the roster ([`duty`]) — and the demo trust's stories ([`demo`]). The
//! server's pages, JSON API and FHIR face and the `remit` command line all call these; none of them asks the pack
//! or writes a clinical record itself.
//!
//! A service takes the [`Principal`] it acts for (who, as read, with the store's versions they were read under),
//! the store and the pack, and answers [`scope::Outcome`]: done, or refused with every reason (the refusal is in
//! the audit log). Bad input and unknown ids are [`remit_store::StoreError`]s naming what is wrong, with nothing
//! written.

pub mod adt;
pub mod competency;
pub mod demo;
pub mod duty;
pub mod imaging;
pub mod obs;
pub mod revalidation;
pub mod scope;
pub mod tasks;

use remit_domain::staff::Role;
use remit_store::Versions;
use remit_store::staff::StaffProfile;

/// Who a service acts for: a staff member as the store read them (level, registrations, competencies, duty), and
/// the store's versions they were read under, so that the request's other reads of what the store keeps (a
/// patient's record) are as the database stood then.
#[derive(Debug, Clone)]
pub struct Principal {
    pub profile: StaffProfile,
    pub versions: Versions,
}

impl Principal {
    /// How the principal appears in the audit log.
    pub fn audit_name(&self) -> String {
        format!("staff:{}", self.profile.staff.username)
    }

    /// Whether they hold an IR(ME)R entitlement (the radiography work is theirs).
    pub fn has_imaging_role(&self) -> bool {
        !self.profile.entitlements.is_empty()
    }

    pub fn is_admin(&self) -> bool {
        self.profile.staff.roles.contains(&Role::Admin)
    }

    /// Education leads and administrators see the competency matrix.
    pub fn is_education_lead(&self) -> bool {
        self.is_admin() || self.profile.staff.roles.contains(&Role::EducationLead)
    }
}
