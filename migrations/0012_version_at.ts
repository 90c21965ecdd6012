import { type Kysely, sql } from 'kysely'

/**
 * `rewind_version_at(tenant, type, key, at)`: an entity's version that was its newest at
 * transaction `at` (null: now), with the transaction of the version after it (null: none),
 * reading only the partitions that can hold them.
 *
 * Every read statement is planned once for any values (src/store/database.ts). A plan that
 * finds the version from the entity's head (migration 0011) bounds the partitions it reads
 * by a column of another table, which PostgreSQL prunes only as each row comes: when the
 * statement starts, it takes a lock on every partition and sets up a scan of each one.
 * That cost grew with the number of partitions, not the rows: at 103 partitions the lookup
 * took 1.4–2.4 ms against 0.26 ms at 4 (docs/partitions.md). In a function, the head's transaction ids are values
 * the function's own statements are given, and PostgreSQL prunes on them before it sets up
 * anything: each statement below reads one partition, or the few between two bounds.
 *
 * - The newest version (no `at`, or the head is no later than `at`): one probe of the one
 *   partition holding the head's transaction.
 * - Else, the entity's versions are read backwards from `at` within `at`'s own partition
 *   (`version_partitions`), and the next one forwards from `at` up to that partition's end.
 *   Only an entity with no version there reads further: from the partition's start back to
 *   its first version, or from its end up to its newest.
 * - Sorting is off: with bounds on both sides PostgreSQL would expect a few rows and gather
 *   and sort them, where the key index gives them in order and the first row is the answer.
 *
 * Each call runs two or three statements: for several entities, one statement over all of
 * them costs less (src/store/versions.ts uses this for one entity).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(`
    create function rewind_version_at(p_tenant text, p_type text, p_key text, p_at bigint)
    returns table (type text, entity_key text, transaction_id bigint, seq integer, operation text, data jsonb,
      changeset jsonb, hash text, revision integer, end_transaction_id bigint)
    language plpgsql stable
    set search_path from current set plan_cache_mode = force_generic_plan set enable_sort = off as $fn$
    declare
      first_id bigint; last_id bigint; from_id bigint; to_id bigint;
    begin
      select h.first_transaction_id, h.last_transaction_id, greatest(h.first_transaction_id, p.from_id), least(h.last_transaction_id, p.to_id)
        into first_id, last_id, from_id, to_id
        from entity_heads h left join version_partitions p on p.from_id <= p_at and p.to_id > p_at and p.state = 'attached'
        where h.tenant = p_tenant and h.type = p_type and h.entity_key = p_key;
      if not found then return; end if;
      if p_at is null or last_id <= p_at then
        return query select v.type, v.entity_key, v.transaction_id, v.seq, v.operation, v.data, v.changeset, v.hash, coalesce(v.revision, 0), null::bigint
          from versions v where v.tenant = p_tenant and v.type = p_type and v.entity_key = p_key and v.transaction_id = last_id;
        return;
      end if;
      from_id := coalesce(from_id, first_id);
      to_id := coalesce(to_id, last_id);
      select v.type, v.entity_key, v.transaction_id, v.seq, v.operation, v.data, v.changeset, v.hash, coalesce(v.revision, 0),
          (select n.transaction_id from versions n where n.tenant = p_tenant and n.type = p_type and n.entity_key = p_key
            and n.transaction_id > p_at and n.transaction_id < to_id order by n.transaction_id limit 1)
        into type, entity_key, transaction_id, seq, operation, data, changeset, hash, revision, end_transaction_id
        from versions v where v.tenant = p_tenant and v.type = p_type and v.entity_key = p_key
          and v.transaction_id <= p_at and v.transaction_id >= from_id
        order by v.transaction_id desc limit 1;
      if not found and from_id > first_id then
        select v.type, v.entity_key, v.transaction_id, v.seq, v.operation, v.data, v.changeset, v.hash, coalesce(v.revision, 0),
            (select n.transaction_id from versions n where n.tenant = p_tenant and n.type = p_type and n.entity_key = p_key
              and n.transaction_id > p_at and n.transaction_id < to_id order by n.transaction_id limit 1)
          into type, entity_key, transaction_id, seq, operation, data, changeset, hash, revision, end_transaction_id
          from versions v where v.tenant = p_tenant and v.type = p_type and v.entity_key = p_key
            and v.transaction_id < from_id and v.transaction_id >= first_id
          order by v.transaction_id desc limit 1;
      end if;
      if not found then return; end if;
      if end_transaction_id is null then
        select n.transaction_id into end_transaction_id from versions n where n.tenant = p_tenant and n.type = p_type and n.entity_key = p_key
          and n.transaction_id >= to_id and n.transaction_id <= last_id
        order by n.transaction_id limit 1;
      end if;
      return next;
    end $fn$`).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('drop function rewind_version_at(text, text, text, bigint)').execute(db)
}
