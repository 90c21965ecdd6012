import { type Kysely, sql } from 'kysely'

/**
 * Where each entity's history lies: `entity_heads` keeps, per entity, the transaction ids of
 * its first and newest versions, written by the same statement that appends a version.
 *
 * `versions` is partitioned by transaction id (migration 0010), so an index probe for one
 * entity's newest version, or for the version after a given one, read every partition that
 * might hold it, newest first, until it found a row: an entity whose versions all lie in an
 * old partition cost a probe of every later one, and reads slowed with the number of
 * partitions (at 13 partitions, the version detail with its relations took 2–3× as long as
 * at one). With the head, the newest version is one probe of the one partition holding it,
 * and the other reads are bounded to the partitions between the entity's first and newest
 * versions (test/explain.test.ts).
 *
 * The head also replaces what `rewind_check_heads` looked for: an append planned on an
 * entity's newest version checks, once its locks are held, that the entity's head is still
 * that version's transaction, one probe of one small table whatever the partitions.
 *
 * The head is a summary, not history: a version row is never updated, and verification
 * reads the versions themselves. Retention and archiving leave heads as they are: a head
 * whose newest version is gone (pruned, dropped with its partition, archived) finds no row,
 * which is what "no version" is; the next append to that entity sets it again.
 */
export async function up (db: Kysely<any>): Promise<void> {
  const run = async (text: string): Promise<void> => { await sql.raw(text).execute(db) }
  // Updated in place by every append: room on each page keeps those updates on their page (HOT).
  // Keys sort and compare as in versions (collation "C", migration 0001), so that its index serves joins with them.
  await run(`create table entity_heads (
    tenant text not null,
    type text collate "C" not null,
    entity_key text collate "C" not null,
    first_transaction_id bigint not null,
    last_transaction_id bigint not null,
    constraint entity_heads_pk primary key (tenant, type, entity_key)
  ) with (fillfactor = 70)`)
  await run(`insert into entity_heads (tenant, type, entity_key, first_transaction_id, last_transaction_id)
    select tenant, type, entity_key, min(transaction_id), max(transaction_id) from versions group by tenant, type, entity_key`)
  // Statistics only for a history that has entities: a table analyzed while empty is taken to be
  // empty by every plan made before it is analyzed again (with no statistics, PostgreSQL allows for growth).
  const { rows } = await sql<{ n: string }>`select count(*) as n from entity_heads`.execute(db)
  if (Number(rows[0]!.n) > 0) await run('analyze entity_heads')
  await run('grant select, insert, update on entity_heads to rewind_runtime')
  await run(`
    create or replace function rewind_check_heads(p_tenant text, p_types text[], p_keys text[], p_after bigint[])
    returns integer language plpgsql volatile
    -- Planned once per connection, for any entities (as in 0010), and planned to probe the heads by
    -- key whatever the table's size when planned: a plan made while it was nearly empty, kept for
    -- the connection's life, would otherwise read it whole for each entity once it has grown.
    set plan_cache_mode = force_generic_plan set enable_seqscan = off as $fn$
    begin
      -- With a fresh snapshot (a volatile function's statement takes one): each entity's head is
      -- still the version the append was planned on (null: none).
      if exists (select 1 from unnest(p_types, p_keys, p_after) as u(type, key, after)
          left join entity_heads h on h.tenant = p_tenant and h.type = u.type and h.entity_key = u.key
          where h.last_transaction_id is distinct from u.after) then
        raise exception 'another writer appended a version of one of these entities since they were read' using errcode = 'RW002';
      end if;
      return 0;
    end $fn$`)
}

export async function down (db: Kysely<any>): Promise<void> {
  const run = async (text: string): Promise<void> => { await sql.raw(text).execute(db) }
  await run(`
    create or replace function rewind_check_heads(p_tenant text, p_types text[], p_keys text[], p_after bigint[])
    returns integer language plpgsql volatile
    set plan_cache_mode = force_generic_plan as $fn$
    declare
      drawn bigint;
    begin
      select last_value into drawn from transactions_id_seq;
      if exists (select 1 from unnest(p_types, p_keys, p_after) as u(type, key, after)
          where exists (select 1 from versions v where v.tenant = p_tenant and v.type = u.type and v.entity_key = u.key
            and v.transaction_id > coalesce(u.after, 0) and v.transaction_id <= drawn)) then
        raise exception 'another writer appended a version of one of these entities since they were read' using errcode = 'RW002';
      end if;
      return 0;
    end $fn$`)
  await run('drop table entity_heads')
}
