import type pg from 'pg'

/** A secondary index or foreign key of the append's tables, and how to drop it and make it again. */
export interface Removable { table: string, name: string, kind: 'index' | 'unique index' | 'foreign key', definition: string, drop: string, restore: string }

/** The non-primary indexes and the foreign keys of `versions` and `transactions`, in the database `client` is on. */
export async function removables (client: pg.Client): Promise<Removable[]> {
  const { rows } = await client.query<{ tbl: string, name: string, kind: Removable['kind'], def: string, con: string | null, condef: string | null }>(`
    select t.relname as tbl, c.relname as name, case when i.indisunique then 'unique index' else 'index' end as kind,
      pg_get_indexdef(c.oid) as def, con.conname as con, pg_get_constraintdef(con.oid) as condef
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
    left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = t.oid and con.contype in ('u', 'x')
    where t.relname in ('versions', 'transactions') and t.relnamespace = current_schema()::regnamespace and not i.indisprimary
    union all
    select conrelid::regclass::text, conname, 'foreign key', pg_get_constraintdef(oid), conname, pg_get_constraintdef(oid)
    from pg_constraint where contype = 'f' and conrelid in ('versions'::regclass, 'transactions'::regclass)
    order by 1 desc, 2`)
  return rows.map((r) => r.con === null
    ? { table: r.tbl, name: r.name, kind: r.kind, definition: r.def.replace(/^.* USING /, ''), drop: `drop index ${r.name}`, restore: r.def }
    : { table: r.tbl, name: r.name, kind: r.kind, definition: r.condef ?? r.def, drop: `alter table ${r.tbl} drop constraint ${r.con}`, restore: `alter table ${r.tbl} add constraint ${r.con} ${r.condef}` })
}
