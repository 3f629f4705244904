-- hikvision-sync: the audit of terminal writes asked for by the admin endpoints (bulk resync,
-- remove-angajat, the reconcile fix) or by the service itself (a new terminal's automatic resync):
-- who asked (the user token's `sub`, "api-key", "webhook", "sweep"), what, on which terminal, for
-- whom. Enrolling grants door access; this is how an admin finds out who granted it.
--
-- Access model as in 0001/0002: RLS on, no policy, nothing for anon/authenticated. The service role
-- may read and append; nobody updates or deletes through the API.

create table if not exists hikvision_sync.audit (
    id           bigint      generated always as identity primary key,
    at           timestamptz not null default now(),
    actor        text        not null,
    action       text        not null
                             check (action in ('resync', 'remove', 'reconcile_schedule', 'reconcile_remove')),
    device_id    text        not null,
    angajat_id   uuid,       -- null for a person the database does not know (reconcile_remove)
    employee_no  text,
    detail       text
);

create index if not exists audit_device_at_idx on hikvision_sync.audit (device_id, at desc);

alter table hikvision_sync.audit enable row level security;
revoke all on hikvision_sync.audit from public, anon, authenticated;
grant select, insert on hikvision_sync.audit to service_role;

insert into hikvision_sync.schema_version (version) values (3) on conflict do nothing;
