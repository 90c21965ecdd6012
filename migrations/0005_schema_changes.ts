import { type Kysely, sql } from 'kysely'

/**
 * Schema changes carried into history: each version keeps the type revision it was
 * recorded under (null: before any migration existed, read as revision 0); a revision made
 * by a migration keeps its operations. `rewind_check_revisions`, run by every append after
 * its locks, refuses a write planned against a definition that has changed since (it
 * reads with a fresh snapshot, so a change committed while the append waited counts).
 * `rewind_redact` erases, per version, the fields it is given for that version (a field
 * has the name it was recorded under).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('versions').addColumn('revision', 'integer').execute()
  await db.schema.alterTable('entity_type_revisions').addColumn('operations', 'jsonb').execute()

  await sql.raw(`
    create or replace function rewind_check_revisions(p_tenant text, p_types text[], p_revisions integer[])
    returns integer language plpgsql volatile as $fn$
    declare
      stale text;
    begin
      select x.type into stale from unnest(p_types, p_revisions) as x(type, revision)
        left join entity_types t on t.tenant = p_tenant and t.type = x.type
        where t.revision is distinct from x.revision limit 1;
      if found then
        raise exception 'the definition of "%" changed while this write was planned', stale using errcode = 'RW001';
      end if;
      return 0;
    end $fn$`).execute(db)

  await sql.raw(`
    create or replace function rewind_redact(p_tenant text, p_type text, p_key text, p_redaction text, p_fields text[], p_erased jsonb)
    returns integer language plpgsql security definer set search_path from current as $fn$
    declare
      marker jsonb := jsonb_build_object('$redacted', p_redaction);
      changed integer;
    begin
      perform set_config('rewind.history_change', 'on', true);
      update versions v set
        data = coalesce((select jsonb_object_agg(d.key, case when d.key = any(x.names) then marker else d.value end) from jsonb_each(v.data) d), '{}'::jsonb),
        changeset = coalesce((select jsonb_object_agg(c.key, case when c.key = any(x.names)
            then (select jsonb_agg(case when e.value = 'null'::jsonb then e.value else marker end order by e.n) from jsonb_array_elements(c.value) with ordinality e(value, n))
            else c.value end) from jsonb_each(v.changeset) c), '{}'::jsonb),
        salts = v.salts - x.names,
        erased = coalesce(v.erased, '{}'::jsonb) || x.erased
      from (
        select r.seq, r.erased, coalesce((select array_agg(f) from jsonb_array_elements_text(r.fields) f), p_fields) as names
        from jsonb_to_recordset(p_erased) as r(seq integer, erased jsonb, fields jsonb)
      ) x
      where v.tenant = p_tenant and v.type = p_type and v.entity_key = p_key and v.seq = x.seq;
      get diagnostics changed = row_count;
      perform set_config('rewind.history_change', '', true);
      return changed;
    end $fn$`).execute(db)

  for (const statement of [
    'revoke all on function rewind_check_revisions(text, text[], integer[]) from public',
    'grant execute on function rewind_check_revisions(text, text[], integer[]) to rewind_runtime'
  ]) await sql.raw(statement).execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop function if exists rewind_check_revisions(text, text[], integer[])`.execute(db)
  await db.schema.alterTable('entity_type_revisions').dropColumn('operations').execute()
  await db.schema.alterTable('versions').dropColumn('revision').execute()
}
