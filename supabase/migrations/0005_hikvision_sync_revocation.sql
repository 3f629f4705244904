-- hikvision-sync: a removal sticks. A removal (remove-angajat, a deleted row, an end date that
-- passed, a reconcile fix) revokes the employee, and a changed employee number revokes the old
-- number, durably: photo updates, webhooks and the sweep never give them back; only an admin's
-- restore (POST /api/hikvision/restore-angajat, audited) lifts a revocation. Each pair also keeps
-- every number the terminal may hold for the employee, so a removal deletes each of them.
--
-- Access model as in 0001-0004: RLS on, no policy, nothing for anon/authenticated.

create table if not exists hikvision_sync.revocation (
    angajat_id   uuid        not null,
    -- The revoked number, or '*' for the whole employee (every number; employee numbers are
    -- letters and digits, so '*' is never one).
    employee_no  text        not null,
    revoked_at   timestamptz not null default now(),
    revoked_by   text        not null,
    reason       text        not null check (reason in ('removed', 'number_changed')),
    primary key (angajat_id, employee_no)
);

alter table hikvision_sync.revocation enable row level security;
revoke all on hikvision_sync.revocation from public, anon, authenticated;
grant select, insert, update, delete on hikvision_sync.revocation to service_role;

-- Removals stored before this migration are revocations too.
insert into hikvision_sync.revocation (angajat_id, employee_no, revoked_at, revoked_by, reason)
select distinct on (angajat_id) angajat_id, '*', changed_at, 'migration 0005 (an earlier removal)', 'removed'
from hikvision_sync.delivery where want = 'remove'
order by angajat_id, changed_at
on conflict do nothing;

alter table hikvision_sync.delivery add column if not exists numbers text[] not null default '{}';
update hikvision_sync.delivery
set numbers = array(select distinct n from unnest(array[employee_no, remove_employee_no]) n
                    where n is not null order by n)
where numbers = '{}';

alter table hikvision_sync.audit drop constraint if exists audit_action_check;
alter table hikvision_sync.audit add constraint audit_action_check
    check (action in ('resync', 'remove', 'reconcile_schedule', 'reconcile_remove', 'restore', 'enrol'));

-- The status view is not public: it runs with the reader's rights (security_invoker) and is granted
-- to nobody but the service role; an owner who wants the React app's admins to read it grants it to
-- a role of theirs (README, "Access model"). It carries no messages (they can name terminal
-- addresses) and says what each terminal should hold (`want`: enrolled or removed).
drop view if exists public.hikvision_sync_status;
create view public.hikvision_sync_status
with (security_invoker = true) as
select d.angajat_id, d.device_id,
       case when d.want = 'remove' then 'removed' else 'enrolled' end as want,
       d.state, d.attempts, d.last_attempt_at, d.next_attempt_at, d.error_code
from hikvision_sync.delivery d;
revoke all on public.hikvision_sync_status from public, anon, authenticated;
grant select on public.hikvision_sync_status to service_role;

insert into hikvision_sync.schema_version (version) values (5) on conflict do nothing;

notify pgrst, 'reload schema';
