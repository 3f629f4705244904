-- hikvision-sync: the tables the service reads (schema defaults, see ARCHITECTURE.md "Schema defaults").
--
-- Applies to a real Supabase project (SQL editor, or `supabase db push`) and to the throwaway cluster of
-- scripts/test-stack.sh, which creates Supabase's roles (anon, authenticated, service_role) first.
-- Safe to run more than once: tables are created only if missing, and everything after that is idempotent.
-- If the tables already exist with the owner's own columns, they are left as they are (only RLS and the
-- grants below are applied to them).
--
-- Access model: only the service (service_role key, server side) may read or write these tables.
--   * Row level security is enabled on all three tables and NO policy is created, so anon and
--     authenticated (browser clients holding the anon key or a user JWT) see no rows even if a grant
--     slips in later.
--   * On top of that every privilege is revoked from anon and authenticated: Supabase's default
--     privileges grant ALL on new public tables to them, and device passwords must never be readable
--     by a browser client.
--   * service_role gets select/insert/update/delete; it has BYPASSRLS, so RLS does not hide rows from it.

-- No BEGIN/COMMIT here: the Supabase CLI, the SQL editor and scripts/test-stack.sh (psql --single-transaction)
-- each run a migration file as one transaction already.

-- gen_random_uuid() is built into PostgreSQL 13+ (Supabase runs 15+); no extension needed.

-- Employees. The service reads id, nume, prenume; the rest is for people.
create table if not exists public.angajati (
    id          uuid        primary key default gen_random_uuid(),
    nume        text        not null,                 -- family name
    prenume     text        not null,                 -- given name(s)
    email       text,
    created_at  timestamptz not null default now()
);

comment on table public.angajati is 'Employees (hikvision-sync reads id, nume, prenume).';

-- Biometric data: at most one row per employee (the UNIQUE foreign key makes PostgREST embed it as a
-- single object: GET /angajati?select=*,biometrie(*)).
create table if not exists public.biometrie (
    id             uuid        primary key default gen_random_uuid(),
    angajat_id     uuid        not null unique references public.angajati (id) on delete cascade,
    -- The person's employeeNo on the HikVision terminals: 1..32 bytes (the ISAPI limit).
    employee_no    text        check (employee_no is null or octet_length(employee_no) between 1 and 32),
    -- Face photo: an absolute http(s) URL, a /storage/v1/... path or a path inside the storage bucket.
    foto_fata_url  text,
    updated_at     timestamptz not null default now()
);

comment on table public.biometrie is 'One row per employee: terminal employeeNo and face photo URL.';
comment on column public.biometrie.employee_no is 'employeeNo on the HikVision terminals (1-32 bytes).';
comment on column public.biometrie.foto_fata_url is
    'Face photo: absolute URL, /storage/v1/... path, or a path in the storage bucket.';

-- Keep biometrie.updated_at current on every update.
create or replace function public.hikvision_sync_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

-- A trigger function is not callable through the REST API, but keep EXECUTE off the client roles anyway.
revoke all on function public.hikvision_sync_touch_updated_at() from public, anon, authenticated;

-- Only where the column exists: an owner's pre-existing biometrie table may not have updated_at, and the
-- trigger would then make every UPDATE fail.
drop trigger if exists biometrie_touch_updated_at on public.biometrie;
do $$
begin
    if exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'biometrie' and column_name = 'updated_at'
    ) then
        create trigger biometrie_touch_updated_at
            before update on public.biometrie
            for each row execute function public.hikvision_sync_touch_updated_at();
    end if;
end;
$$;

-- HikVision face terminals. username/password may be null: the service then uses HIKVISION_USERNAME /
-- HIKVISION_PASSWORD from its environment. Only rows with is_active = true are synced.
create table if not exists public.hikvision_devices (
    id          uuid        primary key default gen_random_uuid(),
    name        text        not null,
    ip          text        not null,                 -- IP address or host name of the terminal
    port        integer     not null default 80 check (port between 1 and 65535),
    username    text,
    password    text,                                 -- secret: never grant it to anon/authenticated
    is_active   boolean     not null default true,
    created_at  timestamptz not null default now()
);

comment on table public.hikvision_devices is
    'HikVision terminals synced by hikvision-sync. Holds device passwords: service_role only.';

-- Row level security, no policies: nobody but a BYPASSRLS role (service_role, the table owner) sees rows.
alter table public.angajati          enable row level security;
alter table public.biometrie         enable row level security;
alter table public.hikvision_devices enable row level security;

-- Browser-facing roles get nothing (this also undoes Supabase's default "grant all to anon, authenticated").
revoke all on table public.angajati, public.biometrie, public.hikvision_devices from anon, authenticated;

-- The service's key.
grant select, insert, update, delete
    on table public.angajati, public.biometrie, public.hikvision_devices
    to service_role;

-- Tell PostgREST to reload its schema cache (delivered at commit; a no-op where nobody listens).
notify pgrst, 'reload schema';
