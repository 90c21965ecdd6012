import { type Kysely, sql } from 'kysely'
import { backfillHashes } from '../src/store/backfill-hashes.js'

/** Tables that hold history: the runtime role may only read and add to them. */
const HISTORY = ['versions', 'transactions', 'checkpoints', 'checkpoint_heads', 'integrity_records']

/**
 * Integrity: each version's salts, kept commitments of erased values and hash (chained
 * per entity); signed checkpoints with the entity heads they cover; the chained records of
 * redactions, prunings and type definitions; pruned entities' anchors; legal holds. The
 * role `rewind_runtime` the service works as, allowed to SELECT and INSERT history only;
 * a trigger that refuses UPDATE, DELETE and TRUNCATE of history to everyone except the two
 * audited functions (redaction, pruning), which run as the owner.
 */
export async function up (db: Kysely<any>): Promise<void> {
  // Keys sort by code point everywhere (checkpoint leaves, verification order), whatever the database's collation.
  await sql`alter table versions alter column type type text collate "C", alter column entity_key type text collate "C"`.execute(db)
  await db.schema.alterTable('versions')
    .addColumn('salts', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('erased', 'jsonb')
    .addColumn('hash', 'text', (c) => c.notNull().defaultTo(''))
    .execute()
  await backfillHashes(db)
  await sql`alter table versions alter column hash drop default, alter column salts drop default`.execute(db)

  await db.schema.createTable('checkpoints')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('checkpoint', 'jsonb', (c) => c.notNull())
    .addColumn('up_to_transaction_id', 'bigint', (c) => c.notNull())
    .addColumn('records_sequence', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('checkpoints_pk', ['tenant', 'sequence'])
    .execute()
  // The heads that changed since the previous checkpoint: a checkpoint's leaves are each
  // entity's newest row at or before its sequence.
  await sql`create table checkpoint_heads (
    tenant text not null, type text collate "C" not null, entity_key text collate "C" not null,
    sequence integer not null, transaction_id bigint not null, hash text not null,
    constraint checkpoint_heads_pk primary key (tenant, type, entity_key, sequence))`.execute(db)
  await db.schema.createTable('integrity_records')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('redaction', 'pruning', 'entityType')`))
    .addColumn('body', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('chain_hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('integrity_records_pk', ['tenant', 'sequence'])
    .execute()
  await db.schema.createIndex('integrity_records_kind_idx').on('integrity_records').columns(['tenant', 'kind', 'sequence']).execute()
  // An entity's newest pruning record (verification holds each anchor to it).
  await sql`create index integrity_records_pruning_idx on integrity_records (tenant, (body->>'type'), (body->>'id'), sequence) where kind = 'pruning'`.execute(db)
  // Where a pruned entity's chain restarts: its oldest kept version (seq) links to `hash`.
  await sql`create table entity_anchors (
    tenant text not null, type text collate "C" not null, entity_key text collate "C" not null,
    seq integer not null, transaction_id bigint not null, hash text not null,
    constraint entity_anchors_pk primary key (tenant, type, entity_key))`.execute(db)
  await db.schema.createTable('legal_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('entity_key', 'text')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('legal_holds_tenant_idx').on('legal_holds').columns(['tenant', 'type']).execute()
  // Who runs a background job (checkpoints, retention) until when: one instance at a time.
  await db.schema.createTable('job_leases')
    .addColumn('job', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()

  await sql.raw(`
    create or replace function rewind_guard_history() returns trigger language plpgsql as $fn$
    begin
      if coalesce(current_setting('rewind.history_change', true), '') <> 'on' then
        raise exception 'history is append-only: % of % is refused (only redaction and retention change it)', tg_op, tg_table_name
          using errcode = '42501';
      end if;
      return case when tg_op = 'DELETE' then old else new end;
    end $fn$`).execute(db)
  for (const table of HISTORY) {
    await sql.raw(`create trigger ${table}_append_only before update or delete on ${table} for each row execute function rewind_guard_history()`).execute(db)
    await sql.raw(`create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function rewind_guard_history()`).execute(db)
  }

  await sql.raw(`
    create or replace function rewind_redact(p_tenant text, p_type text, p_key text, p_redaction text, p_fields text[], p_erased jsonb)
    returns integer language plpgsql security definer set search_path from current as $fn$
    declare
      marker jsonb := jsonb_build_object('$redacted', p_redaction);
      changed integer;
    begin
      perform set_config('rewind.history_change', 'on', true);
      update versions v set
        data = coalesce((select jsonb_object_agg(d.key, case when d.key = any(p_fields) then marker else d.value end) from jsonb_each(v.data) d), '{}'::jsonb),
        changeset = coalesce((select jsonb_object_agg(c.key, case when c.key = any(p_fields)
            then (select jsonb_agg(case when e.value = 'null'::jsonb then e.value else marker end order by e.n) from jsonb_array_elements(c.value) with ordinality e(value, n))
            else c.value end) from jsonb_each(v.changeset) c), '{}'::jsonb),
        salts = v.salts - p_fields,
        erased = coalesce(v.erased, '{}'::jsonb) || x.erased
      from jsonb_to_recordset(p_erased) as x(seq integer, erased jsonb)
      where v.tenant = p_tenant and v.type = p_type and v.entity_key = p_key and v.seq = x.seq;
      get diagnostics changed = row_count;
      perform set_config('rewind.history_change', '', true);
      return changed;
    end $fn$`).execute(db)

  await sql.raw(`
    create or replace function rewind_prune(p_tenant text, p_type text, p_key text, p_keep_from integer)
    returns integer language plpgsql security definer set search_path from current as $fn$
    declare
      last_pruned record;
      removed integer;
    begin
      if not exists (select 1 from versions where tenant = p_tenant and type = p_type and entity_key = p_key and seq >= p_keep_from) then
        raise exception 'an entity''s latest version is never pruned' using errcode = '22023';
      end if;
      select seq, transaction_id, hash into last_pruned from versions
        where tenant = p_tenant and type = p_type and entity_key = p_key and seq < p_keep_from order by seq desc limit 1;
      if not found then return 0; end if;
      perform set_config('rewind.history_change', 'on', true);
      delete from versions where tenant = p_tenant and type = p_type and entity_key = p_key and seq < p_keep_from;
      get diagnostics removed = row_count;
      perform set_config('rewind.history_change', '', true);
      insert into entity_anchors (tenant, type, entity_key, seq, transaction_id, hash)
        values (p_tenant, p_type, p_key, last_pruned.seq + 1, last_pruned.transaction_id, last_pruned.hash)
        on conflict (tenant, type, entity_key) do update set seq = excluded.seq, transaction_id = excluded.transaction_id, hash = excluded.hash;
      return removed;
    end $fn$`).execute(db)

  // The runtime role: created once per cluster (roles are cluster-wide; another schema's
  // migration may be creating it at the same moment), then granted this schema's tables.
  await sql.raw(`
    do $do$ begin
      if not exists (select 1 from pg_roles where rolname = 'rewind_runtime') then
        begin
          create role rewind_runtime nologin;
        exception when duplicate_object or unique_violation then null;
        end;
      end if;
      begin
        execute format('grant rewind_runtime to %I', current_user);
      exception when others then null;
      end;
      execute format('grant usage on schema %I to rewind_runtime', current_schema());
    end $do$`).execute(db)
  const functions = 'function rewind_redact(text, text, text, text, text[], jsonb), rewind_prune(text, text, text, integer)'
  for (const statement of [
    `revoke all on ${[...HISTORY, 'entity_anchors', 'legal_holds', 'job_leases', 'entity_types', 'entity_type_revisions', 'api_keys', 'idempotency_keys', 'version_refs'].join(', ')} from rewind_runtime`,
    `grant select, insert on ${HISTORY.join(', ')}, entity_type_revisions, version_refs to rewind_runtime`,
    'grant select on entity_anchors to rewind_runtime',
    'grant select, insert, update on entity_types, api_keys to rewind_runtime',
    'grant select, insert, update, delete on idempotency_keys, legal_holds to rewind_runtime',
    'grant select, insert, update on job_leases to rewind_runtime',
    'grant usage, select on sequence transactions_id_seq to rewind_runtime',
    // A service connecting as a login role that is only a member of rewind_runtime checks the migrations at start.
    'grant select on kysely_migration, kysely_migration_lock to rewind_runtime',
    `revoke all on ${functions} from public`,
    `grant execute on ${functions} to rewind_runtime`
  ]) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  for (const table of HISTORY) {
    await sql.raw(`drop trigger if exists ${table}_append_only on ${table}`).execute(db)
    await sql.raw(`drop trigger if exists ${table}_no_truncate on ${table}`).execute(db)
  }
  await sql`drop function if exists rewind_redact(text, text, text, text, text[], jsonb)`.execute(db)
  await sql`drop function if exists rewind_prune(text, text, text, integer)`.execute(db)
  await sql`drop function if exists rewind_guard_history()`.execute(db)
  for (const table of ['job_leases', 'legal_holds', 'entity_anchors', 'integrity_records', 'checkpoint_heads', 'checkpoints']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
  await db.schema.alterTable('versions').dropColumn('hash').dropColumn('erased').dropColumn('salts').execute()
}
