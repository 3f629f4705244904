//! Deleting persons and faces, and counting what a terminal holds.
//!
//! A `UserInfo/Delete` without a list deletes every person (`docs/isapi.md`, "Deletion danger"),
//! so both deletes take an [`EmployeeNoList`], which cannot be empty and holds only checked
//! numbers ([`crate::EmployeeNo`]). Deletes are idempotent: "this person (face) does not exist" counts
//! as done.

use crate::call::TerminalCall;
use crate::client::{Body, IsapiClient, json};
use crate::error::IsapiError;
use crate::reply::{parse_json, parse_status};
use crate::sub_status::Meaning;
use crate::terminal::Terminal;
use crate::wire::{
    EmployeeNoList, FaceDeleteBody, UserInfoCount, UserInfoCountEnvelope, UserInfoDelCond,
    UserInfoDelEnvelope,
};

/// What a delete removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deletion {
    /// Persons (their faces go with them).
    Persons,
    /// Faces of the employee library.
    Faces,
}

impl Deletion {
    fn call(self) -> TerminalCall {
        match self {
            Self::Persons => TerminalCall::UserDelete,
            Self::Faces => TerminalCall::FdDelete,
        }
    }

    fn body(self, persons: &EmployeeNoList) -> Result<Body, IsapiError> {
        match self {
            Self::Persons => json(&UserInfoDelEnvelope {
                cond: UserInfoDelCond {
                    employee_no_list: persons.clone(),
                },
            }),
            Self::Faces => json(&FaceDeleteBody::of(persons)),
        }
    }

    /// True when `error` says what was to be deleted is not there.
    fn already_gone(self, error: &IsapiError) -> bool {
        let Some(rejection) = error.rejection() else {
            return false;
        };
        rejection.person_missing()
            || (self == Self::Faces && rejection.meaning() == Some(Meaning::FaceMissing))
    }
}

impl IsapiClient {
    /// PUT UserInfo/Delete: deletes `persons` and their faces. A person the terminal does not
    /// have counts as deleted.
    pub async fn delete_persons(
        &self,
        t: &Terminal,
        persons: &EmployeeNoList,
    ) -> Result<(), IsapiError> {
        self.delete(t, Deletion::Persons, persons).await
    }

    /// PUT FDSearch/Delete (`FDID=1&faceLibType=blackFD`): deletes the faces of `persons`,
    /// keeping the persons. A face the terminal does not have counts as deleted.
    pub async fn delete_faces(
        &self,
        t: &Terminal,
        persons: &EmployeeNoList,
    ) -> Result<(), IsapiError> {
        self.delete(t, Deletion::Faces, persons).await
    }

    /// GET UserInfo/Count: how many persons, and persons with a face or card, the terminal
    /// holds.
    pub async fn count_persons(&self, t: &Terminal) -> Result<UserInfoCount, IsapiError> {
        let reply = self.call(t, TerminalCall::UserCount, Body::Query).await?;
        parse_json::<UserInfoCountEnvelope>(&reply).map(|found| found.count)
    }

    /// One delete request; when a list of several is refused because one of them is missing,
    /// the refusal does not say whether the others went, so each is deleted on its own.
    async fn delete(
        &self,
        t: &Terminal,
        kind: Deletion,
        persons: &EmployeeNoList,
    ) -> Result<(), IsapiError> {
        match self.delete_once(t, kind, persons).await {
            Err(e) if kind.already_gone(&e) && persons.len() > 1 => {
                for one in persons.singles() {
                    match self.delete_once(t, kind, &one).await {
                        Err(e) if kind.already_gone(&e) => {}
                        other => other?,
                    }
                }
                Ok(())
            }
            Err(e) if kind.already_gone(&e) => Ok(()),
            other => other,
        }
    }

    async fn delete_once(
        &self,
        t: &Terminal,
        kind: Deletion,
        persons: &EmployeeNoList,
    ) -> Result<(), IsapiError> {
        let reply = self.call(t, kind.call(), kind.body(persons)?).await?;
        parse_status(&reply).map(drop)
    }
}
