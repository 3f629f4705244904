-- hikvision-sync: access events from the terminals ("who came through which door, and when").
-- One row per (device, epoch, serial number): the terminal numbers its events, and the unique key
-- makes every write idempotent, so the live push and the catch-up by serial number can race
-- safely. A terminal whose serial numbers go backwards (reset, replaced, log wrapped) starts a
-- new epoch: its old rows are kept.
--
-- Access model as in 0001-0006: RLS on, no policy, nothing for anon/authenticated, everything for
-- service_role. The view public.hikvision_sync_access_events runs with the reader's rights and is
-- granted to nobody but the service role; an owner who wants the React app to read events grants
-- it to a role of theirs (README, "Access events").

create table if not exists hikvision_sync.access_event (
    device_id          text        not null,
    epoch              integer     not null default 0,
    serial_no          bigint      not null check (serial_no > 0),
    -- The terminal's time as sent (with its UTC offset), and the same moment in UTC (the time
    -- received when the terminal's text is not a time).
    terminal_time      text,
    occurred_at        timestamptz not null,
    utc_offset_minutes integer,
    received_at        timestamptz not null default now(),
    major              integer     not null,
    minor              integer     not null,
    -- face_granted, face_denied, unknown_face, door_opened, ... or 'major_<n>_minor_<m>'.
    kind               text        not null,
    employee_no        text,
    angajat_id         uuid,
    door_no            integer,
    verify_mode        text,
    attendance_status  text,
    -- True only for events that were current when the terminal pushed them (not a backlog).
    live               boolean     not null default false,
    primary key (device_id, epoch, serial_no)
);

create index if not exists access_event_newest
    on hikvision_sync.access_event (occurred_at desc, device_id, epoch desc, serial_no desc);
create index if not exists access_event_by_employee
    on hikvision_sync.access_event (angajat_id, occurred_at desc) where angajat_id is not null;

-- Per terminal: the epoch in force, and the watermark (every serial number up to it is stored
-- or was never on the terminal), from which the catch-up reads forward.
create table if not exists hikvision_sync.event_cursor (
    device_id   text        primary key,
    epoch       integer     not null default 0,
    watermark   bigint      not null default 0,
    last_serial bigint      not null default 0,
    updated_at  timestamptz not null default now()
);

alter table hikvision_sync.access_event enable row level security;
alter table hikvision_sync.event_cursor enable row level security;
revoke all on hikvision_sync.access_event, hikvision_sync.event_cursor from public, anon, authenticated;
grant select, insert, update, delete on hikvision_sync.access_event, hikvision_sync.event_cursor
    to service_role;

drop view if exists public.hikvision_sync_access_events;
create view public.hikvision_sync_access_events
with (security_invoker = true) as
select e.device_id, e.epoch, e.serial_no, e.terminal_time, e.occurred_at, e.received_at,
       e.kind, e.major, e.minor, e.employee_no, e.angajat_id, e.door_no, e.verify_mode,
       e.attendance_status, e.live
from hikvision_sync.access_event e;
revoke all on public.hikvision_sync_access_events from public, anon, authenticated;
grant select on public.hikvision_sync_access_events to service_role;

-- An admin setting a terminal's clock (POST /api/hikvision/devices/{device_id}/time) is audited.
alter table hikvision_sync.audit drop constraint if exists audit_action_check;
alter table hikvision_sync.audit add constraint audit_action_check
    check (action in ('resync', 'remove', 'reconcile_schedule', 'reconcile_remove', 'restore', 'enrol',
                      'set_time'));

insert into hikvision_sync.schema_version (version) values (7) on conflict do nothing;

notify pgrst, 'reload schema';
