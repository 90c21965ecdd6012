import { type Kysely, sql } from 'kysely'

/**
 * `rewind_compact_partition(name)` (the owner's): rewrites a partition whose transaction ids
 * have all been drawn in primary-key order (tenant, type, entity key, transaction id), so
 * that each entity's versions there sit together on a few pages, and swaps the rewrite in.
 *
 * Versions are written in transaction order: the versions of one entity are spread over as
 * many pages as it has versions in the partition, one among each transaction's others. A
 * page of 50 versions of a long history then reads some 50 table pages, a version read with
 * its neighbours three, and once the history no longer fits in memory each of them is a read
 * from disk (docs/partitions.md). Compacted, the same page reads about 9 (measured at 10M
 * versions), and the pages of one history are few enough to stay in memory. The trade: what
 * reads a range of transactions in order (an export) reads one page per version there.
 *
 * - Writers of the partition (redaction, retention's deletes) wait while it is rewritten
 *   (share lock); readers do not. New versions never go there: its ids are all drawn.
 * - The rewrite is a new table: the rows in key order, then the partition's indexes and
 *   constraints built on them, then its statistics (ANALYZE), and a check of its range, so
 *   that attaching it does not read it again.
 * - The swap, detaching the old table and attaching the new one, locks `versions` against
 *   every reader and writer while it lasts (briefly: catalog changes, once the statements
 *   running on it end; reads measured during it were not slowed): it waits at most 1 s for
 *   them, and tries again up to 10 times, so that a long statement holds it off rather than
 *   queueing every other behind it.
 * - The new table takes the old one's name and index names, and `version_partitions` notes
 *   when it was compacted.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`alter table version_partitions add column compacted_at timestamptz`.execute(db)
  await sql.raw(`
    create function rewind_compact_partition(p_name text)
    returns bigint language plpgsql security definer set search_path from current as $fn$
    declare
      part record;
      next_id bigint;
      n bigint;
      fresh text := p_name || '_compacted';
      item record;
      bounds text;
      old_names text[] := '{}';
      new_names text[] := '{}';
    begin
      select * into part from version_partitions where name = p_name for update;
      if not found or part.state <> 'attached' then
        raise exception 'no attached partition "%"', p_name using errcode = 'RW004';
      end if;
      select case when is_called then last_value + 1 else last_value end into next_id from transactions_id_seq;
      if part.to_id > next_id then
        raise exception 'partition "%" may still receive versions (ids up to %)', p_name, part.to_id - 1 using errcode = 'RW004';
      end if;
      perform set_config('lock_timeout', '5s', true);
      execute format('lock table %I in share mode', p_name);
      perform set_config('lock_timeout', '0', true);

      execute format('create table %I (like %I including defaults including constraints including storage)', fresh, p_name);
      for item in select a.attname, a.attoptions from pg_attribute a
          where a.attrelid = p_name::regclass and a.attnum > 0 and not a.attisdropped and a.attoptions is not null loop
        execute format('alter table %I alter column %I set (%s)', fresh, item.attname, array_to_string(item.attoptions, ', '));
      end loop;
      execute format('insert into %I select * from %I order by tenant, type, entity_key, transaction_id', fresh, p_name);
      get diagnostics n = row_count;
      -- The old table's indexes, built on the new one: a constraint's index as the constraint
      -- (attaching pairs them with the parent's), the others from their definitions.
      for item in select i.relname as name, x.indexrelid, c.conname, pg_get_constraintdef(c.oid) as condef
          from pg_index x join pg_class i on i.oid = x.indexrelid
          left join pg_constraint c on c.conindid = x.indexrelid and c.conrelid = x.indrelid
          where x.indrelid = p_name::regclass order by i.relname loop
        old_names := old_names || item.name::text;
        new_names := new_names || (fresh || '_' || cardinality(new_names));
        if item.conname is not null then
          execute format('alter table %I add constraint %I %s', fresh, new_names[cardinality(new_names)], item.condef);
        else
          execute regexp_replace(pg_get_indexdef(item.indexrelid), '^(CREATE (UNIQUE )?INDEX) \\S+ ON (ONLY )?\\S+ ',
            '\\1 ' || quote_ident(new_names[cardinality(new_names)]) || ' ON ' || quote_ident(fresh) || ' ');
        end if;
      end loop;
      bounds := case when part.from_id = 0 then format('transaction_id < %s', part.to_id)
        else format('transaction_id >= %s and transaction_id < %s', part.from_id, part.to_id) end;
      execute format('alter table %I add constraint %I check (%s)', fresh, fresh || '_range', bounds);
      execute format('analyze %I', fresh);

      for attempt in 1..10 loop
        begin
          perform set_config('lock_timeout', '1s', true);
          execute format('alter table versions detach partition %I', p_name);
          execute format('alter table versions attach partition %I for values from (%s) to (%s)', fresh,
            case when part.from_id = 0 then 'minvalue' else part.from_id::text end, part.to_id);
          exit;
        exception when lock_not_available then
          if attempt = 10 then raise; end if;
          perform pg_sleep(0.1 * attempt);
        end;
      end loop;
      perform set_config('lock_timeout', '0', true);
      execute format('drop table %I', p_name);
      execute format('alter table %I drop constraint %I', fresh, fresh || '_range');
      execute format('alter table %I rename to %I', fresh, p_name);
      for i in 1..cardinality(new_names) loop
        execute format('alter index %I rename to %I', new_names[i], old_names[i]);
      end loop;
      update version_partitions set compacted_at = now(), changed_at = now() where name = p_name;
      return n;
    end $fn$`).execute(db)
  await sql`revoke all on function rewind_compact_partition(text) from public`.execute(db)
  // The rewrite's rows are new rows: a snapshot taken before the swap does not see them. A plain
  // statement takes its snapshot once it holds its locks, after the swap; but a stable function's
  // statements use the snapshot of the statement that called it and open their partitions later,
  // so a lookup that began before a swap could read the new partition as empty (reads during
  // compactions answered an older version: test/partitions-compact.test.ts). Volatile, each of
  // its statements takes its own snapshot once it holds its locks.
  await sql`alter function rewind_version_at(text, text, text, bigint) volatile`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`alter function rewind_version_at(text, text, text, bigint) stable`.execute(db)
  await sql`drop function if exists rewind_compact_partition(text)`.execute(db)
  await sql`alter table version_partitions drop column if exists compacted_at`.execute(db)
}
