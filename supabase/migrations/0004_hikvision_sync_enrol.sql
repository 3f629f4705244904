-- hikvision-sync: a fourth kind of desired change, 'enrol' (bulk resync and the reconcile fix):
-- the person by add-or-edit (UserInfo/SetUp), then the face by add-or-replace (FDSetUp). Rows
-- already stored keep their meaning; the service refuses to start on a database without this.

alter table hikvision_sync.delivery drop constraint if exists delivery_want_check;
alter table hikvision_sync.delivery add constraint delivery_want_check
    check (want in ('update_photo', 'photo_only', 'full_sync', 'enrol', 'remove'));

insert into hikvision_sync.schema_version (version) values (4) on conflict do nothing;
