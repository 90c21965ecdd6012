import { type Kysely, sql } from 'kysely'

/**
 * `versions` becomes a table partitioned by transaction-id range (see docs/partitions.md).
 *
 * - Nothing is copied: the existing table is attached as the first partition, `versions_0`,
 *   holding every id drawn so far (from MINVALUE to the sequence's next value); its indexes
 *   are kept where the parent's match them.
 * - `version_partitions` keeps the ranges and whether each is attached or archived.
 * - `rewind_ensure_partitions(size, ahead)` (the owner's, callable by the service) creates the
 *   partitions the coming ids need, ahead of them; `rewind_drop_partition` (retention) and
 *   `rewind_detach_partition` / `rewind_attach_partition` (archiving) change the set.
 * - An entity's version numbers can no longer be unique in one index (a unique index of a
 *   partitioned table must contain the partition key): `rewind_check_heads`, run by every
 *   append once its entity locks are held, refuses an append planned on anything but each
 *   entity's latest version (it reads with a fresh snapshot).
 * - The foreign key from versions to transactions goes: the one statement that appends writes
 *   the transaction and its versions together and transactions are append-only, so it
 *   checked nothing, and on a partitioned table attaching each new partition would have to
 *   lock `transactions` against every writer.
 */
/**
 * What the planner is told of entity keys in each partition: as many distinct as 1 % of the
 * rows (histories of 100 versions). Its own estimate is the average history, and for "the
 * newest version of this entity" it would then sort an entity's versions gathered from every
 * partition rather than read each partition's key index backwards, newest partition first:
 * harmless for a short history, thousands of times slower for a long one. Told that
 * histories are long, it reads the index, which costs a short history nothing.
 */
const ENTITY_KEY_DISTINCT = -0.01

export async function up (db: Kysely<any>): Promise<void> {
  const run = async (text: string): Promise<void> => { await sql.raw(text).execute(db) }
  await run(`create table version_partitions (
    name text primary key,
    from_id bigint not null,
    to_id bigint not null,
    state text not null check (state in ('attached', 'archived')),
    changed_at timestamptz not null default now(),
    archived_rows bigint,
    archive_sha256 text)`)

  await run('alter table versions drop constraint if exists versions_transaction_id_fkey')
  await run('drop trigger if exists versions_append_only on versions')
  await run('drop trigger if exists versions_no_truncate on versions')
  await run('alter table versions rename to versions_0')
  await run('alter index versions_pk rename to versions_0_pk')
  await run('alter index versions_transaction_idx rename to versions_0_transaction_idx')
  await run('alter index versions_entity_seq_key rename to versions_0_entity_seq_key')
  await run(`create table versions (like versions_0 including defaults including constraints) partition by range (transaction_id)`)
  await run('alter table versions add constraint versions_pk primary key (tenant, type, entity_key, transaction_id)')
  await run('create index versions_transaction_idx on versions (transaction_id, position)')
  await run('create index versions_entity_seq_idx on versions (tenant, type, entity_key, seq)')
  const { rows } = await sql<{ next: string }>`select case when is_called then last_value + 1 else last_value end as next from transactions_id_seq`.execute(db)
  const next = rows[0]!.next
  await run(`alter table versions attach partition versions_0 for values from (minvalue) to (${next})`)
  // The old unique index is the parent's non-unique one's twin now.
  await run('drop index versions_0_entity_seq_key')
  await run(`insert into version_partitions (name, from_id, to_id, state) values ('versions_0', 0, ${next}, 'attached')`)
  await run(`alter table versions_0 alter column entity_key set (n_distinct = ${ENTITY_KEY_DISTINCT})`)
  // The setting counts from the next ANALYZE; an old partition may not change enough for autovacuum to run one.
  await run('analyze versions_0')
  await run('create trigger versions_append_only before update or delete on versions for each row execute function rewind_guard_history()')
  await run('create trigger versions_no_truncate before truncate on versions for each statement execute function rewind_guard_history()')

  await run(`
    create or replace function rewind_check_heads(p_tenant text, p_types text[], p_keys text[], p_after bigint[])
    returns integer language plpgsql volatile
    -- Planned once per connection, for any entities: a plan for the values at hand would prune
    -- partitions while planning, so PostgreSQL would plan it anew on every append (~0.15 ms,
    -- ten times the check itself); the generic plan prunes them as it runs.
    set plan_cache_mode = force_generic_plan as $fn$
    declare
      drawn bigint;
    begin
      -- No committed version has an id above the sequence's: the partitions made ahead are not read.
      select last_value into drawn from transactions_id_seq;
      if exists (select 1 from unnest(p_types, p_keys, p_after) as u(type, key, after)
          where exists (select 1 from versions v where v.tenant = p_tenant and v.type = u.type and v.entity_key = u.key
            and v.transaction_id > coalesce(u.after, 0) and v.transaction_id <= drawn)) then
        raise exception 'another writer appended a version of one of these entities since they were read' using errcode = 'RW002';
      end if;
      return 0;
    end $fn$`)

  await run(`
    create or replace function rewind_ensure_partitions(p_size bigint, p_ahead integer)
    returns integer language plpgsql security definer set search_path from current as $fn$
    declare
      hi bigint;
      next_id bigint;
      name text;
      made integer := 0;
    begin
      if p_size < 1 or p_ahead < 1 then
        raise exception 'a partition holds at least one id, and at least one is made ahead' using errcode = 'RW004';
      end if;
      -- One maker at a time per schema; attaching waits at most this long for the table's readers and writers.
      perform pg_advisory_xact_lock(hashtextextended('rewind_partitions:' || current_schema(), 0));
      perform set_config('lock_timeout', '2s', true);
      select max(to_id) into hi from version_partitions;
      select case when is_called then last_value + 1 else last_value end into next_id from transactions_id_seq;
      while hi < next_id + p_ahead * p_size loop
        name := 'versions_' || hi;
        execute format('create table %I (like versions including defaults including constraints)', name);
        execute format('alter table %I alter column entity_key set (n_distinct = ${ENTITY_KEY_DISTINCT})', name);
        execute format('alter table versions attach partition %I for values from (%s) to (%s)', name, hi, hi + p_size);
        insert into version_partitions (name, from_id, to_id, state) values (name, hi, hi + p_size, 'attached');
        hi := hi + p_size;
        made := made + 1;
      end loop;
      return made;
    end $fn$`)

  await run(`
    create or replace function rewind_detach_partition(p_name text)
    returns bigint language plpgsql security definer set search_path from current as $fn$
    declare
      part record;
      next_id bigint;
      n bigint;
    begin
      select * into part from version_partitions where name = p_name for update;
      if not found or part.state <> 'attached' then
        raise exception 'no attached partition "%"', p_name using errcode = 'RW004';
      end if;
      -- Archived history is always the oldest: what is read is everything after it.
      if exists (select 1 from version_partitions where from_id < part.from_id and state = 'attached') then
        raise exception 'partition "%" is not the oldest attached one: archive the older ones first', p_name using errcode = 'RW004';
      end if;
      select case when is_called then last_value + 1 else last_value end into next_id from transactions_id_seq;
      if part.to_id > next_id then
        raise exception 'partition "%" may still receive versions (ids up to %)', p_name, part.to_id - 1 using errcode = 'RW004';
      end if;
      perform set_config('lock_timeout', '5s', true);
      execute format('alter table versions detach partition %I', p_name);
      execute format('select count(*) from %I', p_name) into n;
      update version_partitions set state = 'archived', changed_at = now(), archived_rows = n where name = p_name;
      return n;
    end $fn$`)

  await run(`
    create or replace function rewind_attach_partition(p_name text)
    returns bigint language plpgsql security definer set search_path from current as $fn$
    declare
      part record;
      n bigint;
    begin
      select * into part from version_partitions where name = p_name for update;
      if not found or part.state <> 'archived' then
        raise exception 'no archived partition "%"', p_name using errcode = 'RW004';
      end if;
      if exists (select 1 from version_partitions where from_id > part.from_id and state = 'archived') then
        raise exception 'partition "%" is not the newest archived one: restore the newer ones first', p_name using errcode = 'RW004';
      end if;
      perform set_config('lock_timeout', '5s', true);
      execute format('alter table versions attach partition %I for values from (%s) to (%s)', p_name,
        case when part.from_id = 0 then 'minvalue' else part.from_id::text end, part.to_id);
      execute format('select count(*) from %I', p_name) into n;
      update version_partitions set state = 'attached', changed_at = now(), archived_rows = null, archive_sha256 = null where name = p_name;
      return n;
    end $fn$`)

  // Retention drops the oldest partition whole when its every version is one the rules let go
  // (the types' retention, each entity's newest kept, legal holds), in one transaction: begin
  // (checks, and keeps writers out of it until the end; raises RW003 and takes nothing when the
  // partition stays; the lock it holds is the proof finish asks for, since the service's role
  // cannot lock a partition itself), the pruning records (the service
  // writes them, one per entity, chained), finish (anchors, then the partition goes).
  await run(`
    create or replace function rewind_begin_partition_drop(p_name text, p_now timestamptz)
    returns void language plpgsql security definer set search_path from current as $fn$
    declare
      part record;
      oldest text;
      next_id bigint;
      blocked boolean;
    begin
      select name into oldest from version_partitions order by from_id limit 1;
      select * into part from version_partitions where name = p_name for update;
      if not found or part.state <> 'attached' or oldest <> p_name then
        raise exception 'partition "%" is not the oldest attached one', p_name using errcode = 'RW003';
      end if;
      select case when is_called then last_value + 1 else last_value end into next_id from transactions_id_seq;
      if part.to_id > next_id then
        raise exception 'partition "%" may still receive versions', p_name using errcode = 'RW003';
      end if;
      perform set_config('lock_timeout', '2s', true);
      execute format('lock table %I in share mode', p_name);
      execute format($q$
        select exists (
          select 1 from (
            select v.tenant, v.type, v.entity_key, max(v.seq) as last_seq, max(t.recorded_at) as newest
            from %I v left join transactions t on t.tenant = v.tenant and t.id = v.transaction_id
            group by v.tenant, v.type, v.entity_key
          ) e
          left join entity_types et on et.tenant = e.tenant and et.type = e.type
          where et.definition->'retention' is null
            or e.newest is null
            or e.last_seq > (select max(x.seq) from versions x where x.tenant = e.tenant and x.type = e.type and x.entity_key = e.entity_key)
              - coalesce((et.definition->'retention'->>'keepVersions')::int, 1)
            or (et.definition->'retention' ? 'keepDays'
              and e.newest >= $1 - (et.definition->'retention'->>'keepDays')::int * interval '1 day')
            or exists (select 1 from legal_holds h where h.tenant = e.tenant and h.type = e.type
              and (h.entity_key is null or h.entity_key = e.entity_key)))$q$, p_name)
        into blocked using p_now;
      if blocked then
        raise exception 'partition "%" holds versions that retention keeps', p_name using errcode = 'RW003';
      end if;
    end $fn$`)

  await run(`
    create or replace function rewind_finish_partition_drop(p_name text)
    returns bigint language plpgsql security definer set search_path from current as $fn$
    declare
      removed bigint;
    begin
      if not exists (select 1 from pg_locks l where l.locktype = 'relation' and l.relation = to_regclass(p_name)
          and l.pid = pg_backend_pid() and l.mode = 'ShareLock' and l.granted) then
        raise exception 'rewind_begin_partition_drop(%) comes first, in the same transaction', p_name using errcode = 'RW004';
      end if;
      execute format($q$
        insert into entity_anchors (tenant, type, entity_key, seq, transaction_id, hash)
        select distinct on (tenant, type, entity_key) tenant, type, entity_key, seq + 1, transaction_id, hash
        from %I order by tenant, type, entity_key, seq desc
        on conflict (tenant, type, entity_key) do update set seq = excluded.seq, transaction_id = excluded.transaction_id, hash = excluded.hash$q$, p_name);
      execute format('select count(*) from %I', p_name) into removed;
      execute format('alter table versions detach partition %I', p_name);
      execute format('drop table %I', p_name);
      delete from version_partitions where name = p_name;
      return removed;
    end $fn$`)

  for (const statement of [
    'grant select, insert on versions to rewind_runtime',
    'grant select on version_partitions to rewind_runtime',
    'revoke all on function rewind_ensure_partitions(bigint, integer), rewind_detach_partition(text), rewind_attach_partition(text) from public',
    'revoke all on function rewind_begin_partition_drop(text, timestamptz), rewind_finish_partition_drop(text) from public',
    'grant execute on function rewind_ensure_partitions(bigint, integer), rewind_begin_partition_drop(text, timestamptz), rewind_finish_partition_drop(text) to rewind_runtime'
  ]) await run(statement)
}

export async function down (db: Kysely<any>): Promise<void> {
  const run = async (text: string): Promise<void> => { await sql.raw(text).execute(db) }
  const { rows } = await sql<{ name: string, state: string }>`select name, state from version_partitions order by from_id`.execute(db)
  if (rows.some((r) => r.state !== 'attached')) throw new Error('re-attach every archived partition before going back to an unpartitioned versions table')
  await run('create table versions_flat (like versions including defaults including constraints)')
  await run('insert into versions_flat select * from versions')
  await run('drop table versions cascade')
  for (const r of rows) await run(`drop table if exists "${r.name}"`)
  await run('alter table versions_flat rename to versions')
  await run('alter table versions add constraint versions_pk primary key (tenant, type, entity_key, transaction_id)')
  await run('alter table versions add constraint versions_transaction_id_fkey foreign key (transaction_id) references transactions (id)')
  await run('create index versions_transaction_idx on versions (transaction_id, position)')
  await run('create unique index versions_entity_seq_key on versions (tenant, type, entity_key, seq)')
  await run('create trigger versions_append_only before update or delete on versions for each row execute function rewind_guard_history()')
  await run('create trigger versions_no_truncate before truncate on versions for each statement execute function rewind_guard_history()')
  await run('grant select, insert on versions to rewind_runtime')
  for (const fn of ['rewind_check_heads(text, text[], text[], bigint[])', 'rewind_begin_partition_drop(text, timestamptz)', 'rewind_finish_partition_drop(text)', 'rewind_ensure_partitions(bigint, integer)', 'rewind_detach_partition(text)', 'rewind_attach_partition(text)']) {
    await run(`drop function if exists ${fn}`)
  }
  await run('drop table version_partitions')
}
