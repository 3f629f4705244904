-- hikvision-sync: validity windows on the terminals (EMPLOYEE_VALID_FROM_COLUMN /
-- EMPLOYEE_VALID_UNTIL_COLUMN). A changed date is a durable change of its own kind,
-- 'update_person' (UserInfo/Modify of the person; the face is left alone), and each pair records
-- the validity bounds its terminal was last given, so the sweep sees a date changed while a
-- webhook was lost. Rows already stored keep their meaning (no bounds recorded: the wide window
-- every person got so far); the service refuses to start on a database without this.
--
-- The employees' validity columns themselves are the project's own (any date or timestamptz
-- columns of the employees table, named by the settings): nothing is added to public.angajati.

alter table hikvision_sync.delivery add column if not exists validity text;

alter table hikvision_sync.delivery drop constraint if exists delivery_want_check;
alter table hikvision_sync.delivery add constraint delivery_want_check
    check (want in ('update_photo', 'photo_only', 'full_sync', 'enrol', 'remove', 'update_person'));

insert into hikvision_sync.schema_version (version) values (6) on conflict do nothing;
