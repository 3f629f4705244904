-- hikvision-sync: durable delivery (what each terminal should hold per employee, and where delivery
-- stands). The service reaches these tables over a direct Postgres connection (DATABASE_URL, the
-- Supabase session-mode string); its job engine (graphile_worker) keeps its own schema
-- (hikvision_sync_worker), created by the service at start-up.
--
-- Access model as in 0001: RLS on, no policy, nothing for anon/authenticated, everything for
-- service_role. The view public.hikvision_sync_status lets signed-in users of the React app read the
-- per-terminal status (no device addresses, no passwords).

create schema if not exists hikvision_sync;
revoke all on schema hikvision_sync from public, anon, authenticated;
grant usage on schema hikvision_sync to service_role;

-- Which migration the database is at: the service refuses to start on an older one.
create table if not exists hikvision_sync.schema_version (
    version     integer     primary key,
    applied_at  timestamptz not null default now()
);
insert into hikvision_sync.schema_version (version) values (2) on conflict do nothing;

-- One row per (employee, terminal): the desired change, its delivery, and who is working on it.
create table if not exists hikvision_sync.delivery (
    angajat_id          uuid        not null,
    device_id           text        not null,
    -- The flow that made the change and is replayed until it is done.
    want                text        not null check (want in ('update_photo', 'photo_only', 'full_sync', 'remove')),
    employee_no         text,       -- the number the terminal should hold; for 'remove', the one to remove
    remove_employee_no  text,       -- an old number to remove first (the employee's number changed)
    photo               text,       -- the photo's identity
    create_missing_person boolean   not null default false,
    state               text        not null default 'pending'
                                    check (state in ('in_sync', 'pending', 'failed', 'skipped', 'unknown')),
    attempts            integer     not null default 0,
    last_attempt_at     timestamptz,
    next_attempt_at     timestamptz,
    error_code          text,
    message             text,
    confirmed_photo     text,       -- what the terminal was last confirmed to hold
    last_success_at     timestamptz,
    revision            bigint      not null default 1,   -- bumped by every new change
    claimed_by          text,       -- the replica (or request) working on the pair
    claimed_until       timestamptz,
    claim_revision      bigint,
    changed_at          timestamptz not null default now(),
    primary key (angajat_id, device_id)
);

create index if not exists delivery_pending_idx
    on hikvision_sync.delivery (device_id, next_attempt_at) where state = 'pending';

-- Terminals that refused a set of credentials: not called with them again until they change.
create table if not exists hikvision_sync.credential_blocks (
    device_id    text        primary key,
    fingerprint  text        not null,   -- keyed hash of the credentials, never the password
    message      text        not null,
    blocked_at   timestamptz not null default now()
);

-- Terminals seen by the service (for the bulk resync of new or reactivated devices).
create table if not exists hikvision_sync.devices_seen (
    device_id    text        primary key,
    first_seen_at timestamptz not null default now(),
    resync_requested_at timestamptz
);

alter table hikvision_sync.delivery          enable row level security;
alter table hikvision_sync.credential_blocks enable row level security;
alter table hikvision_sync.devices_seen      enable row level security;
alter table hikvision_sync.schema_version    enable row level security;
revoke all on all tables in schema hikvision_sync from public, anon, authenticated;
grant select, insert, update, delete on all tables in schema hikvision_sync to service_role;

-- Read-only status for signed-in users of the React app: state per (employee, terminal), no addresses.
create or replace view public.hikvision_sync_status
with (security_invoker = false) as
select d.angajat_id, d.device_id, d.state, d.attempts, d.last_attempt_at, d.next_attempt_at,
       d.error_code, d.message
from hikvision_sync.delivery d;
revoke all on public.hikvision_sync_status from public, anon;
grant select on public.hikvision_sync_status to authenticated, service_role;

notify pgrst, 'reload schema';
