import type pg from 'pg'

export interface StorageFigures {
  label: string
  versions: number
  /** versions: heap + TOAST + indexes. */
  versionsBytes: number
  versionsHeapBytes: number
  versionsIndexBytes: number
  refsBytes: number
  refRows: number
  bytesPerVersion: number
  /** Average octet_length(data::text) + octet_length(changeset::text). */
  payloadBytes: number
  ratio: number
}

/** Bytes on disk per version (versions with its indexes, plus version_refs) against the JSON payload. */
export async function measureStorage (pool: pg.Pool, label: string): Promise<StorageFigures> {
  await pool.query('vacuum (analyze) versions')
  await pool.query('vacuum (analyze) version_refs')
  // versions is partitioned (migration 0010): its sizes are those of its partitions.
  const { rows } = await pool.query<Record<string, string | null>>(`
    with parts as (select relid from pg_partition_tree('versions') where isleaf)
    select (select count(*) from versions) as versions,
      (select sum(pg_total_relation_size(relid)) from parts) as versions_bytes,
      (select sum(pg_relation_size(relid)) from parts) as heap_bytes,
      (select sum(pg_indexes_size(relid)) from parts) as index_bytes,
      pg_total_relation_size('version_refs') as refs_bytes,
      (select count(*) from version_refs) as ref_rows,
      (select avg(octet_length(data::text) + octet_length(changeset::text)) from versions) as payload`)
  const r = rows[0]!
  const versions = Number(r.versions)
  const versionsBytes = Number(r.versions_bytes)
  const refsBytes = Number(r.refs_bytes)
  const payloadBytes = Number(r.payload ?? 0)
  const bytesPerVersion = versions === 0 ? 0 : (versionsBytes + refsBytes) / versions
  return {
    label,
    versions,
    versionsBytes,
    versionsHeapBytes: Number(r.heap_bytes),
    versionsIndexBytes: Number(r.index_bytes),
    refsBytes,
    refRows: Number(r.ref_rows),
    bytesPerVersion,
    payloadBytes,
    ratio: payloadBytes === 0 ? 0 : bytesPerVersion / payloadBytes
  }
}
