//! The store's batched statements: a fan-out to K terminals costs the same few round trips
//! whatever K (one statement over arrays, `unnest`), never one per terminal.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use hikvision_isapi::EmployeeNo;
use uuid::Uuid;

use super::{EVERY_NUMBER, REVOCATION_COLUMNS, lock_employees, revocation_of};
use crate::delivery::DeliveryError;
use crate::delivery::model::{Change, Outcome, PairKey, PairState, Revocation, Want, Wanted};
use crate::models::ErrorCode;

/// Makes `changes` the desired state (see `DeliveryStore::want`): under the employees' locks,
/// refuses what a revocation covers, records the revocations the changes make, and upserts every
/// other change in one statement (one per repeat of a key, in order, for a batch that names a
/// pair twice).
pub(super) async fn want(
    tx: &Transaction<'_>,
    changes: &[Change],
    owner: Option<&str>,
    lease_until: DateTime<Utc>,
    by: &str,
) -> Result<Vec<Wanted>, DeliveryError> {
    let ids: Vec<Uuid> = changes.iter().map(|c| c.key.angajat_id).collect();
    lock_employees(tx, &ids).await?;
    let select = tx
        .prepare_cached(&format!(
            "select {REVOCATION_COLUMNS} from hikvision_sync.revocation
             where angajat_id = any($1) order by revoked_at"
        ))
        .await?;
    let mut revoked: Vec<Revocation> = tx
        .query(&select, &[&ids])
        .await?
        .iter()
        .map(revocation_of)
        .collect::<Result<_, _>>()?;
    let now = Utc::now();
    let mut wanted: Vec<Option<Wanted>> = Vec::with_capacity(changes.len());
    let mut fresh = Vec::new();
    for c in changes {
        let forbidding = (c.want != Want::Remove)
            .then(|| {
                revoked
                    .iter()
                    .find(|r| r.angajat_id == c.key.angajat_id && r.covers(c.employee_no.as_ref()))
            })
            .flatten();
        if let Some(r) = forbidding {
            wanted.push(Some(Wanted::Revoked(Box::new(r.clone()))));
            continue;
        }
        if let Some(r) = c.revocation(by, now) {
            fresh.push(r.clone());
            revoked.push(r);
        }
        wanted.push(None);
    }
    insert_revocations(tx, &fresh).await?;
    for round in rounds(changes, &wanted) {
        let batch: Vec<&Change> = round.iter().filter_map(|&i| changes.get(i)).collect();
        let mine = upsert(tx, &batch, owner, lease_until).await?;
        for i in round {
            let claimed = changes.get(i).and_then(|c| mine.get(&c.key)).copied();
            if let Some(slot) = wanted.get_mut(i) {
                *slot = Some(if claimed == Some(true) {
                    Wanted::Claimed
                } else {
                    Wanted::Recorded
                });
            }
        }
    }
    wanted
        .into_iter()
        .map(|w| w.ok_or_else(|| DeliveryError::Store("a change was not stored".into())))
        .collect()
}

/// The indexes of the changes to store (`None` in `wanted`), in rounds in which no pair appears
/// twice: the n-th change of a pair goes in round n, so rounds run in the changes' order.
fn rounds(changes: &[Change], wanted: &[Option<Wanted>]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&PairKey, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, (c, w)) in changes.iter().zip(wanted).enumerate() {
        if w.is_some() {
            continue;
        }
        let n = seen.entry(&c.key).or_insert(0);
        if rounds.len() <= *n {
            rounds.push(Vec::new());
        }
        if let Some(round) = rounds.get_mut(*n) {
            round.push(i);
        }
        *n += 1;
    }
    rounds
}

async fn insert_revocations(
    tx: &Transaction<'_>,
    fresh: &[Revocation],
) -> Result<(), DeliveryError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = fresh.iter().map(|r| r.angajat_id).collect();
    let numbers: Vec<&str> = fresh
        .iter()
        .map(|r| {
            r.employee_no
                .as_ref()
                .map_or(EVERY_NUMBER, EmployeeNo::as_str)
        })
        .collect();
    let at: Vec<DateTime<Utc>> = fresh.iter().map(|r| r.revoked_at).collect();
    let by: Vec<&str> = fresh.iter().map(|r| r.revoked_by.as_str()).collect();
    let reasons: Vec<&str> = fresh.iter().map(|r| r.reason.name()).collect();
    let statement = tx
        .prepare_cached(
            "insert into hikvision_sync.revocation
                 (angajat_id, employee_no, revoked_at, revoked_by, reason)
             select * from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
             on conflict do nothing",
        )
        .await?;
    tx.execute(&statement, &[&ids, &numbers, &at, &by, &reasons])
        .await?;
    Ok(())
}

/// The change differs from the stored one (a claim on the stored one is then stale).
const DIFFERS: &str = "(d.want, d.employee_no, d.remove_employee_no, d.photo,
     d.create_missing_person, d.validity) is distinct from (excluded.want, excluded.employee_no,
     excluded.remove_employee_no, excluded.photo, excluded.create_missing_person, excluded.validity)";

/// `$1` (the owner) may take the stored pair's claim.
const FREE: &str = "$1::text is not null and (d.claimed_until is null or d.claimed_until <= now()
     or d.claimed_by = $1)";

/// Upserts `batch` (no pair twice); returns, per pair, whether `owner` holds its claim now.
async fn upsert(
    tx: &Transaction<'_>,
    batch: &[&Change],
    owner: Option<&str>,
    lease_until: DateTime<Utc>,
) -> Result<HashMap<PairKey, bool>, DeliveryError> {
    let ids: Vec<Uuid> = batch.iter().map(|c| c.key.angajat_id).collect();
    let devices: Vec<&str> = batch.iter().map(|c| c.key.device_id.as_str()).collect();
    let wants: Vec<&str> = batch.iter().map(|c| c.want.name()).collect();
    let numbers: Vec<Option<&str>> = batch
        .iter()
        .map(|c| c.employee_no.as_ref().map(EmployeeNo::as_str))
        .collect();
    let removes: Vec<Option<&str>> = batch
        .iter()
        .map(|c| c.remove_employee_no.as_ref().map(EmployeeNo::as_str))
        .collect();
    let photos: Vec<Option<&str>> = batch.iter().map(|c| c.photo.as_deref()).collect();
    let create: Vec<bool> = batch.iter().map(|c| c.create_missing_person).collect();
    let validity: Vec<Option<&str>> = batch.iter().map(|c| c.validity.as_deref()).collect();
    let sql = format!(
        "insert into hikvision_sync.delivery as d
             (angajat_id, device_id, want, employee_no, remove_employee_no, photo,
              create_missing_person, state, attempts, next_attempt_at, error_code, message,
              claimed_by, claimed_until, claim_revision, changed_at, numbers, validity)
         select u_id, u_device, u_want, u_no, u_remove, u_photo, u_create, 'pending', 0,
                case when $1::text is null then now() else $2::timestamptz end, null, null,
                $1::text, case when $1::text is null then null else $2::timestamptz end,
                case when $1::text is null then null else 1 end, now(),
                array(select n from (select distinct n from unnest(array[u_no, u_remove]) n
                                     where n is not null) given
                      order by n collate \"C\"),
                u_validity
         from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::bool[], $10::text[])
              as u(u_id, u_device, u_want, u_no, u_remove, u_photo, u_create, u_validity)
         on conflict (angajat_id, device_id) do update set
             numbers = array(select distinct n from unnest(d.numbers || excluded.numbers) n
                             order by n),
             want = excluded.want, employee_no = excluded.employee_no,
             remove_employee_no = excluded.remove_employee_no, photo = excluded.photo,
             create_missing_person = excluded.create_missing_person,
             validity = excluded.validity,
             state = 'pending', attempts = 0, error_code = null, message = null,
             revision = d.revision + case when {DIFFERS} then 1 else 0 end,
             changed_at = now(),
             claimed_by = case when {FREE} then $1 else d.claimed_by end,
             claimed_until = case when {FREE} then $2 else d.claimed_until end,
             claim_revision = case when {FREE}
                 then d.revision + case when {DIFFERS} then 1 else 0 end
                 else d.claim_revision end,
             next_attempt_at = case when {FREE} then $2 else now() end
         returning angajat_id, device_id,
                   (claimed_by is not distinct from $1 and $1::text is not null) as mine"
    );
    let statement = tx.prepare_cached(&sql).await?;
    let rows = tx
        .query(
            &statement,
            &[
                &owner,
                &lease_until,
                &ids,
                &devices,
                &wants,
                &numbers,
                &removes,
                &photos,
                &create,
                &validity,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let key = PairKey::new(
                r.try_get("angajat_id")?,
                r.try_get::<_, String>("device_id")?,
            );
            Ok((key, r.try_get::<_, bool>("mine")?))
        })
        .collect()
}

/// The terminals on which `owner` holds a live claim on `angajat_id`'s current change.
pub(super) async fn held(
    client: &impl GenericClient,
    angajat_id: Uuid,
    owner: &str,
) -> Result<HashMap<String, DateTime<Utc>>, DeliveryError> {
    let statement = client
        .prepare_cached(
            "select device_id, claimed_until from hikvision_sync.delivery
             where angajat_id = $1 and claimed_by = $2 and claimed_until > now()
               and claim_revision = revision",
        )
        .await?;
    let rows = client.query(&statement, &[&angajat_id, &owner]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("device_id")?, r.try_get("claimed_until")?)))
        .collect()
}

/// Records many outcomes of `owner`'s attempts in one statement (see `DeliveryStore::record`).
pub(super) async fn record_all(
    client: &impl GenericClient,
    owner: &str,
    outcomes: &[(PairKey, Outcome)],
) -> Result<Vec<bool>, DeliveryError> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = outcomes.iter().map(|(k, _)| k.angajat_id).collect();
    let devices: Vec<&str> = outcomes.iter().map(|(k, _)| k.device_id.as_str()).collect();
    let states: Vec<&str> = outcomes.iter().map(|(_, o)| o.state.name()).collect();
    let next: Vec<Option<DateTime<Utc>>> =
        outcomes.iter().map(|(_, o)| o.next_attempt_at).collect();
    let codes: Vec<Option<&str>> = outcomes
        .iter()
        .map(|(_, o)| o.error_code.as_ref().map(ErrorCode::as_str))
        .collect();
    let messages: Vec<&str> = outcomes.iter().map(|(_, o)| o.message.as_str()).collect();
    let in_sync: Vec<bool> = outcomes
        .iter()
        .map(|(_, o)| o.state == PairState::InSync)
        .collect();
    let photos: Vec<Option<&str>> = outcomes
        .iter()
        .map(|(_, o)| o.confirmed_photo.as_deref())
        .collect();
    let statement = client
        .prepare_cached(
            "update hikvision_sync.delivery set
                 claimed_by = null, claimed_until = null,
                 attempts = case when claim_revision = revision then attempts + 1 else attempts end,
                 state = case when claim_revision = revision then u_state else state end,
                 last_attempt_at = case when claim_revision = revision then now() else last_attempt_at end,
                 next_attempt_at = case when claim_revision = revision then u_next else now() end,
                 error_code = case when claim_revision = revision then u_code else error_code end,
                 message = case when claim_revision = revision then u_message else message end,
                 confirmed_photo = case when claim_revision = revision and u_in_sync then u_photo
                                        else confirmed_photo end,
                 last_success_at = case when claim_revision = revision and u_in_sync then now()
                                        else last_success_at end
             from unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                         $7::text[], $8::bool[], $9::text[])
                  as u(u_id, u_device, u_state, u_next, u_code, u_message, u_in_sync, u_photo)
             where angajat_id = u_id and device_id = u_device and claimed_by = $1
             returning angajat_id, device_id, claim_revision = revision as applied",
        )
        .await?;
    let rows = client
        .query(
            &statement,
            &[
                &owner, &ids, &devices, &states, &next, &codes, &messages, &in_sync, &photos,
            ],
        )
        .await?;
    let mut applied = HashMap::new();
    for r in &rows {
        let key = PairKey::new(
            r.try_get("angajat_id")?,
            r.try_get::<_, String>("device_id")?,
        );
        applied.insert(
            key,
            r.try_get::<_, Option<bool>>("applied")?.unwrap_or(false),
        );
    }
    Ok(outcomes
        .iter()
        .map(|(k, _)| applied.get(k).copied().unwrap_or(false))
        .collect())
}

/// Gives up `owner`'s claims on `keys` (see `DeliveryStore::release`).
pub(super) async fn release_all(
    client: &impl GenericClient,
    keys: &[PairKey],
    owner: &str,
    due_at: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    if keys.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = keys.iter().map(|k| k.angajat_id).collect();
    let devices: Vec<&str> = keys.iter().map(|k| k.device_id.as_str()).collect();
    let statement = client
        .prepare_cached(
            "update hikvision_sync.delivery
             set claimed_by = null, claimed_until = null, next_attempt_at = $4
             from unnest($1::uuid[], $2::text[]) as u(u_id, u_device)
             where angajat_id = u_id and device_id = u_device and claimed_by = $3",
        )
        .await?;
    client
        .execute(&statement, &[&ids, &devices, &owner, &due_at])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(device: &str) -> Change {
        Change::photo_update(device, None)
    }

    #[test]
    fn a_pair_named_twice_is_stored_in_a_later_round_and_refused_changes_in_none() {
        let changes = [
            change("a"),
            change("b"),
            change("a"),
            change("c"),
            change("a"),
        ];
        let refused = Some(Wanted::Recorded);
        let wanted = [None, None, None, refused, None];
        assert_eq!(
            rounds(&changes, &wanted),
            vec![vec![0, 1], vec![2], vec![4]]
        );
    }
}
